//! The front door: every request not addressed to Tollgate itself is checked against the route
//! rules, its token verified (cache, signature, claims, revocation, scopes), and then forwarded
//! to the origin with identity headers, or refused per RFC 6750.

use crate::codes::Code;
use std::rc::Rc;

use serde::Deserialize;
use worker::{web_sys, Context, Date, Env, Fetch, Headers, Request, Response, Result};

use super::coordinator::Once;
use super::oauth::{Engine, CSRF_COOKIE, SESSION_COOKIE};
use super::respond;
use super::revocation;
use super::state::{State, Trusted};
use super::Target;
use crate::assertion::Statement;
use crate::config::{Auth, GatewayConfig, Route};
use crate::gateway::{
    self, Decision, Denial, ForwardPolicy, HeaderAction, Identity, Outcome, Scheme, TokenSource,
    TokenType,
};
use crate::json::Object;
use crate::oauth::dpop::{accept_proof, Presented};
use crate::opaque::{self, Kind};
use crate::token::UntrustedToken;
use crate::verify::check_claims;
use crate::{Error, Verifier};

/// Handles one proxied request, routed and forwarded on its canonical path.
pub async fn handle(
    req: Request,
    env: &Env,
    ctx: &Context,
    state: Rc<State>,
    target: &Target,
) -> Result<Response> {
    let started = Date::now().as_millis() as f64;
    let Some(config) = state.config.as_ref() else {
        // Without TOLLGATE_CONFIG the worker only issues and publishes keys; it guards nothing.
        return respond::json(404, Object::new().with("error", "not_found").finish());
    };
    let Some(origin) = state.origin.as_deref() else {
        return respond::server_error(500, Code::ConfigMissing.as_str(), "ORIGIN_URL is not set");
    };
    // Plain HTTP was answered by the router (`edge::plain_http`) before any path was served.
    let scheme = if req.inner().url().starts_with("https:") {
        "https"
    } else {
        "http"
    };
    let connecting_ip = req.headers().get("CF-Connecting-IP").ok().flatten();

    let route = config.route(&target.method, &target.path);
    let route_name = route.map_or("(unmatched)", |r| r.prefix.as_str());
    let forwarding = Forwarding {
        req: &req,
        origin,
        config,
        target,
        scheme,
        connecting_ip: connecting_ip.as_deref(),
    };
    let record = |outcome, code, identity, cached| {
        let decision = Decision {
            route: route_name,
            outcome,
            code,
            identity,
            cached,
            latency_ms: Date::now().as_millis() as f64 - started,
        };
        respond::record(env, &decision, config.log_decisions);
    };
    if route.is_some_and(|r| r.auth == Auth::Public) {
        let response = forwarding.send(&[]).await;
        record(Outcome::Public, None, None, false);
        return response;
    }

    match authorize(&req, env, ctx, &state, config, route, &target.path).await {
        Ok((identity, cached)) => {
            record(Outcome::Allow, None, Some(&identity), cached);
            let mut headers = identity.headers();
            if let Some(assertion) =
                origin_assertion(&state, config, origin, target, &identity).await
            {
                headers.push((crate::assertion::HEADER, assertion));
            }
            forwarding.send(&headers).await
        }
        Err((denial, identity)) => {
            let authorization = req.headers().get("Authorization").ok().flatten();
            let dpop_only = route.is_some_and(|r| r.dpop == crate::config::DpopRule::Required);
            let rendered = denial.render_for(Scheme::of(authorization.as_deref(), dpop_only));
            record(Outcome::Deny, Some(rendered.code), identity.as_ref(), false);
            if let Some(login) = login_redirect(&req, config, &denial, target)? {
                return Ok(login);
            }
            refused(&rendered, env)
        }
    }
}

/// The answer to a refused request, with the nonce to retry with when it lacked one (RFC 9449
/// §9): the gateway's, `/userinfo`'s and `/one-time-token`'s alike.
fn refused(rendered: &gateway::Rendered, env: &Env) -> Result<Response> {
    let mut response = respond::denial(rendered)?;
    if rendered.code == Code::DpopNonceRequired.as_str() {
        if let Some(nonce) = current_dpop_nonce(env) {
            response.headers_mut().set("DPoP-Nonce", &nonce)?;
        }
    }
    Ok(response)
}

/// A refusal of `/userinfo` or `/one-time-token`, which have no route rule of their own.
#[cfg(feature = "issuance")]
fn refuse_caller(req: &Request, env: &Env, denial: &Denial) -> Result<Response> {
    let authorization = req.headers().get("Authorization").ok().flatten();
    refused(
        &denial.render_for(Scheme::of(authorization.as_deref(), false)),
        env,
    )
}

type Refusal = (Denial, Option<Identity>);

/// The signed identity assertion for the origin ([`crate::assertion`]), from the active key
/// (signed by WebCrypto); one with at least 30 s left is reused for the same statement. `None`
/// when turned off or when the deployment has no signing key.
async fn origin_assertion(
    state: &State,
    config: &GatewayConfig,
    origin: &str,
    target: &Target,
    identity: &Identity,
) -> Option<String> {
    if !config.origin_assertion {
        return None;
    }
    let key = state.keys.set.keys().first()?;
    let audience = config.assertion_audience.as_deref().unwrap_or(origin);
    let url = format!("{origin}{}", target.path);
    let statement = Statement::new(identity, &config.issuer, audience, &target.method, &url)?;
    let now = (Date::now().as_millis() / 1000) as i64;
    if let Some((assertion, exp)) = state.assertions.borrow().get(&statement) {
        if exp - now >= 30 {
            return Some(assertion.clone());
        }
    }
    let signed = statement
        .builder(now)
        .sign_async(key, &state.webcrypto)
        .await;
    let assertion = match signed {
        Ok(assertion) => assertion,
        Err(err) => {
            respond::log(
                Object::new()
                    .with("level", "error")
                    .with("code", err.code())
                    .with("detail", "the origin assertion could not be signed"),
            );
            return None;
        }
    };
    let mut memo = state.assertions.borrow_mut();
    if memo.len() >= ASSERTION_MEMO_ENTRIES {
        memo.clear();
    }
    let exp = now + crate::assertion::LIFETIME as i64;
    memo.insert(statement, (assertion.clone(), exp));
    Some(assertion)
}

/// How many signed assertions an isolate keeps for reuse.
const ASSERTION_MEMO_ENTRIES: usize = 4096;

/// The configuration and the issuance engine that `/userinfo` and `/one-time-token` need, or
/// the answer when the deployment lacks them.
#[cfg(feature = "issuance")]
fn with_engine(
    env: &Env,
    state: &Rc<State>,
) -> std::result::Result<(Rc<GatewayConfig>, Engine), Result<Response>> {
    let Some(config) = state.config.clone() else {
        return Err(respond::json(
            404,
            Object::new().with("error", "not_found").finish(),
        ));
    };
    Ok((config, Engine::new(env, Rc::clone(state))?))
}

/// `/userinfo`: the caller's credential checked by the same steps as a protected route
/// (with no route rule), then answered by the engine.
#[cfg(feature = "issuance")]
pub async fn userinfo(
    req: Request,
    env: &Env,
    ctx: &Context,
    state: &Rc<State>,
) -> Result<Response> {
    let (config, engine) = match with_engine(env, state) {
        Ok(both) => both,
        Err(response) => return response,
    };
    match authorize(&req, env, ctx, state, &config, None, "/userinfo").await {
        Ok((identity, _)) => super::oauth::userinfo(&identity, &engine).await,
        Err((denial, _)) => refuse_caller(&req, env, &denial),
    }
}

/// `POST /one-time-token`: the caller's credential is proved as the gateway proves it at the
/// route the form names (the route's own scopes and DPoP rule are checked when the one-time
/// token is used there): an access token with its DPoP proof if it is bound (one presented as
/// Bearer was answered, and the `DPoP` scheme refused), an external issuer's token, an API
/// key, the session cookie on a route under `oauth.sessionRoutes`; checked against the
/// revocation list (an outside run found each of these answered differently here than at the
/// route).
#[cfg(feature = "issuance")]
pub async fn one_time_token(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    state: &Rc<State>,
) -> Result<Response> {
    let (config, engine) = match with_engine(env, state) {
        Ok(both) => both,
        Err(response) => return response,
    };
    let route = match super::oauth::one_time_route(&mut req, &config).await {
        Ok(route) => route,
        Err(err) => return super::oauth::oauth_error(&err),
    };
    match authorize(&req, env, ctx, state, &config, None, &route).await {
        Ok((identity, _)) => super::oauth::issue_one_time_for(&identity, &route, &engine).await,
        Err((denial, _)) => refuse_caller(&req, env, &denial),
    }
}

/// Steps for a protected route: find the credential, prove it, check revocation and scopes.
/// Returns the identity and whether the verified-token cache answered.
async fn authorize(
    req: &Request,
    env: &Env,
    ctx: &Context,
    state: &Rc<State>,
    config: &GatewayConfig,
    route: Option<&Route>,
    path: &str,
) -> std::result::Result<(Identity, bool), Refusal> {
    let headers = req.headers();
    let authorization = headers.get("Authorization").ok().flatten();
    let cookies = headers.get("Cookie").ok().flatten();
    let session = if config.is_session_route(path) && authorization.is_none() {
        cookies
            .as_deref()
            .and_then(|c| gateway::cookie(c, SESSION_COOKIE))
            .map(str::to_owned)
    } else {
        None
    };
    let (identity, cached) = match session {
        Some(session) => (
            opaque_identity(env, state, &session, Kind::Session).await?,
            false,
        ),
        None => {
            let (token, source) = gateway::extract_token(
                authorization.as_deref(),
                cookies.as_deref(),
                config.token_cookie.as_deref(),
            )
            .map_err(|denial| (denial, None))?;
            let (mut identity, cached) = if token.starts_with(Kind::ApiKey.prefix()) {
                (
                    opaque_identity(env, state, token, Kind::ApiKey).await?,
                    false,
                )
            } else {
                jwt_identity(env, ctx, state, config, token).await?
            };
            if let Err(denial) = identity.dpop_fit(source) {
                return Err((denial, Some(identity)));
            }
            if let (TokenSource::Dpop, Some(jkt)) = (source, identity.jkt.as_deref()) {
                if let Err(denial) = check_dpop(req, env, state, token, jkt).await {
                    return Err((denial, Some(identity)));
                }
                identity.token_type = TokenType::Dpop;
            }
            (identity, cached)
        }
    };
    if let Some(route) = route {
        if let Err(denial) = identity.dpop_required(route.dpop) {
            return Err((denial, Some(identity)));
        }
        if identity.missing_scopes(&route.scopes) {
            return Err((
                Denial::InsufficientScope {
                    required: route.scopes.clone(),
                },
                Some(identity),
            ));
        }
        if route.one_time {
            let presented = headers
                .get(gateway::ONE_TIME_HEADER)
                .ok()
                .flatten()
                .unwrap_or_default();
            let now = (Date::now().as_millis() / 1000) as i64;
            let Some(sub) = identity.sub.clone() else {
                return Err((Denial::OneTimeTokenRequired, Some(identity)));
            };
            let issuer = identity.issuer.as_deref().unwrap_or(&config.issuer);
            let consumed = match Engine::new(env, Rc::clone(state)) {
                Ok(engine) => {
                    engine
                        .oauth()
                        .consume_one_time(&presented, &route.prefix, issuer, &sub, now)
                        .await
                }
                Err(_) => return Err((Denial::OneTimeStoreUnavailable, Some(identity))),
            };
            match consumed {
                Ok(true) => {}
                Ok(false) => return Err((Denial::OneTimeTokenRequired, Some(identity))),
                Err(_) => return Err((Denial::OneTimeStoreUnavailable, Some(identity))),
            }
        }
    }
    Ok((identity, cached))
}

/// RFC 9449 §7.1: the request's one DPoP proof, for this method, URL and token, signed by the
/// key the token is bound to, and never seen before (the coordinator keeps its `jti`).
async fn check_dpop(
    req: &Request,
    env: &Env,
    state: &Rc<State>,
    token: &str,
    jkt: &str,
) -> std::result::Result<(), Denial> {
    let invalid = |reason| {
        Denial::DpopProof(Error::DpopInvalid {
            member: "proof",
            reason,
        })
    };
    let header = req
        .headers()
        .get(crate::dpop::HEADER)
        .ok()
        .flatten()
        .ok_or_else(|| invalid("is missing: the DPoP scheme needs a DPoP header"))?;
    let once = Once::from_env(env, state).map_err(|_| Denial::StoreUnavailable)?;
    let (method, url) = (req.inner().method(), req.inner().url());
    let presented = Presented {
        header: &header,
        method: &method,
        url: &url,
        access_token: Some(token),
        bound: Some(jkt),
    };
    let pepper = match state.config.as_ref().is_some_and(|c| c.dpop_nonce) {
        true => Some(env.secret(super::bindings::PEPPER).map_err(|_| {
            Denial::Misconfigured(
                Code::PepperMissing,
                "dpopNonce needs the secret TOLLGATE_PEPPER",
            )
        })?),
        false => None,
    }
    .map(|secret| secret.to_string());
    let now = (Date::now().as_millis() / 1000) as i64;
    let nonce_key = pepper.as_deref().map(str::as_bytes);
    match accept_proof(&once, &state.webcrypto, &presented, nonce_key, now).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(Error::DpopKeyMismatch)) => Err(Denial::DpopBinding(
            "the proof is signed by another key than the one the token is bound to",
        )),
        Ok(Err(err)) => Err(Denial::DpopProof(err)),
        Err(_) => Err(Denial::StoreUnavailable),
    }
}

/// The current DPoP server nonce (RFC 9449 §8), made from the pepper.
pub fn current_dpop_nonce(env: &Env) -> Option<String> {
    let pepper = env.secret(super::bindings::PEPPER).ok()?.to_string();
    let now = (Date::now().as_millis() / 1000) as i64;
    Some(crate::dpop::nonce(pepper.as_bytes(), now))
}

/// An API token or a session id (`expected`: where it came from): looked up in KV on every
/// request, so deleting the record revokes it at once (within KV's propagation window). A
/// value that is not one of its kind is refused as that kind (a malformed session cookie is
/// not an unknown API key).
async fn opaque_identity(
    env: &Env,
    state: &Rc<State>,
    token: &str,
    expected: Kind,
) -> std::result::Result<Identity, Refusal> {
    let engine = match Engine::new(env, Rc::clone(state)) {
        Ok(engine) => engine,
        Err(_) => return Err((Denial::StoreUnavailable, None)),
    };
    let oauth = engine.oauth();
    let now = (Date::now().as_millis() / 1000) as i64;
    match opaque::parse(token).filter(|kind| *kind == expected) {
        Some(Kind::ApiKey) => match oauth.lookup_api_key(token, now).await {
            Ok(Some(key))
                if !key.accepted_by(state.config.as_ref().map_or(&[][..], |c| &c.audiences)) =>
            {
                Err((Denial::ApiKeyInvalid, None))
            }
            Ok(Some(key)) => Ok(Identity {
                token_type: TokenType::ApiKey,
                client_id: Some(key.client_id()),
                sub: Some(key.owner),
                scope: Some(key.scopes.join(" ")),
                jti: Some(key.id),
                issuer: Some(oauth.issuer.to_owned()),
                jkt: None,
                other_binding: false,
            }),
            Ok(None) => Err((Denial::ApiKeyInvalid, None)),
            Err(_) => Err((Denial::StoreUnavailable, None)),
        },
        Some(Kind::Session) => match oauth.session(token, now).await {
            Ok(Some(session)) => Ok(Identity {
                token_type: TokenType::Session,
                sub: Some(session.sub),
                scope: Some(session.scopes.join(" ")),
                jti: None,
                issuer: Some(oauth.issuer.to_owned()),
                client_id: None,
                jkt: None,
                other_binding: false,
            }),
            Ok(None) => Err((Denial::SessionInvalid, None)),
            Err(_) => Err((Denial::StoreUnavailable, None)),
        },
        _ if expected == Kind::Session => Err((Denial::SessionInvalid, None)),
        _ => Err((Denial::ApiKeyInvalid, None)),
    }
}

/// A JWT: the verified-token cache, else signature and claims; then the revocation list.
async fn jwt_identity(
    env: &Env,
    ctx: &Context,
    state: &Rc<State>,
    config: &GatewayConfig,
    token: &str,
) -> std::result::Result<(Identity, bool), Refusal> {
    let now_ms = Date::now().as_millis() as f64;
    let now = (now_ms / 1000.0).floor() as i64;
    let cached = state.token_cache.borrow_mut().get(token, now);
    let (entry, was_cached) = match cached {
        Some(entry) => (entry, true),
        None => {
            let (verifier, trusted, untrusted) =
                trusted_verifier(state, config, ctx, token, now_ms)
                    .await
                    .map_err(|denial| (denial, None))?;
            let checked = verifier
                .check_signature_with(untrusted, &state.webcrypto)
                .await
                .map_err(|err| (Denial::InvalidToken(err), None))?;
            let verified = check_claims(checked, verifier.policy(), now)
                .map_err(|err| (Denial::InvalidToken(err), None))?;
            let entry = state
                .token_cache
                .borrow_mut()
                .insert(token, verified, trusted);
            (entry, false)
        }
    };
    let identity = Identity::from_jwt(&entry.verified);
    match revocation::is_revoked(env, state, &entry.verified, now_ms).await {
        Ok(false) => {}
        Ok(true) => {
            state.token_cache.borrow_mut().remove(token);
            return Err((Denial::InvalidToken(Error::Revoked), Some(identity)));
        }
        Err(revocation::Unavailable(reason)) => {
            respond::log(
                Object::new()
                    .with("level", "error")
                    .with("code", Code::RevocationUnavailable.as_str())
                    .with("detail", reason)
                    .with("failOpen", config.revocation.fail_open),
            );
            if !config.revocation.fail_open {
                return Err((Denial::RevocationUnavailable, Some(identity)));
            }
        }
    }
    Ok((identity, was_cached))
}

#[derive(Deserialize)]
struct IssuerOnly {
    iss: Option<String>,
}

/// Picks the verifier for a token by its (not yet trusted) `iss`: the policy then requires that
/// exact issuer, so a token cannot borrow another issuer's keys.
pub async fn trusted_verifier<'t>(
    state: &Rc<State>,
    config: &GatewayConfig,
    ctx: &Context,
    token: &'t str,
    now_ms: f64,
) -> std::result::Result<(Rc<Verifier>, Trusted, UntrustedToken<'t>), Denial> {
    // Parsed once here, to route the token by its `iss`; the chosen verifier takes it as it is.
    let untrusted = UntrustedToken::parse_memo(token, config.max_token_bytes, &state.headers)
        .map_err(Denial::InvalidToken)?;
    let issuer = serde_json::from_slice::<IssuerOnly>(untrusted.payload())
        .ok()
        .and_then(|c| c.iss);
    let own = || state.own_verifier.clone().map(|v| (v, Trusted::Own));
    let chosen = match issuer.as_deref() {
        None => own(),
        Some(iss) if iss == config.issuer => own(),
        Some(iss) => {
            let Some(index) = state.remotes.iter().position(|r| r.issuer.issuer == iss) else {
                return Err(Denial::InvalidToken(Error::ClaimInvalid {
                    claim: "iss".to_owned(),
                    reason: "is not a trusted issuer",
                }));
            };
            let remote = &state.remotes[index];
            match remote.verifier(untrusted.header().kid(), now_ms, ctx).await {
                Ok(verifier) => Some((verifier, Trusted::External(index))),
                Err(reason) => {
                    respond::log(
                        Object::new()
                            .with("level", "error")
                            .with("code", Code::JwksUnavailable.as_str())
                            .with("issuer", iss)
                            .with("detail", reason),
                    );
                    return Err(Denial::IssuerUnavailable);
                }
            }
        }
    };
    match chosen {
        Some((verifier, trusted)) => Ok((verifier, trusted, untrusted)),
        None => Err(Denial::InvalidToken(Error::NoMatchingKey { kid: None })),
    }
}

/// A browser navigation without a valid token goes to the login flow, when one is configured:
/// an expired session sends the user back to log in. `return_to` is the path only, so the
/// login flow cannot be turned into an open redirect.
fn login_redirect(
    req: &Request,
    config: &GatewayConfig,
    denial: &Denial,
    target: &Target,
) -> Result<Option<Response>> {
    let Some(login) = config.login_url.as_deref() else {
        return Ok(None);
    };
    let wants_html = req
        .headers()
        .get("Accept")?
        .is_some_and(|accept| accept.contains("text/html"));
    let recoverable = matches!(
        denial,
        Denial::MissingToken | Denial::InvalidToken(_) | Denial::SessionInvalid
    );
    if target.method != "GET" || !wants_html || !recoverable {
        return Ok(None);
    }
    let mut path = target.path.clone();
    if let Some(query) = &target.query {
        path.push('?');
        path.push_str(query);
    }
    let separator = if login.contains('?') { '&' } else { '?' };
    let location: String = format!(
        "{login}{separator}return_to={}",
        form_urlencoded_component(&path)
    );
    let mut response = respond::json(303, Object::new().with("error", "login_required").finish())?;
    response.headers_mut().set("Location", &location)?;
    Ok(Some(response))
}

fn form_urlencoded_component(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// One request on its way to the origin.
struct Forwarding<'a> {
    req: &'a Request,
    origin: &'a str,
    config: &'a GatewayConfig,
    target: &'a Target,
    scheme: &'a str,
    connecting_ip: Option<&'a str>,
}

impl Forwarding<'_> {
    /// Sends the request on: the same method and body, the canonical path and the query as
    /// sent, the client's headers as [`gateway::forward_header`] allows, the identity headers,
    /// and addressing headers written by the gateway from the connection.
    async fn send(&self, identity: &[(&'static str, String)]) -> Result<Response> {
        let mut url = format!("{}{}", self.origin, self.target.path);
        if let Some(query) = &self.target.query {
            url.push('?');
            url.push_str(query);
        }
        let headers = self.headers(identity)?;
        let init = web_sys::RequestInit::new();
        init.set_method(&self.target.method);
        init.set_headers(headers.as_ref());
        init.set_redirect(web_sys::RequestRedirect::Manual);
        if !matches!(self.target.method.as_str(), "GET" | "HEAD") {
            if let Some(body) = self.req.inner().body() {
                init.set_body(&body);
            }
        }
        let outbound =
            web_sys::Request::new_with_str_and_init(&url, &init).map_err(worker::Error::from)?;
        match Fetch::Request(outbound.into()).send().await {
            Ok(response) => Ok(response),
            Err(err) => respond::server_error(
                502,
                Code::OriginUnreachable.as_str(),
                &format!("origin fetch failed: {err}"),
            ),
        }
    }

    fn headers(&self, identity: &[(&'static str, String)]) -> Result<Headers> {
        let policy = ForwardPolicy {
            credentials: self.config.forward_authorization,
            override_headers: self.config.forward_override_headers,
        };
        let mut own_cookies = vec![SESSION_COOKIE, CSRF_COOKIE];
        if let Some(cookie) = self.config.token_cookie.as_deref() {
            own_cookies.push(cookie);
        }
        let headers = Headers::new();
        for (name, value) in self.req.headers().entries() {
            match gateway::forward_header(&name, policy) {
                HeaderAction::Keep => headers.append(&name, &value)?,
                HeaderAction::Drop => {}
                HeaderAction::StripCookies => {
                    if let Some(rest) = gateway::without_cookies(&value, &own_cookies) {
                        headers.append(&name, &rest)?;
                    }
                }
            }
        }
        for (name, value) in identity {
            headers.set(name, value)?;
        }
        let host = gateway::authority(&self.config.issuer);
        headers.set("X-Forwarded-Host", host)?;
        headers.set("X-Forwarded-Proto", self.scheme)?;
        let mut forwarded = format!("host=\"{host}\";proto={}", self.scheme);
        if let Some(ip) = self.connecting_ip {
            headers.set("X-Forwarded-For", ip)?;
            forwarded = format!("for=\"{}\";{forwarded}", gateway::forwarded_node(ip));
        }
        headers.set("Forwarded", &forwarded)?;
        Ok(headers)
    }
}
