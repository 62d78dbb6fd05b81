//! The verified-token cache: a bounded map from a token's SHA-256 to its verified claims.
//!
//! Verification of an asymmetric signature costs far more than a hash, and the same token
//! arrives many times in a row. An entry lives until the token's `exp` (claims are otherwise
//! static once verified) and is evicted oldest-first when the cache is full. The revocation
//! check is *not* cached here: callers check it on every hit (see `revocation`).

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use sha2::{Digest, Sha256};

use crate::verify::Verified;

/// A token's cache key.
pub type Fingerprint = [u8; 32];

/// The fingerprint of a token: SHA-256 of its text.
pub fn fingerprint(token: &str) -> Fingerprint {
    Sha256::digest(token.as_bytes()).into()
}

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
    entries: HashMap<Fingerprint, Rc<Entry<T>>>,
    order: VecDeque<Fingerprint>,
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

    /// The entry for `key`, if present and not expired at `now`.
    pub fn get(&mut self, key: &Fingerprint, now: i64) -> Option<Rc<Entry<T>>> {
        match self.entries.get(key) {
            Some(entry) if entry.until > now => Some(Rc::clone(entry)),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores a verified token until its `exp` and returns its entry. Tokens without `exp`
    /// (and every token when the capacity is 0) are returned but not stored.
    pub fn insert(&mut self, key: Fingerprint, verified: Verified, source: T) -> Rc<Entry<T>> {
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
        if self.entries.insert(key, Rc::clone(&entry)).is_none() {
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
    pub fn remove(&mut self, key: &Fingerprint) {
        self.entries.remove(key);
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
        cache.insert(fingerprint(&t1), v1, ());
        cache.insert(fingerprint(&t2), v2, ());
        assert!(cache.get(&fingerprint(&t1), 109).is_some());
        assert!(
            cache.get(&fingerprint(&t1), 110).is_none(),
            "expired at exp"
        );
        cache.insert(fingerprint(&t3), v3, ());
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&fingerprint(&t3), 100).is_some());
        cache.remove(&fingerprint(&t3));
        assert!(cache.get(&fingerprint(&t3), 100).is_none());
        let mut off = TokenCache::new(0);
        let (t4, v4) = verified(100, 100);
        off.insert(fingerprint(&t4), v4, ());
        assert!(off.is_empty());
    }

    #[test]
    fn oldest_is_evicted_first() {
        let mut cache = TokenCache::new(3);
        let tokens: Vec<_> = (0..5).map(|_| verified(100, 100)).collect();
        for (t, v) in &tokens {
            cache.insert(fingerprint(t), v.clone(), ());
        }
        assert!(cache.get(&fingerprint(&tokens[0].0), 100).is_none());
        assert!(cache.get(&fingerprint(&tokens[1].0), 100).is_none());
        assert!(cache.get(&fingerprint(&tokens[4].0), 100).is_some());
    }
}
