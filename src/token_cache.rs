//! The verified-token cache: a bounded map from a token to its verified claims.
//!
//! Verification of an asymmetric signature costs far more than a lookup, and the same token
//! arrives many times in a row. An entry lives until the token's `exp` (claims are otherwise
//! static once verified) and is evicted oldest-first when the cache is full. The revocation
//! check is *not* cached here: callers check it on every hit (see `revocation`).
//!
//! The key is the token's text, compared whole, so a hit is exact with no collision to argue
//! about, and the commonest request hashes with the map's SipHash rather than SHA-256 (about a
//! seventh of the wasm's time on a cache hit went to SHA-256 when the key was a digest). An
//! entry holds its token once, shared by the map and the eviction order: a few hundred bytes
//! beside the claims it already keeps.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use crate::verify::Verified;

/// What the cache holds for one token.
#[derive(Debug)]
pub struct Entry<T> {
    /// The verified token.
    pub verified: Verified,
    /// Which trusted issuer verified it (adapter-defined).
    pub source: T,
    /// Until when the entry may be served (the token's `exp`).
    pub until: i64,
}

/// A bounded cache of verified tokens.
#[derive(Debug)]
pub struct TokenCache<T> {
    capacity: usize,
    entries: HashMap<Rc<str>, Rc<Entry<T>>>,
    order: VecDeque<Rc<str>>,
}

impl<T> TokenCache<T> {
    /// A cache of at most `capacity` entries (0 caches nothing).
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            capacity,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The entry for `token`, if present and not expired at `now`.
    pub fn get(&mut self, token: &str, now: i64) -> Option<Rc<Entry<T>>> {
        match self.entries.get(token) {
            Some(entry) if entry.until > now => Some(Rc::clone(entry)),
            Some(_) => {
                self.entries.remove(token);
                None
            }
            None => None,
        }
    }

    /// Stores a verified token until its `exp` and returns its entry. Tokens without `exp`
    /// (and every token when the capacity is 0) are returned but not stored.
    pub fn insert(&mut self, token: &str, verified: Verified, source: T) -> Rc<Entry<T>> {
        let until = verified.expires_at();
        let entry = Rc::new(Entry {
            until: until.unwrap_or(i64::MIN),
            verified,
            source,
        });
        if self.capacity == 0 || until.is_none() {
            return entry;
        }
        while self.entries.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
        let key: Rc<str> = token.into();
        if self
            .entries
            .insert(Rc::clone(&key), Rc::clone(&entry))
            .is_none()
        {
            self.order.push_back(key);
        }
        // Keys removed on expiry stay in `order` until they reach the front; bound it too.
        if self.order.len() > self.capacity.saturating_mul(2) {
            let entries = &self.entries;
            self.order.retain(|key| entries.contains_key(key));
        }
        entry
    }

    /// Forgets one token (after it is revoked here).
    pub fn remove(&mut self, token: &str) {
        self.entries.remove(token);
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Algorithm, Key, KeySet, Policy, TokenBuilder, Verifier};

    fn verified(now: i64, lifetime: u64) -> (String, Verified) {
        let key = Key::generate(Algorithm::HS256).unwrap();
        let token = TokenBuilder::new(now)
            .lifetime(lifetime)
            .sign(&key)
            .unwrap();
        let set = KeySet::from_keys(vec![key]).unwrap();
        let v = Verifier::new(set, Policy::default())
            .unwrap()
            .verify(&token, now)
            .unwrap();
        (token, v)
    }

    #[test]
    fn entries_live_until_exp_and_the_cache_is_bounded() {
        let mut cache = TokenCache::new(2);
        let (t1, v1) = verified(100, 10);
        let (t2, v2) = verified(100, 100);
        let (t3, v3) = verified(100, 100);
        cache.insert(&t1, v1, ());
        cache.insert(&t2, v2, ());
        assert!(cache.get(&t1, 109).is_some());
        assert!(cache.get(&t1, 110).is_none(), "expired at exp");
        cache.insert(&t3, v3, ());
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&t3, 100).is_some());
        cache.remove(&t3);
        assert!(cache.get(&t3, 100).is_none());
        let mut off = TokenCache::new(0);
        let (t4, v4) = verified(100, 100);
        off.insert(&t4, v4, ());
        assert!(off.is_empty());
    }

    #[test]
    fn oldest_is_evicted_first() {
        let mut cache = TokenCache::new(3);
        let tokens: Vec<_> = (0..5).map(|_| verified(100, 100)).collect();
        for (t, v) in &tokens {
            cache.insert(t, v.clone(), ());
        }
        assert!(cache.get(&tokens[0].0, 100).is_none());
        assert!(cache.get(&tokens[1].0, 100).is_none());
        assert!(cache.get(&tokens[4].0, 100).is_some());
    }
}
