//! The gateway's decisions, free of any platform: where the token is, whether its scopes
//! suffice, which identity headers the origin gets, and how a refusal is written on the wire
//! (RFC 6750 §3) — in exactly one function, [`Denial::render`].

use serde_json::json;

use crate::error::Error;
use crate::verify::Verified;

/// Identity headers sent to the origin start with this; clients' own are always removed.
pub const IDENTITY_PREFIX: &str = "x-tollgate-";

/// The realm in `WWW-Authenticate` challenges.
pub const REALM: &str = "tollgate";

/// Where a token was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer` (RFC 6750 §2.1).
    Header,
    /// The configured cookie.
    Cookie,
}

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
        let challenge = |error: &str, description: &str, scope: Option<&str>| {
            let mut value = format!(
                r#"Bearer realm="{REALM}", error="{error}", error_description="{}""#,
                quote_safe(description)
            );
            if let Some(scope) = scope {
                value.push_str(&format!(r#", scope="{}""#, quote_safe(scope)));
            }
            value
        };
        match self {
            Denial::MissingToken => Rendered {
                status: 401,
                www_authenticate: Some(format!(r#"Bearer realm="{REALM}""#)),
                body: json!({ "error": "invalid_token", "error_description": "a bearer token is required", "code": "ERR_TOKEN_MISSING" }),
                code: "ERR_TOKEN_MISSING",
            },
            Denial::InvalidRequest(description) => Rendered {
                status: 400,
                www_authenticate: Some(challenge("invalid_request", description, None)),
                body: json!({ "error": "invalid_request", "error_description": description, "code": "ERR_AUTHORIZATION_MALFORMED" }),
                code: "ERR_AUTHORIZATION_MALFORMED",
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
                    body: json!({ "error": "insufficient_scope", "error_description": "the token lacks a required scope", "scope": scope, "code": "ERR_INSUFFICIENT_SCOPE" }),
                    code: "ERR_INSUFFICIENT_SCOPE",
                }
            }
            Denial::OneTimeTokenRequired => Rendered {
                status: 403,
                www_authenticate: None,
                body: json!({ "error": "one_time_token_required", "error_description": "this action needs a fresh one-time token in X-One-Time-Token", "code": "ERR_ONE_TIME_TOKEN_INVALID" }),
                code: "ERR_ONE_TIME_TOKEN_INVALID",
            },
            Denial::IssuerUnavailable => Rendered {
                status: 503,
                www_authenticate: None,
                body: json!({ "error": "temporarily_unavailable", "error_description": "the token issuer's keys cannot be fetched", "code": "ERR_JWKS_UNAVAILABLE" }),
                code: "ERR_JWKS_UNAVAILABLE",
            },
            Denial::RevocationUnavailable => Rendered {
                status: 503,
                www_authenticate: None,
                body: json!({ "error": "temporarily_unavailable", "error_description": "the revocation list cannot be read", "code": "ERR_REVOCATION_UNAVAILABLE" }),
                code: "ERR_REVOCATION_UNAVAILABLE",
            },
        }
    }
}

/// What to do with a request given its scheme (RFC 6797 §7.2: redirect, never serve secrets in
/// the clear).
#[derive(Debug, PartialEq, Eq)]
pub enum HttpsAction {
    /// Serve it.
    Allow,
    /// Redirect to the same URL over https (308 keeps the method).
    Redirect,
    /// Refuse it (403).
    Reject,
}

/// Decides how to treat a request by scheme, host and method.
pub fn https_action(
    mode: crate::config::HttpsMode,
    allow_loopback: bool,
    scheme: &str,
    host: &str,
    method: &str,
) -> HttpsAction {
    use crate::config::HttpsMode;
    if scheme == "https"
        || mode == HttpsMode::Off
        || (allow_loopback && crate::config::is_loopback_host(host))
    {
        return HttpsAction::Allow;
    }
    match mode {
        HttpsMode::Redirect if method == "GET" || method == "HEAD" => HttpsAction::Redirect,
        _ => HttpsAction::Reject,
    }
}

/// Removes one cookie from a `Cookie` header (the token cookie, before forwarding). `None` when
/// nothing is left.
pub fn without_cookie(header: &str, name: &str) -> Option<String> {
    let kept: Vec<&str> = header
        .split(';')
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(name))
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// Finds the token: the `Authorization` header first, then the cookie.
pub fn extract_token<'a>(
    authorization: Option<&'a str>,
    cookies: Option<&'a str>,
    cookie_name: Option<&str>,
) -> Result<(&'a str, TokenSource), Denial> {
    if let Some(value) = authorization {
        let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            let token = credentials.trim_start_matches(' ');
            // RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
            if token.is_empty() || !token.bytes().all(is_b64token_byte) {
                return Err(Denial::InvalidRequest("malformed bearer token"));
            }
            return Ok((token, TokenSource::Header));
        }
    }
    if let (Some(cookies), Some(name)) = (cookies, cookie_name) {
        if let Some(token) = cookie(cookies, name) {
            if !token.is_empty() {
                return Ok((token, TokenSource::Cookie));
            }
        }
    }
    Err(Denial::MissingToken)
}

fn is_b64token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)
}

/// A cookie's value from a `Cookie` header (RFC 6265 §5.4).
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then(|| value.trim_matches('"'))
    })
}

/// True for headers a client may not send to the origin (the identity prefix).
pub fn is_identity_header(name: &str) -> bool {
    name.len() >= IDENTITY_PREFIX.len()
        && name.as_bytes()[..IDENTITY_PREFIX.len()].eq_ignore_ascii_case(IDENTITY_PREFIX.as_bytes())
}

/// Who a request acts for, whatever the kind of token that proved it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// `jwt`, `api_token` or `session`.
    pub token_type: &'static str,
    /// The subject.
    pub sub: Option<String>,
    /// Space-separated scopes.
    pub scope: Option<String>,
    /// The token's id (`jti`, API key id).
    pub jti: Option<String>,
    /// Who issued it.
    pub issuer: Option<String>,
    /// The client it was issued to.
    pub client_id: Option<String>,
}

impl Identity {
    /// The identity a verified JWT proves.
    pub fn from_jwt(token: &Verified) -> Self {
        let claim = |name: &str| token.claim_str(name).map(str::to_owned);
        Identity {
            token_type: "jwt",
            sub: claim("sub"),
            scope: claim("scope"),
            jti: claim("jti"),
            issuer: claim("iss"),
            client_id: claim("client_id"),
        }
    }

    /// Whether every required scope is granted.
    pub fn missing_scopes(&self, required: &[String]) -> bool {
        let granted: Vec<&str> = self.scope.as_deref().unwrap_or("").split(' ').collect();
        required
            .iter()
            .any(|needed| !granted.contains(&needed.as_str()))
    }

    /// The identity headers for the origin. Values outside printable ASCII are percent-encoded,
    /// so no claim can split or forge a header.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("x-tollgate-token-type", self.token_type.to_owned())];
        for (header, value) in [
            ("x-tollgate-sub", &self.sub),
            ("x-tollgate-scope", &self.scope),
            ("x-tollgate-jti", &self.jti),
            ("x-tollgate-issuer", &self.issuer),
            ("x-tollgate-client-id", &self.client_id),
        ] {
            if let Some(value) = value {
                headers.push((header, header_safe(value)));
            }
        }
        headers
    }
}

fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Makes text safe inside a quoted-string of a challenge (RFC 9110 §5.6.4): printable ASCII
/// without `"` and `\`.
fn quote_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_come_from_the_header_then_the_cookie() {
        assert_eq!(
            extract_token(Some("Bearer abc.def"), None, None).unwrap(),
            ("abc.def", TokenSource::Header)
        );
        assert_eq!(
            extract_token(Some("bearer abc"), None, None).unwrap().0,
            "abc"
        );
        assert!(matches!(
            extract_token(Some("Bearer "), None, None),
            Err(Denial::InvalidRequest(_))
        ));
        assert!(matches!(
            extract_token(Some("Bearer a b"), None, None),
            Err(Denial::InvalidRequest(_))
        ));
        assert!(matches!(
            extract_token(Some("Basic dXNlcg=="), None, None),
            Err(Denial::MissingToken)
        ));
        assert!(matches!(
            extract_token(None, None, None),
            Err(Denial::MissingToken)
        ));
        let cookies = Some("a=1; tg=tok.en; b=2");
        assert_eq!(
            extract_token(None, cookies, Some("tg")).unwrap(),
            ("tok.en", TokenSource::Cookie)
        );
        assert!(matches!(
            extract_token(None, cookies, None),
            Err(Denial::MissingToken)
        ));
    }

    #[test]
    fn https_is_enforced_except_on_loopback() {
        use crate::config::HttpsMode::*;
        assert_eq!(
            https_action(Redirect, true, "http", "127.0.0.1:8787", "POST"),
            HttpsAction::Allow
        );
        assert_eq!(
            https_action(Redirect, false, "http", "127.0.0.1:8787", "GET"),
            HttpsAction::Redirect
        );
        assert_eq!(
            https_action(Redirect, true, "http", "example.com", "GET"),
            HttpsAction::Redirect
        );
        assert_eq!(
            https_action(Redirect, true, "http", "example.com", "POST"),
            HttpsAction::Reject
        );
        assert_eq!(
            https_action(Reject, true, "http", "example.com", "GET"),
            HttpsAction::Reject
        );
        assert_eq!(
            https_action(Off, true, "http", "example.com", "GET"),
            HttpsAction::Allow
        );
        assert_eq!(
            https_action(Reject, false, "https", "example.com", "GET"),
            HttpsAction::Allow
        );
    }

    #[test]
    fn the_token_cookie_is_removed_before_forwarding() {
        assert_eq!(
            without_cookie("a=1; tg=x; b=2", "tg").as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(without_cookie("tg=x", "tg"), None);
        assert_eq!(without_cookie("tgx=1", "tg").as_deref(), Some("tgx=1"));
    }

    #[test]
    fn identity_headers_are_recognised_case_insensitively() {
        assert!(is_identity_header("X-Tollgate-Sub"));
        assert!(is_identity_header("x-tollgate-anything"));
        assert!(!is_identity_header("x-toll"));
        assert!(!is_identity_header("authorization"));
    }

    #[test]
    fn header_values_cannot_break_out() {
        assert_eq!(header_safe("alice"), "alice");
        assert_eq!(header_safe("a\r\nX-Evil: 1"), "a%0D%0AX-Evil: 1");
        assert_eq!(header_safe("é%"), "%C3%A9%25");
        assert_eq!(quote_safe("say \"hi\"\n"), "say ?hi??");
    }

    #[test]
    fn refusals_render_per_rfc_6750() {
        let missing = Denial::MissingToken.render();
        assert_eq!(
            (missing.status, missing.www_authenticate.as_deref()),
            (401, Some(r#"Bearer realm="tollgate""#))
        );
        let scope = Denial::InsufficientScope {
            required: vec!["a".into(), "b".into()],
        }
        .render();
        assert_eq!(scope.status, 403);
        assert!(scope.www_authenticate.unwrap().ends_with(r#"scope="a b""#));
        let expired = Denial::InvalidToken(Error::Expired { exp: 1, now: 2 }).render();
        assert_eq!(expired.code, "ERR_JWT_EXPIRED");
        assert!(expired
            .www_authenticate
            .unwrap()
            .contains(r#"error="invalid_token""#));
        assert_eq!(expired.body["claim"], "exp");
    }
}
