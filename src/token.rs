//! Step 1 of verification: the structure of a compact JWS (RFC 7515 §7.1), checked without
//! keys or clock. Nothing here is trusted yet; the types say so.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::b64;
use crate::error::{truncated, Error};
use crate::swar;

/// The protected header of a token, with the parameters the core acts on pulled out. Shared,
/// not copied, when cloned: see [`HeaderMemo`].
#[derive(Clone, Debug, PartialEq)]
pub struct Header(Arc<Parsed>);

#[derive(Debug, PartialEq)]
struct Parsed {
    raw: Box<[u8]>,
    alg: Algorithm,
    kid: Option<Box<str>>,
    typ: Option<Box<str>>,
}

impl Header {
    /// The algorithm the token claims. Only ever used to pick among the key's allowed ones.
    pub fn alg(&self) -> Algorithm {
        self.0.alg
    }

    /// The `kid` header parameter.
    pub fn kid(&self) -> Option<&str> {
        self.0.kid.as_deref()
    }

    /// The `typ` header parameter.
    pub fn typ(&self) -> Option<&str> {
        self.0.typ.as_deref()
    }

    /// Every header member, as JSON (parsed on demand: verification does not need them).
    pub fn members(&self) -> Map<String, Value> {
        serde_json::from_slice(&self.0.raw).unwrap_or_default()
    }

    /// The header exactly as sent (decoded from base64url): a JSON object.
    pub fn raw_json(&self) -> &[u8] {
        &self.0.raw
    }
}

/// The last header parsed, so that a run of tokens with the same header (one issuer signing
/// with one key: the usual case) decodes and parses it once. A header is a pure function of
/// its base64url text, so a hit returns exactly what parsing would; failures are not kept.
/// Shared by threads, it never waits: when another thread holds it, the header is parsed.
#[derive(Default)]
pub struct HeaderMemo(Mutex<Option<(Box<str>, Header)>>);

impl HeaderMemo {
    fn get(&self, segment: &str) -> Option<Header> {
        let last = self.0.try_lock().ok()?;
        let (text, header) = last.as_ref()?;
        b64::same_public(text.as_bytes(), segment.as_bytes()).then(|| header.clone())
    }

    fn put(&self, segment: &str, header: &Header) {
        if let Ok(mut last) = self.0.try_lock() {
            *last = Some((segment.into(), header.clone()));
        }
    }
}

impl Clone for HeaderMemo {
    /// A new, empty memo: it is a cache, not state.
    fn clone(&self) -> Self {
        HeaderMemo::default()
    }
}

impl std::fmt::Debug for HeaderMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeaderMemo")
    }
}

/// A compact JWS whose structure is sound but whose signature is unchecked.
#[derive(Clone, Debug)]
pub struct UntrustedToken<'a> {
    signing_input: &'a str,
    header: Header,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> UntrustedToken<'a> {
    /// Splits, decodes and checks a compact JWS. The size bound comes first, so no work is
    /// spent on an oversized input.
    pub fn parse(token: &'a str, max_bytes: usize) -> Result<Self, Error> {
        Self::parse_with(token, max_bytes, None)
    }

    /// [`UntrustedToken::parse`], taking the header from `memo` when it was the last one seen.
    pub fn parse_memo(token: &'a str, max_bytes: usize, memo: &HeaderMemo) -> Result<Self, Error> {
        Self::parse_with(token, max_bytes, Some(memo))
    }

    fn parse_with(
        token: &'a str,
        max_bytes: usize,
        memo: Option<&HeaderMemo>,
    ) -> Result<Self, Error> {
        if token.len() > max_bytes {
            return Err(Error::TooLarge {
                len: token.len(),
                max: max_bytes,
            });
        }
        let three_parts = || Error::malformed("a compact JWS has three dot-separated parts");
        let bytes = token.as_bytes();
        let first = swar::find(bytes, 0, b'.').ok_or_else(three_parts)?;
        let second = swar::find(bytes, first + 1, b'.').ok_or_else(three_parts)?;
        if swar::find(bytes, second + 1, b'.').is_some() {
            return Err(Error::malformed(
                "a compact JWS has three dot-separated parts (JWE and JSON serialization are not accepted)",
            ));
        }
        // The dots are ASCII, so each cut is at a character boundary.
        let part = |range: std::ops::Range<usize>| token.get(range).ok_or_else(three_parts);
        let (signing_input, signature) = (part(0..second)?, part(second + 1..token.len())?);
        let (header, payload) = (part(0..first)?, part(first + 1..second)?);
        let known = memo.and_then(|memo| memo.get(header));
        let header_bytes = match known {
            Some(_) => Vec::new(),
            None => b64::decode_public(header)
                .ok_or(Error::malformed("header is not strict base64url"))?,
        };
        let payload = b64::decode_public(payload)
            .ok_or(Error::malformed("payload is not strict base64url"))?;
        let signature = b64::decode_public(signature)
            .ok_or(Error::malformed("signature is not strict base64url"))?;
        let header = match known {
            Some(known) => known,
            None => {
                let parsed = parse_header(header_bytes)?;
                if let Some(memo) = memo {
                    memo.put(header, &parsed);
                }
                parsed
            }
        };
        Ok(UntrustedToken {
            signing_input,
            header,
            payload,
            signature,
        })
    }

    /// The protected header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: the bytes the signature covers.
    pub fn signing_input(&self) -> &'a [u8] {
        self.signing_input.as_bytes()
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The decoded payload, unverified.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    pub(crate) fn into_parts(self) -> (Header, Vec<u8>) {
        (self.header, self.payload)
    }
}

/// The header members the core acts on, borrowed from the JSON text where possible, and the
/// registered string members type-checked on the way. Unknown members are skipped without
/// being built (RFC 7515 §4: they are ignored), and without being checked either: see
/// [`parse_header`]. The registered members that are not strings (`jwk`, `x5c`, `crit`,
/// `b64`) are rare in a JWT and only noted here; their presence sends the header to the full
/// parse of [`rare_members`].
#[derive(Deserialize)]
struct Known<'a> {
    #[serde(borrow, default, deserialize_with = "string")]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "string")]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "string")]
    typ: Option<Cow<'a, str>>,
    #[serde(default, rename = "cty", deserialize_with = "string_only")]
    cty: bool,
    #[serde(default, rename = "jku", deserialize_with = "string_only")]
    jku: bool,
    #[serde(default, rename = "x5u", deserialize_with = "string_only")]
    x5u: bool,
    #[serde(default, rename = "x5t", deserialize_with = "string_only")]
    x5t: bool,
    #[serde(default, rename = "x5t#S256", deserialize_with = "string_only")]
    x5t_s256: bool,
    #[serde(default, deserialize_with = "present")]
    jwk: bool,
    #[serde(default, deserialize_with = "present")]
    x5c: bool,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
    #[serde(default, deserialize_with = "present")]
    b64: bool,
}

impl Known<'_> {
    /// Whether a member that only the full parse types is present.
    fn rare(&self) -> bool {
        self.jwk || self.x5c || self.crit || self.b64
    }

    /// How many members this parse read by name: each at most once, since the derive refuses
    /// a repeated field.
    fn members_read(&self) -> usize {
        let strings = [self.alg.is_some(), self.kid.is_some(), self.typ.is_some()];
        let others = [self.cty, self.jku, self.x5u, self.x5t, self.x5t_s256];
        let others = others
            .into_iter()
            .chain([self.jwk, self.x5c, self.crit, self.b64]);
        strings
            .into_iter()
            .chain(others)
            .filter(|&read| read)
            .count()
    }
}

/// How many `:` bytes `text` holds: at least one for each member, as its name's separator.
fn colons(text: &[u8]) -> usize {
    let mut count = 0;
    let mut at = 0;
    while let Some(found) = swar::find(text, at, b':') {
        count += 1;
        at = found + 1;
    }
    count
}

/// A JSON string, and nothing else: `null` included is refused (RFC 7515 §4.1: each of these
/// members "is a string" when present).
fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct Text;
    impl<'de> serde::de::Visitor<'de> for Text {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(text))
        }
        fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(text.to_owned()))
        }
        fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(text))
        }
    }
    deserializer.deserialize_str(Text).map(Some)
}

/// [`string`], for members whose value the core does not use: true, since it is present.
fn string_only<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    string(deserializer).map(|_| true)
}

/// True when the member exists, whatever its value (`null` included).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// The JSON type of each registered header parameter (RFC 7515 §4.1, RFC 7797 §3 for `b64`),
/// with the reason given when a header breaks it.
const MEMBER_TYPES: [(&str, JsonType, &str); 12] = [
    ("alg", JsonType::String, "header \"alg\" is not a string"),
    ("jku", JsonType::String, "header \"jku\" is not a string"),
    ("jwk", JsonType::Object, "header \"jwk\" is not an object"),
    ("kid", JsonType::String, "header \"kid\" is not a string"),
    ("x5u", JsonType::String, "header \"x5u\" is not a string"),
    (
        "x5c",
        JsonType::Strings,
        "header \"x5c\" is not an array of strings",
    ),
    ("x5t", JsonType::String, "header \"x5t\" is not a string"),
    (
        "x5t#S256",
        JsonType::String,
        "header \"x5t#S256\" is not a string",
    ),
    ("typ", JsonType::String, "header \"typ\" is not a string"),
    ("cty", JsonType::String, "header \"cty\" is not a string"),
    (
        "crit",
        JsonType::Strings,
        "header \"crit\" is not an array of strings",
    ),
    ("b64", JsonType::Bool, "header \"b64\" is not a boolean"),
];

#[derive(Clone, Copy)]
enum JsonType {
    String,
    Strings,
    Object,
    Bool,
}

impl JsonType {
    fn admits(self, value: &Value) -> bool {
        match (self, value) {
            (JsonType::String, Value::String(_))
            | (JsonType::Object, Value::Object(_))
            | (JsonType::Bool, Value::Bool(_)) => true,
            (JsonType::Strings, Value::Array(items)) => items.iter().all(Value::is_string),
            _ => false,
        }
    }
}

/// The first registered member of `members` whose value has the wrong type.
fn mistyped(members: &Map<String, Value>) -> Option<&'static str> {
    MEMBER_TYPES.iter().find_map(|(name, kind, reason)| {
        let value = members.get(*name)?;
        (!kind.admits(value)).then_some(*reason)
    })
}

fn parse_header(bytes: Vec<u8>) -> Result<Header, Error> {
    // A struct also deserializes from a JSON array, so require an object first.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::malformed("header is not a JSON object"));
    }
    // JSON text is UTF-8 (RFC 8259 §8.1), including the members skipped unread below.
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::malformed("header is not UTF-8"))?;
    let known: Known<'_> = match serde_json::from_str(text) {
        Ok(known) => known,
        // Rare: say which member is wrong, when the JSON itself is sound.
        Err(_) => {
            let reason = match serde_json::from_str::<Map<String, Value>>(text) {
                Ok(members) => mistyped(&members).unwrap_or("header repeats a member"),
                Err(_) => "header is not valid JSON",
            };
            return Err(Error::malformed(reason));
        }
    };
    // serde_json skips a member that no field names without the checks its `Value` parse
    // makes: any nesting depth (a header 390,000 arrays deep passed), lone surrogate escapes,
    // numbers beyond f64. Such a header must be refused as the claims set is (the same
    // reader, [`crate::claims::is_json`]), and [`Header::members`] must be able to read it.
    // Only a header with a member no field names needs the check: every member has a `:`
    // of its own, so when the `:` bytes are no more than the members read, there is none.
    // The rare members' full parse below checks the whole header anyway.
    let rare = known.rare();
    if !rare && colons(text.as_bytes()) != known.members_read() && !crate::claims::is_json(text) {
        return Err(Error::malformed("header is not valid JSON"));
    }
    // Types first, then meaning: the rare members are typed before `alg` is read.
    let rare = match rare {
        true => Some(rare_members(text)?),
        false => None,
    };
    let alg = match &known.alg {
        Some(name) => Algorithm::parse(name)?,
        None => return Err(Error::malformed("header has no \"alg\"")),
    };
    if let Some(members) = rare {
        check_crit(&members)?;
        if members.get("b64") == Some(&Value::Bool(false)) {
            return Err(Error::NotSupported {
                what: "unencoded payload (b64: false, RFC 7797)".to_owned(),
            });
        }
    }
    let kid = known.kid.map(|kid| kid.into());
    let typ = known.typ.map(|typ| typ.into());
    Ok(Header(Arc::new(Parsed {
        raw: bytes.into(),
        alg,
        kid,
        typ,
    })))
}

/// Every member, for the registered ones the fast pass only noted (`jwk`, `x5c`, `crit`,
/// `b64`), type-checked.
fn rare_members(text: &str) -> Result<Map<String, Value>, Error> {
    let members: Map<String, Value> =
        serde_json::from_str(text).map_err(|_| Error::malformed("header is not valid JSON"))?;
    match mistyped(&members) {
        Some(reason) => Err(Error::malformed(reason)),
        None => Ok(members),
    }
}

/// RFC 7515 §4.1.11: `crit` is a non-empty array of names that are not registered and that
/// appear in the header. This implementation understands no extension, so any well-formed
/// `crit` is refused as unsupported.
fn check_crit(members: &Map<String, Value>) -> Result<(), Error> {
    let Some(crit) = members.get("crit") else {
        return Ok(());
    };
    let names = match crit {
        Value::Array(names) if !names.is_empty() => names,
        _ => {
            return Err(Error::malformed(
                "header \"crit\" must be a non-empty array",
            ))
        }
    };
    for name in names.iter().filter_map(Value::as_str) {
        if name == "b64" {
            return Err(Error::NotSupported {
                what: "unencoded payload (crit: b64, RFC 7797)".to_owned(),
            });
        }
        if MEMBER_TYPES
            .iter()
            .any(|(registered, ..)| *registered == name)
        {
            return Err(Error::malformed(
                "header \"crit\" lists a registered parameter",
            ));
        }
        if !members.contains_key(name) {
            return Err(Error::malformed(
                "header \"crit\" lists a parameter that is absent",
            ));
        }
    }
    Err(Error::NotSupported {
        what: format!(
            "critical header extension {:?}",
            truncated(&crate::json::text(crit))
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.c2ln",
            b64::encode(header.as_bytes()),
            b64::encode(payload.as_bytes())
        )
    }

    /// Every answer through the memo is the answer without it, whatever came before.
    #[test]
    fn the_header_memo_answers_exactly_as_parsing_does() {
        let memo = HeaderMemo::default();
        let tokens = [
            token(r#"{"alg":"HS256","kid":"a"}"#, "{}"),
            token(r#"{"alg":"HS256","kid":"a"}"#, r#"{"sub":"x"}"#),
            token(r#"{"alg":"ES256","kid":"b","typ":"JWT"}"#, "{}"),
            token(r#"{"alg":"none"}"#, "{}"),
            token(r#"{"alg":"HS256","kid":"a"}"#, "{}").replace(".c2ln", ".c2l"),
            token(r#"{"alg":"HS256","kid":"a"}"#, "{}").replacen('.', ".!", 1),
            token(r#"{"alg":"HS256","kid":"a"}"#, "{}"),
            "e30.e30.c2ln".to_owned(),
            "!!.e30.c2ln".to_owned(),
            token(r#"{"alg":"HS256","crit":["x"],"x":1}"#, "{}"),
            token(r#"{"alg":"HS256","kid":"a"}"#, "{}"),
        ];
        for round in 0..2 {
            for token in &tokens {
                let plain = UntrustedToken::parse(token, 8192);
                let memoised = UntrustedToken::parse_memo(token, 8192, &memo);
                match (plain, memoised) {
                    (Ok(plain), Ok(memoised)) => {
                        assert_eq!(plain.header(), memoised.header(), "{round} {token}");
                        assert_eq!(plain.payload(), memoised.payload());
                        assert_eq!(plain.signature(), memoised.signature());
                    }
                    (Err(plain), Err(memoised)) => {
                        assert_eq!(plain.to_string(), memoised.to_string(), "{round} {token}")
                    }
                    (plain, memoised) => panic!("{token}: {plain:?} but {memoised:?}"),
                }
            }
        }
    }

    /// A header is accepted exactly when serde_json reads it as a `Value` (and its members
    /// are well typed), so that [`Header::members`] never falls back to an empty map.
    #[test]
    fn a_header_is_accepted_only_when_its_members_parse() {
        let deep = |n: usize| format!("{}0{}", "[".repeat(n), "]".repeat(n));
        let mut headers: Vec<String> = [
            r#"{"alg":"HS256","x":"\ud800"}"#,
            r#"{"alg":"HS256","x":["\udc00"]}"#,
            r#"{"alg":"HS256","\ud800":1}"#,
            r#"{"alg":"HS256","x":"\ud83d\ude00"}"#,
            r#"{"alg":"HS256","x":1e400}"#,
            r#"{"alg":"HS256","x":-1e309}"#,
            r#"{"alg":"HS256","x":1e308}"#,
            r#"{"alg":"HS256","kid":"a:b","typ":"JWT"}"#,
            r#"{"alg":"HS256","jku":"https://k","x5u":"https://x"}"#,
            r#"{"alg":"HS256","x":{"y":{"z":null}}}"#,
        ]
        .map(str::to_owned)
        .to_vec();
        headers.push(format!(r#"{{"alg":"HS256","x":1{}}}"#, "0".repeat(400)));
        for n in [125, 126, 127, 128, 1000] {
            headers.push(format!(r#"{{"alg":"HS256","x":{}}}"#, deep(n)));
            headers.push(format!(r#"{{"x":{},"alg":"HS256"}}"#, deep(n)));
            headers.push(format!(r#"{{"alg":"HS256","jwk":{{}},"x":{}}}"#, deep(n)));
        }
        for header in &headers {
            let reference = serde_json::from_str::<Map<String, Value>>(header).is_ok();
            let token = token(header, "{}");
            let parsed = UntrustedToken::parse(&token, 1 << 20);
            assert_eq!(parsed.is_ok(), reference, "{header:.80}");
            match parsed {
                Ok(parsed) => {
                    assert_eq!(parsed.header().members().get("alg"), Some(&"HS256".into()))
                }
                Err(err) => assert_eq!(err.code(), "ERR_JWS_INVALID", "{header:.80}"),
            }
        }
    }

    #[test]
    fn counts_every_colon_at_every_offset() {
        for len in 0..20 {
            for every in 1..4 {
                let text: Vec<u8> = (0..len)
                    .map(|i| if i % every == 0 { b':' } else { b'a' })
                    .collect();
                let expected = text.iter().filter(|&&b| b == b':').count();
                assert_eq!(colons(&text), expected, "{len} {every}");
            }
        }
    }
}
