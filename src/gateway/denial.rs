//! Why a request was refused, and the one function that writes a refusal on the wire.

use serde_json::json;

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

impl Denial {
    /// The one mapping from a refusal to HTTP (RFC 6750 §3, §3.1). Descriptions name the
    /// failed check but never echo the token.
    pub fn render(&self) -> Rendered {
        let challenge = bearer_challenge;
        match self {
            Denial::MissingToken => Rendered {
                status: 401,
                www_authenticate: Some(format!(r#"Bearer realm="{REALM}""#)),
                body: json!({ "error": "invalid_token", "error_description": "a bearer token is required", "code": Code::TokenMissing.as_str() }),
                code: Code::TokenMissing.as_str(),
            },
            Denial::InvalidRequest(description) => Rendered {
                status: 400,
                www_authenticate: Some(challenge("invalid_request", description, None)),
                body: json!({ "error": "invalid_request", "error_description": description, "code": Code::AuthorizationMalformed.as_str() }),
                code: Code::AuthorizationMalformed.as_str(),
            },
            Denial::InvalidToken(err) => {
                let description = err.to_string();
                let mut body = json!({ "error": "invalid_token", "error_description": description, "code": err.code() });
                if let Some(claim) = err.claim() {
                    body["claim"] = claim.into();
                }
                Rendered {
                    status: 401,
                    www_authenticate: Some(challenge("invalid_token", &description, None)),
                    body,
                    code: err.code(),
                }
            }
            Denial::InsufficientScope { required } => {
                let scope = required.join(" ");
                Rendered {
                    status: 403,
                    www_authenticate: Some(challenge(
                        "insufficient_scope",
                        "the token lacks a required scope",
                        Some(&scope),
                    )),
                    body: json!({ "error": "insufficient_scope", "error_description": "the token lacks a required scope", "scope": scope, "code": Code::InsufficientScope.as_str() }),
                    code: Code::InsufficientScope.as_str(),
                }
            }
            Denial::OneTimeTokenRequired => Rendered {
                status: 403,
                www_authenticate: None,
                body: json!({ "error": "one_time_token_required", "error_description": "this action needs a fresh one-time token in X-One-Time-Token", "code": Code::OneTimeTokenInvalid.as_str() }),
                code: Code::OneTimeTokenInvalid.as_str(),
            },
            Denial::SessionInvalid => {
                let description = "the session has ended: sign in again";
                Rendered {
                    status: 401,
                    www_authenticate: Some(challenge("invalid_token", description, None)),
                    body: json!({ "error": "invalid_token", "error_description": description, "code": Code::SessionInvalid.as_str() }),
                    code: Code::SessionInvalid.as_str(),
                }
            }
            Denial::ApiKeyInvalid => {
                let description = "the API key is unknown, expired or revoked";
                Rendered {
                    status: 401,
                    www_authenticate: Some(challenge("invalid_token", description, None)),
                    body: json!({ "error": "invalid_token", "error_description": description, "code": Code::ApiKeyInvalid.as_str() }),
                    code: Code::ApiKeyInvalid.as_str(),
                }
            }
            Denial::OneTimeStoreUnavailable | Denial::StoreUnavailable => Rendered {
                status: 503,
                www_authenticate: None,
                body: json!({ "error": "temporarily_unavailable", "error_description": "the token store cannot be read", "code": Code::StoreUnavailable.as_str() }),
                code: Code::StoreUnavailable.as_str(),
            },
            Denial::IssuerUnavailable => Rendered {
                status: 503,
                www_authenticate: None,
                body: json!({ "error": "temporarily_unavailable", "error_description": "the token issuer's keys cannot be fetched", "code": Code::JwksUnavailable.as_str() }),
                code: Code::JwksUnavailable.as_str(),
            },
            Denial::DpopProof(err) => {
                let description = err.to_string();
                let error = match err {
                    Error::DpopNonce { .. } => "use_dpop_nonce",
                    _ => "invalid_dpop_proof",
                };
                let mut body =
                    json!({ "error": error, "error_description": description, "code": err.code() });
                if let Some(member) = err.claim() {
                    body["claim"] = member.into();
                }
                Rendered {
                    status: 401,
                    www_authenticate: Some(format!(
                        r#"DPoP error="{error}", error_description="{}", algs="{}""#,
                        quote_safe(&description),
                        dpop_algs()
                    )),
                    body,
                    code: err.code(),
                }
            }
            Denial::DpopBinding(description) => Rendered {
                status: 401,
                www_authenticate: Some(format!(
                    r#"DPoP error="invalid_token", error_description="{}", algs="{}""#,
                    quote_safe(description),
                    dpop_algs()
                )),
                body: json!({ "error": "invalid_token", "error_description": description, "code": Code::DpopBindingMismatch.as_str() }),
                code: Code::DpopBindingMismatch.as_str(),
            },
            Denial::Misconfigured(code, description) => Rendered {
                status: 500,
                www_authenticate: None,
                body: json!({ "error": "server_error", "error_description": description, "code": code.as_str() }),
                code: code.as_str(),
            },
            Denial::RevocationUnavailable => Rendered {
                status: 503,
                www_authenticate: None,
                body: json!({ "error": "temporarily_unavailable", "error_description": "the revocation list cannot be read", "code": Code::RevocationUnavailable.as_str() }),
                code: Code::RevocationUnavailable.as_str(),
            },
        }
    }
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
            body: json!({ "error": "invalid_request", "error_description": description, "code": code }),
            code: Code::AuthorizationMalformed.as_str(),
        },
        known => {
            let code = known.unwrap_or(Code::JwsInvalid).as_str();
            let mut body =
                json!({ "error": "invalid_token", "error_description": description, "code": code });
            if let Some(claim) = claim {
                body["claim"] = claim.into();
            }
            Rendered {
                status: 401,
                www_authenticate: Some(bearer_challenge("invalid_token", description, None)),
                body,
                code,
            }
        }
    }
}
