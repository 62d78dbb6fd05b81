//! JWK Sets (RFC 7517 §5) and key selection.
//!
//! Selection never lets the token choose the algorithm: a key is a candidate only if its own
//! binding allows the token's `alg` (see [`Key::allows`]). A set may not mix HMAC secrets with
//! asymmetric keys, and `kid`s must be unique, so one token maps to one unambiguous key
//! (Wycheproof "MixedKeySet", "DuplicateKid").

use crate::alg::Algorithm;
use crate::b64;
use crate::error::{truncated, Error};
use crate::jwk::{is_signature_usage, Jwk, Key};

/// A validated set of keys.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// Parses a JWK Set (`{"keys": [...]}`) or a single JWK, as JSON text.
    ///
    /// JWKs that are not meant for JWS signatures (`use: enc`, `key_ops` naming no signature
    /// operation the key can do, an unknown `kty`, an OKP curve other than Ed25519, or an
    /// `alg` that is not a JWS signature algorithm Tollgate implements) are skipped, as
    /// RFC 7517 §5 asks. A signature key that is malformed or weak fails the whole set: a
    /// misconfiguration must be loud.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let entries = entries(json)?;
        let mut keys = Vec::with_capacity(entries.len());
        for entry in entries {
            let jwk = Jwk::from_value(&entry)
                .map_err(|e| Error::key(format!("not a JWK: {}", truncated(&e))))?;
            if is_for_signatures(&jwk) {
                keys.push(Key::from_jwk(&jwk)?);
            }
        }
        Self::from_keys(keys)
    }

    /// Builds a set from keys, refusing duplicate `kid`s and HMAC keys mixed with asymmetric.
    pub fn from_keys(keys: Vec<Key>) -> Result<Self, Error> {
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|other| other.kid() == key.kid()) {
                return Err(Error::key(format!(
                    "duplicate kid {:?} in key set",
                    truncated(key.kid())
                )));
            }
        }
        let symmetric = keys.iter().filter(|key| key.is_symmetric()).count();
        if symmetric != 0 && symmetric != keys.len() {
            return Err(Error::key(
                "a key set may not mix HMAC secrets with asymmetric keys",
            ));
        }
        Ok(KeySet { keys })
    }

    /// The keys, in the set's order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// True when the set holds no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|key| key.kid() == kid)
    }

    /// The keys that may verify a token with this `kid` (if any) and `alg`: by `kid` when the
    /// token has one, else every key whose binding allows `alg`.
    pub fn candidates<'s, 'k>(
        &'s self,
        kid: Option<&'k str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'s Key> + use<'s, 'k> {
        self.keys.iter().filter(move |key| {
            kid.is_none_or(|kid| b64::same_public(key.kid().as_bytes(), kid.as_bytes()))
                && key.allows(alg)
        })
    }

    /// The public JWK Set, for `/.well-known/jwks.json`. HMAC keys are never included.
    pub fn to_public_json(&self) -> String {
        let keys: Vec<Jwk> = self
            .keys
            .iter()
            .filter_map(|key| key.to_public_jwk().ok())
            .collect();
        crate::json::Object::new().with("keys", keys).finish()
    }

    /// [`KeySet::to_public_json`] as a JSON value.
    pub fn to_public_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.to_public_json()).unwrap_or_default()
    }
}

/// A JWK Set that someone else publishes (an external issuer's JWKS URL, the package's
/// `createRemoteJWKSet`), cut down to the keys that may verify its tokens.
#[derive(Debug)]
pub struct Published {
    /// The usable keys as a JWK Set, each as it was published: [`KeySet::from_json`] reads it.
    pub keys: String,
    /// The signature keys left out, each with its `kid` (if it has one) and why.
    pub ignored: Vec<(Option<String>, String)>,
}

impl Published {
    /// Reads a published JWK Set (or single JWK). A key this deployment would refuse in its
    /// own configuration is left out rather than failing the set, as RFC 7517 §5 asks (SHOULD
    /// ignore keys with missing members or values out of the supported ranges): one odd key the
    /// publisher added must not stop every token of the others. A published set is public, so
    /// a key that holds a secret (an HMAC `k`, a private `d`) is one anyone has read and never
    /// verifies (RFC 8725 §3.1); keys that share a `kid` are all left out, since which one a
    /// token names is ambiguous. Keys for other uses (`use: enc`, another `kty`) are skipped
    /// without a word, as in [`KeySet::from_json`]. Only a document that is not a JWK Set at all
    /// is an error.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let mut kept: Vec<(String, serde_json::Value)> = Vec::new();
        let mut ignored = Vec::new();
        for entry in entries(json)? {
            let jwk = match Jwk::from_value(&entry) {
                Ok(jwk) => jwk,
                Err(reason) => {
                    ignored.push((None, format!("not a JWK: {}", truncated(&reason))));
                    continue;
                }
            };
            if !is_for_signatures(&jwk) {
                continue;
            }
            let refusal = match Key::from_jwk(&jwk) {
                Err(err) => Err(err.to_string()),
                Ok(key) if key.is_symmetric() => {
                    Err("an HMAC secret in a published set is known to everyone".to_owned())
                }
                Ok(key) if key.is_private() => {
                    Err("a private key in a published set is known to everyone".to_owned())
                }
                Ok(key) => Ok(key.kid().to_owned()),
            };
            match refusal {
                Ok(kid) => kept.push((kid, entry)),
                Err(reason) => ignored.push((jwk.kid, reason)),
            }
        }
        // A `kid` is ambiguous whether or not the other key with it could be used: which keys a
        // provider can use differs (the pure-Rust one refuses an off-curve point here, the
        // hosts' at import), and the verdict must not (an outside run).
        let shared: Vec<String> = kept
            .iter()
            .enumerate()
            .filter(|(i, (kid, _))| {
                kept[..*i].iter().any(|(other, _)| other == kid)
                    || ignored.iter().any(|(other, _)| other.as_ref() == Some(kid))
            })
            .map(|(_, (kid, _))| kid.clone())
            .collect();
        let mut keys = Vec::with_capacity(kept.len());
        for (kid, entry) in kept {
            if shared.contains(&kid) {
                ignored.push((
                    Some(kid),
                    "another key in the set has the same kid".to_owned(),
                ));
            } else {
                keys.push(entry);
            }
        }
        Ok(Published {
            keys: crate::json::Object::new().with("keys", keys).finish(),
            ignored,
        })
    }
}

/// The entries of a JWK Set (`{"keys": [...]}`), or the one JWK the text is.
fn entries(json: &str) -> Result<Vec<serde_json::Value>, Error> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::key(format!("not JSON: {}", truncated(&e.to_string()))))?;
    // The keys are copied out rather than removed from the map: a map removal would be 6 KB
    // of the worker's code for this one use (BENCHMARKS.md §4, session 14).
    match value {
        serde_json::Value::Object(set) if set.contains_key("keys") => match set.get("keys") {
            Some(serde_json::Value::Array(keys)) => Ok(keys.clone()),
            _ => Err(Error::key("\"keys\" must be an array of JWK objects")),
        },
        key @ serde_json::Value::Object(_) => Ok(vec![key]),
        _ => Err(Error::key("a JWK Set (or a JWK) is a JSON object")),
    }
}

fn is_for_signatures(jwk: &Jwk) -> bool {
    // Of the OKP curves only Ed25519 signs here: X25519 and X448 are for key agreement, and
    // Ed448 is not implemented (RFC 9864 §2.2); a set may carry them for other consumers.
    let kty_ok = match jwk.kty.as_str() {
        "oct" | "RSA" | "EC" => true,
        "OKP" => jwk.crv.as_deref().is_none_or(|crv| crv == "Ed25519"),
        _ => false,
    };
    let alg_ok = jwk
        .alg
        .as_deref()
        .is_none_or(|alg| Algorithm::from_name(alg).is_some());
    is_signature_usage(jwk) && kty_ok && alg_ok
}
