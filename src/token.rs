//! Step 1 of verification: the structure of a compact JWS (RFC 7515 §7.1), checked without
//! keys or clock. Nothing here is trusted yet; the types say so.

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
    members: Map<String, Value>,
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

    /// Every header member, as JSON.
    pub fn members(&self) -> &Map<String, Value> {
        &self.members
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

fn parse_header(bytes: Vec<u8>) -> Result<Header, Error> {
    let members: Map<String, Value> = match serde_json::from_slice(&bytes) {
        Ok(Value::Object(members)) => members,
        Ok(_) => return Err(Error::malformed("header is not a JSON object")),
        Err(_) => return Err(Error::malformed("header is not valid JSON")),
    };
    let alg = match members.get("alg") {
        Some(Value::String(name)) => {
            Algorithm::from_name(name).ok_or_else(|| Error::AlgNotAllowed {
                alg: truncated(name),
            })?
        }
        Some(_) => return Err(Error::malformed("header \"alg\" is not a string")),
        None => return Err(Error::malformed("header has no \"alg\"")),
    };
    let kid = optional_string(&members, "kid")?;
    let typ = optional_string(&members, "typ")?;
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
    Ok(Header {
        raw: bytes,
        alg,
        kid,
        typ,
        members,
    })
}

fn optional_string(members: &Map<String, Value>, name: &str) -> Result<Option<String>, Error> {
    match members.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(Error::Malformed {
            reason: match name {
                "kid" => "header \"kid\" is not a string",
                _ => "header \"typ\" is not a string",
            },
        }),
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
