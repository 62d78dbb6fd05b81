//! The login and consent pages: plain HTML forms that work without JavaScript, with every
//! value escaped and headers that forbid framing, inline script and referrers.

use worker::{Headers, Response, Result};

use super::respond::base_headers;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Security headers for every page (RFC 9700 §4.16: clickjacking; CSP; no referrer leaks
/// of codes or state). `redirect_origin` is the client's origin: browsers apply `form-action`
/// to the redirect that follows a form post, so it must be allowed there too.
pub fn page_headers_for(redirect_origin: Option<&str>) -> Result<Headers> {
    let headers = base_headers()?;
    headers.set("Content-Type", "text/html; charset=utf-8")?;
    let form_action = match redirect_origin {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    headers.set(
        "Content-Security-Policy",
        &format!("default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"),
    )?;
    headers.set("X-Frame-Options", "DENY")?;
    headers.set("Referrer-Policy", "no-referrer")?;
    headers.set("Cache-Control", "no-store")?;
    Ok(headers)
}

/// [`page_headers_for`] with no client origin.
pub fn page_headers() -> Result<Headers> {
    page_headers_for(None)
}

/// The origin (`scheme://host[:port]`) of a redirect URI, which CSP's `form-action` names.
/// Registered redirect URIs are http(s) without user information (`valid_redirect_uri`).
pub fn origin_of(url: &str) -> Option<String> {
    crate::dpop::split_origin(url).map(|(origin, _)| origin)
}

fn page(status: u16, title: &str, body: &str, redirect_origin: Option<&str>) -> Result<Response> {
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Tollgate</title>
<style>body{{font:16px system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#222}}
label{{display:block;margin:.8rem 0 .2rem}}input[type=text],input[type=password]{{width:100%;padding:.5rem;box-sizing:border-box}}
button{{margin-top:1rem;padding:.5rem 1.2rem}}.error{{color:#b00020}}.scopes li{{margin:.2rem 0}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"#,
        title = escape(title)
    );
    Ok(Response::ok(html)?
        .with_status(status)
        .with_headers(page_headers_for(redirect_origin)?))
}

/// Hidden fields carrying the authorization request and the CSRF token.
fn hidden(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(name, value)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                escape(name),
                escape(value)
            )
        })
        .collect()
}

/// The login form; `username` fills the name in (OpenID Connect's `login_hint`).
pub fn login(
    client_name: &str,
    redirect_uri: &str,
    fields: &[(String, String)],
    username: Option<&str>,
    error: Option<&str>,
) -> Result<Response> {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    page(
        if error.is_empty() { 200 } else { 401 },
        "Sign in",
        &format!(
            r#"<p>to continue to <strong>{client}</strong></p>{error}
<form method="post" action="/authorize">{hidden}
<label for="username">Username</label><input id="username" name="username" type="text" value="{username}" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<input type="hidden" name="action" value="login"><button type="submit">Sign in</button></form>"#,
            client = escape(client_name),
            hidden = hidden(fields),
            username = escape(username.unwrap_or("")),
        ),
        origin_of(redirect_uri).as_deref(),
    )
}

/// The sign-out question (OpenID Connect RP-Initiated Logout 1.0 §2: without a valid
/// `id_token_hint` the user confirms, so that no other site can sign them out).
/// `back_to` is the origin of the registered `post_logout_redirect_uri`, which the form's
/// answer redirects to (CSP `form-action` covers that redirect too).
pub fn logout_confirm(fields: &[(String, String)], back_to: Option<&str>) -> Result<Response> {
    page(
        200,
        "Sign out?",
        &format!(
            r#"<p>Sign out of every application that uses this sign-in?</p>
<form method="post" action="/logout">{hidden}
<button type="submit" name="action" value="logout">Sign out</button></form>"#,
            hidden = hidden(fields),
        ),
        back_to,
    )
}

/// After a sign-out with nowhere registered to go back to.
pub fn signed_out() -> Result<Response> {
    page(200, "Signed out", "<p>You are signed out.</p>", None)
}

/// The consent form for third-party clients.
pub fn consent(
    client_name: &str,
    redirect_uri: &str,
    username: &str,
    scope: &str,
    fields: &[(String, String)],
) -> Result<Response> {
    let scopes: String = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    page(
        200,
        "Allow access?",
        &format!(
            r#"<p><strong>{client}</strong> wants to access your account (<strong>{user}</strong>) with:</p>
<ul class="scopes">{scopes}</ul>
<form method="post" action="/authorize">{hidden}
<button type="submit" name="action" value="approve">Allow</button>
<button type="submit" name="action" value="deny">Deny</button></form>"#,
            client = escape(client_name),
            user = escape(username),
            hidden = hidden(fields),
        ),
        origin_of(redirect_uri).as_deref(),
    )
}

/// An error the user must see (never redirected: the redirect URI is not trusted).
pub fn error(message: &str) -> Result<Response> {
    page(
        400,
        "Cannot continue",
        &format!(r#"<p class="error">{}</p>"#, escape(message)),
        None,
    )
}
