//! The verification policy: one type, every field with a documented default, validated once.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::alg::Algorithm;
use crate::error::Error;

/// Default [`Policy::max_token_bytes`]: 8 KiB, far above any sane JWT, far below a DoS.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What a token must satisfy beyond its signature.
///
/// Deserializes from camelCase JSON (`{"issuer": "...", "audience": ["..."]}`), the form used by
/// the worker's configuration and the npm package's options; unknown fields are refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Policy {
    /// Algorithms accepted. Default: all fourteen (`EdDSA` and `Ed25519` both); each key further narrows this to its own
    /// `alg` or family, so an HMAC algorithm can never meet an RSA or EC key. Must not be empty.
    /// `none` is not an [`Algorithm`] and cannot be listed.
    pub algorithms: Vec<Algorithm>,
    /// Accepted `iss` values; the claim must equal one of them. Default: empty, `iss` unchecked.
    /// An empty list given is refused: it would check nothing.
    #[serde(alias = "issuer", deserialize_with = "issuers")]
    pub issuers: Vec<String>,
    /// Accepted audiences; `aud` (a string or an array) must contain one of them.
    /// Default: empty, `aud` unchecked. An empty list given is refused: it would check nothing.
    #[serde(alias = "audience", deserialize_with = "audiences")]
    pub audiences: Vec<String>,
    /// Whether a token without `exp` is refused. Default: true (a token must end).
    pub require_exp: bool,
    /// Clock tolerance in seconds for `exp`, `nbf` and `iat`. Default: 0.
    #[serde(alias = "clockTolerance")]
    pub leeway: u64,
    /// Maximum age in seconds, measured from `iat` (which then becomes required).
    /// Default: none.
    pub max_token_age: Option<u64>,
    /// Claims that must be present. Default: none beyond `exp` (see `require_exp`).
    pub required_claims: Vec<String>,
    /// Required `typ` header, compared as a media type: case-insensitive, with an optional
    /// `application/` prefix (RFC 7515 §4.1.9, RFC 8725 §3.11), e.g. `at+jwt` (RFC 9068).
    /// Default: none, `typ` unchecked.
    pub typ: Option<String>,
    /// Largest token accepted, in bytes. Default: [`DEFAULT_MAX_TOKEN_BYTES`].
    pub max_token_bytes: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            algorithms: Algorithm::ALL.to_vec(),
            issuers: Vec::new(),
            audiences: Vec::new(),
            require_exp: true,
            leeway: 0,
            max_token_age: None,
            required_claims: Vec::new(),
            typ: None,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        }
    }
}

/// Bounds on policy values, so that a typo cannot turn a check off.
/// The largest `leeway` a policy may set (revocations are kept this long past `exp`).
pub(crate) const MAX_LEEWAY: u64 = 24 * 3600;
const MAX_TOKEN_BYTES_LIMIT: usize = 1024 * 1024;

impl Policy {
    /// Checks that the policy is usable. Verifiers call this once when they are built.
    pub fn validate(&self) -> Result<(), Error> {
        if self.algorithms.is_empty() {
            return Err(Error::policy("at least one algorithm must be allowed"));
        }
        if self.leeway > MAX_LEEWAY {
            return Err(Error::policy(format!(
                "leeway is {} s; at most {MAX_LEEWAY} s",
                self.leeway
            )));
        }
        if self.max_token_bytes == 0 || self.max_token_bytes > MAX_TOKEN_BYTES_LIMIT {
            return Err(Error::policy(format!(
                "maxTokenBytes must be between 1 and {MAX_TOKEN_BYTES_LIMIT}"
            )));
        }
        if self.max_token_age == Some(0) {
            return Err(Error::policy("maxTokenAge must be positive"));
        }
        let empty = |values: &[String]| values.iter().any(String::is_empty);
        if empty(&self.issuers) || empty(&self.audiences) || empty(&self.required_claims) {
            return Err(Error::policy(
                "issuers, audiences and requiredClaims may not contain empty strings",
            ));
        }
        if self.typ.as_deref() == Some("") {
            return Err(Error::policy("typ may not be empty"));
        }
        Ok(())
    }

    /// Parses a policy from JSON and validates it.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let policy: Policy = serde_json::from_str(json).map_err(|e| {
            // An algorithm that is registered but not implemented (Ed448) keeps its own code.
            match serde_json::from_str::<AlgorithmNames>(json) {
                Ok(names) => names
                    .unsupported()
                    .unwrap_or_else(|| Error::policy(e.to_string())),
                Err(_) => Error::policy(e.to_string()),
            }
        })?;
        policy.validate()?;
        Ok(policy)
    }
}

/// Only a policy's `algorithms`, as names: to tell an unsupported one from a typo.
#[derive(Deserialize)]
struct AlgorithmNames {
    #[serde(default)]
    algorithms: Vec<String>,
}

impl AlgorithmNames {
    fn unsupported(&self) -> Option<Error> {
        self.algorithms
            .iter()
            .find_map(|name| match Algorithm::parse(name) {
                Err(err @ Error::NotSupported { .. }) => Some(err),
                _ => None,
            })
    }
}

fn issuers<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    one_or_many(deserializer, "issuer")
}

fn audiences<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    one_or_many(deserializer, "audience")
}

/// A string or a non-empty array of strings, as a list. By a visitor that takes either, not an
/// untagged enum, which serde reads by buffering the value first (its private `Content`).
/// An empty array is refused, not read as "unchecked": a list built from configuration that
/// came out empty (`env.split(",").filter(Boolean)`) must not turn the check off.
fn one_or_many<'de, D: Deserializer<'de>>(
    deserializer: D,
    name: &'static str,
) -> Result<Vec<String>, D::Error> {
    struct OneOrMany(&'static str);
    impl<'de> Visitor<'de> for OneOrMany {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or an array of strings")
        }

        fn visit_str<E: de::Error>(self, one: &str) -> Result<Vec<String>, E> {
            Ok(vec![one.to_owned()])
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut many = Vec::new();
            while let Some(one) = seq.next_element()? {
                many.push(one);
            }
            if many.is_empty() {
                return Err(de::Error::custom(format_args!(
                    "{}: an empty list would check nothing; leave the option out to leave the claim unchecked",
                    self.0
                )));
            }
            Ok(many)
        }
    }
    deserializer.deserialize_any(OneOrMany(name))
}

/// Normalises a `typ` for comparison (RFC 7515 §4.1.9).
pub(crate) fn media_type(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}
