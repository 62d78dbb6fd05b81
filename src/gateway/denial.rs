//! Why a request was refused, and the one function that writes a refusal on the wire.

use std::borrow::Cow;

use super::{quote_safe, REALM};
use crate::codes::Code;
use crate::error::Error;

/// Why a request was refused.
#[derive(Debug)]
pub enum Denial {
    /// No credentials at all (RFC 6750 §3.1: the challenge carries no error code).
    MissingToken,
    /// The `Authorization` header is malformed.
    InvalidRequest(&'static str),
    /// The token failed verification or is revoked.
    InvalidToken(Error),
    /// The token lacks scopes the route needs.
    InsufficientScope {
        /// Every scope the route needs.
        required: Vec<String>,
    },
    /// The revocation list could not be read and the gateway fails closed.
    RevocationUnavailable,
    /// The token's issuer is trusted but its keys cannot be fetched (and none are cached).
    IssuerUnavailable,
    /// A one-time route without a valid, unused one-time token for this subject.
    OneTimeTokenRequired,
    /// The one-time-token store could not be read.
    OneTimeStoreUnavailable,
    /// A session cookie whose session ended (logout, expiry, revocation) or never existed.
    SessionInvalid,
    /// An API key that was deleted, expired, revoked or never existed.
    ApiKeyInvalid,
    /// The OAuth records (sessions, API keys) could not be read.
    StoreUnavailable,
    /// A DPoP proof failed (RFC 9449 §4.3, §7.1), was replayed, or lacked the server nonce.
    DpopProof(Error),
    /// The token's binding and its presentation do not fit (RFC 9449 §7.1, §7.2).
    DpopBinding(&'static str),
    /// The deployment lacks what this request needs (a binding, a secret): 500, the operator's
    /// to fix; the description names it and never a secret's value.
    Misconfigured(Code, &'static str),
}

/// The algorithms a DPoP proof may use, as the `algs` of a `DPoP` challenge (RFC 9449 §7.1).
pub fn dpop_algs() -> String {
    crate::dpop::Policy::default()
        .algorithms
        .iter()
        .map(|alg| alg.name())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A refusal ready to send.
#[derive(Debug)]
pub struct Rendered {
    /// HTTP status.
    pub status: u16,
    /// `WWW-Authenticate` value, when the status calls for one.
    pub www_authenticate: Option<String>,
    /// JSON body.
    pub body: serde_json::Value,
    /// The stable code, for logs and metrics.
    pub code: &'static str,
}

/// The scheme a refusal's challenge names: `DPoP` when the request presented its token with
/// that scheme or the route takes DPoP only (RFC 9449 §7.1: a client told `Bearer` by a route
/// that refuses Bearer could not follow the challenge), `Bearer` when it presented a bearer
/// token (RFC 6750 §3), and both when it chose no scheme on a route that takes either (RFC 9449
/// §7.2: a client then learns it may prove possession).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer realm=…`.
    #[default]
    Bearer,
    /// `DPoP …, algs=…`.
    Dpop,
    /// `Bearer realm=…, DPoP algs=…` when no credentials came; `Bearer` for other refusals.
    Either,
}

impl Scheme {
    /// The scheme for a request whose `Authorization` header is `authorization`, on a route
    /// that takes DPoP only when `dpop_only`.
    pub fn of(authorization: Option<&str>, dpop_only: bool) -> Scheme {
        let named = authorization.and_then(|value| value.split(' ').next());
        let is = |scheme: &str| named.is_some_and(|named| named.eq_ignore_ascii_case(scheme));
        if dpop_only || is("dpop") {
            Scheme::Dpop
        } else if is("bearer") {
            Scheme::Bearer
        } else {
            Scheme::Either
        }
    }
}

impl Denial {
    /// [`Denial::render_for`] with a `Bearer` challenge.
    pub fn render(&self) -> Rendered {
        self.render_for(Scheme::Bearer)
    }

    /// The one mapping from a refusal to HTTP (RFC 6750 §3, §3.1; RFC 9449 §7.1 when the
    /// challenge is `scheme` DPoP). Descriptions name the failed check but never echo the
    /// token.
    pub fn render_for(&self, scheme: Scheme) -> Rendered {
        use Denial::*;
        let (status, error, description, code): (u16, &str, Cow<str>, &'static str) = match self {
            MissingToken => (
                401,
                "invalid_token",
                "a bearer token is required".into(),
                Code::TokenMissing.as_str(),
            ),
            InvalidRequest(description) => (
                400,
                "invalid_request",
                (*description).into(),
                Code::AuthorizationMalformed.as_str(),
            ),
            InvalidToken(err) => (401, "invalid_token", err.to_string().into(), err.code()),
            InsufficientScope { .. } => (
                403,
                "insufficient_scope",
                "the token lacks a required scope".into(),
                Code::InsufficientScope.as_str(),
            ),
            OneTimeTokenRequired => (
                403,
                "one_time_token_required",
                "this action needs a fresh one-time token in X-One-Time-Token".into(),
                Code::OneTimeTokenInvalid.as_str(),
            ),
            SessionInvalid => (
                401,
                "invalid_token",
                "the session has ended: sign in again".into(),
                Code::SessionInvalid.as_str(),
            ),
            ApiKeyInvalid => (
                401,
                "invalid_token",
                "the API key is unknown, expired or revoked".into(),
                Code::ApiKeyInvalid.as_str(),
            ),
            OneTimeStoreUnavailable | StoreUnavailable => (
                503,
                "temporarily_unavailable",
                "the token store cannot be read".into(),
                Code::StoreUnavailable.as_str(),
            ),
            IssuerUnavailable => (
                503,
                "temporarily_unavailable",
                "the token issuer's keys cannot be fetched".into(),
                Code::JwksUnavailable.as_str(),
            ),
            RevocationUnavailable => (
                503,
                "temporarily_unavailable",
                "the revocation list cannot be read".into(),
                Code::RevocationUnavailable.as_str(),
            ),
            DpopProof(err @ Error::DpopNonce { .. }) => {
                (401, "use_dpop_nonce", err.to_string().into(), err.code())
            }
            DpopProof(err) => (
                401,
                "invalid_dpop_proof",
                err.to_string().into(),
                err.code(),
            ),
            DpopBinding(description) => (
                401,
                "invalid_token",
                (*description).into(),
                Code::DpopBindingMismatch.as_str(),
            ),
            Misconfigured(code, description) => {
                (500, "server_error", (*description).into(), code.as_str())
            }
        };
        let claim = match self {
            InvalidToken(err) | DpopProof(err) => err.claim(),
            _ => None,
        };
        let scope = match self {
            InsufficientScope { required } => Some(required.join(" ")),
            _ => None,
        };
        let www_authenticate = match (self, scheme) {
            (MissingToken, Scheme::Bearer) => Some(format!(r#"Bearer realm="{REALM}""#)),
            (MissingToken, Scheme::Dpop) => Some(format!(r#"DPoP algs="{}""#, dpop_algs())),
            (MissingToken, Scheme::Either) => Some(format!(
                r#"Bearer realm="{REALM}", DPoP algs="{}""#,
                dpop_algs()
            )),
            (DpopProof(_) | DpopBinding(_), _) => Some(dpop_challenge(error, &description, None)),
            (
                InvalidRequest(_)
                | InvalidToken(_)
                | InsufficientScope { .. }
                | SessionInvalid
                | ApiKeyInvalid,
                scheme,
            ) => Some(match scheme {
                Scheme::Bearer | Scheme::Either => {
                    bearer_challenge(error, &description, scope.as_deref())
                }
                Scheme::Dpop => dpop_challenge(error, &description, scope.as_deref()),
            }),
            _ => None,
        };
        Rendered {
            status,
            www_authenticate,
            body: body(error, &description, code, claim, scope),
            code,
        }
    }
}

/// The JSON body of a refusal: RFC 6749 §5.2's `error` and `error_description` (in §5.2's
/// characters, as the challenge's: it may quote what the caller sent, such as a `kid`), the
/// stable `code`, and the `claim` or `scope` concerned when there is one.
fn body(
    error: &str,
    description: &str,
    code: &str,
    claim: Option<&str>,
    scope: Option<String>,
) -> serde_json::Value {
    let mut body = serde_json::Map::new();
    body.insert("error".to_owned(), error.into());
    body.insert(
        "error_description".to_owned(),
        quote_safe(description).into(),
    );
    body.insert("code".to_owned(), code.into());
    if let Some(claim) = claim {
        body.insert("claim".to_owned(), claim.into());
    }
    if let Some(scope) = scope {
        body.insert("scope".to_owned(), scope.into());
    }
    body.into()
}

/// An RFC 9449 §7.1 `DPoP` challenge with an error, its description, the scope needed and
/// the proof algorithms accepted.
fn dpop_challenge(error: &str, description: &str, scope: Option<&str>) -> String {
    let mut value = format!(
        r#"DPoP error="{error}", error_description="{}""#,
        quote_safe(description)
    );
    if let Some(scope) = scope {
        value.push_str(&format!(r#", scope="{}""#, quote_safe(scope)));
    }
    value.push_str(&format!(r#", algs="{}""#, dpop_algs()));
    value
}

/// An RFC 6750 §3 `Bearer` challenge with an error, its description and the scope needed.
fn bearer_challenge(error: &str, description: &str, scope: Option<&str>) -> String {
    let mut value = format!(
        r#"Bearer realm="{REALM}", error="{error}", error_description="{}""#,
        quote_safe(description)
    );
    if let Some(scope) = scope {
        value.push_str(&format!(r#", scope="{}""#, quote_safe(scope)));
    }
    value
}

/// The gateway's answer to a refusal known only by its stable code and message, for adapters
/// outside the worker (the package's middleware): the same status, `WWW-Authenticate` and body
/// as [`Denial::render`] gives for that code.
pub fn render_code(
    code: &str,
    description: &str,
    claim: Option<&str>,
    required_scopes: &[String],
) -> Rendered {
    let known = Code::ALL.iter().copied().find(|c| c.as_str() == code);
    match known {
        Some(Code::TokenMissing) => Denial::MissingToken.render(),
        Some(Code::InsufficientScope) => Denial::InsufficientScope {
            required: required_scopes.to_vec(),
        }
        .render(),
        Some(Code::JwksUnavailable) => Denial::IssuerUnavailable.render(),
        Some(Code::AuthorizationMalformed) => Rendered {
            status: 400,
            www_authenticate: Some(bearer_challenge("invalid_request", description, None)),
            body: body("invalid_request", description, code, None, None),
            code: Code::AuthorizationMalformed.as_str(),
        },
        // The verifier's own setup failed (its options, its keys, the host's randomness or
        // store), not the token: the server's error, without a challenge that would blame the
        // client's token (RFC 9110 §15.6; a 401 invalid_token said otherwise). Its detail is
        // the server's log's, not the client's.
        Some(own) if own == Code::PolicyInvalid || own.status() >= 500 => {
            let (status, error, said) = match own.status() {
                503 => (
                    503,
                    "temporarily_unavailable",
                    "the token cannot be checked now",
                ),
                _ => (500, "server_error", "the server cannot check tokens"),
            };
            Rendered {
                status,
                www_authenticate: None,
                body: body(error, said, own.as_str(), None, None),
                code: own.as_str(),
            }
        }
        known => {
            let code = known.unwrap_or(Code::JwsInvalid).as_str();
            Rendered {
                status: 401,
                www_authenticate: Some(bearer_challenge("invalid_token", description, None)),
                body: body("invalid_token", description, code, claim, None),
                code,
            }
        }
    }
}
