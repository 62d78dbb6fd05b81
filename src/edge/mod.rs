//! The Cloudflare Worker adapter: routes requests to the core and renders responses.
//! Handlers stay thin: read the request, call the core, write the response.

mod bindings;
mod gateway;
mod keys;
mod kv;
mod oauth;
mod pages;
mod remote_jwks;
mod respond;
mod revocation;
mod revoke;
mod state;
mod webcrypto;

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
                &json!({
                    "status": "ok",
                    "activeKid": active,
                    "keys": state.keys.set.keys().len(),
                    "gateway": state.config.is_some(),
                    "isolate": {
                        "wasmMemoryBytes": wasm_memory_bytes(),
                        "cachedTokens": state.token_cache.borrow().len(),
                        "rememberedRevocationChecks": state.not_revoked.borrow().len(),
                        "webCrypto": state.webcrypto.summary(),
                    },
                }),
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
        (Method::Get, "/.well-known/oauth-authorization-server") => oauth::metadata(&state),
        (Method::Post, "/token") => {
            with_engine(&env, state, |e| {
                Box::pin(async move { oauth::token(req, e).await })
            })
            .await
        }
        (Method::Post, "/introspect") => {
            with_engine(&env, state, |e| {
                Box::pin(async move { oauth::introspect(req, e).await })
            })
            .await
        }
        (Method::Get, "/authorize") => {
            with_engine(&env, state, |e| {
                Box::pin(async move { oauth::authorize_get(req, e).await })
            })
            .await
        }
        (Method::Post, "/authorize") => {
            with_engine(&env, state, |e| {
                Box::pin(async move { oauth::authorize_post(req, e).await })
            })
            .await
        }
        (Method::Post, "/one-time-token") => {
            with_engine(&env, state, |e| {
                Box::pin(async move { oauth::one_time_token(req, e).await })
            })
            .await
        }
        (Method::Post, "/logout") => {
            with_engine(&env, state, |e| {
                Box::pin(async move { oauth::logout(req, e).await })
            })
            .await
        }
        (Method::Post, "/revoke") => {
            // RFC 7009 with client authentication; `Authorization: Bearer <admin token>` is the
            // operator's path (any token, no client needed).
            let admin = req
                .headers()
                .get("Authorization")?
                .is_some_and(|a| a.to_ascii_lowercase().starts_with("bearer "));
            if admin {
                return revoke::revoke(req, &env, &ctx, state).await;
            }
            if env.secret(bindings::PEPPER).is_err() {
                // No OAuth clients exist without a pepper, so no client can authenticate here.
                let mut response = respond::json(
                    401,
                    &json!({ "error": "invalid_client", "error_description": "client authentication is required" }),
                )?;
                response
                    .headers_mut()
                    .set("WWW-Authenticate", r#"Basic realm="tollgate""#)?;
                return Ok(response);
            }
            with_engine(&env, state, |e| {
                Box::pin(async move { oauth::revoke(req, e).await })
            })
            .await
        }
        (Method::Post, "/admin/revoke-subject") => revoke::revoke_subject(req, &env, state).await,
        _ => gateway::handle(req, &env, &ctx, state).await,
    }
}

type Handler<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response>> + 'a>>;

/// Runs an OAuth handler with the engine, or answers the configuration error.
async fn with_engine<F>(env: &Env, state: std::rc::Rc<state::State>, handler: F) -> Result<Response>
where
    F: for<'e> FnOnce(&'e oauth::Engine) -> Handler<'e>,
{
    match oauth::Engine::new(env, state) {
        Ok(engine) => handler(&engine).await,
        Err(response) => response,
    }
}

/// The isolate's wasm linear memory (it only grows): a leak shows here first.
fn wasm_memory_bytes() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) * 65536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}
