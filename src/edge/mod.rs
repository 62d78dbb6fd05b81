//! The Cloudflare Worker adapter: routes requests to the core and renders responses.
//! Handlers stay thin: read the request, call the core, write the response.

mod bindings;
mod keys;

use worker::{event, Context, Env, Headers, Request, Response, Result};

use keys::own_keys;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    console_error_panic_hook::set_once();
    let path = req.path();
    match (req.method(), path.as_str()) {
        (worker::Method::Get, "/healthz") => health(&env),
        (worker::Method::Get, "/.well-known/jwks.json") => jwks(&env),
        _ => json(404, r#"{"error":"not_found"}"#),
    }
}

/// `GET /healthz`: ready when the signing keys load; reports the active `kid` (public data).
fn health(env: &Env) -> Result<Response> {
    match own_keys(signing_secret(env)) {
        Ok(keys) => {
            let active = keys
                .set
                .keys()
                .first()
                .map(|key| key.kid())
                .unwrap_or_default();
            let body = serde_json::json!({
                "status": "ok",
                "activeKid": active,
                "keys": keys.set.keys().len(),
            });
            json(200, &body.to_string())
        }
        Err(err) => config_error(&err, 503),
    }
}

fn signing_secret(env: &Env) -> Option<String> {
    env.secret(bindings::SIGNING_KEYS)
        .ok()
        .map(|s| s.to_string())
}

/// `GET /.well-known/jwks.json`: the public halves of the signing keys (RFC 7517 §5), cacheable
/// for five minutes so that verifiers pick up a rotation quickly.
fn jwks(env: &Env) -> Result<Response> {
    match own_keys(signing_secret(env)) {
        Ok(keys) => {
            let mut response = json(200, &keys.public_jwks)?;
            response.headers_mut().set(
                "Cache-Control",
                "public, max-age=300, stale-while-revalidate=60",
            )?;
            Ok(response)
        }
        Err(err) => config_error(&err, 500),
    }
}

/// A broken deployment: the detail goes to the log, only the code to the client.
fn config_error(err: &keys::KeyConfigError, status: u16) -> Result<Response> {
    log_error(err.code(), &err.detail());
    let body = serde_json::json!({ "error": "server_error", "code": err.code() });
    json(status, &body.to_string())
}

fn json(status: u16, body: &str) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    headers.set(
        "Strict-Transport-Security",
        "max-age=31536000; includeSubDomains",
    )?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(headers))
}

/// One structured log line. Never carries a token, key or secret: callers pass codes and
/// messages built from the core's errors, which hold none.
fn log_error(code: &str, detail: &str) {
    worker::console_error!(
        "{}",
        serde_json::json!({ "level": "error", "code": code, "detail": detail })
    );
}
