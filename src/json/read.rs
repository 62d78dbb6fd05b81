//! Reading a JSON object member by member, by hand rather than by serde's derive.
//!
//! serde's derive instantiates a visitor per type and per member type over serde_json's text
//! reader: for the configuration that was 47 KB of the worker's code, for the stored records
//! several KB each (BENCHMARKS.md §4, session 14). A [`Reader`] reads a `serde_json::Value`
//! that serde_json's one `Value` parser made, with the derive's rules: a wrong JSON type is an
//! error, `null` means "absent" only where the type is an `Option` ([`Reader::nullable`]), a
//! missing member without a default is an error; a strict reader (the configuration) also
//! refuses unknown members, a lenient one (records) ignores them as the derive did. Errors
//! name the member by its path (`routes[2].auth`).

use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::{Map, Value};

/// Implements `Deserialize` for `$type` with the hand reader `$read` ([`deserialize`]);
/// `$what` names a value that is not an object in the error.
macro_rules! read_by {
    ($type:ty, $what:literal, $read:expr) => {
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::json::read::deserialize(deserializer, $what, $read)
            }
        }
    };
}
pub(crate) use read_by;

/// Reads a `T` from any serde deserializer: a `Value` first, then `read` over a lenient
/// [`Reader`] of it. For a record type's `Deserialize` implementation.
pub fn deserialize<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    what: &str,
    read: fn(&mut Reader) -> T,
) -> Result<T, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let mut reader = Reader::new(value, what, false).map_err(D::Error::custom)?;
    let read = read(&mut reader);
    reader.finish().map(|()| read).map_err(D::Error::custom)
}

/// A JSON object being read: each member is taken by name and type. A reader returns `None`
/// for an absent member and also for a wrong one, whose error it keeps: the first error is
/// what [`Reader::finish`] answers, so a type is read in one straight pass with no early
/// return per member. A strict reader also refuses the members no one took.
pub struct Reader {
    /// Where this object sits (`""` for the top, `oauth.`, `routes[2].`): error messages
    /// name a member as `at` + its name.
    at: String,
    /// Whether [`Reader::finish`] refuses members no one read.
    strict: bool,
    members: Map<String, Value>,
    /// The names read so far; [`Reader::finish`] refuses the others.
    taken: Vec<String>,
    /// Members whose `null` reads as absent ([`Reader::nullable`]).
    null: Vec<String>,
    error: Option<String>,
}

impl Reader {
    /// A reader of `value`, an object; `what` names it in the error when it is not one (or
    /// nothing, where the caller's error already does).
    /// `strict`: a member no one reads is an error (nested objects inherit it).
    pub fn new(value: Value, what: &str, strict: bool) -> Result<Reader, String> {
        match value {
            Value::Object(members) => Ok(Reader {
                at: String::new(),
                strict,
                members,
                taken: Vec::new(),
                null: Vec::new(),
                error: None,
            }),
            other if what.is_empty() => Err(format!("expected an object, found {}", kind(&other))),
            other => Err(format!(
                "{what}: expected an object, found {}",
                kind(&other)
            )),
        }
    }

    fn nested_in(&self, value: Value, at: String) -> Result<Reader, String> {
        let name = at.strip_suffix('.').unwrap_or(&at).to_owned();
        let mut nested = Reader::new(value, &name, self.strict)?;
        nested.at = at;
        Ok(nested)
    }

    /// Keeps the first error.
    pub fn fail(&mut self, error: String) {
        self.error.get_or_insert(error);
    }

    fn wrong(&mut self, name: &str, expected: &str, found: &Value) {
        let error = format!(
            "{}{name}: expected {expected}, found {}",
            self.at,
            kind(found)
        );
        self.fail(error);
    }

    /// For a member whose type is an `Option`: `null` reads as absent (as serde reads an
    /// `Option`). Everywhere else `null` is a wrong type.
    pub fn nullable(&mut self, name: &str) -> &mut Self {
        if self.members.get(name) == Some(&Value::Null) {
            self.null.push(name.to_owned());
        }
        self
    }

    /// The member `name`, moved out and marked as read (for a strict reader). Its place in the
    /// map is left holding `null` rather than removed: the map's removal is 6 KB of code.
    fn take(&mut self, name: &str) -> Option<Value> {
        if self.strict {
            self.taken.push(name.to_owned());
        }
        if self.null.iter().any(|null| null == name) {
            return None;
        }
        self.members.get_mut(name).map(std::mem::take)
    }

    pub fn string(&mut self, name: &str) -> Option<String> {
        match self.take(name)? {
            Value::String(s) => Some(s),
            other => {
                self.wrong(name, "a string", &other);
                None
            }
        }
    }

    /// A string member without a default.
    pub fn required(&mut self, name: &str) -> String {
        self.need(name);
        self.string(name).unwrap_or_default()
    }

    /// Fails unless the member `name` is there.
    pub fn need(&mut self, name: &str) {
        if !self.members.contains_key(name) {
            let error = format!("missing member \"{}{name}\"", self.at);
            self.fail(error);
        }
    }

    pub fn bool(&mut self, name: &str) -> Option<bool> {
        match self.take(name)? {
            Value::Bool(b) => Some(b),
            other => {
                self.wrong(name, "true or false", &other);
                None
            }
        }
    }

    /// A non-negative integer up to `max`.
    fn integer(&mut self, name: &str, max: u64) -> Option<u64> {
        let value = self.take(name)?;
        match value.as_u64() {
            Some(n) if n <= max => Some(n),
            _ => {
                self.wrong(name, &format!("an integer from 0 to {max}"), &value);
                None
            }
        }
    }

    pub fn u64(&mut self, name: &str) -> Option<u64> {
        self.integer(name, u64::MAX)
    }

    pub fn u32(&mut self, name: &str) -> Option<u32> {
        let n = self.integer(name, u32::MAX.into())?;
        u32::try_from(n).ok()
    }

    pub fn usize(&mut self, name: &str) -> Option<usize> {
        let max = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
        let n = self.integer(name, max)?;
        usize::try_from(n).ok()
    }

    pub fn i64(&mut self, name: &str) -> Option<i64> {
        let value = self.take(name)?;
        let n = value.as_i64();
        if n.is_none() {
            self.wrong(name, "an integer", &value);
        }
        n
    }

    /// An integer member without a default.
    pub fn required_i64(&mut self, name: &str) -> i64 {
        self.need(name);
        self.i64(name).unwrap_or_default()
    }

    /// A non-negative integer member without a default.
    pub fn required_u64(&mut self, name: &str) -> u64 {
        self.need(name);
        self.u64(name).unwrap_or_default()
    }

    /// A `u32` member without a default.
    pub fn required_u32(&mut self, name: &str) -> u32 {
        self.need(name);
        self.u32(name).unwrap_or_default()
    }

    /// Where this object sits, as error messages name it (`routes[2].`).
    pub fn at(&self) -> &str {
        &self.at
    }

    pub fn strings(&mut self, name: &str) -> Option<Vec<String>> {
        let value = self.take(name)?;
        let strings = value.as_array().and_then(|items| {
            let strings = items.iter().map(|item| item.as_str().map(str::to_owned));
            strings.collect::<Option<Vec<String>>>()
        });
        if strings.is_none() {
            self.wrong(name, "an array of strings", &value);
        }
        strings
    }

    /// One of the `choices`' names, exactly as written there (lower case).
    pub fn word<T: Copy>(&mut self, name: &str, choices: &[(&str, T)]) -> Option<T> {
        let value = self.take(name)?;
        let found = choices
            .iter()
            .find(|(word, _)| value.as_str() == Some(word));
        if found.is_none() {
            let words: Vec<&str> = choices.iter().map(|(word, _)| *word).collect();
            match value.as_str() {
                // The word as written, so that `"Public"` or `"redirec"` is seen at once.
                Some(written) => {
                    let written: String = written.chars().take(MAX_SHOWN).collect();
                    let error = format!(
                        "{}{name}: expected one of {words:?}, found {written:?}",
                        self.at
                    );
                    self.fail(error);
                }
                None => self.wrong(name, &format!("one of {words:?}"), &value),
            }
        }
        found.map(|(_, choice)| *choice)
    }

    /// A nested object, read by `read`.
    pub fn object<T>(&mut self, name: &str, read: fn(&mut Reader) -> T) -> Option<T> {
        let value = self.take(name)?;
        let at = format!("{}{name}.", self.at);
        self.nested(value, at, read)
    }

    /// An array of objects, each read by `read`.
    pub fn list<T>(&mut self, name: &str, read: fn(&mut Reader) -> T) -> Option<Vec<T>> {
        let items = match self.take(name)? {
            Value::Array(items) => items,
            other => {
                self.wrong(name, "an array of objects", &other);
                return None;
            }
        };
        let mut read_items = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let at = format!("{}{name}[{i}].", self.at);
            read_items.extend(self.nested(item, at, read));
        }
        Some(read_items)
    }

    fn nested<T>(&mut self, value: Value, at: String, read: fn(&mut Reader) -> T) -> Option<T> {
        let read = self.nested_in(value, at).map(|mut nested| {
            let read = read(&mut nested);
            nested.finish().map(|()| read)
        });
        match read.and_then(|read| read) {
            Ok(read) => Some(read),
            Err(error) => {
                self.fail(error);
                None
            }
        }
    }

    /// The first error, or for a strict reader any member left unread: an unknown name.
    pub fn finish(self) -> Result<(), String> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if !self.strict {
            return Ok(());
        }
        match self.members.keys().find(|name| !self.taken.contains(name)) {
            Some(name) => Err(format!("unknown member \"{}{name}\"", self.at)),
            None => Ok(()),
        }
    }
}

/// The most characters of a wrong word an error message repeats.
const MAX_SHOWN: usize = 40;

/// A JSON value's kind, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_u64() => "an integer",
        Value::Number(n) if n.is_i64() => "a negative integer",
        Value::Number(_) => "a fraction",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
