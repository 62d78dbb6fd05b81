//! Which of the client's headers reach the origin, decided in one place.

use super::IDENTITY_PREFIX;

/// Removes cookies from a `Cookie` header (Tollgate's own, before forwarding). `None` when
/// nothing is left. Pairs are split on `;` and also on `,`: a client that sends several
/// `Cookie` lines (RFC 6265 §5.4 says one; HTTP/2 sends several, which RFC 9113 §8.2.3 joins
/// with `; `) reaches the worker joined with `, ` (RFC 9110 §5.3), and a cookie of ours after
/// that comma must not reach the origin. Removing more is the safe side: a cookie value of
/// the origin's that holds `,<our name>=` loses that piece.
pub fn without_cookies(header: &str, names: &[&str]) -> Option<String> {
    let ours = |part: &str| names.contains(&part.split('=').next().unwrap_or("").trim());
    let kept: Vec<String> = header
        .split(';')
        .filter_map(|pair| {
            let rest = pair
                .split(',')
                .filter(|part| !ours(part))
                .collect::<Vec<_>>()
                .join(",");
            let rest = rest.trim();
            (!rest.is_empty()).then(|| rest.to_owned())
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
