//! RFC 6749 §5.2 errors (and the §4.1.2.1 ones sent back to a redirect URI), rendered on the
//! wire by [`OAuthError::render`] only.

use super::*;
use crate::json::Object;

/// An RFC 6749 error code, with its HTTP status in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request` (§5.2).
    InvalidRequest,
    /// `invalid_client` (§5.2): 401.
    InvalidClient,
    /// `invalid_grant` (§5.2).
    InvalidGrant,
    /// `unauthorized_client` (§5.2; RFC 7009 §2.1 for another client's token).
    UnauthorizedClient,
    /// `unsupported_grant_type` (§5.2).
    UnsupportedGrantType,
    /// `invalid_scope` (§5.2).
    InvalidScope,
    /// `invalid_target` (RFC 8707 §2): a `resource` the client may not have, or not an
    /// absolute URI.
    InvalidTarget,
    /// `access_denied` (§4.1.2.1).
    AccessDenied,
    /// `unsupported_response_type` (§4.1.2.1).
    UnsupportedResponseType,
    /// `temporarily_unavailable` (§4.1.2.1; here also the token endpoint's 503).
    TemporarilyUnavailable,
    /// `server_error` (§4.1.2.1): 500.
    ServerError,
    /// `invalid_dpop_proof` (RFC 9449 §5): the token request's DPoP proof was refused.
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449 §8): retry with the nonce of the `DPoP-Nonce` header.
    UseDpopNonce,
    /// `login_required` (OpenID Connect Core §3.1.2.6): `prompt=none` and no usable session.
    LoginRequired,
    /// `consent_required` (Core §3.1.2.6): `prompt=none` and consent would be asked.
    ConsentRequired,
    /// `request_not_supported` (Core §3.1.2.6): request objects are not accepted.
    RequestNotSupported,
    /// `request_uri_not_supported` (Core §3.1.2.6).
    RequestUriNotSupported,
}

impl OAuthErrorCode {
    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::InvalidTarget => "invalid_target",
            OAuthErrorCode::AccessDenied => "access_denied",
            OAuthErrorCode::UnsupportedResponseType => "unsupported_response_type",
            OAuthErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            OAuthErrorCode::ServerError => "server_error",
            OAuthErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            OAuthErrorCode::UseDpopNonce => "use_dpop_nonce",
            OAuthErrorCode::LoginRequired => "login_required",
            OAuthErrorCode::ConsentRequired => "consent_required",
            OAuthErrorCode::RequestNotSupported => "request_not_supported",
            OAuthErrorCode::RequestUriNotSupported => "request_uri_not_supported",
        }
    }

    /// The HTTP status of a token-endpoint answer with this code (RFC 6749 §5.2: 400, and 401
    /// for `invalid_client`; 503 when a store is down; 500 for a server fault).
    pub fn status(self) -> u16 {
        match self {
            OAuthErrorCode::InvalidClient => 401,
            OAuthErrorCode::TemporarilyUnavailable => 503,
            OAuthErrorCode::ServerError => 500,
            _ => 400,
        }
    }
}

impl PartialEq<&str> for OAuthErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl core::fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RFC 6749 §5.2 error response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// The error code.
    pub error: OAuthErrorCode,
    /// Human-readable detail (never secret).
    pub description: String,
    /// Whether the credential refused was an API key, which is presented as a bearer token:
    /// a 401 then challenges with `Bearer`. Every other 401 of the authorization server
    /// challenges with `Basic`, the scheme its clients authenticate with (RFC 6749 §5.2,
    /// §2.3.1), whichever method the request used (a `Bearer` challenge after a wrong
    /// `client_secret_post` told the client to present a bearer token: an outside run).
    pub bearer: bool,
}

/// A rendered error: status, optional `WWW-Authenticate`, JSON body.
pub struct RenderedError {
    /// HTTP status.
    pub status: u16,
    /// `WWW-Authenticate`, for `invalid_client` (401).
    pub www_authenticate: Option<String>,
    /// `{"error", "error_description"}`, as JSON text.
    pub body: String,
}

impl OAuthError {
    /// An error with this RFC 6749 code and description.
    pub fn new(error: OAuthErrorCode, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            description: description.into(),
            bearer: false,
        }
    }

    /// The description a client is told: a failure on the server's side (`server_error`,
    /// `temporarily_unavailable`) says only that, since its detail (which store, which
    /// operation) is for the operator's log, not for a client's response or redirect URL.
    /// Written in the characters RFC 6749 §5.2 allows (printable ASCII without `"` and `\`):
    /// descriptions quote what the client sent (`scope 'admin'`), and a client's own input
    /// must not break that rule for it (an outside run).
    pub fn public_description(&self) -> String {
        if self.error.status() >= 500 {
            "the authorization server could not complete the request; try again".to_owned()
        } else {
            crate::gateway::quote_safe(&self.description)
        }
    }

    /// The one mapping to HTTP (RFC 6749 §5.2), the status from [`OAuthErrorCode::status`].
    pub fn render(&self) -> RenderedError {
        let status = self.error.status();
        RenderedError {
            status,
            www_authenticate: (status == 401).then(|| {
                if self.bearer {
                    r#"Bearer realm="tollgate""#.to_owned()
                } else {
                    r#"Basic realm="tollgate""#.to_owned()
                }
            }),
            body: Object::new()
                .with("error", self.error.as_str())
                .with("error_description", self.public_description().as_str())
                .finish(),
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        OAuthError::new(OAuthErrorCode::TemporarilyUnavailable, err.to_string())
    }
}

pub(super) fn server_error(err: Error) -> OAuthError {
    OAuthError::new(OAuthErrorCode::ServerError, err.to_string())
}
