//! `POST /revoke` (RFC 7009) and `POST /admin/revoke-subject`, authorised by the admin secret
//! until OAuth client authentication exists.

use std::rc::Rc;

use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use worker::{Context, Date, Env, FormEntry, Request, Response, Result};

use super::bindings;
use super::gateway::trusted_verifier;
use super::respond;
use super::revocation;
use super::state::State;
use crate::token_cache::fingerprint;

/// Compares the presented admin token with the secret in constant time (hashing first, so the
/// comparison does not even leak the length).
fn admin_authorised(req: &Request, env: &Env) -> std::result::Result<(), Result<Response>> {
    let Ok(secret) = env.secret(bindings::ADMIN_TOKEN).map(|s| s.to_string()) else {
        return Err(respond::json(
            403,
            &json!({ "error": "access_denied", "error_description": "admin endpoints are disabled: TOLLGATE_ADMIN_TOKEN is not set", "code": "ERR_ADMIN_DISABLED" }),
        ));
    };
    let presented = req
        .headers()
        .get("Authorization")
        .ok()
        .flatten()
        .and_then(|value| value.strip_prefix("Bearer ").map(str::to_owned))
        .unwrap_or_default();
    let equal: bool = Sha256::digest(presented.as_bytes())
        .ct_eq(&Sha256::digest(secret.as_bytes()))
        .into();
    if equal && !secret.is_empty() {
        return Ok(());
    }
    Err(respond::json(
        401,
        &json!({ "error": "invalid_client", "code": "ERR_ADMIN_UNAUTHORIZED" }),
    )
    .and_then(|mut r| {
        r.headers_mut()
            .set("WWW-Authenticate", r#"Bearer realm="tollgate-admin""#)?;
        Ok(r)
    }))
}

async fn form_field(req: &mut Request, name: &str) -> Result<Option<String>> {
    let form = req.form_data().await?;
    Ok(match form.get(name) {
        Some(FormEntry::Field(value)) => Some(value),
        _ => None,
    })
}

/// RFC 7009 §2: revokes the token given in the form. A token that does not verify is answered
/// with 200 as well (§2.2): there is nothing to revoke, and the answer reveals nothing.
pub async fn revoke(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    state: Rc<State>,
) -> Result<Response> {
    if let Err(response) = admin_authorised(&req, env) {
        return response;
    }
    let Some(config) = state.config.as_ref() else {
        return respond::server_error(500, "ERR_CONFIG_MISSING", "TOLLGATE_CONFIG is not set");
    };
    let token = match form_field(&mut req, "token").await {
        Ok(Some(token)) if !token.is_empty() => token,
        _ => {
            return respond::json(
                400,
                &json!({ "error": "invalid_request", "error_description": "the form parameter 'token' is required" }),
            )
        }
    };
    let now_ms = Date::now().as_millis() as f64;
    let now = (now_ms / 1000.0).floor() as i64;
    let Ok((verifier, _, untrusted)) = trusted_verifier(&state, config, ctx, &token, now_ms).await
    else {
        return respond::json(200, &json!({}));
    };
    let Ok(checked) = verifier.check_signature(untrusted) else {
        return respond::json(200, &json!({}));
    };
    let claims: serde_json::Value = serde_json::from_slice(checked.payload()).unwrap_or_default();
    let issuer = claims["iss"].as_str().unwrap_or("");
    let Some(jti) = claims["jti"].as_str() else {
        return respond::json(
            400,
            &json!({ "error": "unsupported_token_type", "error_description": "the token has no jti, so it cannot be revoked alone; revoke its subject instead" }),
        );
    };
    if let Err(err) =
        revocation::revoke_token(env, &state, issuer, jti, claims["exp"].as_i64(), now).await
    {
        return respond::server_error(
            503,
            "ERR_REVOCATION_UNAVAILABLE",
            &format!("KV write failed: {err}"),
        );
    }
    state.token_cache.borrow_mut().remove(&fingerprint(&token));
    respond::log(json!({ "level": "info", "event": "revoke", "jti": jti, "iss": issuer }));
    respond::json(200, &json!({}))
}

/// Revokes every token issued to a subject until now (form: `sub`, optional `iss`).
pub async fn revoke_subject(mut req: Request, env: &Env, state: Rc<State>) -> Result<Response> {
    if let Err(response) = admin_authorised(&req, env) {
        return response;
    }
    let Some(config) = state.config.as_ref() else {
        return respond::server_error(500, "ERR_CONFIG_MISSING", "TOLLGATE_CONFIG is not set");
    };
    let form = req.form_data().await?;
    let field = |name: &str| match form.get(name) {
        Some(FormEntry::Field(value)) if !value.is_empty() => Some(value),
        _ => None,
    };
    let Some(sub) = field("sub") else {
        return respond::json(
            400,
            &json!({ "error": "invalid_request", "error_description": "the form parameter 'sub' is required" }),
        );
    };
    let issuer = field("iss").unwrap_or_else(|| config.issuer.clone());
    let now = (Date::now().as_millis() / 1000) as i64;
    if let Err(err) = revocation::revoke_subject(env, &state, &issuer, &sub, now).await {
        return respond::server_error(
            503,
            "ERR_REVOCATION_UNAVAILABLE",
            &format!("KV write failed: {err}"),
        );
    }
    respond::log(
        json!({ "level": "info", "event": "revoke-subject", "sub": sub, "iss": issuer, "before": now }),
    );
    respond::json(
        200,
        &json!({ "sub": sub, "iss": issuer, "revokedBefore": now }),
    )
}
