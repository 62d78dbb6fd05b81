//! Workers KV as the core's [`Store`].

use worker::KvStore;

use crate::store::{Store, StoreError};

/// The `TOLLGATE_KV` namespace.
pub struct Kv(pub KvStore);

impl Store for Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0
            .get(key)
            .text()
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), StoreError> {
        let put = self
            .0
            .put(key, value)
            .map_err(|e| StoreError(e.to_string()))?;
        let put = match ttl {
            Some(ttl) => put.expiration_ttl(ttl),
            None => put,
        };
        put.execute().await.map_err(|e| StoreError(e.to_string()))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0
            .delete(key)
            .await
            .map_err(|e| StoreError(e.to_string()))
    }
}
