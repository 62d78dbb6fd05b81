//! The gateway's decisions, free of any platform: where the token is, whether its scopes
//! suffice, which identity headers the origin gets, and how a refusal is written on the wire
//! (RFC 6750 §3) — in exactly one function, [`Denial::render`].

use crate::codes::Code;
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
    /// `Authorization: DPoP` (RFC 9449 §7.1): the request must carry a proof.
    Dpop,
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

/// Decides how to treat a request by scheme, connecting address and method. The loopback
/// exemption looks at the address the connection came from (`CF-Connecting-IP`, which
/// Cloudflare sets itself), never at the client's `Host` header.
pub fn https_action(
    mode: crate::config::HttpsMode,
    allow_loopback: bool,
    scheme: &str,
    connecting_ip: Option<&str>,
    method: &str,
) -> HttpsAction {
    use crate::config::HttpsMode;
    let loopback = connecting_ip
        .and_then(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback());
    if scheme == "https" || mode == HttpsMode::Off || (allow_loopback && loopback) {
        return HttpsAction::Allow;
    }
    match mode {
        HttpsMode::Redirect if method == "GET" || method == "HEAD" => HttpsAction::Redirect,
        _ => HttpsAction::Reject,
    }
}

/// Where a plain-HTTP request is redirected: the same path and query on the configured
/// issuer's host over https. The client's `Host` is never used, so the redirect cannot be
/// pointed at another site.
pub fn https_location(issuer: &str, path: &str, query: Option<&str>) -> String {
    let authority = authority(issuer);
    let host = if issuer.starts_with("https://") {
        authority
    } else {
        // An http issuer's port serves plain HTTP; https is on the default port.
        match authority.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                host
            }
            _ => authority,
        }
    };
    let mut location = format!("https://{host}{path}");
    if let Some(query) = query {
        location.push('?');
        location.push_str(query);
    }
    location
}

/// The `host[:port]` of a URL such as the issuer.
pub fn authority(url: &str) -> &str {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// An address as a `Forwarded` node (RFC 7239 §6: IPv6 in brackets), with anything that is
/// not an IP address written as `unknown`.
pub fn forwarded_node(ip: &str) -> String {
    match ip.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => "unknown".to_owned(),
    }
}

/// Removes cookies from a `Cookie` header (Tollgate's own, before forwarding). `None` when
/// nothing is left.
pub fn without_cookies(header: &str, names: &[&str]) -> Option<String> {
    let kept: Vec<&str> = header
        .split(';')
        .map(str::trim)
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("").trim();
            !pair.is_empty() && !names.contains(&name)
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// What the gateway does with one client request header on its way to the origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderAction {
    /// Passed on unchanged.
    Keep,
    /// Not passed on.
    Drop,
    /// Passed on without Tollgate's own cookies.
    StripCookies,
}

/// Which of the client's headers the origin may see.
#[derive(Clone, Copy, Debug, Default)]
pub struct ForwardPolicy {
    /// `forwardAuthorization`: Tollgate's credentials (`Authorization`, `X-API-Key`, `DPoP`,
    /// its cookies) reach the origin too.
    pub credentials: bool,
    /// `forwardOverrideHeaders`: the routing-override headers reach the origin.
    pub override_headers: bool,
}

/// Headers some servers and frameworks read as "act on this URL or method instead": the
/// gateway authorized the request line, so by default none of these pass.
const OVERRIDE_HEADERS: [&str; 5] = [
    "x-original-url",
    "x-rewrite-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Addressing headers the gateway writes itself from the connection (a client's copies would
/// let it choose the address or scheme the origin logs and trusts).
const ADDRESSING_HEADERS: [&str; 6] = [
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "x-original-forwarded-for",
];

/// The header policy, in one place. Names are compared as a CGI-style server reads them:
/// case-insensitively and with `_` taken as `-` (`X_Tollgate_Sub` becomes `HTTP_X_TOLLGATE_SUB`
/// exactly like `X-Tollgate-Sub`).
pub fn forward_header(name: &str, policy: ForwardPolicy) -> HeaderAction {
    let name: String = name
        .bytes()
        .map(|b| match b {
            b'_' => '-',
            _ => char::from(b.to_ascii_lowercase()),
        })
        .collect();
    let name = name.as_str();
    if name.starts_with(IDENTITY_PREFIX)
        || name == "host"
        || name == ONE_TIME_HEADER
        || name.starts_with("x-forwarded-")
        || ADDRESSING_HEADERS.contains(&name)
    {
        return HeaderAction::Drop;
    }
    if OVERRIDE_HEADERS.contains(&name) && !policy.override_headers {
        return HeaderAction::Drop;
    }
    match name {
        // `DPoP` carries a proof for this request only (RFC 9449 §4): Tollgate's credential.
        "authorization" | "x-api-key" | "dpop" if !policy.credentials => HeaderAction::Drop,
        "cookie" if !policy.credentials => HeaderAction::StripCookies,
        _ => HeaderAction::Keep,
    }
}

/// The header carrying a one-time token on `oneTime` routes (consumed by the gateway).
pub const ONE_TIME_HEADER: &str = "x-one-time-token";

/// Methods the gateway refuses with 405: `CONNECT` opens a tunnel and `TRACE`/`TRACK` echo the
/// request (identity headers and cookies included) back to the client. Fetch forbids all three.
pub fn is_forbidden_method(method: &str) -> bool {
    ["CONNECT", "TRACE", "TRACK"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// Finds the token: the `Authorization` header first, then the cookie.
pub fn extract_token<'a>(
    authorization: Option<&'a str>,
    cookies: Option<&'a str>,
    cookie_name: Option<&str>,
) -> Result<(&'a str, TokenSource), Denial> {
    if let Some(value) = authorization {
        let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
        let source = if scheme.eq_ignore_ascii_case("bearer") {
            Some(TokenSource::Header)
        } else if scheme.eq_ignore_ascii_case("dpop") {
            Some(TokenSource::Dpop)
        } else {
            None
        };
        if let Some(source) = source {
            let token = credentials.trim_start_matches(' ');
            // RFC 6750 §2.1 (and RFC 9449 §7.1, the same syntax):
            // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
            if token.is_empty() || !token.bytes().all(is_b64token_byte) {
                return Err(Denial::InvalidRequest("malformed token"));
            }
            return Ok((token, source));
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

/// What the gateway decided for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A public route: forwarded without a token.
    Public,
    /// Authorized and forwarded.
    Allow,
    /// Refused.
    Deny,
}

impl Outcome {
    /// The name in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Public => "public",
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
        }
    }
}

/// The kind of credential that proved an identity; the names are RFC 7662's `token_type`
/// values where one exists, the same at the gateway, in introspection and in logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenType {
    /// A JWT access token.
    #[default]
    Jwt,
    /// An API key.
    ApiKey,
    /// A browser session.
    Session,
    /// A DPoP-bound JWT access token, presented with a valid proof (RFC 9449).
    Dpop,
}

impl TokenType {
    /// The name sent to the origin (`X-Tollgate-Token-Type`) and logged.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Jwt => "jwt",
            TokenType::ApiKey => crate::opaque::Kind::ApiKey.name(),
            TokenType::Session => crate::opaque::Kind::Session.name(),
            TokenType::Dpop => "DPoP",
        }
    }
}

/// One decision, as logged and counted: a value, built once, instead of a list of arguments.
#[derive(Clone, Copy, Debug)]
pub struct Decision<'a> {
    /// The route rule's prefix, or `(unmatched)`.
    pub route: &'a str,
    /// What was decided.
    pub outcome: Outcome,
    /// The refusal's code.
    pub code: Option<&'a str>,
    /// Who, when known.
    pub identity: Option<&'a Identity>,
    /// Whether the verified-token cache answered.
    pub cached: bool,
    /// Time spent deciding, in milliseconds.
    pub latency_ms: f64,
}

/// Who a request acts for, whatever the kind of token that proved it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// What proved it.
    pub token_type: TokenType,
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
    /// The RFC 7638 thumbprint of the key the token is bound to (`cnf.jkt`, RFC 9449 §6).
    pub jkt: Option<String>,
    /// The token has a `cnf` (RFC 7800) that is not a DPoP `jkt` (e.g. an mTLS `x5t#S256`):
    /// bound to something this gateway cannot check, so it is refused rather than let through
    /// as a bearer token.
    pub other_binding: bool,
}

impl Identity {
    /// The identity a verified JWT proves.
    pub fn from_jwt(token: &Verified) -> Self {
        let claim = |name: &str| token.claim_str(name).map(str::to_owned);
        let cnf = token.claims().get("cnf");
        let jkt = cnf
            .and_then(|cnf| cnf.get("jkt"))
            .and_then(serde_json::Value::as_str);
        Identity {
            token_type: TokenType::Jwt,
            sub: claim("sub"),
            scope: claim("scope"),
            jti: claim("jti"),
            issuer: claim("iss"),
            client_id: claim("client_id"),
            jkt: jkt.map(str::to_owned),
            other_binding: cnf.is_some() && jkt.is_none(),
        }
    }

    /// A route with `dpop = "required"` takes only a DPoP-bound token with its proof.
    pub fn dpop_required(&self, rule: crate::config::DpopRule) -> Result<(), Denial> {
        match (rule, self.token_type) {
            (crate::config::DpopRule::Required, token_type) if token_type != TokenType::Dpop => {
                Err(Denial::DpopBinding(
                    "this route requires a DPoP-bound token with a DPoP proof (RFC 9449)",
                ))
            }
            _ => Ok(()),
        }
    }

    /// RFC 9449 §7.1–7.2: whether the token's binding fits how it was presented. A bound
    /// token needs the `DPoP` scheme (a proof is then checked by the adapter), and the `DPoP`
    /// scheme needs a bound token.
    pub fn dpop_fit(&self, source: TokenSource) -> Result<(), Denial> {
        if self.other_binding {
            return Err(Denial::DpopBinding(
                "the token is bound by a confirmation method (cnf) this gateway does not check",
            ));
        }
        match (source, self.jkt.is_some()) {
            (TokenSource::Dpop, true) | (TokenSource::Header | TokenSource::Cookie, false) => {
                Ok(())
            }
            (TokenSource::Dpop, false) => Err(Denial::DpopBinding(
                "the token is not DPoP-bound: present it with the Bearer scheme",
            )),
            (_, true) => Err(Denial::DpopBinding(
                "the token is DPoP-bound: present it with the DPoP scheme and a proof (RFC 9449 §7.2)",
            )),
        }
    }

    /// Whether a required scope is missing.
    pub fn missing_scopes(&self, required: &[String]) -> bool {
        let granted: Vec<&str> = self.scope.as_deref().unwrap_or("").split(' ').collect();
        required
            .iter()
            .any(|needed| !granted.contains(&needed.as_str()))
    }

    /// The identity headers for the origin. Values outside printable ASCII are percent-encoded,
    /// so no claim can split or forge a header.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("x-tollgate-token-type", self.token_type.as_str().to_owned())];
        for (header, value) in [
            ("x-tollgate-sub", &self.sub),
            ("x-tollgate-scope", &self.scope),
            ("x-tollgate-jti", &self.jti),
            ("x-tollgate-issuer", &self.issuer),
            ("x-tollgate-client-id", &self.client_id),
            ("x-tollgate-jkt", &self.jkt),
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
    fn https_is_enforced_except_from_loopback_addresses() {
        use crate::config::HttpsMode::*;
        let local = Some("127.0.0.1");
        let remote = Some("203.0.113.9");
        assert_eq!(
            https_action(Redirect, true, "http", local, "POST"),
            HttpsAction::Allow
        );
        assert_eq!(
            https_action(Redirect, true, "http", Some("::1"), "POST"),
            HttpsAction::Allow
        );
        assert_eq!(
            https_action(Redirect, false, "http", local, "GET"),
            HttpsAction::Redirect
        );
        assert_eq!(
            https_action(Redirect, true, "http", remote, "GET"),
            HttpsAction::Redirect
        );
        assert_eq!(
            https_action(Redirect, true, "http", None, "GET"),
            HttpsAction::Redirect
        );
        assert_eq!(
            https_action(Redirect, true, "http", Some("localhost"), "GET"),
            HttpsAction::Redirect
        );
        assert_eq!(
            https_action(Redirect, true, "http", remote, "POST"),
            HttpsAction::Reject
        );
        assert_eq!(
            https_action(Reject, true, "http", remote, "GET"),
            HttpsAction::Reject
        );
        assert_eq!(
            https_action(Off, true, "http", remote, "GET"),
            HttpsAction::Allow
        );
        assert_eq!(
            https_action(Reject, false, "https", remote, "GET"),
            HttpsAction::Allow
        );
    }

    #[test]
    fn the_https_redirect_goes_to_the_issuer_host() {
        assert_eq!(
            https_location("https://auth.example.com", "/api/x", Some("a=1")),
            "https://auth.example.com/api/x?a=1"
        );
        assert_eq!(
            https_location("https://auth.example.com:8443/base", "/x", None),
            "https://auth.example.com:8443/x"
        );
        assert_eq!(
            https_location("http://127.0.0.1:8787", "/x", None),
            "https://127.0.0.1/x"
        );
    }

    #[test]
    fn tollgate_cookies_are_removed_before_forwarding() {
        assert_eq!(
            without_cookies("a=1; tg=x; b=2; tg_session=s", &["tg", "tg_session"]).as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(without_cookies("tg=x", &["tg"]), None);
        assert_eq!(without_cookies("tgx=1", &["tg"]).as_deref(), Some("tgx=1"));
    }

    #[test]
    fn the_header_policy() {
        let default = ForwardPolicy::default();
        for name in [
            "X-Tollgate-Sub",
            "x-tollgate-anything",
            "X_Tollgate_Sub",
            "x_TOLLGATE-scope",
            "Host",
            "X-One-Time-Token",
            "X-Forwarded-For",
            "x_forwarded_host",
            "Forwarded",
            "X-Real-IP",
            "CF-Connecting-IP",
            "X-Original-URL",
            "x_rewrite_url",
            "X-HTTP-Method-Override",
            "Authorization",
            "X-API-Key",
        ] {
            assert_eq!(forward_header(name, default), HeaderAction::Drop, "{name}");
        }
        assert_eq!(
            forward_header("Cookie", default),
            HeaderAction::StripCookies
        );
        for name in ["accept", "x-toll", "content-type", "x-request-id"] {
            assert_eq!(forward_header(name, default), HeaderAction::Keep, "{name}");
        }
        let open = ForwardPolicy {
            credentials: true,
            override_headers: true,
        };
        for name in ["Authorization", "X-API-Key", "Cookie", "X-Original-URL"] {
            assert_eq!(forward_header(name, open), HeaderAction::Keep, "{name}");
        }
        for name in ["X-Tollgate-Sub", "X-Forwarded-For"] {
            assert_eq!(forward_header(name, open), HeaderAction::Drop, "{name}");
        }
        assert!(is_forbidden_method("CONNECT") && is_forbidden_method("trace"));
        assert!(!is_forbidden_method("PROPFIND"));
    }

    #[test]
    fn header_values_cannot_break_out() {
        assert_eq!(header_safe("alice"), "alice");
        assert_eq!(header_safe("a\r\nX-Evil: 1"), "a%0D%0AX-Evil: 1");
        assert_eq!(header_safe("é%"), "%C3%A9%25");
        assert_eq!(quote_safe("say \"hi\"\n"), "say ?hi??");
    }

    /// RFC 9449 §7.1–7.2 and RFC 7800: a binding decides the scheme, and a binding the
    /// gateway cannot check is refused, never treated as a bearer token.
    #[test]
    fn a_binding_decides_how_a_token_may_be_presented() {
        let bound = Identity {
            jkt: Some("k".into()),
            ..Identity::default()
        };
        let unbound = Identity::default();
        let other = Identity {
            other_binding: true,
            ..Identity::default()
        };
        assert!(bound.dpop_fit(TokenSource::Dpop).is_ok());
        assert!(unbound.dpop_fit(TokenSource::Header).is_ok());
        assert!(unbound.dpop_fit(TokenSource::Cookie).is_ok());
        for (identity, source) in [
            (&bound, TokenSource::Header),
            (&bound, TokenSource::Cookie),
            (&unbound, TokenSource::Dpop),
            (&other, TokenSource::Header),
            (&other, TokenSource::Dpop),
        ] {
            let denial = identity.dpop_fit(source).unwrap_err().render();
            assert_eq!(
                (denial.status, denial.code),
                (401, "ERR_DPOP_BINDING_MISMATCH")
            );
            assert!(denial
                .www_authenticate
                .unwrap()
                .starts_with(r#"DPoP error="invalid_token""#));
        }
    }

    /// The package's middleware answers from the code alone; it must say what the gateway says.
    #[test]
    fn a_refusal_rendered_from_its_code_is_the_gateways() {
        let same = |a: Rendered, b: Rendered| {
            assert_eq!(
                (a.status, &a.www_authenticate, &a.body, a.code),
                (b.status, &b.www_authenticate, &b.body, b.code)
            );
        };
        for err in [
            Error::Expired { exp: 1, now: 2 },
            Error::BadSignature,
            Error::ClaimInvalid {
                claim: "aud".into(),
                reason: "is not accepted",
            },
            Error::NoMatchingKey { kid: None },
        ] {
            let from_code = render_code(err.code(), &err.to_string(), err.claim(), &[]);
            same(from_code, Denial::InvalidToken(err).render());
        }
        same(
            render_code(Code::TokenMissing.as_str(), "", None, &[]),
            Denial::MissingToken.render(),
        );
        let required = vec!["read".to_owned(), "write".to_owned()];
        same(
            render_code(Code::InsufficientScope.as_str(), "", None, &required),
            Denial::InsufficientScope { required }.render(),
        );
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
