//! The gateway's revocation check: [`crate::revocation`] over KV, with two per-isolate
//! memories. What KV held for a key is trusted for `revocation.cacheSeconds`; revocations this
//! isolate wrote itself, or that the issuer wrote for a request this guard forwarded
//! ([`RevokedHere`]), hold at once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

use worker::Env;

use super::kv::Kv;
use super::state::State;
use crate::revocation::{self, Entries, Lookup};
use crate::Verified;

/// The list could not be read.
pub struct Unavailable(pub String);

/// Whether a verified token is revoked. Reads KV unless every one of its entries was read
/// within the last `revocation.cacheSeconds`. The entries are remembered as read, not as a
/// verdict: a subject entry that does not cut a newer token still cuts an older one of the
/// same subject (remembered as "clear", it let an older token without `jti`, whose only key
/// is its subject's, through for as long as newer ones kept the memory fresh: an outside run).
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
    let remembered = remembered(&state.recently_read.borrow(), &lookup, now_ms - window_ms);
    if let Some(entries) = remembered {
        return Ok(revocation::is_revoked(token, &entries));
    }
    let kv = Kv::for_state(env, state).map_err(Unavailable)?;
    let entries = revocation::read(&kv, &lookup)
        .await
        .map_err(|e| Unavailable(format!("KV read: {e}")))?;
    let mut memory = state.recently_read.borrow_mut();
    if memory.len() > 50_000 {
        memory.clear();
    }
    for (key, entry) in [
        (&lookup.jti, &entries.jti),
        (&lookup.subject, &entries.subject),
        (&lookup.family, &entries.family),
    ] {
        if let Some(key) = key {
            memory.insert(key.clone(), (now_ms, entry.clone()));
        }
    }
    Ok(revocation::is_revoked(token, &entries))
}

/// The entries of `lookup` as read after `since_ms`, if every one of them was.
fn remembered(
    memory: &HashMap<String, (f64, Option<String>)>,
    lookup: &Lookup,
    since_ms: f64,
) -> Option<Entries> {
    let read = |key: &Option<String>| match key {
        None => Some(None),
        Some(key) => memory
            .get(key)
            .filter(|(at, _)| *at > since_ms)
            .map(|(_, entry)| entry.clone()),
    };
    Some(Entries {
        jti: read(&lookup.jti)?,
        subject: read(&lookup.subject)?,
        family: read(&lookup.family)?,
    })
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
/// what KV held for its key before is forgotten.
pub fn remember(state: &State, key: &str, value: &str) {
    state.recently_read.borrow_mut().remove(key);
    state.revoked_here.borrow_mut().insert(key, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What KV held is remembered per key, entries included: a subject's cut-off read for a
    /// newer token is there for an older one too, and a key not read lately sends the check
    /// to KV.
    #[test]
    fn the_memory_answers_with_the_entries_read_not_a_verdict() {
        let cutoff = r#"{"before":100}"#.to_owned();
        let memory: HashMap<String, (f64, Option<String>)> = [
            ("sub".to_owned(), (5_000.0, Some(cutoff.clone()))),
            ("jti".to_owned(), (5_000.0, None)),
            ("old".to_owned(), (1_000.0, None)),
        ]
        .into();
        let lookup = |jti: &str| Lookup {
            jti: Some(jti.to_owned()),
            subject: Some("sub".to_owned()),
            family: None,
        };
        let subject_only = Lookup {
            jti: None,
            ..lookup("")
        };
        let entries = remembered(&memory, &subject_only, 4_000.0).unwrap();
        assert_eq!(entries.subject, Some(cutoff));
        assert_eq!((entries.jti, entries.family), (None, None));
        assert!(remembered(&memory, &lookup("jti"), 4_000.0).is_some());
        assert!(
            remembered(&memory, &lookup("old"), 4_000.0).is_none(),
            "read too long ago"
        );
        assert!(
            remembered(&memory, &lookup("new"), 4_000.0).is_none(),
            "never read"
        );
    }

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
