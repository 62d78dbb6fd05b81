//! The Cloudflare Worker adapter: routes requests to the core and renders responses.
//! Handlers stay thin: read the request, call the core, write the response.

mod bindings;
mod gateway;
mod keys;
mod remote_jwks;
mod respond;
mod revocation;
mod revoke;
mod state;

use serde_json::json;
use worker::{event, Context, Env, Method, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    console_error_panic_hook::set_once();
    let state = match state::state(&env) {
        Ok(state) => state,
        Err(err) => {
            let status = if req.path() == "/healthz" { 503 } else { 500 };
            return respond::server_error(status, err.code, &err.detail);
        }
    };
    match (req.method(), req.path().as_str()) {
        (Method::Get, "/healthz") => {
            let active = state
                .keys
                .set
                .keys()
                .first()
                .map(|key| key.kid())
                .unwrap_or_default();
            respond::json(
                200,
                &json!({ "status": "ok", "activeKid": active, "keys": state.keys.set.keys().len(), "gateway": state.config.is_some() }),
            )
        }
        (Method::Get, "/.well-known/jwks.json") => {
            let mut response = respond::json(
                200,
                &serde_json::from_str::<serde_json::Value>(&state.keys.public_jwks)?,
            )?;
            // Public data, cacheable, so verifiers pick up a rotation within five minutes.
            response.headers_mut().set(
                "Cache-Control",
                "public, max-age=300, stale-while-revalidate=60",
            )?;
            Ok(response)
        }
        (Method::Post, "/revoke") => revoke::revoke(req, &env, &ctx, state).await,
        (Method::Post, "/admin/revoke-subject") => revoke::revoke_subject(req, &env, state).await,
        _ => gateway::handle(req, &env, &ctx, state).await,
    }
}
