//! Where OAuth state lives: a key-value store with time-to-live, as Workers KV provides
//! ([`Store`]), and for the rules that say "once" a store that can do these atomically
//! ([`AtomicStore`]): apply a pure [`Transition`] to one or two records (what every single-use
//! and counting rule uses), read a record with its version, compare-and-swap on that version,
//! and take a record (read and delete as one step). A Durable Object provides them at the edge; Workers
//! KV cannot (no compare-and-swap, eventually consistent), so its implementation of
//! [`AtomicStore`] is a documented best effort (`consistency = "kv"`).
//! Async and `?Send` (JS handles are not `Send`); [`MemoryStore`] serves the core's tests with
//! the same semantics as the Durable Object.

use core::fmt;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// The store failed (unreachable, quota, …). Callers fail closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store error: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    /// The store refused a write because the key was written within the last second: Workers
    /// KV takes one write a second per key (<https://developers.cloudflare.com/kv/platform/limits/>),
    /// which local KV never enforces. The adapter that meets it says so with this error.
    pub fn write_rate_limited() -> Self {
        StoreError(WRITE_RATE_LIMITED.to_owned())
    }

    /// Whether this is [`StoreError::write_rate_limited`].
    pub fn is_write_rate_limited(&self) -> bool {
        self.0 == WRITE_RATE_LIMITED
    }
}

const WRITE_RATE_LIMITED: &str = "the key was written less than a second ago";

/// A key-value store with optional expiry (seconds; KV's minimum is 60).
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The value under `key`.
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// The values under `keys`, in their order: one read where the store has one for several
    /// keys (Workers KV's bulk get), else a `get` per key, concurrently.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError> {
        futures_util::future::join_all(keys.iter().map(|key| self.get(key)))
            .await
            .into_iter()
            .collect()
    }
    /// Writes `value` under `key`, expiring after `ttl` seconds when given.
    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), StoreError>;
    /// Removes `key`.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// A record and the version a [`AtomicStore::compare_and_swap`] must name to replace it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// The stored text.
    pub value: String,
    /// Changes on every write of the key.
    pub version: u64,
}

/// The atomic primitives the single-use and counting rules need. Each call is one step: no
/// other call on the same key happens in between.
#[allow(async_fn_in_trait)]
pub trait AtomicStore: Store {
    /// The value under `key` with its version.
    async fn get_versioned(&self, key: &str) -> Result<Option<Versioned>, StoreError>;
    /// Writes `value` only if the key's version is still `expected` (`None`: only if absent).
    /// `Ok(false)` when someone else wrote first; then read again and re-decide.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<u64>,
        value: &str,
        ttl: Option<u64>,
    ) -> Result<bool, StoreError>;
    /// Returns the value under `key` and removes it, in one step: of two concurrent takes,
    /// exactly one gets the value.
    async fn take(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Applies a pure [`Transition`] to two records in one step: reads both, runs the rule,
    /// writes what it says, and returns its answer. The two keys must name the same object
    /// (the same routing slot, [`crate::schema::routed`]), so one request does it all.
    async fn apply(
        &self,
        transition: &Transition,
        first: &str,
        second: &str,
        input: &str,
    ) -> Result<String, StoreError>;
}

/// A rule about state, as a pure function the store runs atomically: from the current text of
/// two records and an input, what to write and what to answer. A store that cannot write both
/// at once (KV) writes the second before the first: rules put what they create second and what
/// they spend first, so an interrupted step spends nothing. The rules live with the core's
/// other rules (listed by `crate::oauth::transition`); a store only loads, applies and persists.
#[derive(Debug)]
pub struct Transition {
    /// Its name, by which a remote store (a Durable Object) finds the same rule.
    pub name: &'static str,
    /// The rule.
    pub apply: Rule,
}

/// Applies a transition with plain reads and writes: atomic only where nothing can run in
/// between (the in-memory store); elsewhere (KV) a best effort that writes the second record
/// before the first, so an interrupted step spends nothing.
pub async fn apply_in_steps<S: Store>(
    store: &S,
    transition: &Transition,
    first: &str,
    second: &str,
    input: &str,
) -> Result<String, StoreError> {
    let (a, b) = futures_util::future::join(store.get(first), store.get(second)).await;
    let applied = (transition.apply)(a?.as_deref(), b?.as_deref(), input).map_err(StoreError)?;
    for (key, write) in [(second, applied.second), (first, applied.first)] {
        match write {
            Write::Keep => {}
            Write::Put(value, ttl) => store.put(key, &value, ttl).await?,
            Write::Delete => store.delete(key).await?,
        }
    }
    Ok(applied.answer)
}

/// A transition's rule: the current text of the two records (absent or not) and the input,
/// to what to write and what to answer; `Err` for an input it cannot read.
pub type Rule = fn(Option<&str>, Option<&str>, &str) -> Result<Applied, String>;

/// What a transition decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// What to do with the first record.
    pub first: Write,
    /// What to do with the second record.
    pub second: Write,
    /// The answer for the caller (JSON).
    pub answer: String,
}

impl Applied {
    /// The decision of a rule over one record (its first and second key are the same): what
    /// to do with it, and the answer.
    pub fn one(first: Write, answer: impl Into<String>) -> Applied {
        Applied {
            first,
            second: Write::Keep,
            answer: answer.into(),
        }
    }
}

/// One write of a transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Leave the record as it is.
    Keep,
    /// Store this text, expiring after this many seconds.
    Put(String, Option<u64>),
    /// Remove the record.
    Delete,
}

/// An in-memory store for tests. It records TTLs but does not expire entries by itself;
/// [`MemoryStore::expire_all`] simulates the passage of time.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: RefCell<BTreeMap<String, Entry>>,
    fail: RefCell<bool>,
    limited: RefCell<Option<String>>,
    writes: RefCell<u64>,
}

#[derive(Debug)]
struct Entry {
    value: String,
    ttl: Option<u64>,
    version: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every key with its value and TTL, for assertions.
    pub fn dump(&self) -> Vec<(String, String, Option<u64>)> {
        self.entries
            .borrow()
            .iter()
            .map(|(k, e)| (k.clone(), e.value.clone(), e.ttl))
            .collect()
    }

    /// Makes every later call fail (fault injection).
    pub fn set_failing(&self, failing: bool) {
        *self.fail.borrow_mut() = failing;
    }

    /// Refuses every write (put or delete) of a key starting with `prefix` as Workers KV
    /// refuses a second write to one key within a second ([`StoreError::write_rate_limited`]);
    /// `None` lifts it.
    pub fn limit_writes(&self, prefix: Option<&str>) {
        *self.limited.borrow_mut() = prefix.map(str::to_owned);
    }

    /// Drops every entry that has a TTL.
    pub fn expire_all(&self) {
        self.entries.borrow_mut().retain(|_, e| e.ttl.is_none());
    }

    fn next_version(&self) -> u64 {
        let mut writes = self.writes.borrow_mut();
        *writes += 1;
        *writes
    }

    fn check(&self) -> Result<(), StoreError> {
        if *self.fail.borrow() {
            return Err(StoreError("injected failure".into()));
        }
        Ok(())
    }

    fn check_write(&self, key: &str) -> Result<(), StoreError> {
        self.check()?;
        match self.limited.borrow().as_deref() {
            Some(prefix) if key.starts_with(prefix) => Err(StoreError::write_rate_limited()),
            _ => Ok(()),
        }
    }
}

impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.check()?;
        Ok(self.entries.borrow().get(key).map(|e| e.value.clone()))
    }

    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), StoreError> {
        self.check_write(key)?;
        let version = self.next_version();
        self.entries.borrow_mut().insert(
            key.to_owned(),
            Entry {
                value: value.to_owned(),
                ttl,
                version,
            },
        );
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check_write(key)?;
        self.entries.borrow_mut().remove(key);
        Ok(())
    }
}

impl AtomicStore for MemoryStore {
    async fn get_versioned(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        self.check()?;
        Ok(self.entries.borrow().get(key).map(|e| Versioned {
            value: e.value.clone(),
            version: e.version,
        }))
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<u64>,
        value: &str,
        ttl: Option<u64>,
    ) -> Result<bool, StoreError> {
        self.check()?;
        let current = self.entries.borrow().get(key).map(|e| e.version);
        if current != expected {
            return Ok(false);
        }
        self.put(key, value, ttl).await?;
        Ok(true)
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.check()?;
        Ok(self.entries.borrow_mut().remove(key).map(|e| e.value))
    }

    async fn apply(
        &self,
        transition: &Transition,
        first: &str,
        second: &str,
        input: &str,
    ) -> Result<String, StoreError> {
        self.check()?;
        // One thread and no awaits that yield: the steps below cannot interleave.
        apply_in_steps(self, transition, first, second, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready<T>(future: impl core::future::Future<Output = T>) -> T {
        futures_util::FutureExt::now_or_never(future).expect("MemoryStore never waits")
    }

    #[test]
    fn compare_and_swap_names_the_version_it_replaces() {
        let store = MemoryStore::new();
        assert!(ready(store.compare_and_swap("k", None, "a", None)).unwrap());
        assert!(!ready(store.compare_and_swap("k", None, "b", None)).unwrap());
        let first = ready(store.get_versioned("k")).unwrap().unwrap();
        assert!(ready(store.compare_and_swap("k", Some(first.version), "c", None)).unwrap());
        assert!(
            !ready(store.compare_and_swap("k", Some(first.version), "d", None)).unwrap(),
            "a stale version loses"
        );
        assert_eq!(ready(store.get("k")).unwrap().as_deref(), Some("c"));
    }

    #[test]
    fn take_hands_a_value_out_once() {
        let store = MemoryStore::new();
        ready(store.put("k", "v", Some(60))).unwrap();
        assert_eq!(ready(store.take("k")).unwrap().as_deref(), Some("v"));
        assert_eq!(ready(store.take("k")).unwrap(), None);
    }
}
