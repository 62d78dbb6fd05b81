//! Keys: JWK (RFC 7517/7518/8037) and PEM (PKCS#8, SPKI) in, JWK out, RFC 7638 thumbprints.
//!
//! A [`Key`] is always checked when it is built: RSA moduli of at least 2048 bits with an odd
//! public exponent above 1 and no ROCA fingerprint, HMAC secrets at least as long as the hash,
//! Ed25519 points not of small order, and a declared `alg` that fits the key ([`parts`]). With
//! the pure-Rust provider built in (feature `rust-crypto`), EC points are checked on their
//! curve and private halves against their public halves when the key is built ([`native`]);
//! without it the host's crypto makes those checks when it imports the key, and a key it
//! refuses verifies and signs nothing. Nothing weaker can be constructed, so nothing weaker
//! can sign or verify.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::alg::{Algorithm, Family};
use crate::b64;
use crate::crypto::HmacSecret;
use crate::error::{truncated, Error};

#[cfg(feature = "rust-crypto")]
pub(crate) mod native;
pub(crate) mod parts;

#[cfg(feature = "rust-crypto")]
pub(crate) use native::Native;
pub(crate) use parts::Material;
pub use parts::{MAX_RSA_BITS, MIN_RSA_BITS};

/// A JSON Web Key as it appears on the wire. Unknown members are ignored (RFC 7517 §4).
/// Read by [`Jwk::from_value`] (and so from any JSON through `Deserialize`).
#[allow(missing_docs)] // members are the registered JWK parameter names
#[derive(Clone, Default, Serialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: String,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oth: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
}

/// A JWK as JSON text: its members in the order of the fields, absent ones left out. Written
/// straight to text ([`crate::json`]): serde's derive is instantiated once per serializer, and
/// the worker wrote keys through two of them (its JWK Set and the keys it hands WebCrypto).
impl crate::json::Member for Jwk {
    fn write(&self, out: &mut String) {
        crate::json::Object::new()
            .with("kty", &self.kty)
            .with_some("use", self.use_.as_ref())
            .with_some("key_ops", self.key_ops.as_ref())
            .with_some("alg", self.alg.as_ref())
            .with_some("kid", self.kid.as_ref())
            .with_some("crv", self.crv.as_ref())
            .with_some("x", self.x.as_ref())
            .with_some("y", self.y.as_ref())
            .with_some("n", self.n.as_ref())
            .with_some("e", self.e.as_ref())
            .with_some("d", self.d.as_ref())
            .with_some("p", self.p.as_ref())
            .with_some("q", self.q.as_ref())
            .with_some("dp", self.dp.as_ref())
            .with_some("dq", self.dq.as_ref())
            .with_some("qi", self.qi.as_ref())
            .with_some("oth", self.oth.as_ref())
            .with_some("k", self.k.as_ref())
            .write(out);
    }
}

impl Jwk {
    /// The JWK a parsed JSON value holds. Its registered members are strings (RFC 7517 §4,
    /// RFC 7518 §6), `key_ops` an array of strings, `oth` any value; `null` counts as absent,
    /// and `kty` is required. Where a member repeats, JSON parsing kept the last, which RFC 7517
    /// §4 allows a JWK parser to do. One reader for every caller: the keys in a JWK Set, the
    /// `jwk` header of a DPoP proof, a key given alone.
    pub fn from_value(value: &serde_json::Value) -> Result<Jwk, String> {
        use serde_json::Value;
        let Value::Object(members) = value else {
            return Err("a JWK is a JSON object".to_owned());
        };
        // One pass with no early return per member (each `?` would drop the members read so
        // far on its own path): the first wrong member is kept and answered at the end.
        let mut wrong = None;
        let mut text = |name: &'static str| match members.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => {
                wrong.get_or_insert(name);
                None
            }
        };
        let kty = text("kty");
        let jwk = Jwk {
            kty: String::new(),
            use_: text("use"),
            key_ops: None,
            alg: text("alg"),
            kid: text("kid"),
            crv: text("crv"),
            x: text("x"),
            y: text("y"),
            n: text("n"),
            e: text("e"),
            d: text("d"),
            p: text("p"),
            q: text("q"),
            dp: text("dp"),
            dq: text("dq"),
            qi: text("qi"),
            oth: members.get("oth").filter(|oth| !oth.is_null()).cloned(),
            k: text("k"),
        };
        // The errors in the order of the members: `kty` first, then `key_ops`, then the rest.
        let must_be_string = |name| format!("member \"{name}\" must be a string");
        let kty = match (kty, wrong) {
            (_, Some("kty")) => return Err(must_be_string("kty")),
            (None, _) => return Err("member \"kty\" is missing".to_owned()),
            (Some(kty), _) => kty,
        };
        let key_ops = match members.get("key_ops") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("member \"key_ops\" must be an array of strings")?,
            ),
            Some(_) => return Err("member \"key_ops\" must be an array of strings".to_owned()),
        };
        if let Some(name) = wrong {
            return Err(must_be_string(name));
        }
        Ok(Jwk {
            kty,
            key_ops,
            ..jwk
        })
    }
}

impl<'de> Deserialize<'de> for Jwk {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Jwk::from_value(&value).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Jwk {
    /// Prints only public members: a JWK's private parts must never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("crv", &self.crv)
            .field("private", &(self.d.is_some() || self.k.is_some()))
            .finish_non_exhaustive()
    }
}

/// A validated signing or verification key, bound to one algorithm or to one algorithm family.
#[derive(Clone)]
pub struct Key {
    /// Shared, so that a verified token names its key without copying the id.
    kid: Arc<str>,
    alg: Option<Algorithm>,
    material: Material,
    /// False when the JWK's `key_ops` leave out `sign` (RFC 7517 §4.3): it may verify only.
    may_sign: bool,
    /// The same key as RustCrypto objects, for the pure-Rust provider.
    #[cfg(feature = "rust-crypto")]
    native: Native,
    /// The RFC 7638 thumbprint, computed on first use: adapters key caches by it.
    thumbprint: OnceLock<String>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("type", &self.type_name())
            .field("private", &self.is_private())
            .finish()
    }
}

impl Key {
    /// Parses and validates one JWK given as JSON text.
    pub fn from_jwk_json(json: &str) -> Result<Self, Error> {
        let jwk: Jwk = serde_json::from_str(json)
            .map_err(|e| Error::key(format!("not a JWK: {}", truncated(&e.to_string()))))?;
        Self::from_jwk(&jwk)
    }

    /// Validates a parsed JWK. A key not meant for signatures (`use: enc`, or `key_ops`
    /// without an operation it can do: [`is_signature_usage`]) is refused: RFC 7517 §4.2–4.3.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, Error> {
        if !is_signature_usage(jwk) {
            return Err(Error::key(
                "the key is not meant for signatures (use/key_ops)",
            ));
        }
        let alg = match &jwk.alg {
            None => None,
            Some(name) => Some(Algorithm::parse(name).map_err(|err| match err {
                Error::NotSupported { .. } => err,
                _ => Error::key(format!("unsupported key alg {:?}", truncated(name))),
            })?),
        };
        let key = Self::new(Material::from_jwk(jwk)?, alg, jwk.kid.clone())?;
        let may_sign = jwk
            .key_ops
            .as_ref()
            .is_none_or(|ops| ops.iter().any(|op| op == "sign"));
        Ok(Key { may_sign, ..key })
    }

    /// Parses a PEM key: PKCS#8 (`PRIVATE KEY`) or SPKI (`PUBLIC KEY`), of any supported type.
    /// `alg` binds the key (needed for RSA and HMAC-free families only when the caller wants one
    /// algorithm rather than the family). Needs the pure-Rust provider (its ASN.1 decoders).
    #[cfg(feature = "rust-crypto")]
    pub fn from_pem(pem: &str, alg: Option<Algorithm>) -> Result<Self, Error> {
        let pem = pem.trim();
        let native = if pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            Native::from_private_pem(pem)?
        } else if pem.starts_with("-----BEGIN PUBLIC KEY-----") {
            Native::from_public_pem(pem)?
        } else {
            return Err(Error::key(
                "expected a PEM 'PRIVATE KEY' (PKCS#8) or 'PUBLIC KEY' (SPKI) block",
            ));
        };
        let material = native
            .material()
            .ok_or_else(|| Error::key("a PEM key is never an HMAC secret"))?;
        Self::new(material, alg, None)
    }

    /// An HMAC key from raw secret bytes, bound to `alg` (one of HS256/384/512).
    pub fn hmac(secret: &[u8], alg: Algorithm, kid: Option<String>) -> Result<Self, Error> {
        Self::new(
            Material::Hmac(Box::new(HmacSecret::new(Zeroizing::new(secret.to_vec())))),
            Some(alg),
            kid,
        )
    }

    /// Generates a fresh private key for `alg`, with its RFC 7638 thumbprint as `kid`. An
    /// asymmetric key needs the pure-Rust provider (feature `rust-crypto`); without it a host
    /// generates its own (WebCrypto's `generateKey`) and this is `ERR_JOSE_NOT_SUPPORTED`.
    pub fn generate(alg: Algorithm) -> Result<Self, Error> {
        let material = match alg.family() {
            Family::Hmac => {
                let mut secret = Zeroizing::new(vec![0u8; alg.hash_len()]);
                getrandom::getrandom(&mut secret).map_err(Error::no_randomness)?;
                Material::Hmac(Box::new(HmacSecret::new(secret)))
            }
            #[cfg(feature = "rust-crypto")]
            _ => Native::generate(alg)?
                .material()
                .ok_or_else(|| Error::key("key generation failed"))?,
            #[cfg(not(feature = "rust-crypto"))]
            _ => {
                return Err(Error::NotSupported {
                    what: format!("generating {alg} keys without the pure-Rust provider"),
                })
            }
        };
        Self::new(material, Some(alg), None)
    }

    /// The one constructor: every key passes these checks.
    fn new(material: Material, alg: Option<Algorithm>, kid: Option<String>) -> Result<Self, Error> {
        match &material {
            Material::Hmac(secret) => {
                let min = alg.map_or(32, Algorithm::hash_len);
                if secret.len() < min {
                    return Err(Error::key(format!(
                        "HMAC key is {} bytes; {} needs at least {min}",
                        secret.len(),
                        alg.map_or("HS256", Algorithm::name),
                    )));
                }
            }
            Material::Rsa(parts) => parts::check_rsa_public(&parts.n, &parts.e)?,
            _ => {}
        }
        if let Some(alg) = alg {
            if family_of(&material) != alg.family() {
                return Err(Error::key(format!(
                    "alg {alg} does not fit a {} key",
                    type_name(&material)
                )));
            }
        }
        // The objects are built (and the arithmetic checks made) from the members; the members
        // are then read back from them, so that a private key rebuilt from `d` alone exports
        // its CRT members like any other.
        #[cfg(feature = "rust-crypto")]
        let (native, material) = {
            let native = Native::from_material(&material)?;
            let material = native.material().unwrap_or(material);
            (native, material)
        };
        let mut key = Key {
            kid: Arc::from(""),
            alg,
            material,
            may_sign: true,
            #[cfg(feature = "rust-crypto")]
            native,
            thumbprint: OnceLock::new(),
        };
        key.kid = match kid {
            Some(kid) => kid.into(),
            None => key.thumbprint().into(),
        };
        Ok(key)
    }

    /// The key id: the JWK's `kid`, or its RFC 7638 thumbprint when it had none.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// [`Key::kid`], shared.
    pub(crate) fn shared_kid(&self) -> Arc<str> {
        Arc::clone(&self.kid)
    }

    /// The algorithm the key is bound to by its `alg` member, if any.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.alg
    }
    /// True when the key may be used with `alg`: its own `alg` when declared, else any
    /// algorithm of its family that its size supports (RFC 8725 §3.1: the key decides).
    ///
    /// The two names of Ed25519 signatures follow the same rule. A key that declares `EdDSA`
    /// accepts only `EdDSA` tokens and one that declares `Ed25519` only `Ed25519` tokens:
    /// RFC 9864 §7 has a key used with a single algorithm, §5 writes the key's `alg` as
    /// `Ed25519` for the new name, and RFC 7517 §4.4 makes `alg` the algorithm intended for
    /// the key (jose's JWK and JWK Set paths refuse the other name too). A key that declares
    /// no `alg` accepts both: §2.2 defines `Ed25519` as the same EdDSA computation on the same
    /// curve that `EdDSA` names for such a key (RFC 8037 §3.1), so no second algorithm is used.
    pub fn allows(&self, alg: Algorithm) -> bool {
        match self.alg {
            Some(bound) => bound == alg,
            None => {
                family_of(&self.material) == alg.family()
                    && match &self.material {
                        Material::Hmac(secret) => secret.len() >= alg.hash_len(),
                        _ => true,
                    }
            }
        }
    }

    /// The algorithm to sign with: the bound one, else the only one the key type admits.
    /// RSA and HMAC keys without `alg` are ambiguous and must be bound first, and a key whose
    /// `key_ops` leave out `sign` signs nothing (RFC 7517 §4.3).
    pub fn signing_algorithm(&self) -> Result<Algorithm, Error> {
        if !self.may_sign {
            return Err(Error::key(
                "the key's key_ops do not include \"sign\" (RFC 7517 §4.3)",
            ));
        }
        if let Some(alg) = self.alg {
            return Ok(alg);
        }
        match family_of(&self.material) {
            Family::Ec(curve) => Ok(curve.algorithm()),
            // The name most deployed verifiers know (RFC 8037 §3.1); bind the key to
            // `Ed25519` to sign under RFC 9864's fully specified name.
            Family::Ed25519 => Ok(Algorithm::EdDSA),
            Family::Rsa | Family::Hmac => Err(Error::key(
                "an RSA or HMAC key needs an alg to sign with (e.g. RS256, HS256)",
            )),
        }
    }

    /// Returns the same key bound to `alg` (checked as at construction). A key that already
    /// names another `alg` is refused, never rebound: RFC 7517 §4.4 makes its `alg` the one
    /// algorithm it is for (RFC 8725 §3.1), and verifiers holding it refuse any other.
    pub fn with_algorithm(self, alg: Algorithm) -> Result<Self, Error> {
        if let Some(bound) = self.alg.filter(|&bound| bound != alg) {
            return Err(Error::policy(format!(
                "the key's alg is {bound}; it cannot be used with {alg} (asked by the alg option)"
            )));
        }
        if family_of(&self.material) != alg.family() {
            return Err(Error::key(format!(
                "alg {alg} does not fit a {} key",
                type_name(&self.material)
            )));
        }
        if let Material::Hmac(secret) = &self.material {
            if secret.len() < alg.hash_len() {
                return Err(Error::key(format!(
                    "HMAC key is {} bytes; {alg} needs at least {}",
                    secret.len(),
                    alg.hash_len()
                )));
            }
        }
        Ok(Key {
            alg: Some(alg),
            ..self
        })
    }

    /// Returns the same key under another `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into().into();
        self
    }

    /// True when the key can sign (it holds a private half, or it is an HMAC secret).
    pub fn is_private(&self) -> bool {
        match &self.material {
            Material::Hmac(_) => true,
            Material::Rsa(parts) => parts.private.is_some(),
            Material::Ec(parts) => parts.d.is_some(),
            Material::Ed25519(parts) => parts.d.is_some(),
        }
    }

    /// True for HMAC keys, which have no public form.
    pub fn is_symmetric(&self) -> bool {
        matches!(self.material, Material::Hmac(_))
    }

    /// `"oct"`, `"RSA"`, `"EC"` or `"OKP"`.
    pub fn type_name(&self) -> &'static str {
        type_name(&self.material)
    }

    pub(crate) fn material(&self) -> &Material {
        &self.material
    }

    #[cfg(feature = "rust-crypto")]
    pub(crate) fn native(&self) -> &Native {
        &self.native
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url): the required members only, in
    /// lexicographic order, with no whitespace.
    pub fn thumbprint(&self) -> String {
        self.thumbprint
            .get_or_init(|| self.compute_thumbprint())
            .clone()
    }

    fn compute_thumbprint(&self) -> String {
        let canonical = match &self.material {
            Material::Hmac(secret) => {
                format!(r#"{{"k":"{}","kty":"oct"}}"#, b64::encode(secret))
            }
            Material::Rsa(parts) => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                b64::encode(&parts.e),
                b64::encode(&parts.n)
            ),
            Material::Ed25519(parts) => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                b64::encode(&parts.x)
            ),
            Material::Ec(parts) => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                parts.curve.name(),
                b64::encode(&parts.x),
                b64::encode(&parts.y)
            ),
        };
        b64::encode(&Sha256::digest(canonical.as_bytes()))
    }

    /// The public JWK, with `kid`, `alg` (if bound) and `use: sig`. HMAC keys have none.
    pub fn to_public_jwk(&self) -> Result<Jwk, Error> {
        if self.is_symmetric() {
            return Err(Error::key("an HMAC key has no public form"));
        }
        Ok(self.with_metadata(self.public_members()))
    }

    /// The full JWK, private members included. Store it as a secret; never log it.
    pub fn to_private_jwk(&self) -> Jwk {
        let mut jwk = self.public_members();
        // A key that may only verify says so in what it exports too.
        if !self.may_sign {
            jwk.key_ops = Some(vec!["verify".to_owned()]);
        }
        match &self.material {
            Material::Hmac(secret) => jwk.k = Some(b64::encode(secret)),
            Material::Rsa(parts) => {
                if let Some(private) = &parts.private {
                    jwk.d = Some(b64::encode(&private.d));
                    if let Some(crt) = &private.crt {
                        jwk.p = Some(b64::encode(&crt.p));
                        jwk.q = Some(b64::encode(&crt.q));
                        jwk.dp = Some(b64::encode(&crt.dp));
                        jwk.dq = Some(b64::encode(&crt.dq));
                        jwk.qi = Some(b64::encode(&crt.qi));
                    }
                }
            }
            Material::Ec(parts) => jwk.d = parts.d.as_ref().map(|d| b64::encode(d)),
            Material::Ed25519(parts) => jwk.d = parts.d.as_ref().map(|d| b64::encode(&d[..])),
        }
        self.with_metadata(jwk)
    }

    fn with_metadata(&self, mut jwk: Jwk) -> Jwk {
        jwk.kid = Some(self.kid.to_string());
        jwk.alg = self.alg.map(|alg| alg.name().to_owned());
        jwk.use_ = Some("sig".to_owned());
        jwk
    }

    /// The members that identify the public key (and `kty`).
    pub(crate) fn public_members(&self) -> Jwk {
        let mut jwk = Jwk {
            kty: self.type_name().to_owned(),
            ..Jwk::default()
        };
        match &self.material {
            Material::Hmac(_) => {}
            Material::Rsa(parts) => {
                jwk.n = Some(b64::encode(&parts.n));
                jwk.e = Some(b64::encode(&parts.e));
            }
            Material::Ec(parts) => {
                jwk.crv = Some(parts.curve.name().to_owned());
                jwk.x = Some(b64::encode(&parts.x));
                jwk.y = Some(b64::encode(&parts.y));
            }
            Material::Ed25519(parts) => {
                jwk.crv = Some("Ed25519".to_owned());
                jwk.x = Some(b64::encode(&parts.x));
            }
        }
        jwk
    }
}

/// RFC 7517 §4.2–4.3: `use`, if present, must be `sig`; `key_ops`, if present, must name a
/// signature operation this key can do. A public key can only verify, so its `key_ops` must
/// include `verify` (`["sign"]` on one says it is not meant for this, and jose refuses it
/// too). A private key or a secret may say `sign` alone: what it signs, its public half (or
/// the secret itself) verifies, and a deployment's signing keys check their own tokens.
pub(crate) fn is_signature_usage(jwk: &Jwk) -> bool {
    let use_ok = jwk.use_.as_deref().is_none_or(|u| u == "sig");
    let public_only = jwk.kty != "oct" && jwk.d.is_none();
    let ops_ok = jwk.key_ops.as_ref().is_none_or(|ops| {
        ops.iter()
            .any(|op| op == "verify" || (op == "sign" && !public_only))
    });
    use_ok && ops_ok
}

fn type_name(material: &Material) -> &'static str {
    match material {
        Material::Hmac(_) => "oct",
        Material::Rsa(_) => "RSA",
        Material::Ec(_) => "EC",
        Material::Ed25519(_) => "OKP",
    }
}

fn family_of(material: &Material) -> Family {
    match material {
        Material::Hmac(_) => Family::Hmac,
        Material::Rsa(_) => Family::Rsa,
        Material::Ec(parts) => Family::Ec(parts.curve),
        Material::Ed25519(_) => Family::Ed25519,
    }
}

#[cfg(test)]
mod tests {
    use super::Jwk;
    use serde_json::json;

    #[test]
    fn the_first_wrong_member_is_the_error_kty_first() {
        for (value, error) in [
            (json!({ "x": 1 }), "member \"kty\" is missing"),
            (json!({ "kty": null }), "member \"kty\" is missing"),
            (
                json!({ "kty": 1, "x": 1 }),
                "member \"kty\" must be a string",
            ),
            (
                json!({ "kty": "EC", "key_ops": "sign", "x": 1 }),
                "member \"key_ops\" must be an array of strings",
            ),
            (
                json!({ "kty": "EC", "y": 2, "x": 1 }),
                "member \"x\" must be a string",
            ),
            (
                json!({ "kty": "EC", "k": [] }),
                "member \"k\" must be a string",
            ),
        ] {
            assert_eq!(Jwk::from_value(&value).unwrap_err(), error, "{value}");
        }
    }

    /// RFC 7517 §4.3: a public key's `key_ops` must include `verify`, all it can do; a
    /// private key or a secret may say `sign` alone (its own tokens are verified with it).
    #[test]
    fn key_ops_name_what_the_key_can_do() {
        let public = json!({ "kty": "OKP", "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" });
        let private = json!({ "kty": "OKP", "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A" });
        let secret = json!({ "kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" });
        let with = |jwk: &serde_json::Value, ops: &[&str]| {
            let mut jwk = jwk.clone();
            jwk["key_ops"] = json!(ops);
            super::is_signature_usage(&Jwk::from_value(&jwk).unwrap())
        };
        assert!(with(&public, &["verify"]));
        assert!(!with(&public, &["sign"]), "a public key cannot sign");
        assert!(!with(&public, &["sign", "encrypt"]));
        for key in [&private, &secret] {
            assert!(with(key, &["sign"]));
            assert!(with(key, &["verify"]));
            assert!(!with(key, &["encrypt"]));
        }
    }

    /// The text writer and serde's derive (the package's and the CLI's path) agree on every
    /// member, whatever is present.
    #[test]
    fn a_jwk_is_written_as_serde_writes_it() {
        let full = json!({ "kty": "RSA", "use": "sig", "key_ops": ["sign", "verify"],
            "alg": "RS256", "kid": "k\"1", "crv": "c", "x": "x", "y": "y", "n": "n", "e": "AQAB",
            "d": "d", "p": "p", "q": "q", "dp": "dp", "dq": "dq", "qi": "qi",
            "oth": [{ "r": "r", "d": "d", "t": "t" }], "k": "k" });
        let bare = json!({ "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" });
        for value in [full, bare] {
            let jwk = Jwk::from_value(&value).unwrap();
            let written: serde_json::Value = serde_json::from_str(&crate::json::of(&jwk)).unwrap();
            assert_eq!(written, serde_json::to_value(&jwk).unwrap());
            assert_eq!(written, value);
        }
    }

    #[test]
    fn rfc7517_4_members_are_strings_and_null_is_absent() {
        let jwk = Jwk::from_value(&json!({ "kty": "oct", "k": "c2VjcmV0", "kid": null, "key_ops": ["sign"], "x-other": 1 })).unwrap();
        assert_eq!(
            (jwk.kty.as_str(), jwk.k.as_deref(), jwk.kid),
            ("oct", Some("c2VjcmV0"), None)
        );
        assert_eq!(jwk.key_ops, Some(vec!["sign".to_owned()]));
        for bad in [
            json!([]),
            json!({ "k": "c2VjcmV0" }),
            json!({ "kty": 1 }),
            json!({ "kty": "oct", "kid": 7 }),
            json!({ "kty": "oct", "alg": ["HS256"] }),
            json!({ "kty": "oct", "key_ops": "sign" }),
            json!({ "kty": "oct", "key_ops": ["sign", 1] }),
        ] {
            assert!(Jwk::from_value(&bad).is_err(), "{bad}");
        }
        // The same reader behind Deserialize, from text.
        let from_text: Jwk = serde_json::from_str(r#"{"kty":"oct","k":"c2VjcmV0"}"#).unwrap();
        assert_eq!(from_text.k.as_deref(), Some("c2VjcmV0"));
        assert!(serde_json::from_str::<Jwk>(r#"{"kty":"oct","x":false}"#).is_err());
    }
}
