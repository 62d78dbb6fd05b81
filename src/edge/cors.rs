//! CORS for the endpoints browsers call from scripts: `/token` (a single-page app redeeming a
//! code), `/revoke` (the same app revoking its tokens at sign-out; RFC 7009 §5 allows CORS
//! there, and the metadata invites public clients with the method `none`), the JWKS, both
//! metadata documents (RFC 8414, OpenID Connect Discovery) and `/userinfo` (OpenID Connect
//! Core §5.3: it SHOULD support CORS). Origins come from
//! `corsOrigins`; credentials (cookies) are never allowed cross-origin, so a page elsewhere
//! cannot ride a session: `/userinfo` takes its access token in `Authorization`.

use worker::{Request, Response, Result};

use super::respond;
use super::state::State;

/// Whether this canonical path answers CORS (`cors` in the worker's table of its own paths).
pub fn is_cors_endpoint(path: &str) -> bool {
    super::OWN_PATHS
        .iter()
        .any(|own| own.cors && own.path == path)
}

/// An `OPTIONS` preflight: 204, with the CORS headers only when the origin is allowed (a
/// browser treats their absence as a refusal), and `Allow` naming the path's methods for any
/// `OPTIONS` (RFC 9110 §9.3.7).
pub fn preflight(req: &Request, state: &State, allow_methods: &str) -> Result<Response> {
    let origin = req.headers().get("Origin")?;
    let mut response = Response::empty()?
        .with_status(204)
        .with_headers(respond::base_headers()?);
    response.headers_mut().set("Allow", allow_methods)?;
    allow(origin.as_deref(), &mut response, state)?;
    if response.headers().has("Access-Control-Allow-Origin")? {
        let headers = response.headers_mut();
        headers.set("Access-Control-Allow-Methods", "GET, POST")?;
        headers.set(
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type, DPoP",
        )?;
        headers.set("Access-Control-Max-Age", "600")?;
    }
    Ok(response)
}

/// Adds `Access-Control-Allow-Origin` for an allowed origin.
pub fn allow(origin: Option<&str>, response: &mut Response, state: &State) -> Result<()> {
    let headers = response.headers_mut();
    headers.append("Vary", "Origin")?;
    let Some(config) = state.config.as_ref() else {
        return Ok(());
    };
    if let Some(allowed) = origin.and_then(|o| config.cors_allow_origin(o)) {
        headers.set("Access-Control-Allow-Origin", allowed)?;
        // A script reads only the CORS-safelisted response headers unless told more: a
        // browser client must see the nonce to retry with (RFC 9449 §8) and the challenge.
        headers.set(
            "Access-Control-Expose-Headers",
            "DPoP-Nonce, WWW-Authenticate",
        )?;
    }
    Ok(())
}
