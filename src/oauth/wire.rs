//! The wire helpers of the OAuth endpoints: forms (RFC 6749 §3.1, strict UTF-8), Basic
//! credentials (§2.3.1), redirect URIs (RFC 9700 §4.1) and query building.

use super::*;
use std::collections::btree_map::Entry;

/// Largest form body or query string accepted by the OAuth endpoints.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// Form parameters by name.
pub type Form = BTreeMap<String, String>;

/// Parses an `application/x-www-form-urlencoded` body or a query string. Parameters may not
/// repeat (RFC 6749 §3.1), and the input is bounded.
pub fn parse_form(body: &str) -> Result<Form, OAuthError> {
    parse_form_bytes(body.as_bytes())
}

/// [`parse_form`] over raw bytes: anything that is not UTF-8, raw or once percent-decoded, is
/// `invalid_request` (the WHATWG parser would replace it with U+FFFD, silently changing what
/// the client sent).
pub fn parse_form_bytes(body: &[u8]) -> Result<Form, OAuthError> {
    let (params, repeats) = parse_form_first(body)?;
    match repeats.first() {
        None => Ok(params),
        Some(name) => Err(repeated(name)),
    }
}

/// [`parse_form_bytes`] that keeps the first value of a repeated parameter: the form, and
/// every name sent more than once, in the order met. For `/authorize`, which sends that error
/// back to the client once it knows the client and its redirect URI (RFC 6749 §4.1.2.1).
pub fn parse_form_first(body: &[u8]) -> Result<(Form, Vec<String>), OAuthError> {
    if body.len() > MAX_FORM_BYTES {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "the request is too large",
        ));
    }
    let invalid = || {
        OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "the form is not valid UTF-8",
        )
    };
    let mut params = BTreeMap::new();
    let mut repeats: Vec<String> = Vec::new();
    // Each repeated name once, found in O(log n): the query is unauthenticated and up to
    // MAX_FORM_BYTES of repeats.
    let mut repeated_names = std::collections::BTreeSet::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (
                pair.get(..at).unwrap_or_default(),
                pair.get(at + 1..).unwrap_or_default(),
            ),
            None => (pair, &[][..]),
        };
        let name = form_decode(name).ok_or_else(invalid)?;
        let value = form_decode(value).ok_or_else(invalid)?;
        match params.entry(name) {
            Entry::Occupied(first) => {
                if repeated_names.insert(first.key().clone()) {
                    repeats.push(first.key().clone());
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(value);
            }
        }
    }
    Ok((params, repeats))
}

/// The error for a parameter sent more than once (RFC 6749 §3.1).
pub fn repeated(name: &str) -> OAuthError {
    // RFC 8707 §2 lets a request name several resources; the tokens issued here are each for
    // one service, so a second is refused by the code it defines.
    if name == "resource" {
        OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            "one resource per request: each access token is for one service",
        )
    } else if name.len() <= 40 {
        // Named when short enough to read; the client chose it, so no more than that.
        OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            format!("the parameter {name} is repeated"),
        )
    } else {
        OAuthError::new(OAuthErrorCode::InvalidRequest, "a parameter is repeated")
    }
}

/// Decodes one form component (`+` is a space, `%XX` a byte; a `%` without two hex digits
/// stays as it is, as in the WHATWG parser); `None` when the result is not UTF-8.
pub(super) fn form_decode(raw: &[u8]) -> Option<String> {
    let hex = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&byte) = raw.get(i) {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => match (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            ) {
                (Some(high), Some(low)) => {
                    bytes.push((high << 4) | low);
                    i += 2;
                }
                _ => bytes.push(b'%'),
            },
            _ => bytes.push(byte),
        }
        i += 1;
    }
    String::from_utf8(bytes).ok()
}

/// `Authorization: Basic` client credentials (RFC 6749 §2.3.1: id and secret are
/// form-encoded before base64). `None` for any other scheme or a malformed value.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 4096 {
        return None;
    }
    let decoded = <base64ct::Base64 as base64ct::Encoding>::decode_vec(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (id, secret) = (decode(id), decode(secret));
    (!id.is_empty()).then_some((id, secret))
}

/// Whether a redirect URI may be registered (RFC 9700 §2.1, §4.1): absolute, no fragment,
/// https, or http only to a loopback host (native and development clients). A URI is ASCII
/// (RFC 3986 §2): an internationalised one is registered in its URI form (RFC 3987 §3.1,
/// host as its A-label), the form a browser sends back and the one compared.
///
/// Only RFC 3986's characters (§2: unreserved, reserved, `%` before two hex digits), and an
/// authority of a plain host or an IP literal with an optional port up to 65535: a string
/// browsers read otherwise than this check (`https://evil.example\.app.example/cb`, whose
/// host a browser reads as `evil.example`) is no URI and is refused (an outside run).
pub fn valid_redirect_uri(uri: &str) -> bool {
    if uri.len() > 2048 || uri.contains('#') || !uri_characters(uri) {
        return false;
    }
    let rest = match (uri.strip_prefix("https://"), uri.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) => {
            let host = rest.split(['/', '?']).next().unwrap_or("");
            if !crate::config::is_loopback_host(host) {
                return false;
            }
            rest
        }
        _ => return false,
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    plain_authority(authority)
}

/// Whether every character is one RFC 3986 §2 allows, `%` only as `%HH`.
pub(super) fn uri_characters(uri: &str) -> bool {
    let bytes = uri.as_bytes();
    bytes.iter().enumerate().all(|(at, &b)| match b {
        b'%' => bytes
            .get(at + 1..at + 3)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)),
        _ => b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&b),
    })
}

/// `host[:port]` with a host of letters, digits, `-` and `.` or an IP literal in brackets (no
/// userinfo, nothing percent-encoded), and a port of 1 to 65535.
fn plain_authority(authority: &str) -> bool {
    let (host, port) = match authority.strip_prefix('[') {
        Some(literal) => match literal.split_once(']') {
            Some((inside, after)) => (
                inside.parse::<core::net::Ipv6Addr>().is_ok(),
                after
                    .strip_prefix(':')
                    .map(Some)
                    .unwrap_or(after.is_empty().then_some("")),
            ),
            None => return false,
        },
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, Some("")),
            };
            (
                host.split('.').all(|label| !label.is_empty())
                    && host.bytes().any(|b| b.is_ascii_alphanumeric())
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b)),
                port,
            )
        }
    };
    let port_ok = match port {
        Some("") => true,
        Some(port) => {
            port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p))
        }
        None => false,
    };
    host && port_ok
}

/// Whether `scope` is one scope token (RFC 6749 §3.3: printable ASCII but space, `"` and
/// `\`): a scope outside it (a tab, a quote, `é`) was registered and issued, and read as one
/// scope here but as two by a consumer that splits on any whitespace (an outside run).
pub fn valid_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// Appends form-encoded parameters to a URL (keeping any query it already has).
pub fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let mut out = url.to_owned();
    let mut separator = if url.contains('?') { '&' } else { '?' };
    for (name, value) in params {
        out.push(separator);
        out.push_str(&form_encode(name));
        out.push('=');
        out.push_str(&form_encode(value));
        separator = '&';
    }
    out
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
