//! The Cloudflare Worker adapter: routes requests to the core and renders responses.
//! Handlers stay thin: read the request, call the core, write the response.
//!
//! Built two ways (README, "Two workers"). Without the feature `issuance` it is the guard, in
//! front of every request: the gateway, the JWKS and `/healthz` here, the authorization
//! server's [`Endpoint`]s forwarded to the issuer through a service binding. With it, the
//! issuer: the whole worker, which serves everything itself and hosts the coordinator's
//! Durable Object class. The guard is what a cold isolate on the request path loads, so what it
//! never reaches stays out of it: link-time optimisation drops the issuance code it does not
//! call.

mod bindings;
mod coordinator;
mod cors;
mod gateway;
mod keys;
mod kv;
// The authorization server's handlers. The guard (built without `issuance`) forwards their
// endpoints to the issuer and uses only the session lookup of `oauth` and the operator check
// of `revoke`; the rest is compiled there unused, and link-time optimisation drops it.
#[cfg_attr(not(feature = "issuance"), allow(dead_code))]
mod oauth;
#[cfg_attr(not(feature = "issuance"), allow(dead_code))]
mod pages;
mod remote_jwks;
mod respond;
mod revocation;
#[cfg_attr(not(feature = "issuance"), allow(dead_code))]
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

/// A request's body, read up to `limit` bytes: `None` when it is longer. A declared
/// `Content-Length` over the limit is refused unread, and a body without one is read chunk by
/// chunk and abandoned past it: reading it whole first let one 90 MiB form grow the issuer's
/// memory by 200 MiB before the form's own limit refused it (an outside run).
async fn body_within(req: &Request, limit: usize) -> Result<Option<Vec<u8>>> {
    use wasm_bindgen::JsCast;
    let declared = req.headers().get("Content-Length")?;
    if declared.is_some_and(|length| length.parse::<usize>().map_or(true, |n| n > limit)) {
        return Ok(None);
    }
    let Some(stream) = req.inner().body() else {
        return Ok(Some(Vec::new()));
    };
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut body = Vec::new();
    loop {
        let chunk = wasm_bindgen_futures::JsFuture::from(reader.read()).await?;
        let member = |name: &str| js_sys::Reflect::get(&chunk, &name.into());
        if member("done")?.as_bool().unwrap_or(true) {
            return Ok(Some(body));
        }
        let bytes: js_sys::Uint8Array = member("value")?.unchecked_into();
        if body.len() + bytes.length() as usize > limit {
            let _ = reader.cancel();
            return Ok(None);
        }
        body.extend(bytes.to_vec());
    }
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
    if let Some(answer) = plain_http(&req, &state, &target) {
        return answer;
    }
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
        let allow = Endpoint::allow(&target.path).unwrap_or_default();
        return cors::preflight(&req, &state, &allow);
    }
    if let Some(endpoint) = Endpoint::of(&target.method, &target.path) {
        return serve(endpoint, req, &env, &ctx, &state, &target).await;
    }
    match (target.method.as_str(), target.path.as_str()) {
        ("GET" | "HEAD", "/healthz") => health(&req, &env, &state),
        ("GET" | "HEAD", "/.well-known/jwks.json") => {
            let mut response = respond::json(200, state.keys.public_jwks())?;
            // Public data, cacheable, so verifiers pick up a rotation within five minutes.
            response.headers_mut().set(
                "Cache-Control",
                "public, max-age=300, stale-while-revalidate=60",
            )?;
            let origin = req.headers().get("Origin").ok().flatten();
            cors::allow(origin.as_deref(), &mut response, &state)?;
            Ok(response)
        }
        (_, path) => match Endpoint::allow(path) {
            Some(allow) => {
                let mut response = respond::refuse(
                    Code::MethodNotAllowed,
                    "method_not_allowed",
                    &format!("{path} answers {allow}"),
                )?;
                response.headers_mut().set("Allow", &allow)?;
                Ok(response)
            }
            None => gateway::handle(req, &env, &ctx, state, &target).await,
        },
    }
}

/// The answer to a plain-HTTP request, before any path is served (RFC 6797 §7.2; RFC 6749
/// §3.1, §3.2: the authorization and token endpoints need TLS; a JWKS fetched in the clear could
/// be swapped): the configured `https` mode, with the loopback exemption for local
/// development. Without a gateway configuration, the defaults (redirect, loopback allowed),
/// refused rather than redirected since there is no issuer to redirect to. `None`: serve it.
fn plain_http(req: &Request, state: &state::State, target: &Target) -> Option<Result<Response>> {
    use crate::gateway::HttpsAction;
    if req.inner().url().starts_with("https:") {
        return None;
    }
    let config = state.config.as_ref();
    let (mode, loopback) = config.map_or((Default::default(), true), |c| {
        (c.https, c.allow_loopback_http)
    });
    let connecting_ip = req.headers().get("CF-Connecting-IP").ok().flatten();
    let action = crate::gateway::https_action(
        mode,
        loopback,
        "http",
        connecting_ip.as_deref(),
        &target.method,
    );
    Some(match (action, config) {
        (HttpsAction::Allow, _) => return None,
        (HttpsAction::Redirect, Some(config)) => https_redirect(config, target),
        _ => respond::refuse(
            Code::HttpsRequired,
            "https_required",
            "plain HTTP is refused: use https",
        ),
    })
}

/// 308 to the same path and query on the issuer's host over https.
fn https_redirect(config: &crate::config::GatewayConfig, target: &Target) -> Result<Response> {
    let location =
        crate::gateway::https_location(&config.issuer, &target.path, target.query.as_deref());
    let mut response = respond::json(308, Object::new().with("error", "https_required").finish())?;
    response.headers_mut().set("Location", &location)?;
    Ok(response)
}

/// `GET /healthz`: liveness for anyone, 503 when this worker lacks what its requests need
/// ([`state::readiness`]); the deployment's details (key ids, isolate figures) only for the
/// operator (`Authorization: Bearer <TOLLGATE_ADMIN_TOKEN>`).
fn health(req: &Request, env: &Env, state: &state::State) -> Result<Response> {
    let pepper = env.secret(bindings::PEPPER).ok().map(|s| s.to_string());
    // The issuer serves the authorization server's endpoints; the guard forwards them to the
    // issuer it is bound to.
    let serves_issuance = cfg!(feature = "issuance") || env.service(bindings::ISSUER).is_ok();
    if let Err(unready) = state::readiness(
        state.config.as_deref(),
        state.origin.is_some(),
        pepper.as_deref(),
        serves_issuance,
    ) {
        return respond::server_error(503, unready.code, &unready.detail);
    }
    if let Some(refused) = &state.admin_token_refused {
        return respond::server_error(503, Code::ConfigInvalid.as_str(), refused);
    }
    if !revoke::is_admin(req, state) {
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
                        state.recently_read.borrow().len(),
                    )
                    .with("webCrypto", state.webcrypto.summary()),
            )
            .finish(),
    )
}

/// The authorization server's endpoints (RFC 8414 metadata, RFC 6749 token and authorize,
/// RFC 7662 introspection, RFC 7009 revocation, OpenID Connect's userinfo and logout, the
/// operator's revocations). One list for both shapes of the worker: the issuer serves them, the
/// guard forwards them to the issuer, and every other request is the gateway's in both. (The
/// guard only asks whether a request is one of them.)
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "issuance"), allow(dead_code))]
enum Endpoint {
    Metadata,
    Userinfo,
    OneTimeToken,
    Revoke,
    RevokeSubject,
    Engine(OAuthRoute),
}

/// The endpoints served by the issuance engine.
#[derive(Clone, Copy)]
enum OAuthRoute {
    Token,
    Introspect,
    AuthorizeGet,
    AuthorizePost,
    Logout,
}

impl Endpoint {
    fn of(method: &str, path: &str) -> Option<Endpoint> {
        Some(match (method, path) {
            (
                "GET" | "HEAD",
                "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration",
            ) => Endpoint::Metadata,
            ("POST", "/token") => Endpoint::Engine(OAuthRoute::Token),
            ("POST", "/introspect") => Endpoint::Engine(OAuthRoute::Introspect),
            ("GET", "/authorize") => Endpoint::Engine(OAuthRoute::AuthorizeGet),
            ("POST", "/authorize") => Endpoint::Engine(OAuthRoute::AuthorizePost),
            ("POST", "/one-time-token") => Endpoint::OneTimeToken,
            ("GET" | "POST", "/logout") => Endpoint::Engine(OAuthRoute::Logout),
            ("GET" | "HEAD" | "POST", "/userinfo") => Endpoint::Userinfo,
            ("POST", "/revoke") => Endpoint::Revoke,
            ("POST", "/admin/revoke-subject") => Endpoint::RevokeSubject,
            _ => return None,
        })
    }

    /// The `Allow` header of a path this worker answers itself ([`OWN_PATHS`]), for a 405
    /// and an `OPTIONS`: every method it answers, its CORS preflight included (RFC 9110
    /// §10.2.1).
    fn allow(path: &str) -> Option<String> {
        let own = OWN_PATHS.iter().find(|own| own.path == path)?;
        let mut allow = own.methods.join(", ");
        if own.cors {
            allow.push_str(", OPTIONS");
        }
        Some(allow)
    }
}

/// A path this worker answers itself: the authorization server's endpoints, the JWKS and
/// `/healthz`.
struct OwnPath {
    path: &'static str,
    /// The methods it serves. Another method is 405 with `Allow` (RFC 9110 §15.5.6), not
    /// forwarded to the origin as if the path were the origin's; HEAD goes with GET (RFC
    /// 9110 §9.3.2), except on `/authorize` and `/logout`, whose GET may sign a user in or
    /// out (a link checker's HEAD must not).
    methods: &'static [&'static str],
    /// Whether scripts of `corsOrigins` may call it ([`cors`]).
    cors: bool,
}

/// Every path of [`OwnPath`], in one table: the 405 answers and CORS read it, and a test holds
/// [`Endpoint::of`] and the router's own arms to it.
const OWN_PATHS: [OwnPath; 12] = {
    const GET: &[&str] = &["GET", "HEAD"];
    const GET_POST: &[&str] = &["GET", "POST"];
    const GET_HEAD_POST: &[&str] = &["GET", "HEAD", "POST"];
    const POST: &[&str] = &["POST"];
    const fn own(path: &'static str, methods: &'static [&'static str], cors: bool) -> OwnPath {
        OwnPath {
            path,
            methods,
            cors,
        }
    }
    [
        own("/.well-known/oauth-authorization-server", GET, true),
        own("/.well-known/openid-configuration", GET, true),
        own("/.well-known/jwks.json", GET, true),
        own("/healthz", GET, false),
        own("/authorize", GET_POST, false),
        own("/logout", GET_POST, false),
        own("/userinfo", GET_HEAD_POST, true),
        own("/token", POST, true),
        own("/introspect", POST, false),
        own("/one-time-token", POST, false),
        own("/revoke", POST, true),
        own("/admin/revoke-subject", POST, false),
    ]
};

/// The issuer: serves an authorization server endpoint here.
#[cfg(feature = "issuance")]
async fn serve(
    endpoint: Endpoint,
    req: Request,
    env: &Env,
    ctx: &Context,
    state: &Rc<state::State>,
    target: &Target,
) -> Result<Response> {
    let origin = req.headers().get("Origin").ok().flatten();
    let guard_asks = req.headers().has(revocation::ASK).unwrap_or(false);
    let mark = state.revoked_here.borrow().mark();
    let mut response = match endpoint {
        Endpoint::Metadata => oauth::metadata(state),
        Endpoint::Userinfo => gateway::userinfo(req, env, ctx, state).await,
        Endpoint::OneTimeToken => gateway::one_time_token(req, env, ctx, state).await,
        Endpoint::Revoke => revoke::revoke(req, env, ctx, Rc::clone(state)).await,
        Endpoint::RevokeSubject => revoke::revoke_subject(req, env, Rc::clone(state)).await,
        Endpoint::Engine(route) => with_engine(env, ctx, state, route, req).await,
    }?;
    if cors::is_cors_endpoint(&target.path) {
        cors::allow(origin.as_deref(), &mut response, state)?;
    }
    if guard_asks {
        // Only when there is something to hand over: the guard passes every other answer on
        // as it came, without copying its headers.
        let here = state.revoked_here.borrow();
        let written = here.since(mark);
        if !written.is_empty() {
            let handed = written
                .into_iter()
                .fold(Object::new(), |object, (key, value)| {
                    object.with(key, value)
                });
            response
                .headers_mut()
                .set(revocation::HANDOVER, &handed.finish())?;
        }
    }
    Ok(response)
}

/// Runs an endpoint with the issuance engine, or answers the configuration error (no pepper,
/// no store).
#[cfg(feature = "issuance")]
async fn with_engine(
    env: &Env,
    ctx: &Context,
    state: &Rc<state::State>,
    route: OAuthRoute,
    req: Request,
) -> Result<Response> {
    let engine = match oauth::Engine::new(env, Rc::clone(state)) {
        Ok(engine) => engine,
        Err(response) => return response,
    };
    let response = match route {
        OAuthRoute::Token => oauth::token(req, &engine).await,
        OAuthRoute::Introspect => oauth::introspect(req, &engine).await,
        OAuthRoute::AuthorizeGet => oauth::authorize_get(req, &engine).await,
        OAuthRoute::AuthorizePost => oauth::authorize_post(req, &engine).await,
        OAuthRoute::Logout => oauth::logout(req, &engine).await,
    };
    // A sign-out, or a sign-in over another user's session, ended a session.
    engine.tell_relying_parties(ctx).await;
    response
}

/// The guard: the issuer answers, through the `TOLLGATE_ISSUER` service binding, with the
/// request as it came (method, URL, headers, body), and its answer goes back as it came, less
/// the revocations it hands over ([`revocation::HANDOVER`]), which the guard remembers so that
/// they hold here at once as they do in the issuer. Service bindings run the other worker in
/// the same thread where they can, without a network hop.
#[cfg(not(feature = "issuance"))]
async fn serve(
    _endpoint: Endpoint,
    req: Request,
    env: &Env,
    _ctx: &Context,
    state: &Rc<state::State>,
    _target: &Target,
) -> Result<Response> {
    let Ok(issuer) = env.service(bindings::ISSUER) else {
        return respond::server_error(
            503,
            Code::ConfigMissing.as_str(),
            "this worker is the guard: the authorization server's endpoints need the \
             TOLLGATE_ISSUER service binding (README, \"Two workers\")",
        );
    };
    let headers = req.headers().clone();
    headers.set(revocation::ASK, "1")?;
    let init = web_sys::RequestInit::new();
    init.set_headers(headers.as_ref());
    let forwarded: Request =
        web_sys::Request::new_with_request_and_init(req.inner(), &init)?.into();
    let response = issuer.fetch_request(forwarded).await?;
    let Some(handed) = response.headers().get(revocation::HANDOVER)? else {
        return Ok(response);
    };
    if let Ok(serde_json::Value::Object(written)) = serde_json::from_str(&handed) {
        for (key, value) in written {
            if let (true, Some(value)) =
                (crate::revocation::is_revocation_key(&key), value.as_str())
            {
                revocation::remember(state, &key, value);
            }
        }
    }
    let headers = response.headers().clone();
    headers.delete(revocation::HANDOVER)?;
    Ok(response.with_headers(headers))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The table and the handlers agree: every method [`OWN_PATHS`] lists for a path is
    /// served (by [`Endpoint::of`], or by the router's own arms for `/healthz` and the JWKS),
    /// and no other, so a 405's `Allow` never names a method that fails nor hides one that
    /// works.
    #[test]
    fn the_table_of_own_paths_is_what_is_served() {
        let routed_here = |method: &str, path: &str| {
            matches!(
                (method, path),
                ("GET" | "HEAD", "/healthz" | "/.well-known/jwks.json")
            )
        };
        for own in &OWN_PATHS {
            for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
                let served =
                    Endpoint::of(method, own.path).is_some() || routed_here(method, own.path);
                assert_eq!(
                    served,
                    own.methods.contains(&method),
                    "{method} {}",
                    own.path
                );
            }
        }
        assert_eq!(
            OWN_PATHS
                .iter()
                .filter(|own| own.cors)
                .map(|own| own.path)
                .collect::<Vec<_>>(),
            [
                "/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration",
                "/.well-known/jwks.json",
                "/userinfo",
                "/token",
                "/revoke"
            ]
        );
    }
}
