//! The coordinator: the core's [`AtomicStore`] on Durable Objects, Cloudflare's strongly
//! consistent tier, so that "once" means once.
//!
//! Each object keeps records in its SQLite storage and answers one operation per request. An
//! operation is a few synchronous SQL statements with no `await` between them, and a Durable
//! Object runs one event at a time, so each operation is atomic: of two concurrent takes one
//! gets the record, of two compare-and-swaps on one version one wins. The object decides
//! nothing about tokens; the core's pure rules (`crate::oauth`, `crate::lockout`) decide, and
//! the object only loads, applies and persists.
//!
//! Sharding (docs/SCALING.md): records are spread over [`SHARDS`] objects by a hash of their
//! key (a code, a refresh token, a one-time token, a failure counter), so no object is a
//! global bottleneck and every operation touches exactly one object.

use serde::Serialize;
use sha2::{Digest, Sha256};
use worker::{
    durable_object, DurableObject, Env, ObjectNamespace, Request, Response, Result, SqlCursor,
    SqlStorageValue, State,
};

use crate::json::read::read_by;
use crate::store::{AtomicStore, Store, StoreError, Transition, Versioned, Write};

/// How many objects the records are spread over.
pub const SHARDS: u32 = 256;

/// One operation, as sent to an object: `{"op": "get", "key": …}` and so on. It arrives as an
/// [`Incoming`]: an internally tagged enum's derived `Deserialize` buffers every message and
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

/// An [`Op`] as read: every member of every kind, checked by [`Incoming::op`].
struct Incoming {
    op: String,
    key: Option<String>,
    value: Option<String>,
    ttl: Option<u64>,
    expected: Option<u64>,
    transition: Option<String>,
    first: Option<String>,
    second: Option<String>,
    input: Option<String>,
}

impl Incoming {
    /// The operation, or an error naming the kind or the member that is missing.
    fn op(self) -> Result<Op> {
        let need = |member: Option<String>, name: &str| {
            member.ok_or_else(|| worker::Error::RustError(format!("missing field `{name}`")))
        };
        Ok(match self.op.as_str() {
            "get" => Op::Get {
                key: need(self.key, "key")?,
            },
            "put" => Op::Put {
                key: need(self.key, "key")?,
                value: need(self.value, "value")?,
                ttl: self.ttl,
            },
            "delete" => Op::Delete {
                key: need(self.key, "key")?,
            },
            "take" => Op::Take {
                key: need(self.key, "key")?,
            },
            "swap" => Op::Swap {
                key: need(self.key, "key")?,
                expected: self.expected,
                value: need(self.value, "value")?,
                ttl: self.ttl,
            },
            "apply" => Op::Apply {
                transition: need(self.transition, "transition")?,
                first: need(self.first, "first")?,
                second: need(self.second, "second")?,
                input: need(self.input, "input")?,
            },
            other => {
                return Err(worker::Error::RustError(format!(
                    "unknown operation {:?}",
                    crate::error::truncated(other)
                )))
            }
        })
    }
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

// Read by hand (crate::json::read): the derive's rules, which the types above state.
read_by!(Incoming, "an operation", |o| Incoming {
    op: o.required("op"),
    key: o.nullable("key").string("key"),
    value: o.nullable("value").string("value"),
    ttl: o.nullable("ttl").u64("ttl"),
    expected: o.nullable("expected").u64("expected"),
    transition: o.nullable("transition").string("transition"),
    first: o.nullable("first").string("first"),
    second: o.nullable("second").string("second"),
    input: o.nullable("input").string("input"),
});

read_by!(Answer, "an answer", |o| Answer {
    value: o.nullable("value").string("value"),
    version: o.nullable("version").u64("version"),
    swapped: o.bool("swapped").unwrap_or(false),
    answer: o.nullable("answer").string("answer"),
});

/// A live record's row (`SELECT value, version`).
struct Row {
    value: String,
    version: u64,
}

/// The first row of `cursor`, as raw values: workers-rs's typed readers (`to_array`, `one`) go
/// through serde_wasm_bindgen, 11 KB of the worker's code for two columns.
fn first_row(cursor: SqlCursor) -> Result<Option<Vec<SqlStorageValue>>> {
    cursor.raw().next().transpose()
}

/// A non-negative integer column (a version, the write counter).
fn count(value: Option<&SqlStorageValue>) -> Result<u64> {
    let count = match value {
        Some(SqlStorageValue::Integer(n)) => u64::try_from(*n).ok(),
        Some(SqlStorageValue::Float(f)) if *f >= 0.0 && f.fract() == 0.0 => Some(*f as u64),
        _ => None,
    };
    count.ok_or_else(|| {
        worker::Error::RustError("coordinator: a count column is not a count".into())
    })
}

/// The Durable Object class (`TOLLGATE_COORDINATOR`, SQLite-backed; `wrangler.toml`).
#[durable_object(fetch)]
pub struct Coordinator {
    state: State,
}

impl DurableObject for Coordinator {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        // Schema creation is idempotent; a failure here surfaces on the first operation.
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, value TEXT NOT NULL, \
             version INTEGER NOT NULL, expires INTEGER)",
            None,
        );
        let _ = sql.exec(
            "CREATE INDEX IF NOT EXISTS records_expires ON records (expires)",
            None,
        );
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 0), writes INTEGER NOT NULL)",
            None,
        );
        let _ = sql.exec(
            "INSERT OR IGNORE INTO meta (id, writes) VALUES (0, 0)",
            None,
        );
        Coordinator { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        // The text, read by serde_json: `Request::json` parses in JS and converts the object
        // through serde_wasm_bindgen, 8 KB of the worker's code for this one message.
        let op = serde_json::from_str::<Incoming>(&req.text().await?)?.op()?;
        let answer = self.apply(op, worker::Date::now().as_millis() as i64)?;
        Response::from_json(&answer)
    }
}

impl Coordinator {
    /// Runs one operation: synchronous SQL only, so nothing interleaves with it.
    fn apply(&self, op: Op, now_ms: i64) -> Result<Answer> {
        let sql = self.state.storage().sql();
        let live = |key: &str| -> Result<Option<Row>> {
            let cursor = sql.exec(
                "SELECT value, version FROM records WHERE key = ? AND (expires IS NULL OR expires > ?)",
                vec![key.into(), SqlStorageValue::from(now_ms)],
            )?;
            match first_row(cursor)?.as_deref() {
                None => Ok(None),
                Some([SqlStorageValue::String(value), version]) => Ok(Some(Row {
                    value: value.clone(),
                    version: count(Some(version))?,
                })),
                Some(_) => Err(worker::Error::RustError(
                    "coordinator: a record row is not (value, version)".into(),
                )),
            }
        };
        let write_row = |key: &str, value: &str, ttl: Option<u64>| -> Result<u64> {
            sql.exec(
                "DELETE FROM records WHERE expires IS NOT NULL AND expires <= ?",
                vec![SqlStorageValue::from(now_ms)],
            )?;
            let writes = sql.exec(
                "UPDATE meta SET writes = writes + 1 WHERE id = 0 RETURNING writes",
                None,
            )?;
            let version = count(first_row(writes)?.as_deref().and_then(<[_]>::first))?;
            let expires = ttl
                .map(|t| now_ms.saturating_add(i64::try_from(t).unwrap_or(i64::MAX / 2000) * 1000));
            sql.exec(
                "INSERT INTO records (key, value, version, expires) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                 version = excluded.version, expires = excluded.expires",
                vec![
                    key.into(),
                    value.into(),
                    SqlStorageValue::from(version as i64),
                    expires.into(),
                ],
            )?;
            Ok(version)
        };
        Ok(match op {
            Op::Get { key } => match live(&key)? {
                Some(row) => Answer {
                    value: Some(row.value),
                    version: Some(row.version),
                    ..Answer::default()
                },
                None => Answer::default(),
            },
            Op::Put { key, value, ttl } => Answer {
                version: Some(write_row(&key, &value, ttl)?),
                ..Answer::default()
            },
            Op::Delete { key } => {
                sql.exec("DELETE FROM records WHERE key = ?", vec![key.into()])?;
                Answer::default()
            }
            Op::Take { key } => {
                let found = live(&key)?;
                sql.exec("DELETE FROM records WHERE key = ?", vec![key.into()])?;
                Answer {
                    value: found.map(|row| row.value),
                    ..Answer::default()
                }
            }
            Op::Apply {
                transition,
                first,
                second,
                input,
            } => {
                let Some(rule) = crate::oauth::transition(&transition) else {
                    return Err(worker::Error::RustError(format!(
                        "unknown transition {transition:?}"
                    )));
                };
                let (a, b) = (live(&first)?, live(&second)?);
                let applied = (rule.apply)(
                    a.as_ref().map(|row| row.value.as_str()),
                    b.as_ref().map(|row| row.value.as_str()),
                    &input,
                )
                .map_err(worker::Error::RustError)?;
                for (key, write) in [(&first, applied.first), (&second, applied.second)] {
                    if let Write::Put(value, ttl) = write {
                        write_row(key, &value, ttl)?;
                    }
                }
                Answer {
                    answer: Some(applied.answer),
                    ..Answer::default()
                }
            }
            Op::Swap {
                key,
                expected,
                value,
                ttl,
            } => {
                let current = live(&key)?.map(|row| row.version);
                if current == expected {
                    Answer {
                        version: Some(write_row(&key, &value, ttl)?),
                        swapped: true,
                        ..Answer::default()
                    }
                } else {
                    Answer::default()
                }
            }
        })
    }
}

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
