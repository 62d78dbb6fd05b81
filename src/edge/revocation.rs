//! The gateway's revocation check: [`crate::revocation`] over KV, with two per-isolate
//! memories. "Not revoked" answers are trusted for `revocation.cacheSeconds`; revocations this
//! isolate wrote itself ([`State::revoked_here`]) hold at once.

use std::rc::Rc;

use worker::Env;

use super::kv::Kv;
use super::state::State;
use crate::revocation::{self, Entries};
use crate::Verified;

/// The list could not be read.
pub struct Unavailable(pub String);

/// Whether a verified token is revoked. Reads KV unless every one of its entries was read and
/// found absent within the last `revocation.cacheSeconds`.
pub async fn is_revoked(
    env: &Env,
    state: &Rc<State>,
    token: &Verified,
    now_ms: f64,
) -> Result<bool, Unavailable> {
    let Some(config) = state.config.as_ref() else {
        return Ok(false);
    };
    let window_ms = config.revocation.cache_seconds as f64 * 1000.0;
    let lookup = revocation::lookup(token, &config.issuer);
    let here = {
        let written = state.revoked_here.borrow();
        let local = |key: &Option<String>| key.as_ref().and_then(|k| written.get(k)).cloned();
        Entries {
            jti: local(&lookup.jti),
            subject: local(&lookup.subject),
            family: local(&lookup.family),
        }
    };
    if revocation::is_revoked(token, &here) {
        return Ok(true);
    }
    let recently_clear = lookup.keys().all(|key| {
        state
            .not_revoked
            .borrow()
            .get(key)
            .is_some_and(|at| now_ms - at < window_ms)
    });
    if recently_clear {
        return Ok(false);
    }
    let kv = Kv::for_state(env, state).map_err(Unavailable)?;
    let entries = revocation::read(&kv, &lookup)
        .await
        .map_err(|e| Unavailable(format!("KV read: {e}")))?;
    let revoked = revocation::is_revoked(token, &entries);
    if !revoked {
        let mut memory = state.not_revoked.borrow_mut();
        if memory.len() > 50_000 {
            memory.clear();
        }
        for key in lookup.keys() {
            memory.insert(key.clone(), now_ms);
        }
    }
    Ok(revoked)
}
