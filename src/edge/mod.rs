//! The Cloudflare Worker adapter: routes requests to the core and renders responses.
//! Handlers stay thin: read the request, call the core, write the response.

mod bindings;
mod coordinator;
mod cors;
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

use crate::codes::Code;
use std::rc::Rc;

use worker::{event, web_sys, Context, Env, Request, Response, Result};

use crate::json::Object;
use crate::path::PathError;

/// The request line the worker acts on: the method exactly as sent and the canonical path
/// ([`crate::path`]) that routing, authorization and forwarding all use.
pub struct Target {
    /// The method as sent (`PROPFIND` stays `PROPFIND`).
    pub method: String,
    /// The canonical path.
    pub path: String,
    /// The query, as sent.
    pub query: Option<String>,
}

impl Target {
    fn of(req: &Request, state: &state::State) -> std::result::Result<Target, PathError> {
        let url = req.inner().url();
        let (raw_path, query) = crate::path::split_url(&url);
        let options = state
            .config
            .as_ref()
            .map(|c| c.path_options())
            .unwrap_or_default();
        Ok(Target {
            method: req.inner().method(),
            path: crate::path::canonical(raw_path, options)?,
            query: query.map(str::to_owned),
        })
    }
}

/// A subrequest (`method` on `url`, with a text body when given), built on web_sys directly:
/// workers-rs's `RequestInit` converts its `cf` properties through serde on every request and
/// links that code into the module.
fn subrequest(url: &str, method: &str, body: Option<&str>) -> Result<Request> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        init.set_body(&wasm_bindgen::JsValue::from_str(body));
    }
    Ok(web_sys::Request::new_with_str_and_init(url, &init)?.into())
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "cloudflare:workers")]
extern "C" {
    /// The bindings outside any request: `import { env } from "cloudflare:workers"`.
    #[wasm_bindgen(thread_local_v2, js_name = env)]
    static GLOBAL_ENV: Env;
}

/// At the isolate's start-up, before its first request: the state (configuration and keys,
/// parsed and validated) is built there, and with it V8 compiles the code that builds it (it
/// compiles each wasm function at its first call). Cloudflare starts an isolate while the
/// client's TLS handshake is still running, so this work leaves the first request's path
/// (`bench/first-request.mjs` shows what remains on it). A state that fails to build is not
/// kept: the first request builds it again and answers with the error.
#[event(start)]
fn start() {
    let _ = GLOBAL_ENV.with(state::state);
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    console_error_panic_hook::set_once();
    let https = req.inner().url().starts_with("https:");
    let response = route(req, env, ctx).await?;
    if !https {
        return Ok(response);
    }
    // RFC 6797 §7.2: HSTS is sent over secure transport only. A copy of the headers: an
    // origin's response has immutable ones.
    let headers = response.headers().clone();
    if !headers.has("Strict-Transport-Security")? {
        headers.set(
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        )?;
    }
    Ok(response.with_headers(headers))
}

async fn route(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let state = match state::state(&env) {
        Ok(state) => state,
        Err(err) => {
            let status = if req.path() == "/healthz" { 503 } else { 500 };
            return respond::server_error(status, err.code, &err.detail);
        }
    };
    let target = match Target::of(&req, &state) {
        Ok(target) => target,
        Err(err) => return respond::refuse(Code::PathInvalid, "invalid_request", &err.to_string()),
    };
    if crate::gateway::is_forbidden_method(&target.method) {
        let mut response = respond::refuse(
            Code::MethodNotAllowed,
            "method_not_allowed",
            "CONNECT, TRACE and TRACK are not served",
        )?;
        response
            .headers_mut()
            .set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")?;
        return Ok(response);
    }
    if target.method == "OPTIONS" && cors::is_cors_endpoint(&target.path) {
        return cors::preflight(&req, &state);
    }
    let origin = req.headers().get("Origin").ok().flatten();
    let response = match (target.method.as_str(), target.path.as_str()) {
        ("GET", "/healthz") => health(&req, &env, &state),
        ("GET", "/.well-known/jwks.json") => {
            let mut response = respond::json(200, state.keys.public_jwks())?;
            // Public data, cacheable, so verifiers pick up a rotation within five minutes.
            response.headers_mut().set(
                "Cache-Control",
                "public, max-age=300, stale-while-revalidate=60",
            )?;
            Ok(response)
        }
        (
            "GET",
            "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration",
        ) => oauth::metadata(&state),
        ("POST", "/token") => engine_route(&env, &state, OAuthRoute::Token, req).await,
        ("POST", "/introspect") => engine_route(&env, &state, OAuthRoute::Introspect, req).await,
        ("GET", "/authorize") => engine_route(&env, &state, OAuthRoute::AuthorizeGet, req).await,
        ("POST", "/authorize") => engine_route(&env, &state, OAuthRoute::AuthorizePost, req).await,
        ("POST", "/one-time-token") => {
            engine_route(&env, &state, OAuthRoute::OneTimeToken, req).await
        }
        ("GET" | "POST", "/logout") => engine_route(&env, &state, OAuthRoute::Logout, req).await,
        ("GET" | "POST", "/userinfo") => gateway::userinfo(req, &env, &ctx, &state).await,
        ("POST", "/revoke") => revoke::revoke(req, &env, &ctx, Rc::clone(&state)).await,
        ("POST", "/admin/revoke-subject") => {
            revoke::revoke_subject(req, &env, Rc::clone(&state)).await
        }
        _ => return gateway::handle(req, &env, &ctx, state, &target).await,
    };
    let mut response = response?;
    if cors::is_cors_endpoint(&target.path) {
        cors::allow(origin.as_deref(), &mut response, &state)?;
    }
    Ok(response)
}

/// `GET /healthz`: liveness for anyone; the deployment's details (key ids, isolate figures)
/// only for the operator (`Authorization: Bearer <TOLLGATE_ADMIN_TOKEN>`).
fn health(req: &Request, env: &Env, state: &state::State) -> Result<Response> {
    if !revoke::is_admin(req, env) {
        return respond::json(200, Object::new().with("status", "ok").finish());
    }
    let active = state
        .keys
        .set
        .keys()
        .first()
        .map(|key| key.kid())
        .unwrap_or_default();
    respond::json(
        200,
        Object::new()
            .with("status", "ok")
            .with("activeKid", active)
            .with("keys", state.keys.set.keys().len())
            .with("gateway", state.config.is_some())
            .with(
                "isolate",
                Object::new()
                    .with("wasmMemoryBytes", wasm_memory_bytes())
                    .with("cachedTokens", state.token_cache.borrow().len())
                    .with(
                        "rememberedRevocationChecks",
                        state.not_revoked.borrow().len(),
                    )
                    .with("webCrypto", state.webcrypto.summary()),
            )
            .finish(),
    )
}
/// The endpoints served by the issuance engine.
enum OAuthRoute {
    Token,
    Introspect,
    AuthorizeGet,
    AuthorizePost,
    OneTimeToken,
    Logout,
}

/// Runs an endpoint with the issuance engine, or answers the configuration error (no pepper,
/// no store).
async fn engine_route(
    env: &Env,
    state: &Rc<state::State>,
    route: OAuthRoute,
    req: Request,
) -> Result<Response> {
    let engine = match oauth::Engine::new(env, Rc::clone(state)) {
        Ok(engine) => engine,
        Err(response) => return response,
    };
    match route {
        OAuthRoute::Token => oauth::token(req, &engine).await,
        OAuthRoute::Introspect => oauth::introspect(req, &engine).await,
        OAuthRoute::AuthorizeGet => oauth::authorize_get(req, &engine).await,
        OAuthRoute::AuthorizePost => oauth::authorize_post(req, &engine).await,
        OAuthRoute::OneTimeToken => oauth::one_time_token(req, &engine).await,
        OAuthRoute::Logout => oauth::logout(req, &engine).await,
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
