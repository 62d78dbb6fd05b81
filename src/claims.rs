//! Step 3's reader: one pass over the claims set that keeps only what the checks need (the
//! seven registered claims of RFC 7519 §4.1 and the presence of required claims), borrowed
//! from the JSON text. Nothing else is built: the full set is parsed only when an adapter asks for it
//! ([`crate::Verified::claims`]). A claims set that repeats a name is refused (RFC 7519 §4
//! allows refusal or last-wins; consumers disagree on which copy they read, so a token whose
//! checked `exp` is not the `exp` another parser sees must not pass), as a repeated registered
//! header parameter is.
//!
//! It accepts exactly what `serde_json` accepts as a `Value` (RFC 8259 with serde_json's
//! nesting limit and number range), because that parse is what adapters later read: the
//! common spellings (plain strings, integers) are read here, and the rare ones (escapes,
//! fractions, exponents, integers beyond 64 bits) are handed to serde_json itself (a number's
//! value then comes from its text, rounded exactly as [`Round`] says).
//! `fuzz/fuzz_targets/claims.rs` holds the two to the same answers.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::error::Error;
use crate::numeric_date::{whole_seconds, Round};

/// One claim value, as far as the checks care.
#[derive(Debug)]
pub(crate) enum Claim<'a> {
    Str(Cow<'a, str>),
    /// A JSON number as whole seconds (RFC 7519 §2 NumericDate), a fraction rounded the way
    /// `rounding` says for the claim it is.
    Number(i64),
    /// An array whose elements are all strings.
    Strings(Vec<Cow<'a, str>>),
    /// Anything else: `null`, booleans, objects, arrays with a member that is not a string.
    Other,
}

/// The registered claims (RFC 7519 §4.1), as far as they appear.
#[derive(Debug, Default)]
pub(crate) struct Claims<'a> {
    pub iss: Option<Claim<'a>>,
    pub sub: Option<Claim<'a>>,
    pub aud: Option<Claim<'a>>,
    pub exp: Option<Claim<'a>>,
    pub nbf: Option<Claim<'a>>,
    pub iat: Option<Claim<'a>>,
    pub jti: Option<Claim<'a>>,
    /// `present[i]` is true when `required[i]` appears.
    pub present: Vec<bool>,
}

impl<'a> Claims<'a> {
    /// Whether the registered claim `name` appears (other names: false).
    pub(crate) fn has(&self, name: &str) -> bool {
        match name {
            "iss" => self.iss.is_some(),
            "sub" => self.sub.is_some(),
            "aud" => self.aud.is_some(),
            "exp" => self.exp.is_some(),
            "nbf" => self.nbf.is_some(),
            "iat" => self.iat.is_some(),
            "jti" => self.jti.is_some(),
            _ => false,
        }
    }

    /// Reads `payload`, which must be exactly one JSON object.
    pub(crate) fn read(payload: &'a [u8], required: &[String]) -> Result<Self, Error> {
        let invalid = || Error::malformed("payload is not valid JSON");
        if payload.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(
                if serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_ok() {
                    Error::malformed("claims set is not a JSON object")
                } else {
                    invalid()
                },
            );
        }
        // JSON text is UTF-8 (RFC 8259 §8.1), including strings this pass skips unread.
        let text = std::str::from_utf8(payload).map_err(|_| invalid())?;
        let mut json = Json { text, at: 0 };
        json.space();
        let mut repeated = false;
        let claims = json.claims(required, &mut repeated).ok_or_else(|| {
            if repeated {
                Error::malformed("the claims set repeats a name")
            } else if nests_too_deep(text) {
                Error::malformed("payload nests too deeply (the limit is 128 levels)")
            } else {
                invalid()
            }
        })?;
        json.space();
        if json.at != text.len() {
            return Err(invalid());
        }
        Ok(claims)
    }
}

/// Whether brackets outside strings reach [`MAX_DEPTH`] levels: to name why text was refused.
fn nests_too_deep(text: &str) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for byte in text.bytes() {
        match (in_string, escaped, byte) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'{' | b'[') => {
                depth += 1;
                if depth >= MAX_DEPTH {
                    return true;
                }
            }
            (false, _, b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The first `"`, `\\` or control character at or after `at`: eight bytes at a time, since
/// every string of a claims set is scanned for them. The last word is padded with zero bytes,
/// which stop the scan as control characters would: past the end, so `None`.
fn stop(bytes: &[u8], mut at: usize) -> Option<usize> {
    use crate::swar::{below, splat, word_padded, zero};
    while at < bytes.len() {
        let x = word_padded(bytes, at);
        let hit = zero(x ^ splat(b'"')) | zero(x ^ splat(b'\\')) | below(x, 0x20);
        if hit != 0 {
            // Each mask's lowest mark is exact, so their union's is.
            let found = at + hit.trailing_zeros() as usize / 8;
            return (found < bytes.len()).then_some(found);
        }
        at += 8;
    }
    None
}

/// The member names read so far, each with a fingerprint (length and first bytes), so that
/// telling names apart rarely needs a full comparison (a `memcmp` call in wasm). The first
/// sixteen names as sent (no escapes) live on the stack, with no drop glue: a claims set
/// rarely has more. Decoded names (with escapes) and the rest go to `more`, ordered, so that
/// each name costs O(log n) comparisons there however many share a fingerprint: a list
/// searched end to end made 40,000 names with one seven-byte prefix (a claims set under a
/// raised `maxTokenBytes`) cost 3.3 s. Ordered rather than hashed, because std's hasher has
/// fixed keys on wasm32-unknown-unknown, where collisions could be chosen.
#[derive(Default)]
struct Seen<'a> {
    small: [(u64, &'a str); 16],
    len: usize,
    more: BTreeSet<(u64, Cow<'a, str>)>,
}

impl<'a> Seen<'a> {
    /// Adds `name`, whose fingerprint is `print`; false when it was already there.
    fn insert(&mut self, name: Cow<'a, str>, print: u64) -> bool {
        let small = self.small.get(..self.len).unwrap_or_default();
        if small.iter().any(|(p, seen)| *p == print && *seen == name) {
            return false;
        }
        match (name, self.small.get_mut(self.len)) {
            (Cow::Borrowed(name), Some(slot)) => {
                // `more` holds only escaped spellings while `small` has room: usually none.
                if !self.more.is_empty() && self.more.contains(&(print, Cow::Borrowed(name))) {
                    return false;
                }
                *slot = (print, name);
                self.len += 1;
                true
            }
            (name, _) => self.more.insert((print, name)),
        }
    }
}

/// A name's length and first seven bytes in one word: equal names have equal fingerprints,
/// and names of up to seven bytes are equal exactly when their fingerprints are.
const fn fingerprint(name: &[u8]) -> u64 {
    let mut first = [0u8; 8];
    let mut i = 0;
    while i < name.len() && i < 7 {
        first[i] = name[i];
        i += 1;
    }
    with_length(u64::from_le_bytes(first), name.len())
}

/// [`fingerprint`] of the `len` bytes at `at` in `text`, read as one word.
fn fingerprint_at(text: &[u8], at: usize, len: usize) -> u64 {
    let kept = (1u64 << (8 * len.min(7))) - 1;
    with_length(crate::swar::word_padded(text, at) & kept, len)
}

/// The first bytes of a name (at most seven, in the low bytes) and its length, up to 255, in
/// the high byte. Nothing else touches the name's bytes, so a fingerprint stands for one name
/// of seven bytes or fewer.
const fn with_length(first: u64, len: usize) -> u64 {
    let len = if len < 255 { len as u64 } else { 255 };
    first | len << 56
}

/// The registered claims' fingerprints: their names have three bytes, so a name is one of
/// them exactly when its fingerprint is.
const ISS: u64 = fingerprint(b"iss");
const SUB: u64 = fingerprint(b"sub");
const AUD: u64 = fingerprint(b"aud");
const EXP: u64 = fingerprint(b"exp");
const NBF: u64 = fingerprint(b"nbf");
const IAT: u64 = fingerprint(b"iat");
const JTI: u64 = fingerprint(b"jti");

/// The value of a little-endian word's eight bytes read as decimal digits, first byte most
/// significant, or `None` when one of them is not an ASCII digit.
fn eight_digits(word: u64) -> Option<u64> {
    const NIBBLES: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    // A digit's high nibble is 3, and stays 3 when 6 is added (a byte above '9' carries).
    let digits = (word & NIBBLES) | ((word.wrapping_add(0x0606_0606_0606_0606) & NIBBLES) >> 4);
    if digits != 0x3333_3333_3333_3333 {
        return None;
    }
    // Pairs, then fours, then all eight (Lemire, "Parsing series of integers with SIMD", 2018).
    let x = word - 0x3030_3030_3030_3030;
    let pairs = (x.wrapping_mul(10) + (x >> 8)) & 0x00ff_00ff_00ff_00ff;
    let fours = (pairs.wrapping_mul(100) + (pairs >> 16)) & 0x0000_ffff_0000_ffff;
    Some((fours.wrapping_mul(10_000) + (fours >> 32)) & 0xffff_ffff)
}

/// serde_json refuses arrays and objects nested this deep (its recursion limit): the outer
/// object counts as 1, so at most 127 containers nest. The header is held to it too
/// ([`is_json`]).
const MAX_DEPTH: usize = 128;

/// Whether `text` is one JSON value, with nothing but white space around it, that serde_json
/// parses as a `Value`: this reader's rules (RFC 8259; nesting below [`MAX_DEPTH`]; strings
/// that decode to Unicode scalar values, so no lone surrogate; numbers within f64). For the
/// protected header, whose own parse skips unknown members without these checks. Allocates
/// nothing unless a string has escapes.
pub(crate) fn is_json(text: &str) -> bool {
    let mut json = Json { text, at: 0 };
    json.space();
    // At depth 0, so that an outer object is at depth 1, as the claims set is.
    if json.skip(0).is_none() {
        return false;
    }
    json.space();
    json.at == text.len()
}

/// How the registered claim whose fingerprint is `print` rounds ([`Round`]): `nbf` up, the
/// other dates down.
fn rounding(print: u64) -> Round {
    match print {
        NBF => Round::Up,
        _ => Round::Down,
    }
}

/// A cursor over JSON text. Every method returns `None` for text serde_json would refuse.
struct Json<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Json<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let next = self.peek() == Some(byte);
        self.at += usize::from(next);
        next
    }

    /// RFC 8259 §2: space, tab, line feed, carriage return.
    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// The top-level object, keeping what the checks need.
    /// Sets `repeated` when a member name occurs twice (then `None`).
    fn claims(&mut self, required: &[String], repeated: &mut bool) -> Option<Claims<'a>> {
        let mut claims = Claims {
            present: vec![false; required.len()],
            ..Claims::default()
        };
        let mut seen = Seen::default();
        self.members(1, |json, name, print| {
            if !seen.insert(name.clone(), print) {
                *repeated = true;
                return None;
            }
            if let Some(i) = required.iter().position(|r| *r == name) {
                claims.present[i] = true;
            }
            let slot = match print {
                ISS => &mut claims.iss,
                SUB => &mut claims.sub,
                AUD => &mut claims.aud,
                EXP => &mut claims.exp,
                NBF => &mut claims.nbf,
                IAT => &mut claims.iat,
                JTI => &mut claims.jti,
                _ => return json.skip(1),
            };
            *slot = Some(json.claim(rounding(print))?);
            Some(())
        })?;
        Some(claims)
    }

    /// An object's members, each value read by `member` with the member's name and its
    /// [`fingerprint`], at nesting `depth`.
    fn members(
        &mut self,
        depth: usize,
        mut member: impl FnMut(&mut Self, Cow<'a, str>, u64) -> Option<()>,
    ) -> Option<()> {
        self.items(depth, b'{', b'}', |json| {
            let start = json.at + 1;
            let name = json.string()?;
            let print = match &name {
                Cow::Borrowed(name) => fingerprint_at(json.text.as_bytes(), start, name.len()),
                Cow::Owned(name) => fingerprint(name.as_bytes()),
            };
            json.space();
            if !json.eat(b':') {
                return None;
            }
            json.space();
            member(json, name, print)
        })
    }

    /// An array's elements, each read by `element`, at nesting `depth`.
    fn elements(
        &mut self,
        depth: usize,
        element: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.items(depth, b'[', b']', element)
    }

    /// `open`, items read by `item` and separated by commas, `close`: an object or an array at
    /// nesting `depth`.
    fn items(
        &mut self,
        depth: usize,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        if depth >= MAX_DEPTH || !self.eat(open) {
            return None;
        }
        self.space();
        if self.eat(close) {
            return Some(());
        }
        loop {
            item(self)?;
            self.space();
            if self.eat(close) {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
            self.space();
        }
    }

    /// A value of a checked claim; a number rounded `round`.
    fn claim(&mut self, round: Round) -> Option<Claim<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Claim::Str),
            b'-' | b'0'..=b'9' => self.number(round).map(Claim::Number),
            b'[' => {
                // The array is at depth 2: inside the claims set.
                let mut strings = Vec::new();
                let mut only_strings = true;
                self.elements(2, |json| {
                    if json.peek() == Some(b'"') {
                        strings.push(json.string()?);
                        Some(())
                    } else {
                        only_strings = false;
                        json.skip(2)
                    }
                })?;
                Some(match only_strings {
                    true => Claim::Strings(strings),
                    false => Claim::Other,
                })
            }
            _ => self.skip(1).map(|()| Claim::Other),
        }
    }

    /// Reads a value for validity only, at nesting `depth` (of its container).
    fn skip(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number(Round::Down).map(drop),
            b'{' => self.members(depth + 1, |json, _, _| json.skip(depth + 1)),
            b'[' => self.elements(depth + 1, |json| json.skip(depth + 1)),
            _ => {
                let rest = self.text.get(self.at..)?;
                let literal = ["true", "false", "null"]
                    .into_iter()
                    .find(|literal| rest.starts_with(literal))?;
                self.at += literal.len();
                Some(())
            }
        }
    }

    /// A string, borrowed unless it has escapes (which serde_json decodes).
    fn string(&mut self) -> Option<Cow<'a, str>> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        let bytes = self.text.as_bytes();
        let mut escaped = false;
        loop {
            self.at = stop(bytes, self.at)?;
            match *bytes.get(self.at)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.at += 2;
                }
                _ => return None,
            }
        }
        self.at += 1;
        if escaped {
            serde_json::from_str(self.text.get(start - 1..self.at)?)
                .ok()
                .map(Cow::Owned)
        } else {
            self.text.get(start..self.at - 1).map(Cow::Borrowed)
        }
    }

    /// A number as a NumericDate: whole seconds, rounded `round` ([`Round`]), saturating.
    fn number(&mut self, round: Round) -> Option<i64> {
        let start = self.at;
        let negative = self.eat(b'-');
        let digits = self.at;
        let mut value = 0u64;
        // Eight digits at a time (a NumericDate has ten), then one at a time.
        while let Some(eight) =
            crate::swar::word(self.text.as_bytes(), self.at).and_then(eight_digits)
        {
            value = value.wrapping_mul(100_000_000).wrapping_add(eight);
            self.at += 8;
        }
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            // Wrapping is harmless: more than 19 digits go to serde_json below.
            value = value.wrapping_mul(10).wrapping_add(u64::from(digit - b'0'));
            self.at += 1;
        }
        let whole = self.text.as_bytes().get(digits..self.at)?;
        // RFC 8259 §6: no leading zeros.
        if whole.is_empty() || matches!(whole, [b'0', _, ..]) {
            return None;
        }
        let mut plain = true;
        if self.eat(b'.') {
            plain = false;
            self.digits();
        }
        if self.eat(b'e') || self.eat(b'E') {
            plain = false;
            let _ = self.eat(b'+') || self.eat(b'-');
            self.digits();
        }
        // 19 digits always fit in a u64.
        match value {
            v if plain && whole.len() <= 19 => Some(match negative {
                false => i64::try_from(v).unwrap_or(i64::MAX),
                true => 0i64.checked_sub_unsigned(v).unwrap_or(i64::MIN),
            }),
            // Fractions, exponents and integers beyond 64 bits: serde_json's own parse, for
            // its refusal of numbers beyond f64; the value from the text, exactly.
            _ => {
                let text = self.text.get(start..self.at)?;
                serde_json::from_str::<f64>(text).ok()?;
                Some(whole_seconds(text.as_bytes(), round))
            }
        }
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<'a>(json: &'a str, required: &[String]) -> Result<Claims<'a>, Error> {
        Claims::read(json.as_bytes(), required)
    }

    #[test]
    fn reads_the_checked_claims_and_skips_the_rest() {
        let required = vec!["sub".to_owned(), "nonce".to_owned()];
        let claims = read(
            r#" {"iss":"a\/b","aud":["x",1,"y"],"exp":1.9,"nbf":-3,"iat":18446744073709551615,
                "sub":"s","o":{"exp":1}} "#,
            &required,
        )
        .unwrap();
        assert!(matches!(claims.iss, Some(Claim::Str(ref s)) if s == "a/b"));
        assert!(
            matches!(claims.aud, Some(Claim::Other)),
            "an array with a number is not a list of strings"
        );
        assert!(
            matches!(claims.exp, Some(Claim::Number(1))),
            "exp floored; the nested exp is not the claim"
        );
        assert!(matches!(claims.nbf, Some(Claim::Number(-3))));
        assert!(matches!(claims.iat, Some(Claim::Number(i64::MAX))));
        assert_eq!(claims.present, [true, false]);
    }

    #[test]
    fn refuses_a_repeated_claim_name() {
        for payload in [
            r#"{"exp":1,"exp":2}"#,
            r#"{"sub":"a","x":1,"sub":"b"}"#,
            r#"{"ab":1,"ab":2}"#,
        ] {
            let err = read(payload, &[]).unwrap_err();
            assert_eq!(err.code(), "ERR_JWS_INVALID", "{payload}");
            assert!(err.to_string().contains("repeats"), "{payload}");
        }
        // Nested objects may repeat their own names: they are claim values, not claims.
        assert!(read(r#"{"o":{"a":1},"p":{"a":2}}"#, &[]).is_ok());
    }

    #[test]
    fn a_registered_claim_is_its_name_exactly() {
        // 259 bytes: "iss", then bytes that a length folded into the name's first bytes
        // (259 = 256 + 3) would cancel. It is another claim.
        let long = format!("iss\\u0000\\u0001{}", "\\u0000".repeat(254));
        let text = format!(r#"{{"{long}":"https://evil","iss":"https://good"}}"#);
        let claims = read(&text, &[]).unwrap();
        assert!(matches!(claims.iss, Some(Claim::Str(ref s)) if s == "https://good"));
        let text = format!(r#"{{"{long}":"https://evil"}}"#);
        assert!(read(&text, &[]).unwrap().iss.is_none());
        // An escaped spelling of a registered name is that claim, as serde_json reads it.
        let claims = read(r#"{"\u0069ss":"https://a"}"#, &[]).unwrap();
        assert!(matches!(claims.iss, Some(Claim::Str(ref s)) if s == "https://a"));
    }

    #[test]
    fn reads_eight_digits_at_once_as_one_at_a_time() {
        for text in ["00000000", "12345678", "99999999", "17999999", "01234567"] {
            let word = u64::from_le_bytes(text.as_bytes().try_into().unwrap());
            assert_eq!(eight_digits(word), text.parse().ok(), "{text}");
        }
        for text in [
            b"1234567/",
            b"1234567:",
            b"a2345678",
            b"1234 678",
            &[0xb0; 8],
        ] {
            assert_eq!(eight_digits(u64::from_le_bytes(*text)), None, "{text:?}");
        }
        for n in [
            0,
            1,
            9,
            10,
            1_799_999_999,
            12_345_678_901_234_567,
            i64::MAX as u64,
        ] {
            let text = format!(r#"{{"exp":{n}}}"#);
            let claims = read(&text, &[]).unwrap();
            assert!(
                matches!(claims.exp, Some(Claim::Number(v)) if v as u64 == n),
                "{n}"
            );
        }
    }

    #[test]
    fn finds_a_repeat_among_many_names() {
        let names: Vec<String> = (0..40).map(|i| format!("\"n{i}\":{i}")).collect();
        let all = format!("{{{}}}", names.join(","));
        assert!(read(&all, &[]).is_ok());
        for repeat in [3, 20, 39] {
            let text = format!("{{{},\"n{repeat}\":0}}", names.join(","));
            assert!(read(&text, &[]).is_err(), "{repeat}");
        }
        // Same fingerprint (length and first seven bytes), different names.
        assert!(read(r#"{"abcdefgX":1,"abcdefgY":2,"x\u0041":3,"xA":4}"#, &[]).is_err());
        assert!(read(r#"{"abcdefgX":1,"abcdefgY":2}"#, &[]).is_ok());
    }

    #[test]
    fn strings_stop_where_serde_json_says_at_every_offset() {
        for len in 0..20 {
            for stop in ["\"", "\\n\"", "\u{1}\"", "\u{1f}\"", "\u{7f}\"", "\u{e9}\""] {
                let text = format!(r#"{{"iss":"{}{stop},"exp":1}}"#, "a".repeat(len));
                let reference = serde_json::from_str::<serde_json::Value>(&text).ok();
                let ours = read(&text, &[]);
                assert_eq!(ours.is_ok(), reference.is_some(), "{text:?}");
                if let (Ok(claims), Some(value)) = (ours, reference) {
                    assert!(
                        matches!(claims.iss, Some(Claim::Str(ref s)) if s == value["iss"].as_str().unwrap())
                    );
                }
            }
        }
    }

    #[test]
    fn refuses_invalid_utf8_even_in_members_it_skips() {
        // Found by fuzz/fuzz_targets/claims.rs: skipped strings were not checked.
        let err = Claims::read(b"{\"note\":\"\xff\",\"iss\":\"a\"}", &[]).unwrap_err();
        assert_eq!(err.code(), "ERR_JWS_INVALID");
        let header = crate::b64::encode(b"{\"alg\":\"HS256\",\"x\":\"\xc3\"}");
        let token = format!("{header}.e30.AA");
        let err = crate::token::UntrustedToken::parse(&token, 8192).unwrap_err();
        assert_eq!(err.code(), "ERR_JWS_INVALID");
    }

    #[test]
    fn refuses_what_a_full_parse_refuses_at_any_depth() {
        // Found by fuzz/fuzz_targets/claims.rs: skipped numbers were not range-checked.
        for bad in [
            r#"{"n":1e400}"#,
            r#"{"n":[{"m":[-1e999]}]}"#,
            r#"{"aud":[1,{"x":1e309}]}"#,
            r#"{"s":"\ud800"}"#,
            r#"{"o":{"\ud800":1}}"#,
        ] {
            assert!(read(bad, &[]).is_err(), "{bad}");
            assert!(
                serde_json::from_str::<serde_json::Value>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn accepts_and_refuses_exactly_what_serde_json_does() {
        let deep = |n: usize, open: &str, close: &str| {
            format!(r#"{{"a":{}1{}}}"#, open.repeat(n), close.repeat(n))
        };
        let mut texts: Vec<String> = [
            r#"{}"#,
            r#" { "a" : [ 1 , -2 , 3.5e1 , "x" , true , false , null , { } , [ ] ] } "#,
            r#"{"iss":"a\u00e9\"","exp":-0,"nbf":-0.0,"iat":1E3}"#,
            r#"{"exp":18446744073709551616,"nbf":-9223372036854775809,"iat":1e308}"#,
            r#"{"exp":1.}"#,
            r#"{"exp":.5}"#,
            r#"{"exp":01}"#,
            r#"{"exp":-}"#,
            r#"{"exp":1e}"#,
            r#"{"exp":1e+}"#,
            r#"{"exp":+1}"#,
            r#"{"exp":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":tru}"#,
            r#"{"a":truex}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\ud83d\ude00"}"#,
            r#"{"a":"\udc00"}"#,
            "{\"a\":\"tab\there\"}",
            "{\"a\":1}\u{c}",
            "{\"a\"\n:\r1\t}",
            r#"{"a":1}}"#,
            r#"{"a" 1}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":"\"#,
            r#"{"a":"x"#,
            r#"{"aud":[["api"],{"x":[1]},"api"]}"#,
        ]
        .map(str::to_owned)
        .to_vec();
        for n in [125, 126, 127, 128] {
            texts.push(deep(n, "[", "]"));
            texts.push(deep(n, r#"{"b":"#, "}"));
            texts.push(format!(r#"{{"aud":{}1{}}}"#, "[".repeat(n), "]".repeat(n)));
        }
        for text in &texts {
            let reference = serde_json::from_str::<serde_json::Value>(text).is_ok();
            assert_eq!(read(text, &[]).is_ok(), reference, "{text}");
        }
        let claims = read(&texts[2], &[]).unwrap();
        assert!(matches!(claims.iss, Some(Claim::Str(ref s)) if s == "a\u{e9}\""));
        assert!(matches!(claims.iat, Some(Claim::Number(1000))));
        let claims = read(&texts[3], &[]).unwrap();
        assert!(matches!(claims.exp, Some(Claim::Number(i64::MAX))));
        assert!(matches!(claims.nbf, Some(Claim::Number(i64::MIN))));
    }

    #[test]
    fn rounds_a_fractional_nbf_up_and_the_other_dates_down() {
        let claims = read(
            r#"{"nbf":1800000000.5,"exp":1800000000.5,"iat":1800000000.5}"#,
            &[],
        )
        .unwrap();
        assert!(matches!(claims.nbf, Some(Claim::Number(1_800_000_001))));
        assert!(matches!(claims.exp, Some(Claim::Number(1_800_000_000))));
        assert!(matches!(claims.iat, Some(Claim::Number(1_800_000_000))));
        // Whole values stay whole, however spelled.
        let claims = read(
            r#"{"nbf":1.8e9,"exp":18000000000e-1,"iat":1800000000.000}"#,
            &[],
        )
        .unwrap();
        assert!(matches!(claims.nbf, Some(Claim::Number(1_800_000_000))));
        assert!(matches!(claims.exp, Some(Claim::Number(1_800_000_000))));
        assert!(matches!(claims.iat, Some(Claim::Number(1_800_000_000))));
    }

    #[test]
    fn rounds_exactly_from_the_text() {
        use Round::{Down, Up};
        for (text, down, up) in [
            ("0.5", 0, 1),
            ("-0.5", -1, 0),
            ("-0.0", 0, 0),
            ("1.9", 1, 2),
            ("-1.9", -2, -1),
            ("1.5e0", 1, 2),
            ("15e-1", 1, 2),
            ("150e-2", 1, 2),
            ("100e-2", 1, 1),
            ("0.0001e10", 1_000_000, 1_000_000),
            ("1E3", 1000, 1000),
            ("1e+3", 1000, 1000),
            ("5e-400", 0, 1),
            ("-5e-400", -1, 0),
            ("0e99999999999999999999", 0, 0),
            ("1e-99999999999999999999", 0, 1),
            // Beyond what f64 keeps: the nearest f64 is the whole number.
            (
                "1800000000.000000000000000000000000000001",
                1_800_000_000,
                1_800_000_001,
            ),
            (
                "1799999999.999999999999999999999999999999",
                1_799_999_999,
                1_800_000_000,
            ),
            ("18446744073709551615", i64::MAX, i64::MAX),
            ("-9223372036854775809", i64::MIN, i64::MIN),
            ("-9223372036854775808.5", i64::MIN, i64::MIN),
            ("9223372036854775806.5", i64::MAX - 1, i64::MAX),
            ("1e308", i64::MAX, i64::MAX),
            ("-1e308", i64::MIN, i64::MIN),
            ("1e19", i64::MAX, i64::MAX),
            ("1e18", 1_000_000_000_000_000_000, 1_000_000_000_000_000_000),
        ] {
            assert_eq!(whole_seconds(text.as_bytes(), Down), down, "{text} down");
            assert_eq!(whole_seconds(text.as_bytes(), Up), up, "{text} up");
            // And through the reader, which sends these spellings there.
            let json = format!(r#"{{"nbf":{text},"exp":{text}}}"#);
            let claims = read(&json, &[]).unwrap();
            assert!(
                matches!(claims.nbf, Some(Claim::Number(n)) if n == up),
                "{text}"
            );
            assert!(
                matches!(claims.exp, Some(Claim::Number(n)) if n == down),
                "{text}"
            );
        }
        // Where f64 is exact, the same as its floor and ceiling.
        for n in -300..300 {
            let value = f64::from(n) / 8.0;
            for text in [format!("{value:?}"), format!("{value:e}")] {
                assert_eq!(
                    whole_seconds(text.as_bytes(), Down),
                    value.floor() as i64,
                    "{text}"
                );
                assert_eq!(
                    whole_seconds(text.as_bytes(), Up),
                    value.ceil() as i64,
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn finds_a_repeat_among_many_names_sharing_a_fingerprint() {
        // One length, one seven-byte prefix: one fingerprint for every name. A list searched
        // end to end took 3.3 s over 40,000 of them.
        let names: Vec<String> = (0..40_000)
            .map(|i| format!("\"abcdefg{i:05}\":0"))
            .collect();
        let all = format!("{{{}}}", names.join(","));
        #[cfg(not(target_arch = "wasm32"))]
        let started = std::time::Instant::now();
        assert!(read(&all, &[]).is_ok());
        #[cfg(not(target_arch = "wasm32"))]
        println!("40,000 names read in {:?}", started.elapsed());
        for repeat in [0, 15, 16, 20_000, 39_999] {
            let text = format!("{{{},\"abcdefg{repeat:05}\":1}}", names.join(","));
            let err = read(&text, &[]).unwrap_err();
            assert!(err.to_string().contains("repeats"), "{repeat}");
        }
        // An escaped spelling, early or late, is the same name.
        let text = format!("{{\"abcdefg0000\\u0030\":1,{}}}", names.join(","));
        assert!(read(&text, &[])
            .unwrap_err()
            .to_string()
            .contains("repeats"));
        let text = format!("{{{},\"abcdefg3999\\u0039\":1}}", names.join(","));
        assert!(read(&text, &[])
            .unwrap_err()
            .to_string()
            .contains("repeats"));
    }

    #[test]
    fn a_header_value_is_held_to_the_claims_sets_depth() {
        // The outer object is at depth 1: 127 containers nest, 128 do not.
        for n in [125, 126, 127, 128] {
            let text = format!(r#"{{"x":{}0{}}}"#, "[".repeat(n), "]".repeat(n));
            let reference = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            assert_eq!(is_json(&text), reference, "{n}");
            assert_eq!(read(&text, &[]).is_ok(), reference, "{n}");
            assert_eq!(reference, n < 127, "{n}");
        }
        for text in [
            " {} ",
            "{}x",
            r#"{"a":"\ud800"}"#,
            r#"{"a":1e400}"#,
            "",
            "{",
        ] {
            let reference = serde_json::from_str::<serde_json::Value>(text).is_ok();
            assert_eq!(is_json(text), reference, "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_one_json_object() {
        for bad in [
            "[1]",
            "\"x\"",
            "{\"a\":1} {}",
            "{\"a\":}",
            "",
            "{\"a\":1",
            "nul",
        ] {
            let err = read(bad, &[]).unwrap_err();
            assert_eq!(err.code(), "ERR_JWS_INVALID", "{bad}");
        }
    }
}
