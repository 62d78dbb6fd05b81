//! The revocation list in Workers KV: reading it for every verified token (with a short
//! per-isolate memory of "not revoked" answers) and writing it from `/revoke`.

use std::rc::Rc;

use worker::Env;

use super::bindings;
use super::state::State;
use crate::revocation::{self, SubjectRevocation, TokenRevocation};
use crate::Verified;

/// The list could not be read.
pub struct Unavailable(pub String);

/// Whether a verified token is revoked. Reads KV unless both of its entries were read and found
/// absent within the last `revocation.cacheSeconds`.
pub async fn is_revoked(
    env: &Env,
    state: &Rc<State>,
    token: &Verified,
    now_ms: f64,
) -> Result<bool, Unavailable> {
    let window_ms = state
        .config
        .as_ref()
        .map_or(0, |c| c.revocation.cache_seconds) as f64
        * 1000.0;
    let lookup = revocation::lookup(token);
    let keys: Vec<String> = [lookup.jti, lookup.subject].into_iter().flatten().collect();
    let recently_clear = keys.iter().all(|key| {
        state
            .not_revoked
            .borrow()
            .get(key)
            .is_some_and(|at| now_ms - at < window_ms)
    });
    if recently_clear {
        return Ok(false);
    }
    let kv = env
        .kv(bindings::KV)
        .map_err(|e| Unavailable(format!("KV binding: {e}")))?;
    let (jti_entry, subject_entry) = futures_util::future::join(
        read(
            &kv,
            token
                .jti()
                .map(|jti| revocation::jti_key(token.claim_str("iss").unwrap_or(""), jti)),
        ),
        read(
            &kv,
            token
                .subject()
                .map(|sub| revocation::subject_key(token.claim_str("iss").unwrap_or(""), sub)),
        ),
    )
    .await;
    let revoked = revocation::is_revoked(token, jti_entry?.as_deref(), subject_entry?.as_deref());
    if !revoked {
        let mut memory = state.not_revoked.borrow_mut();
        if memory.len() > 50_000 {
            memory.clear();
        }
        for key in keys {
            memory.insert(key, now_ms);
        }
    }
    Ok(revoked)
}

async fn read(kv: &worker::KvStore, key: Option<String>) -> Result<Option<String>, Unavailable> {
    match key {
        None => Ok(None),
        Some(key) => kv
            .get(&key)
            .text()
            .await
            .map_err(|e| Unavailable(format!("KV read: {e}"))),
    }
}

/// Writes a token revocation, kept until the token would have expired.
pub async fn revoke_token(
    env: &Env,
    state: &State,
    issuer: &str,
    jti: &str,
    exp: Option<i64>,
    now: i64,
) -> worker::Result<()> {
    let key = revocation::jti_key(issuer, jti);
    let value = serde_json::to_string(&TokenRevocation { at: now })?;
    env.kv(bindings::KV)?
        .put(&key, value)?
        .expiration_ttl(revocation::token_ttl(exp, now))
        .execute()
        .await?;
    state.not_revoked.borrow_mut().remove(&key);
    Ok(())
}

/// Writes a subject revocation: every token issued to `sub` by `issuer` up to `now`.
pub async fn revoke_subject(
    env: &Env,
    state: &State,
    issuer: &str,
    sub: &str,
    now: i64,
) -> worker::Result<()> {
    let key = revocation::subject_key(issuer, sub);
    let value = serde_json::to_string(&SubjectRevocation { before: now })?;
    env.kv(bindings::KV)?
        .put(&key, value)?
        .expiration_ttl(revocation::subject_ttl())
        .execute()
        .await?;
    state.not_revoked.borrow_mut().remove(&key);
    Ok(())
}
