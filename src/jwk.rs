//! Keys: JWK (RFC 7517/7518/8037) and PEM (PKCS#8, SPKI) in, JWK out, RFC 7638 thumbprints.
//!
//! A [`Key`] is always checked when it is built: RSA moduli of at least 2048 bits with an odd
//! public exponent above 1 and no ROCA fingerprint, HMAC secrets at least as long as the hash,
//! EC points on their curve, private halves that match their public halves, and a declared `alg`
//! that fits the key. Nothing weaker can be constructed, so nothing weaker can sign or verify.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rsa::{
    pkcs8::{DecodePrivateKey, DecodePublicKey},
    traits::{PrivateKeyParts, PublicKeyParts},
    BigUint, RsaPrivateKey, RsaPublicKey,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::alg::{Algorithm, Curve, Family};
use crate::b64;
use crate::crypto::HmacSecret;
use crate::error::{truncated, Error};

/// The public half of an ECDSA signing key (p521 0.13 lacks `verifying_key()`).
macro_rules! p_verifying_key {
    ($curve:ident, $private:expr) => {
        $curve::ecdsa::VerifyingKey::from_affine(
            *$curve::PublicKey::from_secret_scalar($private.as_nonzero_scalar()).as_affine(),
        )
        .map_err(|_| Error::key("EC public point is invalid"))?
    };
}

/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3, RFC 8725 §3.5).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits: bigger keys only cost verification time.
pub const MAX_RSA_BITS: usize = 8192;

/// A JSON Web Key as it appears on the wire. Unknown members are ignored (RFC 7517 §4).
#[allow(missing_docs)] // members are the registered JWK parameter names
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: String,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oth: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
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

/// The key material, one variant per key type; private halves are optional except for HMAC.
#[derive(Clone)]
pub(crate) enum Material {
    Hmac(Box<HmacSecret>),
    Rsa {
        public: RsaPublicKey,
        private: Option<Box<RsaPrivateKey>>,
    },
    P256 {
        public: p256::ecdsa::VerifyingKey,
        private: Option<p256::ecdsa::SigningKey>,
    },
    P384 {
        public: p384::ecdsa::VerifyingKey,
        private: Option<p384::ecdsa::SigningKey>,
    },
    P521 {
        public: p521::ecdsa::VerifyingKey,
        private: Option<p521::ecdsa::SigningKey>,
    },
    Ed25519 {
        public: ed25519_dalek::VerifyingKey,
        private: Option<ed25519_dalek::SigningKey>,
    },
}

/// A validated signing or verification key, bound to one algorithm or to one algorithm family.
#[derive(Clone)]
pub struct Key {
    /// Shared, so that a verified token names its key without copying the id.
    kid: Arc<str>,
    alg: Option<Algorithm>,
    material: Material,
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

    /// Validates a parsed JWK. A key meant for encryption (`use: enc`, or `key_ops` without
    /// `sign`/`verify`) is refused: RFC 7517 §4.2–4.3.
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
        let material = match jwk.kty.as_str() {
            "oct" => Material::Hmac(Box::new(HmacSecret::new(Zeroizing::new(
                field(&jwk.k, "k")?.to_vec(),
            )))),
            "RSA" => rsa_material(jwk)?,
            "EC" => ec_material(jwk)?,
            "OKP" => okp_material(jwk)?,
            other => {
                return Err(Error::key(format!(
                    "unsupported kty {:?}",
                    truncated(other)
                )))
            }
        };
        Self::new(material, alg, jwk.kid.clone())
    }

    /// Parses a PEM key: PKCS#8 (`PRIVATE KEY`) or SPKI (`PUBLIC KEY`), of any supported type.
    /// `alg` binds the key (needed for RSA and HMAC-free families only when the caller wants one
    /// algorithm rather than the family).
    pub fn from_pem(pem: &str, alg: Option<Algorithm>) -> Result<Self, Error> {
        let pem = pem.trim();
        let material = if pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            private_pem(pem)?
        } else if pem.starts_with("-----BEGIN PUBLIC KEY-----") {
            public_pem(pem)?
        } else {
            return Err(Error::key(
                "expected a PEM 'PRIVATE KEY' (PKCS#8) or 'PUBLIC KEY' (SPKI) block",
            ));
        };
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

    /// Generates a fresh private key for `alg`, with its RFC 7638 thumbprint as `kid`.
    pub fn generate(alg: Algorithm) -> Result<Self, Error> {
        let mut rng = rand_core::OsRng;
        let material = match alg.family() {
            Family::Hmac => {
                let mut secret = Zeroizing::new(vec![0u8; alg.hash_len()]);
                getrandom::getrandom(&mut secret).map_err(Error::no_randomness)?;
                Material::Hmac(Box::new(HmacSecret::new(secret)))
            }
            Family::Rsa => {
                let private = RsaPrivateKey::new(&mut rng, MIN_RSA_BITS)
                    .map_err(|e| Error::key(format!("RSA generation failed: {e}")))?;
                Material::Rsa {
                    public: private.to_public_key(),
                    private: Some(Box::new(private)),
                }
            }
            Family::Ec(Curve::P256) => {
                let private = p256::ecdsa::SigningKey::random(&mut rng);
                Material::P256 {
                    public: *private.verifying_key(),
                    private: Some(private),
                }
            }
            Family::Ec(Curve::P384) => {
                let private = p384::ecdsa::SigningKey::random(&mut rng);
                Material::P384 {
                    public: *private.verifying_key(),
                    private: Some(private),
                }
            }
            Family::Ec(Curve::P521) => {
                let private = p521::ecdsa::SigningKey::random(&mut rng);
                Material::P521 {
                    public: p_verifying_key!(p521, &private),
                    private: Some(private),
                }
            }
            Family::Ed25519 => {
                let private = ed25519_dalek::SigningKey::generate(&mut rng);
                Material::Ed25519 {
                    public: private.verifying_key(),
                    private: Some(private),
                }
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
            Material::Rsa { public, .. } => check_rsa_public(public)?,
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
        let mut key = Key {
            kid: Arc::from(""),
            alg,
            material,
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
    /// RSA and HMAC keys without `alg` are ambiguous and must be bound first.
    pub fn signing_algorithm(&self) -> Result<Algorithm, Error> {
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

    /// Returns the same key bound to `alg` (checked as at construction).
    pub fn with_algorithm(self, alg: Algorithm) -> Result<Self, Error> {
        let kid = Some(self.kid.to_string());
        Self::new(self.material, Some(alg), kid)
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
            Material::Rsa { private, .. } => private.is_some(),
            Material::P256 { private, .. } => private.is_some(),
            Material::P384 { private, .. } => private.is_some(),
            Material::P521 { private, .. } => private.is_some(),
            Material::Ed25519 { private, .. } => private.is_some(),
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

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url): the required members only, in
    /// lexicographic order, with no whitespace.
    pub fn thumbprint(&self) -> String {
        self.thumbprint
            .get_or_init(|| self.compute_thumbprint())
            .clone()
    }

    fn compute_thumbprint(&self) -> String {
        let public = self.public_members();
        let canonical = match &self.material {
            Material::Hmac(secret) => {
                format!(r#"{{"k":"{}","kty":"oct"}}"#, b64::encode(secret))
            }
            Material::Rsa { .. } => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                public.e.unwrap_or_default(),
                public.n.unwrap_or_default()
            ),
            Material::Ed25519 { .. } => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                public.x.unwrap_or_default()
            ),
            _ => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                public.crv.unwrap_or_default(),
                public.x.unwrap_or_default(),
                public.y.unwrap_or_default()
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
        match &self.material {
            Material::Hmac(secret) => jwk.k = Some(b64::encode(secret)),
            Material::Rsa {
                private: Some(private),
                ..
            } => {
                let primes = private.primes();
                jwk.d = Some(b64::encode(&private.d().to_bytes_be()));
                if let [p, q] = primes {
                    jwk.p = Some(b64::encode(&p.to_bytes_be()));
                    jwk.q = Some(b64::encode(&q.to_bytes_be()));
                }
                if let (Some(dp), Some(dq), Some(qi)) =
                    (private.dp(), private.dq(), private.crt_coefficient())
                {
                    jwk.dp = Some(b64::encode(&dp.to_bytes_be()));
                    jwk.dq = Some(b64::encode(&dq.to_bytes_be()));
                    jwk.qi = Some(b64::encode(&qi.to_bytes_be()));
                }
            }
            Material::P256 {
                private: Some(private),
                ..
            } => jwk.d = Some(b64::encode(&private.to_bytes())),
            Material::P384 {
                private: Some(private),
                ..
            } => jwk.d = Some(b64::encode(&private.to_bytes())),
            Material::P521 {
                private: Some(private),
                ..
            } => jwk.d = Some(b64::encode(&private.to_bytes())),
            Material::Ed25519 {
                private: Some(private),
                ..
            } => jwk.d = Some(b64::encode(private.as_bytes())),
            _ => {}
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
            Material::Rsa { public, .. } => {
                jwk.n = Some(b64::encode(&public.n().to_bytes_be()));
                jwk.e = Some(b64::encode(&public.e().to_bytes_be()));
            }
            Material::P256 { public, .. } => {
                let point = public.to_encoded_point(false);
                set_ec(&mut jwk, Curve::P256, point.x(), point.y());
            }
            Material::P384 { public, .. } => {
                let point = public.to_encoded_point(false);
                set_ec(&mut jwk, Curve::P384, point.x(), point.y());
            }
            Material::P521 { public, .. } => {
                let point = public.to_encoded_point(false);
                set_ec(&mut jwk, Curve::P521, point.x(), point.y());
            }
            Material::Ed25519 { public, .. } => {
                jwk.crv = Some("Ed25519".to_owned());
                jwk.x = Some(b64::encode(public.as_bytes()));
            }
        }
        jwk
    }
}

fn set_ec<T: AsRef<[u8]>>(jwk: &mut Jwk, curve: Curve, x: Option<T>, y: Option<T>) {
    jwk.crv = Some(curve.name().to_owned());
    jwk.x = x.map(|x| b64::encode(x.as_ref()));
    jwk.y = y.map(|y| b64::encode(y.as_ref()));
}

/// RFC 7517 §4.2–4.3: `use` must be `sig` and `key_ops` must include sign or verify, if present.
pub(crate) fn is_signature_usage(jwk: &Jwk) -> bool {
    let use_ok = jwk.use_.as_deref().is_none_or(|u| u == "sig");
    let ops_ok = jwk
        .key_ops
        .as_ref()
        .is_none_or(|ops| ops.iter().any(|op| op == "sign" || op == "verify"));
    use_ok && ops_ok
}

fn type_name(material: &Material) -> &'static str {
    match material {
        Material::Hmac(_) => "oct",
        Material::Rsa { .. } => "RSA",
        Material::P256 { .. } | Material::P384 { .. } | Material::P521 { .. } => "EC",
        Material::Ed25519 { .. } => "OKP",
    }
}

fn family_of(material: &Material) -> Family {
    match material {
        Material::Hmac(_) => Family::Hmac,
        Material::Rsa { .. } => Family::Rsa,
        Material::P256 { .. } => Family::Ec(Curve::P256),
        Material::P384 { .. } => Family::Ec(Curve::P384),
        Material::P521 { .. } => Family::Ec(Curve::P521),
        Material::Ed25519 { .. } => Family::Ed25519,
    }
}

/// Decodes a required base64url member.
fn field(value: &Option<String>, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let text = value
        .as_deref()
        .ok_or_else(|| Error::key(format!("missing member {name:?}")))?;
    b64::decode(text)
        .map(Zeroizing::new)
        .ok_or_else(|| Error::key(format!("member {name:?} is not strict base64url")))
}

/// Decodes an exact-length base64url member (EC coordinates, RFC 7518 §6.2.1.2).
fn fixed_field(
    value: &Option<String>,
    name: &str,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let bytes = field(value, name)?;
    if bytes.len() != len {
        return Err(Error::key(format!(
            "member {name:?} is {} bytes, expected {len}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

fn big(value: &Option<String>, name: &str) -> Result<BigUint, Error> {
    Ok(BigUint::from_bytes_be(&field(value, name)?))
}

fn rsa_material(jwk: &Jwk) -> Result<Material, Error> {
    let n = big(&jwk.n, "n")?;
    let e = big(&jwk.e, "e")?;
    if jwk.oth.is_some() {
        return Err(Error::key("multi-prime RSA keys (oth) are not supported"));
    }
    let public = rsa_public(n.clone(), e.clone())?;
    let private = match &jwk.d {
        None => None,
        Some(_) => {
            let d = big(&jwk.d, "d")?;
            // A private exponent lies strictly between 1 and n; without p and q the key is
            // rebuilt from d (NIST SP 800-56B C.2), whose arithmetic assumes d ≥ 1.
            if d <= BigUint::from(1u8) || d >= n {
                return Err(Error::key("RSA private exponent d is out of range"));
            }
            let primes = match (&jwk.p, &jwk.q) {
                (Some(_), Some(_)) => vec![big(&jwk.p, "p")?, big(&jwk.q, "q")?],
                _ => Vec::new(),
            };
            let private = RsaPrivateKey::from_components(n, e, d, primes)
                .map_err(|e| Error::key(format!("inconsistent RSA private key: {e}")))?;
            Some(Box::new(private))
        }
    };
    Ok(Material::Rsa { public, private })
}

fn rsa_public(n: BigUint, e: BigUint) -> Result<RsaPublicKey, Error> {
    let key = RsaPublicKey::new_with_max_size(n, e, MAX_RSA_BITS)
        .map_err(|e| Error::key(format!("invalid RSA public key: {e}")))?;
    check_rsa_public(&key)?;
    Ok(key)
}

/// RFC 8725 §3.5 and the Wycheproof key tests: size, exponent, and the ROCA fingerprint.
fn check_rsa_public(key: &RsaPublicKey) -> Result<(), Error> {
    let bits = key.n().bits();
    if bits < MIN_RSA_BITS {
        return Err(Error::key(format!(
            "RSA modulus is {bits} bits; at least {MIN_RSA_BITS} are required"
        )));
    }
    if bits > MAX_RSA_BITS {
        return Err(Error::key(format!(
            "RSA modulus is {bits} bits; at most {MAX_RSA_BITS} are accepted"
        )));
    }
    let e = key.e();
    if *e <= BigUint::from(1u8) || residue(e, 2) == 0 {
        return Err(Error::key(
            "RSA public exponent must be odd and greater than 1",
        ));
    }
    if has_roca_fingerprint(key.n()) {
        return Err(Error::key(
            "RSA modulus has the ROCA fingerprint (CVE-2017-15361): the private key can be recovered",
        ));
    }
    Ok(())
}

/// The ROCA test (Nemec et al., CCS 2017): moduli made by the vulnerable Infineon library lie,
/// modulo each small prime below, in the subgroup generated by 65537. A random modulus passes
/// all of them with negligible probability.
fn has_roca_fingerprint(n: &BigUint) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&p| {
        let residue = residue(n, p);
        let generator = 65537 % p;
        let mut power = 1u32;
        loop {
            if power == residue {
                return true;
            }
            power = power * generator % p;
            if power == 1 {
                return false;
            }
        }
    })
}

/// `n mod m` for a small modulus, without big-number division.
fn residue(n: &BigUint, m: u32) -> u32 {
    n.to_bytes_be().iter().fold(0u64, |acc, &byte| {
        (acc * 256 + u64::from(byte)) % u64::from(m)
    }) as u32
}

fn curve_of(jwk: &Jwk) -> Result<Curve, Error> {
    match jwk.crv.as_deref() {
        Some("P-256") => Ok(Curve::P256),
        Some("P-384") => Ok(Curve::P384),
        Some("P-521") => Ok(Curve::P521),
        Some(other) => Err(Error::key(format!(
            "unsupported EC curve {:?}",
            truncated(other)
        ))),
        None => Err(Error::key("missing member \"crv\"")),
    }
}

macro_rules! ec_keys {
    ($curve:ident, $variant:ident, $x:expr, $y:expr, $d:expr) => {{
        // SEC1 uncompressed form: 0x04 || x || y; decoding checks that the point is on the curve.
        let sec1 = [&[4u8][..], $x, $y].concat();
        let public = $curve::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
            .map_err(|_| Error::key("EC point is not on the curve"))?;
        let private = match $d {
            None => None,
            Some(d) => {
                let private = $curve::ecdsa::SigningKey::from_slice(d)
                    .map_err(|_| Error::key("EC private scalar is out of range"))?;
                if p_verifying_key!($curve, &private).to_encoded_point(false)
                    != public.to_encoded_point(false)
                {
                    return Err(Error::key("EC private key does not match its public point"));
                }
                Some(private)
            }
        };
        Material::$variant { public, private }
    }};
}

fn ec_material(jwk: &Jwk) -> Result<Material, Error> {
    let curve = curve_of(jwk)?;
    let len = curve.coordinate_len();
    let x = fixed_field(&jwk.x, "x", len)?;
    let y = fixed_field(&jwk.y, "y", len)?;
    let d = match &jwk.d {
        None => None,
        Some(_) => Some(fixed_field(&jwk.d, "d", len)?),
    };
    let d = d.as_deref().map(Vec::as_slice);
    Ok(match curve {
        Curve::P256 => ec_keys!(p256, P256, &x, &y, d),
        Curve::P384 => ec_keys!(p384, P384, &x, &y, d),
        Curve::P521 => ec_keys!(p521, P521, &x, &y, d),
    })
}

fn okp_material(jwk: &Jwk) -> Result<Material, Error> {
    match jwk.crv.as_deref() {
        Some("Ed25519") => {}
        Some("Ed448") => {
            return Err(Error::NotSupported {
                what: "Ed448 keys (RFC 9864 §2.2)".to_owned(),
            })
        }
        Some(other) => {
            return Err(Error::key(format!(
                "unsupported OKP curve {:?}",
                truncated(other)
            )))
        }
        None => return Err(Error::key("missing member \"crv\"")),
    }
    let x = fixed_field(&jwk.x, "x", 32)?;
    let mut raw = [0u8; 32];
    raw.copy_from_slice(&x);
    let public = ed25519_dalek::VerifyingKey::from_bytes(&raw)
        .map_err(|_| Error::key("Ed25519 public key is not a valid point"))?;
    if public.is_weak() {
        return Err(Error::key("Ed25519 public key has small order"));
    }
    let private = match &jwk.d {
        None => None,
        Some(_) => {
            let d = fixed_field(&jwk.d, "d", 32)?;
            let mut seed = Zeroizing::new([0u8; 32]);
            seed.copy_from_slice(&d);
            let private = ed25519_dalek::SigningKey::from_bytes(&seed);
            if private.verifying_key() != public {
                return Err(Error::key(
                    "Ed25519 private key does not match its public key",
                ));
            }
            Some(private)
        }
    };
    Ok(Material::Ed25519 { public, private })
}

fn private_pem(pem: &str) -> Result<Material, Error> {
    if let Ok(private) = RsaPrivateKey::from_pkcs8_pem(pem) {
        return Ok(Material::Rsa {
            public: private.to_public_key(),
            private: Some(Box::new(private)),
        });
    }
    if let Ok(secret) = p256::SecretKey::from_pkcs8_pem(pem) {
        let private = p256::ecdsa::SigningKey::from(secret);
        return Ok(Material::P256 {
            public: *private.verifying_key(),
            private: Some(private),
        });
    }
    if let Ok(secret) = p384::SecretKey::from_pkcs8_pem(pem) {
        let private = p384::ecdsa::SigningKey::from(secret);
        return Ok(Material::P384 {
            public: *private.verifying_key(),
            private: Some(private),
        });
    }
    if let Ok(secret) = p521::SecretKey::from_pkcs8_pem(pem) {
        let private = p521::ecdsa::SigningKey::from_bytes(&secret.to_bytes())
            .map_err(|_| Error::key("P-521 private scalar is out of range"))?;
        return Ok(Material::P521 {
            public: p_verifying_key!(p521, &private),
            private: Some(private),
        });
    }
    if let Ok(private) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
        return Ok(Material::Ed25519 {
            public: private.verifying_key(),
            private: Some(private),
        });
    }
    Err(Error::key(
        "PKCS#8 key is malformed or of an unsupported type (RSA, P-256/384/521, Ed25519)",
    ))
}

fn public_pem(pem: &str) -> Result<Material, Error> {
    if let Ok(public) = RsaPublicKey::from_public_key_pem(pem) {
        return Ok(Material::Rsa {
            public,
            private: None,
        });
    }
    if let Ok(public) = p256::PublicKey::from_public_key_pem(pem) {
        return Ok(Material::P256 {
            public: public.into(),
            private: None,
        });
    }
    if let Ok(public) = p384::PublicKey::from_public_key_pem(pem) {
        return Ok(Material::P384 {
            public: public.into(),
            private: None,
        });
    }
    if let Ok(public) = p521::PublicKey::from_public_key_pem(pem) {
        let public = p521::ecdsa::VerifyingKey::from_affine(*public.as_affine())
            .map_err(|_| Error::key("EC point is not on the curve"))?;
        return Ok(Material::P521 {
            public,
            private: None,
        });
    }
    if let Ok(public) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
        return Ok(Material::Ed25519 {
            public,
            private: None,
        });
    }
    Err(Error::key(
        "SPKI key is malformed or of an unsupported type (RSA, P-256/384/521, Ed25519)",
    ))
}
