//! The Durable Object class itself: one operation per request, applied by synchronous SQL.
//! Only the worker that hosts the class builds it (feature `issuance`); the guard reaches the
//! issuer's objects through its binding (README, "Two workers").

use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlCursor, SqlStorageValue,
    State,
};

use super::{Answer, Op};
use crate::json::read::read_by;
use crate::store::Write;
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
                    match write {
                        Write::Keep => {}
                        Write::Put(value, ttl) => {
                            write_row(key, &value, ttl)?;
                        }
                        Write::Delete => {
                            sql.exec(
                                "DELETE FROM records WHERE key = ?",
                                vec![key.as_str().into()],
                            )?;
                        }
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
