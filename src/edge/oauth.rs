//! The OAuth endpoints: `/token`, `/authorize` (login and consent pages), `/introspect`,
//! `/revoke`, `/logout` and the RFC 8414 metadata. Each handler reads the request, calls the
//! core engine (`crate::oauth`), and writes the response.

use crate::codes::Code;
use std::collections::BTreeMap;
use std::rc::Rc;

use worker::{Date, Env, Request, Response, Result};

use super::bindings;
use super::coordinator::Once;
use super::kv::Kv;
use super::pages;
use super::respond;
use super::state::State;
use crate::gateway::Denial;
use crate::gateway::TokenType;
use crate::json::Object;
use crate::oauth::oidc::{after_login, next_step, on_consent, signed_in, Step, UserinfoError};
use crate::oauth::{
    AuthorizationRequest, AuthorizeError, ClientAuth, OAuth, OAuthError, OAuthErrorCode, Revoker,
    Session, TokenRequest, GRANTS,
};

/// Cookie holding the browser session id.
pub const SESSION_COOKIE: &str = "tg_session";
/// Cookie holding the CSRF token of the authorization pages (double submit).
pub const CSRF_COOKIE: &str = "tg_csrf";

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
        if pepper.len() < 32 {
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
        })
    }

    /// The core engine over this request's store.
    pub fn oauth(&self) -> OAuth<'_, Kv, Once> {
        OAuth {
            store: &self.kv,
            once: &self.once,
            signing_key: &self.signing_key,
            crypto: &self.state.webcrypto,
            issuer: &self.config.issuer,
            audience: self.config.access_token_audience(),
            pepper: &self.pepper,
            config: &self.config.oauth,
            dpop_jkt: None,
        }
    }
}

/// Reads an `application/x-www-form-urlencoded` body; parameters may not repeat (RFC 6749 §3.1).
async fn form(req: &mut Request) -> std::result::Result<BTreeMap<String, String>, OAuthError> {
    let body = req
        .bytes()
        .await
        .map_err(|_| OAuthError::new(OAuthErrorCode::InvalidRequest, "unreadable body"))?;
    // An empty body has no parameters whatever its type (an API key sent in a header alone).
    if body.is_empty() {
        return Ok(BTreeMap::new());
    }
    let content_type = req
        .headers()
        .get("Content-Type")
        .ok()
        .flatten()
        .unwrap_or_default();
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    crate::oauth::parse_form_bytes(&body)
}

/// The query's parameters; they may not repeat (RFC 6749 §3.1). workerd hands over the URL
/// serialised (WHATWG URL), so the query is what follows its first `?`, up to any `#`.
fn query(req: &Request) -> std::result::Result<BTreeMap<String, String>, OAuthError> {
    let url = req.inner().url();
    let before_fragment = url.split('#').next().unwrap_or_default();
    crate::oauth::parse_form(
        before_fragment
            .split_once('?')
            .map_or("", |(_, query)| query),
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
        None => Err(OAuthError {
            basic: true,
            ..OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "the Basic credentials could not be read (RFC 6749 §2.3.1: \
                 base64 of the form-encoded id, a colon and the secret)",
            )
        }),
    }
}

fn bearer(req: &Request) -> Option<String> {
    let header = req.headers().get("Authorization").ok()??;
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
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
    if rendered.status >= 500 {
        respond::log(
            Object::new()
                .with("level", "error")
                .with("code", Code::Oauth.as_str())
                .with("error", err.error.as_str())
                .with("detail", &err.description),
        );
    }
    let mut response = respond::json(rendered.status, rendered.body)?;
    response.headers_mut().set("Pragma", "no-cache")?;
    if let Some(challenge) = rendered.www_authenticate {
        response.headers_mut().set("WWW-Authenticate", &challenge)?;
    }
    Ok(response)
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
        .or_else(|| bearer(&req).filter(|b| b.starts_with("tgk_")));
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
    let missing_client = || OAuthError {
        basic: true,
        ..OAuthError::new(
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
    let (_, token) = match client_and_token(&mut req, engine, true).await {
        Ok(found) => found,
        Err(err) => return oauth_error(&err),
    };
    let Some(verifier) = engine.state.own_verifier.as_ref() else {
        return respond::server_error(500, Code::ConfigMissing.as_str(), "no verifier");
    };
    match engine.oauth().introspect(&token, verifier, now()).await {
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
    let Some(verifier) = engine.state.own_verifier.as_ref() else {
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
    let mut scopes: Vec<&str> = crate::oauth::oidc::OIDC_SCOPES.to_vec();
    for scope in config.routes.iter().flat_map(|route| &route.scopes) {
        if !scopes.contains(&scope.as_str()) {
            scopes.push(scope);
        }
    }
    // ID tokens are signed by the active key (the first of TOLLGATE_SIGNING_KEYS).
    let id_token_algs: Vec<&str> = state
        .keys
        .set
        .keys()
        .first()
        .and_then(|key| key.signing_algorithm().ok())
        .map(|alg| alg.name())
        .into_iter()
        .collect();
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

fn set_cookie(
    response: &mut Response,
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<u64>,
    same_site: &str,
) -> Result<()> {
    let age = max_age
        .map(|a| format!("; Max-Age={a}"))
        .unwrap_or_default();
    response.headers_mut().append(
        "Set-Cookie",
        &format!("{name}={value}; Path={path}; Secure; HttpOnly; SameSite={same_site}{age}"),
    )
}

const REQUEST_FIELDS: [&str; 13] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "dpop_jkt",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
];

fn request_fields(params: &BTreeMap<String, String>, csrf: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = REQUEST_FIELDS
        .iter()
        .filter_map(|name| params.get(*name).map(|v| (name.to_string(), v.clone())))
        .collect();
    fields.push(("csrf".to_owned(), csrf.to_owned()));
    fields
}

fn redirect(location: &str) -> Result<Response> {
    let headers = pages::page_headers()?;
    headers.set("Location", location)?;
    Ok(Response::empty()?.with_status(303).with_headers(headers))
}

fn authorize_failure(err: AuthorizeError, issuer: &str) -> Result<Response> {
    match err.location(issuer) {
        Some(location) => redirect(&location),
        None => match err {
            AuthorizeError::Page(message) => pages::error(message),
            AuthorizeError::Redirect { description, .. } => pages::error(description),
        },
    }
}

/// Whether a third-party client already has the user's consent for the request's scope
/// (first-party clients never ask).
async fn consented(
    oauth: &OAuth<'_, Kv, Once>,
    request: &AuthorizationRequest,
    session: Option<&Session>,
) -> bool {
    match session {
        Some(session) if !request.client.first_party => oauth
            .consented(&session.sub, &request.client.client_id, &request.scope)
            .await
            .unwrap_or(false),
        _ => false,
    }
}

/// Acts on what the request needs next (`oidc::next_step`): a code, the login page, the
/// consent page, or an error back to the client.
async fn proceed(
    step: Step,
    engine: &Engine,
    request: &AuthorizationRequest,
    session: Option<&Session>,
    fields: &[(String, String)],
) -> Result<Response> {
    let oauth = engine.oauth();
    match (step, session) {
        (Step::Issue, Some(session)) => match oauth.issue_code(request, session, now()).await {
            Ok(location) => redirect(&location),
            Err(err) => oauth_error(&err),
        },
        (Step::Consent, Some(session)) => pages::consent(
            &request.client.name,
            &request.redirect_uri,
            &session.username,
            &request.scope,
            fields,
        ),
        (Step::Refuse(error), _) => {
            let other_user = request
                .hint_sub
                .as_deref()
                .is_some_and(|hinted| session.is_some_and(|s| s.sub != hinted));
            let description = match error {
                OAuthErrorCode::LoginRequired if other_user => {
                    "the signed-in user is not the one id_token_hint names"
                }
                OAuthErrorCode::LoginRequired => "the user is not signed in (prompt=none)",
                _ => "the user has not approved this client (prompt=none)",
            };
            let err = AuthorizeError::Redirect {
                redirect_uri: request.redirect_uri.clone(),
                error,
                description,
                state: request.state.clone(),
            };
            authorize_failure(err, oauth.issuer)
        }
        _ => pages::login(
            &request.client.name,
            &request.redirect_uri,
            fields,
            request.login_hint.as_deref(),
            None,
        ),
    }
}

/// The verifier of `id_token_hint`s: this deployment's keys, its ID token policy.
fn hint_verifier(engine: &Engine) -> std::result::Result<crate::Verifier, crate::Error> {
    crate::Verifier::new(
        engine.state.keys.set.clone(),
        engine.config.id_token_hint_policy(),
    )
}

/// The validated authorization request in `params`, with its `id_token_hint`'s subject when
/// it carries one (checked again on each form post, which carries the hint along).
async fn validated(
    engine: &Engine,
    params: &BTreeMap<String, String>,
) -> Result<std::result::Result<AuthorizationRequest, AuthorizeError>> {
    let oauth = engine.oauth();
    let mut request = match oauth.authorization_request(params).await {
        Ok(request) => request,
        Err(err) => return Ok(Err(err)),
    };
    if let Some(hint) = params.get("id_token_hint").filter(|h| !h.is_empty()) {
        let hints = hint_verifier(engine).map_err(|e| worker::Error::RustError(e.to_string()))?;
        match oauth.hint_subject(&request, hint, &hints, now()).await {
            Ok(sub) => request.hint_sub = Some(sub),
            Err(err) => return Ok(Err(err)),
        }
    }
    Ok(Ok(request))
}

/// `GET /authorize`: validates the request, then (by `oidc::next_step`) redirects with a code
/// at once (single sign-on), shows the login or consent page, or answers a `prompt=none`
/// request with its error.
pub async fn authorize_get(req: Request, engine: &Engine) -> Result<Response> {
    let params = match query(&req) {
        Ok(params) => params,
        Err(err) => return pages::error(&err.description),
    };
    authorization_request(&req, engine, &params).await
}

/// An authorization request, from the query of a GET or the form of a POST (OpenID Connect
/// Core §3.1.2.1: the endpoint MUST support both; a relying party may send its request as
/// an auto-submitted form).
async fn authorization_request(
    req: &Request,
    engine: &Engine,
    params: &BTreeMap<String, String>,
) -> Result<Response> {
    let oauth = engine.oauth();
    let request = match validated(engine, params).await? {
        Ok(request) => request,
        Err(err) => return authorize_failure(err, oauth.issuer),
    };
    let csrf = crate::oauth::csrf_token(&engine.pepper)
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    let fields = request_fields(params, &csrf);
    let session = match cookie(req, SESSION_COOKIE) {
        Some(id) => oauth.session(&id, now()).await.ok().flatten(),
        None => None,
    };
    let consented = consented(&oauth, &request, session.as_ref()).await;
    let step = next_step(&request, session.as_ref(), consented, now());
    let mut response = proceed(step, engine, &request, session.as_ref(), &fields).await?;
    if matches!(step, Step::Login | Step::Consent) {
        set_cookie(
            &mut response,
            CSRF_COOKIE,
            &csrf,
            "/authorize",
            Some(1800),
            "Strict",
        )?;
    }
    Ok(response)
}

/// `POST /authorize`: the login form (`action=login`), the consent form (`approve`/`deny`),
/// or, without an `action`, an authorization request sent as a form. That one needs no CSRF
/// check: it can do no more than the same request by GET (a cross-site POST does not even
/// carry the `SameSite=Lax` session cookie, so it always meets the login page).
pub async fn authorize_post(mut req: Request, engine: &Engine) -> Result<Response> {
    let params = match form(&mut req).await {
        Ok(params) => params,
        Err(_) => return pages::error("the form could not be read"),
    };
    if !params.contains_key("action") {
        return authorization_request(&req, engine, &params).await;
    }
    let oauth = engine.oauth();
    // CSRF: the form's value must be one this server issued and equal the cookie's (double
    // submit; the cookie is SameSite=Strict).
    let csrf = params.get("csrf").cloned().unwrap_or_default();
    let cookie_csrf = cookie(&req, CSRF_COOKIE).unwrap_or_default();
    if !crate::oauth::csrf_valid(&engine.pepper, &csrf, &cookie_csrf) {
        return pages::error(
            "this form expired or was not sent from this site; start again from the application",
        );
    }
    let request = match validated(engine, &params).await? {
        Ok(request) => request,
        Err(err) => return authorize_failure(err, oauth.issuer),
    };
    let fields = request_fields(&params, &csrf);
    match params.get("action").map(String::as_str) {
        Some("login") => login(&req, engine, &params, &request, &fields).await,
        Some(action @ ("approve" | "deny")) => {
            consent(&req, engine, &request, &fields, action == "approve").await
        }
        _ => pages::error("unknown action"),
    }
}

/// The login form: checks the password (throttled per account and source), starts a session,
/// then either redirects with a code or shows the consent page.
async fn login(
    req: &Request,
    engine: &Engine,
    params: &BTreeMap<String, String>,
    request: &AuthorizationRequest,
    fields: &[(String, String)],
) -> Result<Response> {
    let oauth = engine.oauth();
    let username = params.get("username").map(String::as_str).unwrap_or("");
    let password = params.get("password").map(String::as_str).unwrap_or("");
    let user = match oauth
        .check_password(username, password, client_ip(req).as_deref(), true, now())
        .await
    {
        Ok(user) => user,
        Err(crate::oauth::LoginError::Invalid) => {
            respond::log(
                Object::new()
                    .with("level", "info")
                    .with("event", "login")
                    .with("outcome", "deny"),
            );
            return pages::login(
                &request.client.name,
                &request.redirect_uri,
                fields,
                Some(username),
                Some("Wrong username or password, or too many attempts. Try again later."),
            );
        }
        Err(crate::oauth::LoginError::Store(err)) => return oauth_error(&err),
    };
    let (id, session) = match oauth.create_session(&user, now()).await {
        Ok(created) => created,
        Err(err) => return oauth_error(&err),
    };
    respond::log(
        Object::new()
            .with("level", "info")
            .with("event", "login")
            .with("outcome", "allow")
            .with("sub", &user.sub),
    );
    let consented = consented(&oauth, request, Some(&session)).await;
    let step = after_login(request, &session, consented, now());
    let mut response = proceed(step, engine, &signed_in(request), Some(&session), fields).await?;
    let absolute = engine
        .state
        .config
        .as_ref()
        .map_or(3600, |c| c.oauth.session_absolute_seconds);
    set_cookie(
        &mut response,
        SESSION_COOKIE,
        &id,
        "/",
        Some(absolute),
        "Lax",
    )?;
    Ok(response)
}

/// The consent form: the user approves (a code; a third-party client's consent is
/// remembered) or denies (`access_denied` to the client).
async fn consent(
    req: &Request,
    engine: &Engine,
    request: &AuthorizationRequest,
    fields: &[(String, String)],
    approved: bool,
) -> Result<Response> {
    let oauth = engine.oauth();
    let session = match cookie(req, SESSION_COOKIE) {
        Some(id) => oauth.session(&id, now()).await.ok().flatten(),
        None => None,
    };
    let Some(session) = session else {
        return pages::login(
            &request.client.name,
            &request.redirect_uri,
            fields,
            request.login_hint.as_deref(),
            Some("Your session ended. Sign in again."),
        );
    };
    if !approved {
        let err = AuthorizeError::Redirect {
            redirect_uri: request.redirect_uri.clone(),
            error: OAuthErrorCode::AccessDenied,
            description: "the user denied the request",
            state: request.state.clone(),
        };
        return authorize_failure(err, oauth.issuer);
    }
    let step = on_consent(request, &session);
    if step == Step::Issue && !request.client.first_party {
        if let Err(err) = oauth
            .remember_consent(
                &session.sub,
                &request.client.client_id,
                &request.scope,
                now(),
            )
            .await
        {
            return oauth_error(&err);
        }
    }
    proceed(step, engine, request, Some(&session), fields).await
}

/// `GET /logout` and `POST /logout`: the end-session endpoint (OpenID Connect RP-Initiated
/// Logout 1.0). Ending the Tollgate session signs the user out of every client at once (the
/// next `/authorize` of any of them asks for the password). A GET without a valid
/// `id_token_hint` for the session's user asks the user first, since any site can link
/// here; a POST is same-site by construction (the session cookie is `SameSite=Lax`, which
/// browsers do not send on cross-site POSTs). A POST with no parameters answers JSON, for
/// scripts.
pub async fn logout(mut req: Request, engine: &Engine) -> Result<Response> {
    let post = req.method() == worker::Method::Post;
    let params = if post {
        match form(&mut req).await {
            Ok(params) => params,
            Err(err) => return oauth_error(&err),
        }
    } else {
        match query(&req) {
            Ok(params) => params,
            Err(err) => return pages::error(&err.description),
        }
    };
    let oauth = engine.oauth();
    let session_id = cookie(&req, SESSION_COOKIE);
    if post && params.is_empty() {
        if let Some(id) = &session_id {
            if let Err(err) = oauth.end_session(id, now()).await {
                return oauth_error(&err);
            }
        }
        let mut response = respond::json(200, Object::new().with("loggedOut", true).finish())?;
        set_cookie(&mut response, SESSION_COOKIE, "", "/", Some(0), "Lax")?;
        return Ok(response);
    }
    let hints = match hint_verifier(engine) {
        Ok(verifier) => verifier,
        Err(err) => {
            return respond::server_error(500, Code::ConfigInvalid.as_str(), &err.to_string())
        }
    };
    let logout = match oauth.logout_request(&params, &hints, now()).await {
        Ok(logout) => logout,
        Err(message) => return pages::error(message),
    };
    let session = match &session_id {
        Some(id) => oauth.session(id, now()).await.ok().flatten(),
        None => None,
    };
    let vouched = match (&session, &logout.hint_sub) {
        (Some(session), Some(sub)) => *sub == session.sub,
        (None, _) => true,
        (Some(_), None) => false,
    };
    let confirmed = post && params.get("action").map(String::as_str) == Some("logout");
    if !vouched && !confirmed {
        let fields: Vec<(String, String)> = [
            "id_token_hint",
            "post_logout_redirect_uri",
            "state",
            "client_id",
        ]
        .iter()
        .filter_map(|name| params.get(*name).map(|v| (name.to_string(), v.clone())))
        .collect();
        return pages::logout_confirm(&fields);
    }
    if let Some(id) = &session_id {
        if let Err(err) = oauth.end_session(id, now()).await {
            return oauth_error(&err);
        }
    }
    respond::log(
        Object::new()
            .with("level", "info")
            .with("event", "logout")
            .with("sub", session.map(|s| s.sub)),
    );
    let mut response = match &logout.redirect {
        Some(location) => redirect(location)?,
        None => pages::signed_out()?,
    };
    set_cookie(&mut response, SESSION_COOKIE, "", "/", Some(0), "Lax")?;
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

/// `POST /one-time-token` (form `route`): a one-time token for the caller of a valid access
/// token, for one `oneTime` route, valid 5 minutes and accepted exactly once there.
pub async fn one_time_token(mut req: Request, engine: &Engine) -> Result<Response> {
    let Some(token) = bearer(&req) else {
        return respond::denial(&Denial::MissingToken.render());
    };
    let Some(verifier) = engine.state.own_verifier.as_ref() else {
        return respond::server_error(500, Code::ConfigMissing.as_str(), "no verifier");
    };
    let verified = match verifier
        .verify_async(&token, now(), &engine.state.webcrypto)
        .await
    {
        Ok(verified) => verified,
        Err(err) => return respond::denial(&Denial::InvalidToken(err).render()),
    };
    let params = match form(&mut req).await {
        Ok(params) => params,
        Err(err) => return oauth_error(&err),
    };
    let route = params.get("route").cloned().unwrap_or_default();
    if !engine
        .config
        .routes
        .iter()
        .any(|r| r.one_time && r.prefix == route)
    {
        return oauth_error(&OAuthError {
            error: OAuthErrorCode::InvalidRequest,
            description: "route must name a oneTime route prefix".into(),
            basic: false,
        });
    }
    let Some(sub) = verified.subject() else {
        return respond::json(
            400,
            Object::new()
                .with("error", "invalid_request")
                .with("error_description", "the token has no sub")
                .finish(),
        );
    };
    match engine.oauth().issue_one_time(sub, &route, 300, now()).await {
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
