//! Workers KV as the core's [`Store`].

use std::rc::Rc;

use worker::{Env, KvStore};

use super::bindings;
use super::state::State;
use crate::revocation;
use crate::store::{AtomicStore, Store, StoreError, Transition, Versioned};

/// The `TOLLGATE_KV` namespace. Revocations written through it are also remembered by the
/// isolate ([`State::revoked_here`]), so they hold here at once.
pub struct Kv {
    kv: KvStore,
    state: Rc<State>,
}

/// Most revocations an isolate remembers having written; past it the memory starts again
/// (KV still holds every one).
const MAX_REMEMBERED: usize = 10_000;

impl Kv {
    /// The namespace, for this isolate's state.
    pub fn new(kv: KvStore, state: Rc<State>) -> Self {
        Kv { kv, state }
    }

    /// The bound namespace, or why there is none.
    pub fn for_state(env: &Env, state: &Rc<State>) -> Result<Self, String> {
        env.kv(bindings::KV)
            .map(|kv| Kv::new(kv, Rc::clone(state)))
            .map_err(|e| format!("KV binding {}: {e}", bindings::KV))
    }
}

/// KV keys never carry the coordinator's routing slot (README's table spells them bare).
fn bare(key: &str) -> &str {
    crate::schema::unrouted(key).0
}

impl Store for Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.kv
            .get(bare(key))
            .text()
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), StoreError> {
        let key = bare(key);
        let put = self
            .kv
            .put(key, value)
            .map_err(|e| StoreError(e.to_string()))?;
        let put = match ttl {
            Some(ttl) => put.expiration_ttl(ttl),
            None => put,
        };
        put.execute().await.map_err(|e| StoreError(e.to_string()))?;
        if revocation::is_revocation_key(key) {
            self.state.not_revoked.borrow_mut().remove(key);
            let mut here = self.state.revoked_here.borrow_mut();
            if here.len() >= MAX_REMEMBERED {
                here.clear();
            }
            here.insert(key.to_owned(), value.to_owned());
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.kv
            .delete(bare(key))
            .await
            .map_err(|e| StoreError(e.to_string()))
    }
}

/// `consistency = "kv"`: the atomic operations emulated on KV, which has no compare-and-swap
/// and is eventually consistent. Each is a read followed by a write, so two requests at nearly
/// the same time can both "win" (README, "Consistency"). The version is a hash of the value.
impl AtomicStore for Kv {
    async fn get_versioned(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        Ok(self.get(key).await?.map(|value| Versioned {
            version: content_version(&value),
            value,
        }))
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<u64>,
        value: &str,
        ttl: Option<u64>,
    ) -> Result<bool, StoreError> {
        let current = self.get(key).await?.map(|v| content_version(&v));
        if current != expected {
            return Ok(false);
        }
        self.put(key, value, ttl).await?;
        Ok(true)
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        let value = self.get(key).await?;
        if value.is_some() {
            self.delete(key).await?;
        }
        Ok(value)
    }

    async fn apply(
        &self,
        transition: &Transition,
        first: &str,
        second: &str,
        input: &str,
    ) -> Result<String, StoreError> {
        crate::store::apply_in_steps(self, transition, first, second, input).await
    }
}

fn content_version(value: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(value.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}
