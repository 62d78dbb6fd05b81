//! Workers KV as the core's [`Store`].
//!
//! Through its own three-method binding rather than workers-rs's `KvStore`, whose option
//! builders link serde glue and float formatting into the module for what is here a `get`, a
//! `put` with a TTL and a `delete`.

use std::rc::Rc;

use js_sys::{Array, Map, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use super::bindings;
use super::state::State;
use crate::revocation;
use crate::store::{AtomicStore, Store, StoreError, Transition, Versioned};

#[wasm_bindgen]
extern "C" {
    /// A KV namespace binding (workerd's `KVNamespace`).
    type Namespace;

    /// Resolves to the value as text, or `null` (the default `type: "text"`).
    #[wasm_bindgen(method, catch)]
    fn get(this: &Namespace, key: &str) -> Result<Promise, JsValue>;

    /// KV's bulk get: resolves to a `Map` from each key to its text or `null`, in one read.
    #[wasm_bindgen(method, catch, js_name = get)]
    fn get_keys(this: &Namespace, keys: &Array) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn put(this: &Namespace, key: &str, value: &str, options: &Object) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn delete(this: &Namespace, key: &str) -> Result<Promise, JsValue>;
}

/// The `TOLLGATE_KV` namespace. Revocations written through it are also remembered by the
/// isolate ([`super::revocation::RevokedHere`]), so they hold here at once.
pub struct Kv {
    kv: Namespace,
    state: Rc<State>,
}

impl Kv {
    /// The bound namespace, for this isolate's state, or why there is none.
    pub fn for_state(env: &Env, state: &Rc<State>) -> Result<Self, String> {
        match Reflect::get(env, &JsValue::from_str(bindings::KV)) {
            Ok(kv) if kv.is_object() => Ok(Kv {
                kv: kv.unchecked_into(),
                state: Rc::clone(state),
            }),
            _ => Err(format!("KV binding {} is missing", bindings::KV)),
        }
    }
}

/// Awaits a KV call's promise; a refusal becomes the store's error with the runtime's message,
/// or [`StoreError::write_rate_limited`] for KV's one write a second per key.
async fn settle(call: Result<Promise, JsValue>) -> Result<JsValue, StoreError> {
    let failed = |err: JsValue| {
        let message = err
            .dyn_ref::<js_sys::Error>()
            .map(|err| String::from(err.message()))
            .or_else(|| err.as_string())
            .unwrap_or_else(|| "KV call failed".to_owned());
        // "KV PUT failed: 429 Too Many Requests"; a spent daily quota reads otherwise.
        if message.contains("429 Too Many Requests") {
            StoreError::write_rate_limited()
        } else {
            StoreError(message)
        }
    };
    JsFuture::from(call.map_err(failed)?).await.map_err(failed)
}

/// A write that must land: KV refuses a second write to one key within a second, so two
/// revocations of one family or token at once (a code replayed twice, a refresh token reused
/// twice) or a sign-out's delete right after a refresh meet it, and the one refused is made
/// again a second later, as Cloudflare advises. Its outcome then is the answer.
async fn landed(write: impl Fn() -> Result<Promise, JsValue>) -> Result<(), StoreError> {
    match settle(write()).await {
        Err(e) if e.is_write_rate_limited() => {
            worker::Delay::from(core::time::Duration::from_millis(1100)).await;
            settle(write()).await.map(drop)
        }
        written => written.map(drop),
    }
}

/// KV keys never carry the coordinator's routing slot (README's table spells them bare).
fn bare(key: &str) -> &str {
    crate::schema::unrouted(key).0
}

impl Store for Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(settle(self.kv.get(bare(key))).await?.as_string())
    }

    /// One bulk get for several keys (a first-sight token's revocation entries): one KV
    /// operation and one round trip where the default would make one per key.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError> {
        match keys {
            [] => return Ok(Vec::new()),
            [key] => return Ok(vec![self.get(key).await?]),
            _ => {}
        }
        let names: Array = keys
            .iter()
            .map(|key| JsValue::from_str(bare(key)))
            .collect();
        let found: Map = settle(self.kv.get_keys(&names))
            .await?
            .dyn_into()
            .map_err(|_| StoreError("KV bulk get answered no Map".to_owned()))?;
        Ok(keys
            .iter()
            .map(|key| found.get(&JsValue::from_str(bare(key))).as_string())
            .collect())
    }

    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), StoreError> {
        let key = bare(key);
        let options = Object::new();
        if let Some(ttl) = ttl {
            Reflect::set(&options, &"expirationTtl".into(), &(ttl as f64).into())
                .map_err(|_| StoreError("KV put options".to_owned()))?;
        }
        if !revocation::is_revocation_key(key) {
            // A session's refresh need not land (the core reads this error).
            return settle(self.kv.put(key, value, &options)).await.map(drop);
        }
        landed(|| self.kv.put(key, value, &options)).await?;
        super::revocation::remember(&self.state, key, value);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        landed(|| self.kv.delete(bare(key))).await
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
