//! JSON objects written straight to text (RFC 8259), for the worker's responses and log lines;
//! [`read`] reads them member by member.
//!
//! `serde_json::json!` builds a map of owned keys and boxed values, then serialises it and
//! drops it: each member is an allocation, an insert and a drop, inlined at every call site
//! (most of the code of the worker's biggest handlers). An [`Object`] appends each member to
//! one string as it is given, in the order given.

use std::fmt::Write;

pub(crate) mod read;

/// A JSON object being written: `Object::new().with("error", "not_found").finish()`.
#[must_use]
pub struct Object {
    text: String,
}

impl Object {
    /// An empty object.
    pub fn new() -> Object {
        Object {
            text: String::from("{"),
        }
    }

    /// Appends the member `name`: `value`. Names are not checked for repeats: the callers
    /// write fixed names.
    pub fn with(mut self, name: &str, value: impl Member) -> Object {
        if self.text.len() > 1 {
            self.text.push(',');
        }
        string(&mut self.text, name);
        self.text.push(':');
        value.write(&mut self.text);
        self
    }

    /// Appends the member `name` when `value` is there; an absent member is left out rather
    /// than written as `null` (as RFC 7517 and RFC 7662 want their optional members).
    pub fn with_some(self, name: &str, value: Option<impl Member>) -> Object {
        match value {
            Some(value) => self.with(name, value),
            None => self,
        }
    }

    /// The object's text.
    pub fn finish(mut self) -> String {
        self.text.push('}');
        self.text
    }
}

impl Default for Object {
    fn default() -> Self {
        Object::new()
    }
}

/// A value an [`Object`] can hold.
pub trait Member {
    /// Appends this value's JSON text to `out`.
    fn write(&self, out: &mut String);
}

impl<T: Member + ?Sized> Member for &T {
    fn write(&self, out: &mut String) {
        (**self).write(out);
    }
}

impl Member for str {
    fn write(&self, out: &mut String) {
        string(out, self);
    }
}

impl Member for String {
    fn write(&self, out: &mut String) {
        string(out, self);
    }
}

impl Member for bool {
    fn write(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl Member for $t {
            fn write(&self, out: &mut String) {
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
integers!(i32, i64, u64, u32, usize);

/// A finite number as its shortest decimal; NaN and the infinities, which JSON cannot
/// write, as `null` (serde_json's rule).
impl Member for f64 {
    fn write(&self, out: &mut String) {
        if self.is_finite() {
            let _ = write!(out, "{self}");
        } else {
            out.push_str("null");
        }
    }
}

/// `null` when absent, as serde writes an `Option`.
impl<T: Member> Member for Option<T> {
    fn write(&self, out: &mut String) {
        match self {
            Some(value) => value.write(out),
            None => out.push_str("null"),
        }
    }
}

/// A nested object.
impl Member for Object {
    fn write(&self, out: &mut String) {
        out.push_str(&self.text);
        out.push('}');
    }
}

/// An array of its items.
impl<T: Member> Member for Vec<T> {
    fn write(&self, out: &mut String) {
        self.as_slice().write(out);
    }
}

/// An array of its items.
impl<T: Member> Member for [T] {
    fn write(&self, out: &mut String) {
        out.push('[');
        for (n, item) in self.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            item.write(out);
        }
        out.push(']');
    }
}

/// A `serde_json::Value` (a claim copied as it is), written by [`text`].
impl Member for serde_json::Value {
    fn write(&self, out: &mut String) {
        out.push_str(&text(self));
    }
}

/// Any [`Member`]'s JSON text.
pub fn of(value: &impl Member) -> String {
    let mut out = String::new();
    value.write(&mut out);
    out
}

/// A `serde_json::Value` as compact JSON text. Through `serde_json::to_string`, the writer every
/// other value uses: a `Value`'s `Display` (`to_string()`, `format!`) links two more copies of
/// serde_json's writer, compact and pretty, over `fmt` (11 KB of the worker's code).
pub fn text(value: &serde_json::Value) -> String {
    // Cannot fail: a `Value`'s map keys are strings and its Serialize never refuses.
    serde_json::to_string(value).unwrap_or_default()
}

/// Appends `text` as a JSON string: `"` and `\` escaped, control characters by their short
/// escape or as `\u00XX` (RFC 8259 §7, which requires no other escape).
pub fn string(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    let mut plain = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[plain..at]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        plain = at + 1;
    }
    out.push_str(&text[plain..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_their_order_and_types() {
        let text = Object::new()
            .with("error", "not_found")
            .with("n", 42u64)
            .with("neg", -1i64)
            .with("ok", true)
            .with("sub", None::<&str>)
            .with("ms", 1.25)
            .with("nan", f64::NAN)
            .with("value", serde_json::json!({ "a": [1] }))
            .with("object", Object::new().with("list", vec!["x", "y"]))
            .finish();
        assert_eq!(
            text,
            r#"{"error":"not_found","n":42,"neg":-1,"ok":true,"sub":null,"ms":1.25,"nan":null,"value":{"a":[1]},"object":{"list":["x","y"]}}"#
        );
        assert_eq!(Object::new().finish(), "{}");
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for text in [
            "plain",
            "q\"b\\s",
            "line\nfeed\r\t",
            "\u{0}\u{8}\u{c}\u{1f}\u{7f}",
            "é✓😀",
            "",
        ] {
            let mut out = String::new();
            string(&mut out, text);
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }
}
