//! `POST /revoke` (RFC 7009) and `POST /admin/revoke-subject`.
//!
//! `/revoke` has two callers. A client authenticates as for `/token` and may revoke only what
//! was issued to it; the operator sends `Authorization: Bearer <TOLLGATE_ADMIN_TOKEN>` and may
//! revoke any token of any type: a JWT of this or a trusted external issuer (by `jti`), a
//! refresh token (its whole family, so the access tokens issued from it too), a session or an
//! API key.

use crate::codes::Code;
use std::rc::Rc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use worker::{Context, Date, Env, Request, Response, Result};

use super::bindings;
use super::gateway::trusted_verifier;
use super::kv::Kv;
use super::oauth::{self, Engine};
use super::respond;
use super::state::State;
use crate::json::Object;
use crate::oauth::{OAuthError, OAuthErrorCode, Revoker};
use crate::opaque;
use crate::revocation;

fn now() -> i64 {
    (Date::now().as_millis() / 1000) as i64
}

/// The `Authorization: Bearer` credentials of `req`, as they come.
pub(super) fn presented_bearer(req: &Request) -> Option<String> {
    let header = req.headers().get("Authorization").ok()??;
    crate::gateway::bearer(&header).map(str::to_owned)
}

/// Whether the request carries the admin token. Compared in constant time, hashing first so
/// the comparison does not even leak the length.
pub fn is_admin(req: &Request, state: &State) -> bool {
    let Some(secret) = state.admin_token.as_deref() else {
        return false;
    };
    let presented = presented_bearer(req).unwrap_or_default();
    let equal: bool = Sha256::digest(presented.as_bytes())
        .ct_eq(&Sha256::digest(secret.as_bytes()))
        .into();
    equal && !secret.is_empty()
}

/// The operator's credential check, as a ready refusal when it fails.
fn admin_authorised(req: &Request, state: &State) -> std::result::Result<(), Result<Response>> {
    if let Some(refused) = &state.admin_token_refused {
        return Err(respond::server_error(
            500,
            Code::ConfigInvalid.as_str(),
            refused,
        ));
    }
    if state.admin_token.is_none() {
        return Err(respond::refuse(
            Code::AdminDisabled,
            "access_denied",
            "admin endpoints are disabled: TOLLGATE_ADMIN_TOKEN is not set",
        ));
    }
    if is_admin(req, state) {
        return Ok(());
    }
    Err(respond::refuse(
        Code::AdminUnauthorized,
        "invalid_token",
        "the admin token is missing or wrong",
    )
    .and_then(|mut r| {
        r.headers_mut()
            .set("WWW-Authenticate", r#"Bearer realm="tollgate-admin""#)?;
        Ok(r)
    }))
}

async fn form(req: &mut Request) -> std::result::Result<crate::oauth::Form, OAuthError> {
    let body = super::body_within(req, crate::oauth::MAX_FORM_BYTES)
        .await
        .map_err(|_| OAuthError::new(OAuthErrorCode::InvalidRequest, "unreadable body"))?
        .ok_or_else(super::oauth::too_large)?;
    crate::oauth::parse_form_bytes(&body)
}

/// `POST /revoke`: the operator's path when a bearer token is presented, else a client's.
pub async fn revoke(req: Request, env: &Env, ctx: &Context, state: Rc<State>) -> Result<Response> {
    if presented_bearer(&req).is_none() {
        if env.secret(bindings::PEPPER).is_err() {
            // No OAuth clients exist without a pepper, so no client can authenticate here.
            return oauth::oauth_error(&OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "client authentication is required",
            ));
        }
        return match Engine::new(env, state) {
            Ok(engine) => oauth::revoke(req, &engine).await,
            Err(response) => response,
        };
    }
    if let Err(response) = admin_authorised(&req, &state) {
        return response;
    }
    operator_revoke(req, env, ctx, state).await
}

async fn operator_revoke(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    state: Rc<State>,
) -> Result<Response> {
    let Some(config) = state.config.clone() else {
        return respond::server_error(
            500,
            Code::ConfigMissing.as_str(),
            "TOLLGATE_CONFIG is not set",
        );
    };
    let token = match form(&mut req).await {
        Ok(params) => match params.get("token").filter(|t| !t.is_empty()) {
            Some(token) => token.clone(),
            None => {
                return oauth::oauth_error(&OAuthError::new(
                    OAuthErrorCode::InvalidRequest,
                    "the form parameter 'token' is required",
                ))
            }
        },
        Err(err) => return oauth::oauth_error(&err),
    };
    if opaque::parse(&token).is_some() {
        // Refresh tokens, sessions, API keys: the engine's records.
        let engine = match Engine::new(env, Rc::clone(&state)) {
            Ok(engine) => engine,
            Err(response) => return response,
        };
        let Some(verifier) = state.issued_verifier.as_ref() else {
            return respond::server_error(500, Code::ConfigMissing.as_str(), "no verifier");
        };
        if let Err(err) = engine
            .oauth()
            .revoke(&token, Revoker::Operator, verifier, now())
            .await
        {
            return oauth::oauth_error(&err);
        }
        // A session revoked is ended as a sign-out ends it, its relying parties told.
        engine.tell_relying_parties(ctx).await;
        respond::log(
            Object::new()
                .with("level", "info")
                .with("event", "revoke")
                .with("by", "operator")
                .with("tokenType", opaque::parse(&token).map(|k| k.name())),
        );
        return respond::json(200, Object::new().finish());
    }
    // A JWT of this deployment or of a trusted external issuer, revoked by `jti`.
    let now_ms = Date::now().as_millis() as f64;
    let Ok((verifier, _, untrusted)) = trusted_verifier(&state, &config, ctx, &token, now_ms).await
    else {
        return respond::json(200, Object::new().finish());
    };
    // Of that issuer's JWTs, only the kind its policy takes: this deployment's access tokens
    // (`at+jwt`), not an origin assertion carrying one's `jti` (RFC 8725 §3.11).
    let checked = match verifier
        .check_signature_with(untrusted, &state.webcrypto)
        .await
    {
        Ok(checked) if verifier.is_its_kind(&checked) => checked,
        _ => return respond::json(200, Object::new().finish()),
    };
    let claims: serde_json::Value = serde_json::from_slice(checked.payload()).unwrap_or_default();
    let issuer = claims["iss"].as_str().unwrap_or("");
    let Some(jti) = claims["jti"].as_str() else {
        return respond::json(
            400,
            Object::new().with("error", "unsupported_token_type").with("error_description", "the token has no jti, so it cannot be revoked alone; revoke its subject instead").finish(),
        );
    };
    let kv = match Kv::for_state(env, &state) {
        Ok(kv) => kv,
        Err(detail) => {
            return respond::server_error(503, Code::RevocationUnavailable.as_str(), &detail)
        }
    };
    if let Err(err) = revocation::revoke_jti(&kv, issuer, jti, claims["exp"].as_i64(), now()).await
    {
        return respond::server_error(
            503,
            Code::RevocationUnavailable.as_str(),
            &format!("KV write failed: {err}"),
        );
    }
    state.token_cache.borrow_mut().remove(&token);
    respond::log(
        Object::new()
            .with("level", "info")
            .with("event", "revoke")
            .with("by", "operator")
            .with("jti", jti)
            .with("iss", issuer),
    );
    respond::json(200, Object::new().finish())
}

/// `POST /admin/revoke-subject` (form: `sub`, optional `iss`): ends everything issued to the
/// subject until now: access tokens, sessions, refresh families and API keys.
pub async fn revoke_subject(mut req: Request, env: &Env, state: Rc<State>) -> Result<Response> {
    if let Err(response) = admin_authorised(&req, &state) {
        return response;
    }
    let Some(config) = state.config.clone() else {
        return respond::server_error(
            500,
            Code::ConfigMissing.as_str(),
            "TOLLGATE_CONFIG is not set",
        );
    };
    let params = match form(&mut req).await {
        Ok(params) => params,
        Err(err) => return oauth::oauth_error(&err),
    };
    let field = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    let Some(sub) = field("sub") else {
        return oauth::oauth_error(&OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "the form parameter 'sub' is required",
        ));
    };
    let issuer = field("iss").unwrap_or_else(|| config.issuer.clone());
    let now = revocation::Millis(Date::now().as_millis() as i64);
    let kv = match Kv::for_state(env, &state) {
        Ok(kv) => kv,
        Err(detail) => {
            return respond::server_error(503, Code::RevocationUnavailable.as_str(), &detail)
        }
    };
    if let Err(err) = revocation::revoke_subject(&kv, &issuer, &sub, now).await {
        return respond::server_error(
            503,
            Code::RevocationUnavailable.as_str(),
            &format!("KV write failed: {err}"),
        );
    }
    respond::log(
        Object::new()
            .with("level", "info")
            .with("event", "revoke-subject")
            .with("sub", &sub)
            .with("iss", &issuer)
            .with("before", now.seconds()),
    );
    respond::json(
        200,
        Object::new()
            .with("sub", sub)
            .with("iss", issuer)
            .with("revokedBefore", now.seconds())
            .finish(),
    )
}
