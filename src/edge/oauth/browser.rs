//! The browser's endpoints: `/authorize` (the authorization request, by GET or form POST,
//! then the login and consent pages) and `/logout` (RP-Initiated Logout). What they decide
//! is in the core's pure rules (`crate::oauth::oidc::next_step` and its neighbours); here are
//! the pages, the cookies and the redirects.

use super::*;

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

const REQUEST_FIELDS: [&str; 14] = [
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
    "resource",
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

/// An error met after the request was validated, back to the client (RFC 6749 §4.1.2.1).
fn refused(err: &OAuthError, request: &AuthorizationRequest, issuer: &str) -> Result<Response> {
    log_failure(err);
    redirect(&request.error_location(err, issuer))
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
    let login_page = || {
        pages::login(
            &request.client.name,
            &request.redirect_uri,
            fields,
            request.login_hint.as_deref(),
            None,
        )
    };
    match (step, session) {
        (Step::Issue, Some(session)) => match oauth.issue_code(request, session, now()).await {
            Ok(location) => redirect(&location),
            // The session must sign in again (signed out meanwhile, or it granted all it may):
            // the login page, as without one, whose sign-in starts a session that grants
            // (`OAuth::sign_in`); `prompt=none` has the error instead.
            Err(err) if err.error == OAuthErrorCode::LoginRequired && !request.prompt.none => {
                login_page()
            }
            Err(err) => refused(&err, request, oauth.issuer),
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
        _ => login_page(),
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
    match query_first(&req) {
        Ok((params, repeats)) => read_request(&req, engine, &params, &repeats).await,
        Err(err) => pages::error(&err.description),
    }
}

/// An authorization request as read, with the names it repeats. RFC 6749 §4.1.2.1: a
/// parameter sent twice is an error for the client, sent back to its redirect URI once the
/// client and that URI are known, each sent once (an error page left the client without an
/// answer: an outside run); a repeated `client_id` or `redirect_uri` is a page.
async fn read_request(
    req: &Request,
    engine: &Engine,
    params: &BTreeMap<String, String>,
    repeats: &[String],
) -> Result<Response> {
    let Some(first) = repeats.first() else {
        return authorization_request(req, engine, params).await;
    };
    let err = crate::oauth::repeated(first);
    if repeats
        .iter()
        .any(|name| name == "client_id" || name == "redirect_uri")
    {
        return pages::error(&err.description);
    }
    match validated(engine, params).await? {
        Ok(request) => redirect(&request.error_location(&err, engine.oauth().issuer)),
        Err(refused) => authorize_failure(refused, engine.oauth().issuer),
    }
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
    let session_id = cookie(req, SESSION_COOKIE);
    let csrf = csrf_for(engine, session_id.as_deref())?;
    let fields = request_fields(params, &csrf);
    let session = match &session_id {
        Some(id) => oauth.session(id, now()).await.ok().flatten(),
        None => None,
    };
    let consented = consented(&oauth, &request, session.as_ref()).await;
    let step = next_step(&request, session.as_ref(), consented, now());
    let mut response = proceed(step, engine, &request, session.as_ref(), &fields).await?;
    // A page (the login or consent form; a redirect is 303, an error page 400) posts back
    // with the CSRF value: even from `Step::Issue`, when the session must sign in again.
    if response.status_code() == 200 {
        set_csrf_cookie(&mut response, &csrf)?;
    }
    Ok(response)
}

/// A CSRF value for a form shown to the browser whose session cookie is `session`.
fn csrf_for(engine: &Engine, session: Option<&str>) -> Result<String> {
    crate::oauth::csrf_token(&engine.pepper, session, now())
        .map_err(|e| worker::Error::RustError(e.to_string()))
}

fn set_csrf_cookie(response: &mut Response, csrf: &str) -> Result<()> {
    let lifetime = u64::try_from(crate::oauth::CSRF_LIFETIME).unwrap_or(1800);
    // `__Host-` needs `Path=/`; SameSite=Strict keeps it off every cross-site request.
    set_cookie(response, CSRF_COOKIE, csrf, "/", Some(lifetime), "Strict")
}

/// `POST /authorize`: the login form (`action=login`), the consent form (`approve`/`deny`),
/// or, without an `action`, an authorization request sent as a form. That one needs no CSRF
/// check: it can do no more than the same request by GET (a cross-site POST does not even
/// carry the `SameSite=Lax` session cookie, so it always meets the login page).
pub async fn authorize_post(mut req: Request, engine: &Engine) -> Result<Response> {
    let params = match form_first(&mut req).await {
        Ok((params, repeats)) if !params.contains_key("action") => {
            return read_request(&req, engine, &params, &repeats).await
        }
        Ok((params, repeats)) if repeats.is_empty() => params,
        _ => return pages::error("the form could not be read"),
    };
    let oauth = engine.oauth();
    // CSRF: the form's value must be one this server issued and equal the cookie's (double
    // submit; the cookie is SameSite=Strict).
    let csrf = params.get("csrf").cloned().unwrap_or_default();
    let cookie_csrf = cookie(&req, CSRF_COOKIE).unwrap_or_default();
    let session_id = cookie(&req, SESSION_COOKIE);
    if !crate::oauth::csrf_valid(
        &engine.pepper,
        &csrf,
        &cookie_csrf,
        session_id.as_deref(),
        now(),
    ) {
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
        Err(crate::oauth::LoginError::Store(err)) => return refused(&err, request, oauth.issuer),
    };
    let previous = cookie(req, SESSION_COOKIE);
    let (id, session) = match oauth.sign_in(&user, previous.as_deref(), now()).await {
        Ok(created) => created,
        Err(err) => return refused(&err, request, oauth.issuer),
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
    // The consent form that may follow belongs to the new session: a value of its own.
    let csrf = csrf_for(engine, Some(&id))?;
    let fields = request_fields(params, &csrf);
    let mut response = proceed(step, engine, &signed_in(request), Some(&session), &fields).await?;
    // A page (consent, or the login page again when the new session must sign in: see
    // `proceed`) posts back with the new session's CSRF value.
    if response.status_code() == 200 {
        set_csrf_cookie(&mut response, &csrf)?;
    }
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
            return refused(&err, request, oauth.issuer);
        }
    }
    proceed(step, engine, request, Some(&session), fields).await
}

/// `GET /logout` and `POST /logout`: the end-session endpoint (OpenID Connect RP-Initiated
/// Logout 1.0). Ending the Tollgate session signs the user out of every client at once (the
/// next `/authorize` of any of them asks for the password). A request without a valid
/// `id_token_hint` for the session's user asks the user first, since any site can link or
/// post here, and only the confirmation form this server showed (its CSRF value) ends the
/// session. A POST with no parameters from this origin answers JSON, for scripts.
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
    // A script's empty POST is answered in JSON only from this origin (or from no browser at
    // all): a sibling site's form post carries the Lax cookie too, and is asked to confirm
    // below like any other (Fetch Metadata, `Sec-Fetch-Site`).
    let from_elsewhere = matches!(
        req.headers().get("Sec-Fetch-Site")?.as_deref(),
        Some("same-site" | "cross-site")
    );
    // The cookie is cleared only where it came: a cross-site POST carries no Lax cookie, so
    // clearing it there would sign the user out of this browser for any site that asked.
    if post && params.is_empty() && !from_elsewhere {
        // `loggedOut`: whether this browser's session (its cookie came) was ended.
        let ended = Object::new().with("loggedOut", session_id.is_some());
        let mut response = respond::json(200, ended.finish())?;
        if let Some(id) = &session_id {
            if let Err(err) = oauth.end_session(id, now()).await {
                return oauth_error(&err);
            }
            set_cookie(&mut response, SESSION_COOKIE, "", "/", Some(0), "Lax")?;
        }
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
    // A GET with no session cookie has no session to end. A POST without one may be a
    // relying party's cross-site form post (RP-Initiated Logout 1.0 §2 takes POST), to which
    // the browser sends no Lax cookie: the user confirms here, and that same-site post
    // carries the cookie. Answering it as done ended nothing and told the client otherwise.
    let vouched = match (&session, &logout.hint_sub) {
        (Some(session), Some(sub)) => *sub == session.sub,
        (None, _) => !post,
        (Some(_), None) => false,
    };
    // The confirmation is the form this server showed this browser: its CSRF value, as the
    // login and consent forms carry (a sibling site's auto-submitted `action=logout` signed
    // the user out unasked; an outside run). Bound to no session: the page may answer a
    // relying party's cross-site post, which brought no session cookie, while the click on
    // it brings one; the Strict `__Host-` cookie and the double submit suffice to end one.
    let confirmed = post
        && params.get("action").map(String::as_str) == Some("logout")
        && crate::oauth::csrf_valid(
            &engine.pepper,
            params.get("csrf").map_or("", String::as_str),
            &cookie(&req, CSRF_COOKIE).unwrap_or_default(),
            None,
            now(),
        );
    if !vouched && !confirmed {
        let csrf = csrf_for(engine, None)?;
        let mut fields: Vec<(String, String)> = [
            "id_token_hint",
            "post_logout_redirect_uri",
            "state",
            "client_id",
        ]
        .iter()
        .filter_map(|name| params.get(*name).map(|v| (name.to_string(), v.clone())))
        .collect();
        fields.push(("csrf".to_owned(), csrf.clone()));
        let back_to = logout.redirect.as_deref().and_then(pages::origin_of);
        let mut response = pages::logout_confirm(&fields, back_to.as_deref())?;
        set_csrf_cookie(&mut response, &csrf)?;
        return Ok(response);
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
    if session_id.is_some() {
        set_cookie(&mut response, SESSION_COOKIE, "", "/", Some(0), "Lax")?;
    }
    Ok(response)
}
