//! RFC 6749 §5.2 errors, rendered on the wire by [`OAuthError::render`] only.

use super::*;

/// An RFC 6749 §5.2 error response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// The error code (`invalid_request`, `invalid_client`, …).
    pub error: &'static str,
    /// Human-readable detail (never secret).
    pub description: String,
    /// Whether the client authenticated with HTTP Basic (then 401 carries a Basic challenge).
    pub basic: bool,
}

/// A rendered error: status, optional `WWW-Authenticate`, JSON body.
pub struct RenderedError {
    /// HTTP status.
    pub status: u16,
    /// `WWW-Authenticate`, for `invalid_client` with Basic.
    pub www_authenticate: Option<String>,
    /// `{"error", "error_description"}`.
    pub body: Value,
}

impl OAuthError {
    /// An error with this RFC 6749 code and description.
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            description: description.into(),
            basic: false,
        }
    }

    /// The one mapping to HTTP (RFC 6749 §5.2): 401 for `invalid_client`, 503 when the store
    /// is down, 400 otherwise.
    pub fn render(&self) -> RenderedError {
        let status = match self.error {
            "invalid_client" => 401,
            "temporarily_unavailable" => 503,
            "server_error" => 500,
            _ => 400,
        };
        RenderedError {
            status,
            www_authenticate: (status == 401).then(|| {
                if self.basic {
                    r#"Basic realm="tollgate""#.to_owned()
                } else {
                    r#"Bearer realm="tollgate""#.to_owned()
                }
            }),
            body: json!({ "error": self.error, "error_description": self.description }),
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        OAuthError::new("temporarily_unavailable", err.to_string())
    }
}

pub(super) fn server_error(err: Error) -> OAuthError {
    OAuthError::new("server_error", err.to_string())
}
