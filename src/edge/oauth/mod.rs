//! The OAuth endpoints: `/token`, `/introspect`, `/revoke`, `/userinfo`, `/one-time-token`
//! and the RFC 8414 metadata here; `/authorize` and `/logout`, the browser's, in [`browser`].
//! Each handler reads the request, calls the core engine (`crate::oauth`), and writes the
//! response.

use crate::codes::Code;
use std::collections::BTreeMap;
use std::rc::Rc;

use worker::{Date, Env, Request, Response, Result};

use super::bindings;
use super::coordinator::Once;
use super::kv::Kv;
use super::pages;
use super::respond;
use super::revoke::presented_bearer;
use super::state::State;
use crate::gateway::Denial;
use crate::gateway::TokenType;
use crate::json::Object;
use crate::oauth::oidc::{after_login, next_step, on_consent, signed_in, Step, UserinfoError};
use crate::oauth::{
    AuthorizationRequest, AuthorizeError, ClientAuth, OAuth, OAuthError, OAuthErrorCode, Revoker,
    Session, TokenRequest, GRANTS,
};

mod backchannel;
mod browser;

// Only the issuer serves them (the guard forwards them), as with this module's other handlers.
#[cfg_attr(not(feature = "issuance"), allow(unused_imports))]
pub use browser::{authorize_get, authorize_post, logout};

/// Cookie holding the browser session id.
pub const SESSION_COOKIE: &str = "tg_session";
/// Cookie holding the CSRF token of the authorization pages (double submit). `__Host-`:
/// only this host, over https, with `Path=/`, can set it, so a sibling subdomain cannot plant
/// one (RFC 6265bis §4.1.3.2).
pub const CSRF_COOKIE: &str = "__Host-tg_csrf";

fn now() -> i64 {
    (Date::now().as_millis() / 1000) as i64
}

/// Everything the engine needs, from the isolate's state and the environment.
pub struct Engine {
    state: Rc<State>,
    config: Rc<crate::config::GatewayConfig>,
    signing_key: crate::Key,
    kv: Kv,
    once: Once,
    pepper: Vec<u8>,
    /// Sessions this request ended, told to their relying parties after the answer.
    ended: std::cell::RefCell<Vec<crate::oauth::Ended>>,
}

impl Engine {
    /// `Err` is a ready response: the deployment lacks a pepper or KV.
    pub fn new(env: &Env, state: Rc<State>) -> std::result::Result<Engine, Result<Response>> {
        let Some(config) = state.config.clone() else {
            return Err(respond::server_error(
                500,
                Code::ConfigMissing.as_str(),
                "TOLLGATE_CONFIG is not set",
            ));
        };
        let Some(signing_key) = state.keys.set.keys().first().cloned() else {
            return Err(respond::server_error(
                500,
                Code::SigningKeysMissing.as_str(),
                "no signing key",
            ));
        };
        let Ok(pepper) = env.secret(bindings::PEPPER).map(|s| s.to_string()) else {
            return Err(respond::server_error(
                500,
                Code::PepperMissing.as_str(),
                "secret TOLLGATE_PEPPER is not set",
            ));
        };
        if pepper.len() < crate::oauth::MIN_SECRET_LEN {
            return Err(respond::server_error(
                500,
                Code::PepperMissing.as_str(),
                "secret TOLLGATE_PEPPER must be at least 32 characters",
            ));
        }
        let Ok(kv) = Kv::for_state(env, &state) else {
            return Err(respond::server_error(
                503,
                Code::StoreUnavailable.as_str(),
                "KV binding TOLLGATE_KV is missing",
            ));
        };
        let once = match Once::from_env(env, &state) {
            Ok(once) => once,
            Err(missing) => {
                return Err(respond::server_error(
                    503,
                    Code::StoreUnavailable.as_str(),
                    missing,
                ))
            }
        };
        Ok(Engine {
            once,
            kv,
            state,
            config,
            signing_key,
            pepper: pepper.into_bytes(),
            ended: std::cell::RefCell::default(),
        })
    }

    /// The core engine over this request's store.
    pub fn oauth(&self) -> OAuth<'_, Kv, Once> {
        OAuth {
            store: &self.kv,
            once: &self.once,
            signing_key: &self.signing_key,
            id_token_key: crate::oauth::oidc::id_token_key(
                self.state.keys.set.keys(),
                self.config.oauth.id_token_signing_alg,
            ),
            crypto: &self.state.webcrypto,
            issuer: &self.config.issuer,
            audience: self.config.access_token_audience(),
            pepper: &self.pepper,
            config: &self.config.oauth,
            dpop_jkt: None,
            ended: Some(&self.ended),
        }
    }

    /// Tells the relying parties of the sessions this request ended (OpenID Connect
    /// Back-Channel Logout 1.0 §2.5): the logout tokens are signed now, and posted after the
    /// answer, under `wait_until`, so that no relying party slows the user's sign-out. Each
    /// post has a timeout and follows no redirect; a failure is logged, not retried (§2.8
    /// lets an OP retry; a relying party that missed one still sees the sign-out at its next
    /// use of a token, since the session's grants are revoked).
    pub async fn tell_relying_parties(&self, ctx: &worker::Context) {
        let ended = std::mem::take(&mut *self.ended.borrow_mut());
        if ended.is_empty() {
            return;
        }
        let deliveries = match self.oauth().backchannel_logouts(&ended, now()).await {
            Ok(deliveries) => deliveries,
            Err(err) => {
                respond::log(
                    Object::new()
                        .with("level", "error")
                        .with("event", "backchannel_logout")
                        .with("error", err.description.as_str()),
                );
                return;
            }
        };
        if !deliveries.is_empty() {
            ctx.wait_until(backchannel::deliver(deliveries));
        }
    }
}

/// The refusal of a body over the form limit.
pub(super) fn too_large() -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidRequest, "the request is too large")
}

/// Reads an `application/x-www-form-urlencoded` body; parameters may not repeat (RFC 6749 §3.1).
async fn form(req: &mut Request) -> std::result::Result<BTreeMap<String, String>, OAuthError> {
    let (params, repeats) = form_first(req).await?;
    match repeats.first() {
        None => Ok(params),
        Some(name) => Err(crate::oauth::repeated(name)),
    }
}

/// The form as [`crate::oauth::parse_form_first`] reads it: the first value of each
/// parameter, and every name sent more than once.
async fn form_first(
    req: &mut Request,
) -> std::result::Result<(crate::oauth::Form, Vec<String>), OAuthError> {
    let body = super::body_within(req, crate::oauth::MAX_FORM_BYTES)
        .await
        .map_err(|_| OAuthError::new(OAuthErrorCode::InvalidRequest, "unreadable body"))?
        .ok_or_else(too_large)?;
    // An empty body has no parameters whatever its type (an API key sent in a header alone).
    if body.is_empty() {
        return Ok((BTreeMap::new(), Vec::new()));
    }
    let content_type = req
        .headers()
        .get("Content-Type")
        .ok()
        .flatten()
        .unwrap_or_default();
    // RFC 9110 §8.3.1: the type and subtype, compared as tokens, case-insensitively;
    // parameters (a charset) after `;` (a prefix match took `...urlencodedX`).
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    crate::oauth::parse_form_first(&body)
}

/// The query's parameters; they may not repeat (RFC 6749 §3.1). workerd hands over the URL
/// serialised (WHATWG URL), so the query is what follows its first `?`, up to any `#`.
fn query(req: &Request) -> std::result::Result<BTreeMap<String, String>, OAuthError> {
    let (params, repeats) = query_first(req)?;
    match repeats.first() {
        None => Ok(params),
        Some(name) => Err(crate::oauth::repeated(name)),
    }
}

/// The query as [`crate::oauth::parse_form_first`] reads it: the first value of each
/// parameter, and every name sent more than once.
fn query_first(
    req: &Request,
) -> std::result::Result<(crate::oauth::Form, Vec<String>), OAuthError> {
    let url = req.inner().url();
    let before_fragment = url.split('#').next().unwrap_or_default();
    crate::oauth::parse_form_first(
        before_fragment
            .split_once('?')
            .map_or("", |(_, query)| query)
            .as_bytes(),
    )
}

/// `Authorization: Basic` client credentials, form-decoded (RFC 6749 §2.3.1): none without that header or with another
/// scheme. A Basic header that cannot be read (not base64, no colon, no id) is `invalid_client`
/// with a Basic challenge, as RFC 6749 §5.2 asks of a client that tried the header, rather
/// than the missing-client answer.
fn basic_credentials(req: &Request) -> std::result::Result<Option<(String, String)>, OAuthError> {
    let Some(header) = req.headers().get("Authorization").ok().flatten() else {
        return Ok(None);
    };
    let scheme = header.split(' ').next().unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    match crate::oauth::parse_basic(&header) {
        Some(credentials) => Ok(Some(credentials)),
        None => Err(OAuthError::new(
            OAuthErrorCode::InvalidClient,
            "the Basic credentials could not be read (RFC 6749 section 2.3.1: \
             base64 of the form-encoded id, a colon and the secret)",
        )),
    }
}

fn client_ip(req: &Request) -> Option<String> {
    req.headers().get("CF-Connecting-IP").ok().flatten()
}

fn cookie(req: &Request, name: &str) -> Option<String> {
    let header = req.headers().get("Cookie").ok()??;
    crate::gateway::cookie(&header, name).map(str::to_owned)
}

/// An RFC 6749 §5.2 error response.
pub fn oauth_error(err: &OAuthError) -> Result<Response> {
    let rendered = err.render();
    log_failure(err);
    let mut response = respond::json(rendered.status, rendered.body)?;
    response.headers_mut().set("Pragma", "no-cache")?;
    if let Some(challenge) = rendered.www_authenticate {
        response.headers_mut().set("WWW-Authenticate", &challenge)?;
    }
    Ok(response)
}

/// Logs an error on the server's side (5xx), with the detail its answer leaves out
/// (`OAuthError::public_description`).
fn log_failure(err: &OAuthError) {
    if err.error.status() >= 500 {
        respond::log(
            Object::new()
                .with("level", "error")
                .with("code", Code::Oauth.as_str())
                .with("error", err.error.as_str())
                .with("detail", &err.description),
        );
    }
}

/// `POST /token`.
pub async fn token(mut req: Request, engine: &Engine) -> Result<Response> {
    let params = match form(&mut req).await {
        Ok(params) => params,
        Err(err) => return oauth_error(&err),
    };
    let api_key = req
        .headers()
        .get("X-API-Key")
        .ok()
        .flatten()
        // Sent without a value, it is not sent (RFC 6749 §3.1's rule for parameters).
        .filter(|key| !key.is_empty())
        .or_else(|| presented_bearer(&req).filter(|b| b.starts_with("tgk_")));
    let basic = match basic_credentials(&req) {
        Ok(basic) => basic,
        Err(err) => return oauth_error(&err),
    };
    let request = TokenRequest {
        params,
        basic,
        api_key,
        client_ip: client_ip(&req),
    };
    // RFC 9449 §5: a proof on the token request binds the access token to its key; with
    // `dpopNonce`, every answer to a DPoP request names the nonce to use next (§8).
    let nonce = engine
        .config
        .dpop_nonce
        .then(|| crate::dpop::nonce(&engine.pepper, now()));
    let with_nonce = |mut response: Response| -> Result<Response> {
        if let Some(nonce) = &nonce {
            response.headers_mut().set("DPoP-Nonce", nonce)?;
        }
        Ok(response)
    };
    let jkt = match req.headers().get(crate::dpop::HEADER).ok().flatten() {
        None => None,
        Some(proof) => match token_proof(&req, engine, &proof).await {
            Ok(jkt) => Some(jkt),
            Err(err) => return with_nonce(oauth_error(&err)?),
        },
    };
    let mut oauth = engine.oauth();
    oauth.dpop_jkt = jkt.as_deref();
    match oauth.token(&request, now()).await {
        Ok(tokens) => {
            respond::log(
                Object::new()
                    .with("level", "info")
                    .with("event", "token")
                    .with("grant", request.params.get("grant_type"))
                    .with("scope", &tokens.scope),
            );
            let mut response = respond::json(200, serde_json::to_string(&tokens)?)?;
            response.headers_mut().set("Pragma", "no-cache")?;
            match jkt {
                Some(_) => with_nonce(response),
                None => Ok(response),
            }
        }
        Err(err) => {
            respond::log(
                Object::new()
                    .with("level", "info")
                    .with("event", "token")
                    .with("outcome", "deny")
                    .with("error", err.error.as_str()),
            );
            oauth_error(&err)
        }
    }
}

/// The thumbprint of the key of the token request's DPoP proof (RFC 9449 §4.3, §5).
async fn token_proof(
    req: &Request,
    engine: &Engine,
    proof: &str,
) -> std::result::Result<String, OAuthError> {
    let (method, url) = (req.inner().method(), req.inner().url());
    let presented = crate::oauth::dpop::Presented {
        header: proof,
        method: &method,
        url: &url,
        access_token: None,
        bound: None,
    };
    let nonce_key = engine.config.dpop_nonce.then_some(engine.pepper.as_slice());
    match crate::oauth::dpop::accept_proof(
        &engine.once,
        &engine.state.webcrypto,
        &presented,
        nonce_key,
        now(),
    )
    .await?
    {
        Ok(checked) => Ok(checked.jkt),
        Err(err @ crate::Error::DpopNonce { .. }) => Err(OAuthError::new(
            OAuthErrorCode::UseDpopNonce,
            err.to_string(),
        )),
        Err(err) => Err(OAuthError::new(
            OAuthErrorCode::InvalidDpopProof,
            err.to_string(),
        )),
    }
}

/// The shared front of `/introspect` and `/revoke`: the form, an authenticated client
/// (confidential only, when asked), and the `token` parameter.
async fn client_and_token(
    req: &mut Request,
    engine: &Engine,
    confidential_only: bool,
) -> std::result::Result<(crate::oauth::Client, String), OAuthError> {
    let params = form(req).await?;
    let missing_client = || {
        OAuthError::new(
            OAuthErrorCode::InvalidClient,
            "client authentication is required",
        )
    };
    let auth = match ClientAuth::from_parts(basic_credentials(req)?.as_ref(), &params)? {
        ClientAuth::None => return Err(missing_client()),
        auth => auth,
    };
    let client = engine
        .oauth()
        .authenticate_client(&auth, client_ip(req).as_deref(), now())
        .await?
        .filter(|client| !confidential_only || client.secret_hash.is_some())
        .ok_or_else(missing_client)?;
    let token = params
        .get("token")
        .filter(|t| !t.is_empty())
        .cloned()
        .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidRequest, "token is required"))?;
    Ok((client, token))
}

/// `POST /introspect` (RFC 7662): a confidential client must authenticate.
pub async fn introspect(mut req: Request, engine: &Engine) -> Result<Response> {
    let (client, token) = match client_and_token(&mut req, engine, true).await {
        Ok(found) => found,
        Err(err) => return oauth_error(&err),
    };
    let Some(verifier) = engine.state.issued_verifier.as_ref() else {
        return respond::server_error(500, Code::ConfigMissing.as_str(), "no verifier");
    };
    match engine
        .oauth()
        .introspect(&token, &client, verifier, now())
        .await
    {
        Ok(info) => respond::json(200, info),
        Err(err) => oauth_error(&err),
    }
}

/// `POST /revoke` (RFC 7009): an authenticated client revokes one of its tokens.
pub async fn revoke(mut req: Request, engine: &Engine) -> Result<Response> {
    let (client, token) = match client_and_token(&mut req, engine, false).await {
        Ok(found) => found,
        Err(err) => return oauth_error(&err),
    };
    let Some(verifier) = engine.state.issued_verifier.as_ref() else {
        return respond::server_error(500, Code::ConfigMissing.as_str(), "no verifier");
    };
    if let Err(err) = engine
        .oauth()
        .revoke(&token, Revoker::Client(&client), verifier, now())
        .await
    {
        return oauth_error(&err);
    }
    engine.state.token_cache.borrow_mut().remove(&token);
    respond::log(
        Object::new()
            .with("level", "info")
            .with("event", "revoke")
            .with("client_id", &client.client_id),
    );
    respond::json(200, Object::new().finish())
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414) and
/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3): one document,
/// so the two cannot disagree; the OpenID members are a superset RFC 8414 §2 allows. No
/// `token_endpoint_auth_signing_alg_values_supported`: it describes JWT client authentication
/// (`private_key_jwt`, `client_secret_jwt`), which Tollgate does not offer.
pub fn metadata(state: &State) -> Result<Response> {
    let Some(config) = state.config.as_ref() else {
        return respond::json(404, Object::new().with("error", "not_found").finish());
    };
    let issuer = config.issuer.trim_end_matches('/');
    // The one algorithm ID tokens are signed with (`oidc::id_token_key`:
    // `oauth.idTokenSigningAlg`, else the active key's); none for a deployment signing with an
    // HMAC secret, which refuses `openid` and so does not advertise the OpenID scopes.
    let keys = state.keys.set.keys();
    let id_token_algs: Vec<&str> =
        crate::oauth::oidc::id_token_key(keys, config.oauth.id_token_signing_alg)
            .and_then(|key| key.signing_algorithm().ok())
            .map(|alg| alg.name())
            .into_iter()
            .collect();
    let openid = !id_token_algs.is_empty();
    let mut scopes: Vec<&str> = match id_token_algs.is_empty() {
        true => Vec::new(),
        false => crate::oauth::oidc::OIDC_SCOPES.to_vec(),
    };
    for scope in config.routes.iter().flat_map(|route| &route.scopes) {
        if !scopes.contains(&scope.as_str()) {
            scopes.push(scope);
        }
    }
    // RFC 9449 §5.1: the algorithms a DPoP proof may use (both names of Ed25519, RFC 9864).
    let dpop_algs: Vec<&str> = crate::dpop::Policy::default()
        .algorithms
        .iter()
        .map(|alg| alg.name())
        .collect();
    let client_auth: &[&str] = &["client_secret_basic", "client_secret_post", "none"];
    let endpoint = |path: &str| format!("{issuer}{path}");
    let body = Object::new()
        .with("issuer", &config.issuer)
        .with("authorization_endpoint", endpoint("/authorize"))
        .with("token_endpoint", endpoint("/token"))
        .with("userinfo_endpoint", endpoint("/userinfo"))
        .with("end_session_endpoint", endpoint("/logout"))
        .with("introspection_endpoint", endpoint("/introspect"))
        .with("revocation_endpoint", endpoint("/revoke"))
        .with("jwks_uri", endpoint("/.well-known/jwks.json"))
        .with("response_types_supported", &["code"][..])
        .with("response_modes_supported", &["query"][..])
        .with("grant_types_supported", &GRANTS[..])
        .with("code_challenge_methods_supported", &["S256"][..])
        .with("token_endpoint_auth_methods_supported", client_auth)
        .with(
            "introspection_endpoint_auth_methods_supported",
            &["client_secret_basic", "client_secret_post"][..],
        )
        .with("revocation_endpoint_auth_methods_supported", client_auth)
        .with("authorization_response_iss_parameter_supported", true)
        .with("dpop_signing_alg_values_supported", dpop_algs)
        .with("scopes_supported", scopes)
        .with("subject_types_supported", &["public"][..])
        .with("id_token_signing_alg_values_supported", id_token_algs)
        .with(
            "claims_supported",
            &[
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "azp",
                "at_hash",
                "sid",
                "name",
                "preferred_username",
                "email",
                "email_verified",
            ][..],
        )
        .with(
            "prompt_values_supported",
            &["none", "login", "consent", "select_account"][..],
        )
        // Back-Channel Logout 1.0 §2.1: relying parties registered with a
        // `backchannel_logout_uri` are told of a sign-out, with the session's `sid`.
        .with("backchannel_logout_supported", openid)
        .with("backchannel_logout_session_supported", openid)
        .with("claims_parameter_supported", false)
        .with("request_parameter_supported", false)
        .with("request_uri_parameter_supported", false)
        .finish();
    let mut response = respond::json(200, body)?;
    response
        .headers_mut()
        .set("Cache-Control", "public, max-age=300")?;
    Ok(response)
}

/// `GET /userinfo` and `POST /userinfo` (OpenID Connect Core §5.3): the claims of the user an
/// access token of this issuer was issued for, per its scopes. The token is checked by the
/// gateway's own steps (signature, revocation, DPoP binding and proof), so a token refused at
/// the gateway is refused here, with the same answer.
pub async fn userinfo(identity: &crate::gateway::Identity, engine: &Engine) -> Result<Response> {
    let own = identity.issuer.as_deref() == Some(engine.config.issuer.as_str())
        && matches!(identity.token_type, TokenType::Jwt | TokenType::Dpop);
    let (Some(sub), true) = (identity.sub.as_deref(), own) else {
        return respond::denial(
            &Denial::InvalidToken(crate::Error::ClaimInvalid {
                claim: "iss".into(),
                reason: "userinfo takes an access token of this issuer",
            })
            .render(),
        );
    };
    let scope = identity.scope.as_deref().unwrap_or("");
    match engine.oauth().userinfo(sub, scope).await {
        Ok(claims) => {
            let mut response = respond::json(200, serde_json::to_string(&claims)?)?;
            response.headers_mut().set("Cache-Control", "no-store")?;
            Ok(response)
        }
        Err(UserinfoError::InsufficientScope) => respond::denial(
            &Denial::InsufficientScope {
                required: vec!["openid".to_owned()],
            }
            .render(),
        ),
        Err(UserinfoError::UnknownUser) => respond::denial(
            &Denial::InvalidToken(crate::Error::ClaimInvalid {
                claim: "sub".into(),
                reason: "is not a user of this issuer",
            })
            .render(),
        ),
        Err(UserinfoError::Store(err)) => oauth_error(&err),
    }
}

/// The `route` a `POST /one-time-token` form names: one of the `oneTime` routes' prefixes.
pub async fn one_time_route(
    req: &mut Request,
    config: &crate::config::GatewayConfig,
) -> std::result::Result<String, OAuthError> {
    let params = form(req).await?;
    let route = params.get("route").cloned().unwrap_or_default();
    if !config
        .routes
        .iter()
        .any(|r| r.one_time && r.prefix == route)
    {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "route must name a oneTime route prefix",
        ));
    }
    Ok(route)
}

/// `POST /one-time-token` (form `route`): a one-time token for `identity`, the caller as the
/// gateway proved it for `route` (`gateway::one_time_token`), valid 5 minutes and accepted
/// exactly once there.
pub async fn issue_one_time_for(
    identity: &crate::gateway::Identity,
    route: &str,
    engine: &Engine,
) -> Result<Response> {
    let Some(sub) = identity.sub.as_deref() else {
        return oauth_error(&OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "the token has no sub",
        ));
    };
    let issuer = identity.issuer.as_deref().unwrap_or(&engine.config.issuer);
    match engine
        .oauth()
        .issue_one_time(issuer, sub, route, 300, now())
        .await
    {
        Ok(one_time) => respond::json(
            200,
            Object::new()
                .with("one_time_token", one_time)
                .with("expires_in", 300)
                .with("route", route)
                .finish(),
        ),
        Err(err) => oauth_error(&err),
    }
}
