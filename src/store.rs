//! Where OAuth state lives: a key-value store with time-to-live, as Workers KV provides.
//! Async and `?Send` (JS handles are not `Send`); [`MemoryStore`] serves the core's tests.

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

/// A key-value store with optional expiry (seconds; KV's minimum is 60).
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The value under `key`.
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Writes `value` under `key`, expiring after `ttl` seconds when given.
    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), StoreError>;
    /// Removes `key`.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// An in-memory store for tests. It records TTLs but does not expire entries by itself;
/// [`MemoryStore::expire_all`] simulates the passage of time.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: RefCell<BTreeMap<String, (String, Option<u64>)>>,
    fail: RefCell<bool>,
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
            .map(|(k, (v, ttl))| (k.clone(), v.clone(), *ttl))
            .collect()
    }

    /// Makes every later call fail (fault injection).
    pub fn set_failing(&self, failing: bool) {
        *self.fail.borrow_mut() = failing;
    }

    /// Drops every entry that has a TTL.
    pub fn expire_all(&self) {
        self.entries
            .borrow_mut()
            .retain(|_, (_, ttl)| ttl.is_none());
    }

    fn check(&self) -> Result<(), StoreError> {
        if *self.fail.borrow() {
            return Err(StoreError("injected failure".into()));
        }
        Ok(())
    }
}

impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.check()?;
        Ok(self.entries.borrow().get(key).map(|(v, _)| v.clone()))
    }

    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), StoreError> {
        self.check()?;
        self.entries
            .borrow_mut()
            .insert(key.to_owned(), (value.to_owned(), ttl));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check()?;
        self.entries.borrow_mut().remove(key);
        Ok(())
    }
}
