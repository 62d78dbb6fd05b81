//! The gateway's revocation check: [`crate::revocation`] over KV, with two per-isolate
//! memories. "Not revoked" answers are trusted for `revocation.cacheSeconds`; revocations this
//! isolate wrote itself, or that the issuer wrote for a request this guard forwarded
//! ([`RevokedHere`]), hold at once.

use std::collections::{HashMap, HashSet, VecDeque};
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

/// Most revocations an isolate remembers; past it the memory starts again (KV still holds
/// every one).
const MAX_REMEMBERED: usize = 10_000;

/// Request header by which the guard asks the issuer for the revocations a forwarded request
/// wrote ([`HANDOVER`]).
pub const ASK: &str = "Tollgate-Guard";

/// Response header from the issuer to the guard that forwarded the request: the revocations
/// written while it ran, as a JSON object from revocation-list key to value. The guard
/// remembers them, so a token revoked through it is refused at once there as in the issuer,
/// and removes the header before the client sees the answer.
pub const HANDOVER: &str = "Tollgate-Revoked";

/// Revocations that hold in this isolate at once, whatever KV's propagation delay: by key with
/// their value, and in the order they came, so that the issuer can hand the ones written during
/// a request to the guard that forwarded it.
#[derive(Default)]
pub struct RevokedHere {
    /// The value of each key, with the number of its latest write.
    by_key: HashMap<String, (u64, String)>,
    order: VecDeque<(u64, String)>,
    next: u64,
}

impl RevokedHere {
    pub fn get(&self, key: &str) -> Option<&String> {
        self.by_key.get(key).map(|(_, value)| value)
    }

    fn insert(&mut self, key: &str, value: &str) {
        let at = self.next;
        self.next += 1;
        self.by_key.insert(key.to_owned(), (at, value.to_owned()));
        self.order.push_back((at, key.to_owned()));
        // Full, the oldest are forgotten first (they wait for KV's propagation like any other
        // isolate's), never all at once: clearing everything let one client that revoked
        // 10,000 of its own tokens through an isolate wipe its memory of everyone's (an
        // outside read). A key written again leaves its older entries in `order`, which are
        // dropped on the way; twice the bound keeps that from growing without limit.
        while self.by_key.len() > MAX_REMEMBERED || self.order.len() > 2 * MAX_REMEMBERED {
            let Some((written, key)) = self.order.pop_front() else {
                break;
            };
            if self
                .by_key
                .get(&key)
                .is_some_and(|(latest, _)| *latest == written)
            {
                self.by_key.remove(&key);
            }
        }
    }

    /// Where the revocations remembered from now on start.
    #[cfg_attr(not(feature = "issuance"), allow(dead_code))]
    pub fn mark(&self) -> u64 {
        self.next
    }

    /// The revocations remembered since `mark`, each key once with its value (those of
    /// requests running at the same time in this isolate too: a guard remembering more
    /// revocations only refuses revoked tokens).
    #[cfg_attr(not(feature = "issuance"), allow(dead_code))]
    pub fn since(&self, mark: u64) -> Vec<(&str, &str)> {
        let mut seen = HashSet::new();
        self.order
            .iter()
            .rev()
            .take_while(|(at, _)| *at >= mark)
            .filter(|(_, key)| seen.insert(key.as_str()))
            .filter_map(|(_, key)| Some((key.as_str(), self.get(key)?.as_str())))
            .collect()
    }
}

/// Remembers a revocation written here or handed over by the issuer: it holds at once, and
/// the "not revoked" answer for its key is forgotten.
pub fn remember(state: &State, key: &str, value: &str) {
    state.not_revoked.borrow_mut().remove(key);
    state.revoked_here.borrow_mut().insert(key, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_a_mark_hands_over_what_was_remembered_after_it() {
        let mut here = RevokedHere::default();
        here.insert("revoked:jti:a", "{\"at\":1}");
        let mark = here.mark();
        assert!(here.since(mark).is_empty());
        here.insert("revoked:jti:b", "{\"at\":2}");
        here.insert("family:c", "{\"revoked_at\":3}");
        let mut handed = here.since(mark);
        handed.sort();
        assert_eq!(
            handed,
            [
                ("family:c", "{\"revoked_at\":3}"),
                ("revoked:jti:b", "{\"at\":2}")
            ]
        );
        assert_eq!(
            here.get("revoked:jti:a").map(String::as_str),
            Some("{\"at\":1}")
        );
    }

    #[test]
    fn a_key_remembered_twice_is_handed_over_once_with_its_last_value() {
        let mut here = RevokedHere::default();
        let mark = here.mark();
        here.insert("revoked:sub:s", "{\"before\":1}");
        here.insert("revoked:sub:s", "{\"before\":2}");
        assert_eq!(here.since(mark), [("revoked:sub:s", "{\"before\":2}")]);
        assert_eq!(
            here.get("revoked:sub:s").map(String::as_str),
            Some("{\"before\":2}")
        );
    }

    #[test]
    fn one_key_written_again_and_again_keeps_the_order_bounded() {
        let mut here = RevokedHere::default();
        for n in 0..3 * MAX_REMEMBERED {
            here.insert("revoked:sub:s", &format!("{{\"before\":{n}}}"));
        }
        assert!(here.order.len() <= 2 * MAX_REMEMBERED);
        let mark = here.mark();
        here.insert("revoked:sub:s", "{\"before\":-1}");
        assert_eq!(here.since(mark), [("revoked:sub:s", "{\"before\":-1}")]);
    }

    #[test]
    fn when_full_the_oldest_is_forgotten_first_never_all() {
        let mut here = RevokedHere::default();
        let mark = here.mark();
        for n in 0..MAX_REMEMBERED {
            here.insert(&format!("revoked:jti:{n}"), "{}");
        }
        here.insert("revoked:jti:last", "{}");
        assert!(here.get("revoked:jti:0").is_none());
        assert!(here.get("revoked:jti:1").is_some() && here.get("revoked:jti:last").is_some());
        assert_eq!(here.since(mark).len(), MAX_REMEMBERED);
    }
}
