//! Plain HTTP (RFC 6797 §7.2) and the addresses the gateway writes for the origin.

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
