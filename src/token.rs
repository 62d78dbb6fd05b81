//! Step 1 of verification: the structure of a compact JWS (RFC 7515 §7.1), checked without
//! keys or clock. Nothing here is trusted yet; the types say so.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::b64;
use crate::error::{truncated, Error};

/// The protected header of a token, with the parameters the core acts on pulled out.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    raw: Vec<u8>,
    alg: Algorithm,
    kid: Option<String>,
    typ: Option<String>,
}

impl Header {
    /// The algorithm the token claims. Only ever used to pick among the key's allowed ones.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The `kid` header parameter.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `typ` header parameter.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// Every header member, as JSON (parsed on demand: verification does not need them).
    pub fn members(&self) -> Map<String, Value> {
        serde_json::from_slice(&self.raw).unwrap_or_default()
    }

    /// The header exactly as sent (decoded from base64url): a JSON object.
    pub fn raw_json(&self) -> &[u8] {
        &self.raw
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

/// Header parameters registered by RFC 7515/7518; `crit` may not list them (RFC 7515 §4.1.11).
const REGISTERED: [&str; 12] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "b64",
];

impl<'a> UntrustedToken<'a> {
    /// Splits, decodes and checks a compact JWS. The size bound comes first, so no work is
    /// spent on an oversized input.
    pub fn parse(token: &'a str, max_bytes: usize) -> Result<Self, Error> {
        if token.len() > max_bytes {
            return Err(Error::TooLarge {
                len: token.len(),
                max: max_bytes,
            });
        }
        let (signing_input, signature) = token.rsplit_once('.').ok_or(Error::malformed(
            "a compact JWS has three dot-separated parts",
        ))?;
        let (header, payload) = signing_input.split_once('.').ok_or(Error::malformed(
            "a compact JWS has three dot-separated parts",
        ))?;
        if payload.contains('.') {
            return Err(Error::malformed(
                "a compact JWS has three dot-separated parts (JWE and JSON serialization are not accepted)",
            ));
        }
        let header_bytes =
            b64::decode_public(header).ok_or(Error::malformed("header is not strict base64url"))?;
        let payload = b64::decode_public(payload)
            .ok_or(Error::malformed("payload is not strict base64url"))?;
        let signature = b64::decode_public(signature)
            .ok_or(Error::malformed("signature is not strict base64url"))?;
        let header = parse_header(header_bytes)?;
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

/// The header members the core acts on, borrowed from the JSON text where possible. Unknown
/// members are skipped without being built (RFC 7515 §4: they are ignored).
#[derive(Deserialize)]
struct Known<'a> {
    #[serde(borrow, default)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
    #[serde(default, deserialize_with = "present")]
    b64: bool,
}

/// True when the member exists, whatever its value (`null` included).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

fn parse_header(bytes: Vec<u8>) -> Result<Header, Error> {
    // A struct also deserializes from a JSON array, so require an object first.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::malformed("header is not a JSON object"));
    }
    // JSON text is UTF-8 (RFC 8259 §8.1), including the members skipped unread below.
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::malformed("header is not UTF-8"))?;
    let known: Known<'_> = serde_json::from_str(text).map_err(|_| {
        Error::malformed("header is not valid JSON, or alg/kid/typ is not a string")
    })?;
    let alg = match &known.alg {
        Some(name) => Algorithm::from_name(name).ok_or_else(|| Error::AlgNotAllowed {
            alg: truncated(name),
        })?,
        None => return Err(Error::malformed("header has no \"alg\"")),
    };
    if known.crit || known.b64 {
        // Rare: the full member map is needed to judge `crit` and `b64`.
        let members: Map<String, Value> = serde_json::from_slice(&bytes)
            .map_err(|_| Error::malformed("header is not valid JSON"))?;
        check_crit(&members)?;
        match members.get("b64") {
            None | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                return Err(Error::NotSupported {
                    what: "unencoded payload (b64: false, RFC 7797)".to_owned(),
                })
            }
            Some(_) => return Err(Error::malformed("header \"b64\" is not a boolean")),
        }
    }
    let kid = known.kid.map(Cow::into_owned);
    let typ = known.typ.map(Cow::into_owned);
    Ok(Header {
        raw: bytes,
        alg,
        kid,
        typ,
    })
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
    for name in names {
        let Value::String(name) = name else {
            return Err(Error::malformed("header \"crit\" must list strings"));
        };
        if name == "b64" {
            return Err(Error::NotSupported {
                what: "unencoded payload (crit: b64, RFC 7797)".to_owned(),
            });
        }
        if REGISTERED.contains(&name.as_str()) {
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
            truncated(&crit.to_string())
        ),
    })
}
