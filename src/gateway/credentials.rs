//! Where the token is: the `Authorization` header (`Bearer`, `DPoP`), then the token cookie.

use super::Denial;

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

/// The credentials of an `Authorization: Bearer <token>` header value, trimmed; `None` for
/// another scheme or a bare `Bearer`. For the endpoints that take a bearer credential as it
/// comes (an API key at `/token`, the operator's token): [`extract_token`] checks its syntax
/// where a token is verified.
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, credentials) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
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
