//! Canonical request paths: the gateway authorizes the path the origin will act on.
//!
//! Origins disagree on how to read a path: one decodes `%69` before routing, another folds
//! case, merges `//`, honours `;` parameters (`..;/` in Tomcat) or reads `%2F` as a separator.
//! A gateway that matches its rules on one spelling while the origin acts on another can be
//! walked past. So, like Envoy's `normalize_path` + `merge_slashes` +
//! `path_with_escaped_slashes_action: REJECT_REQUEST`, the gateway first rewrites the path into
//! one canonical form, routes on it, and forwards exactly that form:
//!
//! - percent-encoded unreserved characters are decoded and every other percent-encoding is
//!   written in upper case (RFC 3986 §6.2.2.1, §6.2.2.2);
//! - runs of `/` are merged into one, so `//host/x` can never read as a network-path
//!   reference (RFC 3986 §4.2);
//! - `.` and `..` segments are removed (RFC 3986 §5.2.4), after decoding, so `%2e%2e` counts;
//!
//! and what stays ambiguous is refused ([`PathError`], 400 `ERR_PATH_INVALID`): an encoded
//! `/` or `\`, a raw `\`, control characters (NUL included) raw or encoded, bytes that are not
//! UTF-8 once decoded, malformed percent-encodings, and `;` path parameters unless the
//! deployment allows them (and even then not on a `.` or `..` segment).
//!
//! Letter case is not changed here: whether `/API` is `/api` is the route matcher's question
//! (`config::GatewayConfig::route`), because only the origin knows whether its paths are
//! case-sensitive.

use crate::codes::Code;
use core::fmt;

/// Longest path accepted, in bytes (before canonicalisation).
pub const MAX_PATH_BYTES: usize = 8 * 1024;

/// Why a path was refused rather than canonicalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathError {
    /// The request-target is not origin-form (RFC 9112 §3.2.1): it must start with `/`.
    NotOriginForm,
    /// `%2F` or `%5C`: some origins read them as separators, some do not.
    EncodedSeparator,
    /// A raw `\`, which some servers read as `/`.
    Backslash,
    /// A control character (NUL, CR, LF, …), raw or percent-encoded.
    ControlCharacter,
    /// A `%` not followed by two hex digits.
    BadPercentEncoding,
    /// The decoded bytes are not UTF-8.
    InvalidUtf8,
    /// A `;` path parameter (refused unless allowed), or a parameter on a dot segment.
    PathParameter,
    /// Longer than [`MAX_PATH_BYTES`].
    TooLong,
}

impl PathError {
    /// The stable code every path refusal carries.
    pub const CODE: &'static str = Code::PathInvalid.as_str();
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotOriginForm => "the request-target must be an absolute path",
            PathError::EncodedSeparator => "the path contains an encoded '/' or '\\'",
            PathError::Backslash => "the path contains a backslash",
            PathError::ControlCharacter => "the path contains a control character",
            PathError::BadPercentEncoding => "the path contains a malformed percent-encoding",
            PathError::InvalidUtf8 => "the path is not UTF-8 once decoded",
            PathError::PathParameter => "the path contains a ';' parameter",
            PathError::TooLong => "the path is too long",
        })
    }
}

impl std::error::Error for PathError {}

/// How paths are read. Both defaults are the safe ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathOptions {
    /// Whether `;` path parameters are passed through (RFC 3986 §3.3). Default: refused.
    pub allow_parameters: bool,
}

/// The canonical form of a path (no query), or why it has none.
pub fn canonical(raw: &str, options: PathOptions) -> Result<String, PathError> {
    if raw.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong);
    }
    if !raw.starts_with('/') {
        return Err(PathError::NotOriginForm);
    }
    let normalized = normalize_encoding(raw.as_bytes())?;
    check_decodes_to_utf8(&normalized)?;
    let mut out = String::with_capacity(normalized.len());
    let mut segments: Vec<&str> = Vec::new();
    // Merged slashes: empty segments vanish, except a trailing one (`/a/` is not `/a`).
    let trailing = normalized.ends_with('/');
    for segment in normalized.split('/').filter(|s| !s.is_empty()) {
        if segment.contains(';') {
            if !options.allow_parameters {
                return Err(PathError::PathParameter);
            }
            let name = segment.split(';').next().unwrap_or("");
            if name == "." || name == ".." {
                return Err(PathError::PathParameter);
            }
        }
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    // `/a/..` and `/a/.` name the directory: they keep their trailing slash (RFC 3986 §5.2.4).
    let ends_in_dot = normalized
        .rsplit('/')
        .find(|s| !s.is_empty())
        .is_some_and(|last| last == "." || last == "..");
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() || ((trailing || ends_in_dot) && !out.ends_with('/')) {
        out.push('/');
    }
    Ok(out)
}

/// The raw path and query of an absolute URL as the runtime hands it over
/// (`scheme://authority/path?query`); a fragment, which no request carries, is dropped.
pub fn split_url(url: &str) -> (&str, Option<&str>) {
    let after_scheme = url.find("://").and_then(|at| url.get(at + 3..));
    let Some(rest) = after_scheme else {
        return ("", None);
    };
    let path_and_query = rest
        .find(['/', '?'])
        .and_then(|at| rest.get(at..))
        .unwrap_or("");
    let without_fragment = path_and_query.split('#').next().unwrap_or("");
    match without_fragment.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (without_fragment, None),
    }
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn push_encoded(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0xf)]));
}

/// Decodes unreserved characters, upper-cases the rest, encodes raw non-ASCII bytes, and
/// refuses the spellings no two servers agree on.
fn normalize_encoding(raw: &[u8]) -> Result<String, PathError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'%' => {
                let decoded = match rest {
                    [high, low, ..] => match (hex_value(*high), hex_value(*low)) {
                        (Some(high), Some(low)) => (high << 4) | low,
                        _ => return Err(PathError::BadPercentEncoding),
                    },
                    _ => return Err(PathError::BadPercentEncoding),
                };
                rest = rest.get(2..).unwrap_or_default();
                match decoded {
                    b'/' | b'\\' => return Err(PathError::EncodedSeparator),
                    0x00..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
                    _ if is_unreserved(decoded) => out.push(char::from(decoded)),
                    _ => push_encoded(&mut out, decoded),
                }
            }
            b'\\' => return Err(PathError::Backslash),
            0x00..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
            0x80..=0xff | b' ' | b'"' | b'<' | b'>' | b'^' | b'`' | b'{' | b'|' | b'}' => {
                push_encoded(&mut out, byte)
            }
            _ => out.push(char::from(byte)),
        }
    }
    Ok(out)
}

/// The path, with every percent-encoding decoded, must be UTF-8: an origin that decodes it
/// would otherwise read something other than what was routed.
fn check_decodes_to_utf8(normalized: &str) -> Result<(), PathError> {
    let mut bytes = Vec::with_capacity(normalized.len());
    let mut rest = normalized.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        if byte == b'%' {
            let value = match rest {
                [high, low, ..] => hex_value(*high)
                    .zip(hex_value(*low))
                    .map(|(h, l)| (h << 4) | l),
                _ => None,
            };
            bytes.push(value.ok_or(PathError::BadPercentEncoding)?);
            rest = rest.get(2..).unwrap_or_default();
        } else {
            bytes.push(byte);
        }
    }
    std::str::from_utf8(&bytes)
        .map(|_| ())
        .map_err(|_| PathError::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(raw: &str) -> Result<String, PathError> {
        canonical(raw, PathOptions::default())
    }

    #[test]
    fn unreserved_characters_are_decoded_and_the_rest_upper_cased() {
        assert_eq!(canon("/api/adm%69n").unwrap(), "/api/admin");
        assert_eq!(canon("/api/%41%2d%7e").unwrap(), "/api/A-~");
        assert_eq!(canon("/a%2cb%3F").unwrap(), "/a%2Cb%3F");
        assert_eq!(canon("/caf%c3%a9").unwrap(), "/caf%C3%A9");
        assert_eq!(canon("/a b").unwrap(), "/a%20b");
    }

    #[test]
    fn slashes_are_merged_so_no_path_reads_as_a_network_path_reference() {
        assert_eq!(
            canon("//evil.example/api/admin").unwrap(),
            "/evil.example/api/admin"
        );
        assert_eq!(canon("/api//admin").unwrap(), "/api/admin");
        assert_eq!(canon("/api///admin//").unwrap(), "/api/admin/");
        assert_eq!(canon("/").unwrap(), "/");
        assert_eq!(canon("//").unwrap(), "/");
    }

    #[test]
    fn dot_segments_are_removed_after_decoding() {
        assert_eq!(canon("/public/../api/admin").unwrap(), "/api/admin");
        assert_eq!(canon("/public/%2e%2e/api/admin").unwrap(), "/api/admin");
        assert_eq!(canon("/public/.%2E/api").unwrap(), "/api");
        assert_eq!(canon("/a/./b/.").unwrap(), "/a/b/");
        assert_eq!(canon("/a/b/..").unwrap(), "/a/");
        assert_eq!(canon("/../../etc").unwrap(), "/etc");
        assert_eq!(canon("/..").unwrap(), "/");
        assert_eq!(canon("/a..b/.c").unwrap(), "/a..b/.c");
    }

    #[test]
    fn ambiguous_spellings_are_refused() {
        for (raw, err) in [
            ("api/admin", PathError::NotOriginForm),
            ("*", PathError::NotOriginForm),
            ("", PathError::NotOriginForm),
            ("/public/..%2fapi/admin", PathError::EncodedSeparator),
            ("/api%2Fadmin", PathError::EncodedSeparator),
            ("/api%5cadmin", PathError::EncodedSeparator),
            ("/public\\..\\api", PathError::Backslash),
            ("/api%00", PathError::ControlCharacter),
            ("/api\0", PathError::ControlCharacter),
            ("/a%0d%0aX: y", PathError::ControlCharacter),
            ("/a%7f", PathError::ControlCharacter),
            ("/a%zz", PathError::BadPercentEncoding),
            ("/a%4", PathError::BadPercentEncoding),
            ("/a%", PathError::BadPercentEncoding),
            ("/a%ff", PathError::InvalidUtf8),
            ("/a%c3", PathError::InvalidUtf8),
            ("/public/..;/api/admin", PathError::PathParameter),
            ("/api;jsessionid=1/admin", PathError::PathParameter),
        ] {
            assert_eq!(canon(raw), Err(err), "{raw:?}");
        }
        assert_eq!(
            canon(&format!("/{}", "a".repeat(MAX_PATH_BYTES))),
            Err(PathError::TooLong)
        );
    }

    #[test]
    fn parameters_pass_only_when_allowed_and_never_on_dot_segments() {
        let allow = PathOptions {
            allow_parameters: true,
        };
        assert_eq!(canonical("/a;v=1/b", allow).unwrap(), "/a;v=1/b");
        assert_eq!(
            canonical("/public/..;/api", allow),
            Err(PathError::PathParameter)
        );
        assert_eq!(
            canonical("/public/.;x/api", allow),
            Err(PathError::PathParameter)
        );
        // An encoded `;` is data, not a parameter: it stays encoded.
        assert_eq!(canon("/a%3bb").unwrap(), "/a%3Bb");
    }

    #[test]
    fn urls_split_into_path_and_query() {
        assert_eq!(
            split_url("http://h:1//evil.example/x?a=1"),
            ("//evil.example/x", Some("a=1"))
        );
        assert_eq!(split_url("https://h/a?b?c#f"), ("/a", Some("b?c")));
        assert_eq!(split_url("https://h?q"), ("", Some("q")));
        assert_eq!(split_url("https://h"), ("", None));
        assert_eq!(split_url("no-scheme"), ("", None));
    }

    #[test]
    fn canonical_paths_are_fixed_points() {
        for raw in [
            "/api/adm%69n",
            "//x//y/../z",
            "/a%2cb/./c/",
            "/caf%c3%a9",
            "/%7euser",
        ] {
            let once = canon(raw).unwrap();
            assert_eq!(canon(&once).unwrap(), once, "{raw:?}");
        }
    }
}
