//! The coordinator: the core's [`AtomicStore`] on Durable Objects, Cloudflare's strongly
//! consistent tier, so that "once" means once.
//!
//! Each object keeps records in its SQLite storage and answers one operation per request. An
//! operation is a few synchronous SQL statements with no `await` between them, and a Durable
//! Object runs one event at a time, so each operation is atomic: above all a transition (the
//! core's pure rule over one or two records, `crate::oauth::transition`: a code's redemption, a
//! rotation, a lockout count, a session's grants, a one-time token's use) runs with nothing in
//! between; of two compare-and-swaps on one version one wins. The object decides nothing about
//! tokens; the core's rules decide, and the object only loads, applies and persists.
//!
//! Deploying: a transition is found by name, so the issuer (which hosts the objects) goes out
//! before a guard that asks for a new one; a name the objects do not know is refused, and the
//! request fails closed.
//!
//! Sharding (docs/SCALING.md): records are spread over [`SHARDS`] objects by a hash of their
//! key (a code, a refresh token, a one-time token, a failure counter), so no object is a
//! global bottleneck and every operation touches exactly one object.

use serde::Serialize;
use sha2::{Digest, Sha256};
use worker::{Env, ObjectNamespace, Result};

use crate::json::read::read_by;
use crate::store::{AtomicStore, Store, StoreError, Transition, Versioned};

#[cfg(feature = "issuance")]
mod object;

/// How many objects the records are spread over.
pub const SHARDS: u32 = 256;

/// One operation, as sent to an object: `{"op": "get", "key": …}` and so on. It arrives as an
/// `object::Incoming`: an internally tagged enum's derived `Deserialize` buffers every message and
/// was 28 KB of the worker's code.
#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
    Get {
        key: String,
    },
    Put {
        key: String,
        value: String,
        ttl: Option<u64>,
    },
    Delete {
        key: String,
    },
    Take {
        key: String,
    },
    Swap {
        key: String,
        expected: Option<u64>,
        value: String,
        ttl: Option<u64>,
    },
    Apply {
        transition: String,
        first: String,
        second: String,
        input: String,
    },
}

/// An object's answer.
#[derive(Serialize, Default)]
struct Answer {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    swapped: bool,
    #[serde(default)]
    answer: Option<String>,
}

read_by!(Answer, "an answer", |o| Answer {
    value: o.nullable("value").string("value"),
    version: o.nullable("version").u64("version"),
    swapped: o.bool("swapped").unwrap_or(false),
    answer: o.nullable("answer").string("answer"),
});

/// The worker's side: the records' objects, as the core's stores.
pub struct CoordinatorStore {
    namespace: ObjectNamespace,
}

impl CoordinatorStore {
    /// Over the `TOLLGATE_COORDINATOR` namespace.
    pub fn new(namespace: ObjectNamespace) -> Self {
        CoordinatorStore { namespace }
    }

    /// The object a key lives in: its routing slot when it names one (a family's records
    /// share it), else a hash of the key.
    fn shard(key: &str) -> String {
        let n = match crate::schema::unrouted(key).1 {
            Some(slot) => slot % SHARDS,
            None => {
                let digest = Sha256::digest(key.as_bytes());
                u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % SHARDS
            }
        };
        format!("shard-{n}")
    }

    async fn call(&self, key: &str, op: &Op) -> std::result::Result<Answer, StoreError> {
        let failed = |e: worker::Error| StoreError(format!("coordinator: {e}"));
        let stub = self
            .namespace
            .id_from_name(&Self::shard(key))
            .and_then(|id| id.get_stub())
            .map_err(failed)?;
        let body = serde_json::to_string(op).map_err(|e| StoreError(e.to_string()))?;
        let request =
            super::subrequest("https://coordinator/op", "POST", Some(&body)).map_err(failed)?;
        let mut response = stub.fetch_with_request(request).await.map_err(failed)?;
        if response.status_code() != 200 {
            return Err(StoreError(format!(
                "coordinator answered {}",
                response.status_code()
            )));
        }
        response.json::<Answer>().await.map_err(failed)
    }
}

impl Store for CoordinatorStore {
    async fn get(&self, key: &str) -> std::result::Result<Option<String>, StoreError> {
        let op = Op::Get {
            key: key.to_owned(),
        };
        Ok(self.call(key, &op).await?.value)
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        ttl: Option<u64>,
    ) -> std::result::Result<(), StoreError> {
        let op = Op::Put {
            key: key.to_owned(),
            value: value.to_owned(),
            ttl,
        };
        self.call(key, &op).await.map(|_| ())
    }

    async fn delete(&self, key: &str) -> std::result::Result<(), StoreError> {
        let op = Op::Delete {
            key: key.to_owned(),
        };
        self.call(key, &op).await.map(|_| ())
    }
}

impl AtomicStore for CoordinatorStore {
    async fn get_versioned(&self, key: &str) -> std::result::Result<Option<Versioned>, StoreError> {
        let op = Op::Get {
            key: key.to_owned(),
        };
        let answer = self.call(key, &op).await?;
        Ok(answer
            .value
            .zip(answer.version)
            .map(|(value, version)| Versioned { value, version }))
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<u64>,
        value: &str,
        ttl: Option<u64>,
    ) -> std::result::Result<bool, StoreError> {
        let op = Op::Swap {
            key: key.to_owned(),
            expected,
            value: value.to_owned(),
            ttl,
        };
        Ok(self.call(key, &op).await?.swapped)
    }

    async fn take(&self, key: &str) -> std::result::Result<Option<String>, StoreError> {
        let op = Op::Take {
            key: key.to_owned(),
        };
        Ok(self.call(key, &op).await?.value)
    }

    async fn apply(
        &self,
        transition: &Transition,
        first: &str,
        second: &str,
        input: &str,
    ) -> std::result::Result<String, StoreError> {
        if Self::shard(first) != Self::shard(second) {
            return Err(StoreError(format!(
                "transition {} over two objects",
                transition.name
            )));
        }
        let op = Op::Apply {
            transition: transition.name.to_owned(),
            first: first.to_owned(),
            second: second.to_owned(),
            input: input.to_owned(),
        };
        self.call(first, &op)
            .await?
            .answer
            .ok_or_else(|| StoreError("coordinator gave no answer".to_owned()))
    }
}

/// Where the engine's single-use records go: the coordinator, or KV when the deployment opted
/// out (`consistency = "kv"`).
pub enum Once {
    /// Durable Objects.
    Durable(CoordinatorStore),
    /// Workers KV, best effort.
    Kv(super::kv::Kv),
}

impl Once {
    /// The store the deployment's `consistency` names; `Err` says which binding is missing.
    pub fn from_env(
        env: &Env,
        state: &std::rc::Rc<super::state::State>,
    ) -> std::result::Result<Once, &'static str> {
        use crate::config::Consistency;
        match state.consistency {
            Consistency::Durable => env
                .durable_object(super::bindings::COORDINATOR)
                .map(|namespace| Once::Durable(CoordinatorStore::new(namespace)))
                .map_err(|_| "Durable Object binding TOLLGATE_COORDINATOR is missing"),
            Consistency::Kv => super::kv::Kv::for_state(env, state)
                .map(Once::Kv)
                .map_err(|_| "KV binding TOLLGATE_KV is missing"),
        }
    }
}

impl Store for Once {
    async fn get(&self, key: &str) -> std::result::Result<Option<String>, StoreError> {
        match self {
            Once::Durable(store) => store.get(key).await,
            Once::Kv(store) => store.get(key).await,
        }
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        ttl: Option<u64>,
    ) -> std::result::Result<(), StoreError> {
        match self {
            Once::Durable(store) => store.put(key, value, ttl).await,
            Once::Kv(store) => store.put(key, value, ttl).await,
        }
    }

    async fn delete(&self, key: &str) -> std::result::Result<(), StoreError> {
        match self {
            Once::Durable(store) => store.delete(key).await,
            Once::Kv(store) => store.delete(key).await,
        }
    }
}

impl AtomicStore for Once {
    async fn get_versioned(&self, key: &str) -> std::result::Result<Option<Versioned>, StoreError> {
        match self {
            Once::Durable(store) => store.get_versioned(key).await,
            Once::Kv(store) => store.get_versioned(key).await,
        }
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<u64>,
        value: &str,
        ttl: Option<u64>,
    ) -> std::result::Result<bool, StoreError> {
        match self {
            Once::Durable(store) => store.compare_and_swap(key, expected, value, ttl).await,
            Once::Kv(store) => store.compare_and_swap(key, expected, value, ttl).await,
        }
    }

    async fn take(&self, key: &str) -> std::result::Result<Option<String>, StoreError> {
        match self {
            Once::Durable(store) => store.take(key).await,
            Once::Kv(store) => store.take(key).await,
        }
    }

    async fn apply(
        &self,
        transition: &Transition,
        first: &str,
        second: &str,
        input: &str,
    ) -> std::result::Result<String, StoreError> {
        match self {
            Once::Durable(store) => store.apply(transition, first, second, input).await,
            Once::Kv(store) => store.apply(transition, first, second, input).await,
        }
    }
}
