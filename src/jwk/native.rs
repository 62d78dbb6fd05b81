//! A key as RustCrypto objects (feature `rust-crypto`): what the pure-Rust provider computes
//! with, built once when the key is. Building them is also the check that needs the curve: an
//! EC point on its curve, a private half that matches its public half, an RSA private key
//! consistent with its modulus. PEM keys and generated keys exist only here, and their
//! members are read back from these objects.

use rsa::{
    pkcs8::{DecodePrivateKey, DecodePublicKey},
    traits::{PrivateKeyParts, PublicKeyParts},
    BigUint, RsaPrivateKey, RsaPublicKey,
};
use zeroize::Zeroizing;

use crate::alg::{Algorithm, Curve, Family};
use crate::error::Error;

use super::parts::{
    EcParts, EdParts, Material, RsaCrt, RsaParts, RsaPrivate, MAX_RSA_BITS, MIN_RSA_BITS,
};

/// The public half of an ECDSA signing key (p521 0.13 lacks `verifying_key()`).
macro_rules! p_verifying_key {
    ($curve:ident, $private:expr) => {
        $curve::ecdsa::VerifyingKey::from_affine(
            *$curve::PublicKey::from_secret_scalar($private.as_nonzero_scalar()).as_affine(),
        )
        .map_err(|_| Error::key("EC public point is invalid"))?
    };
}

/// One variant per key type; HMAC keys need no object beyond their secret.
#[derive(Clone)]
pub(crate) enum Native {
    Hmac,
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

macro_rules! ec_keys {
    ($curve:ident, $variant:ident, $parts:expr) => {{
        // SEC1 uncompressed form: 0x04 || x || y; decoding checks that the point is on the curve.
        let sec1 = [&[4u8][..], &$parts.x, &$parts.y].concat();
        let public = $curve::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
            .map_err(|_| Error::key("EC point is not on the curve"))?;
        let private = match &$parts.d {
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
        Native::$variant { public, private }
    }};
}

impl Native {
    /// The objects for checked members, with the checks that need the arithmetic.
    pub fn from_material(material: &Material) -> Result<Self, Error> {
        Ok(match material {
            Material::Hmac(_) => Native::Hmac,
            Material::Rsa(parts) => rsa(parts)?,
            Material::Ec(parts) => match parts.curve {
                Curve::P256 => ec_keys!(p256, P256, parts),
                Curve::P384 => ec_keys!(p384, P384, parts),
                Curve::P521 => ec_keys!(p521, P521, parts),
            },
            Material::Ed25519(parts) => ed25519(parts)?,
        })
    }

    /// The members of these objects, read back (None for HMAC, which has no object).
    pub fn material(&self) -> Option<Material> {
        let ec = |curve, point: &[u8], d: Option<Vec<u8>>| {
            let len = Curve::coordinate_len(curve);
            Material::Ec(Box::new(EcParts {
                curve,
                x: point[1..1 + len].to_vec(),
                y: point[1 + len..].to_vec(),
                d: d.map(Zeroizing::new),
            }))
        };
        Some(match self {
            Native::Hmac => return None,
            Native::Rsa { public, private } => {
                let be = |n: &BigUint| Zeroizing::new(n.to_bytes_be());
                let private = private.as_deref().map(|private| {
                    let crt = match (private.primes(), private.dp(), private.dq()) {
                        ([p, q], Some(dp), Some(dq)) => {
                            private.crt_coefficient().map(|qi| RsaCrt {
                                p: be(p),
                                q: be(q),
                                dp: be(dp),
                                dq: be(dq),
                                qi: be(&qi),
                            })
                        }
                        _ => None,
                    };
                    RsaPrivate {
                        d: be(private.d()),
                        crt,
                    }
                });
                Material::Rsa(Box::new(RsaParts {
                    n: public.n().to_bytes_be(),
                    e: public.e().to_bytes_be(),
                    private,
                }))
            }
            Native::P256 { public, private } => ec(
                Curve::P256,
                public.to_encoded_point(false).as_bytes(),
                private.as_ref().map(|k| k.to_bytes().to_vec()),
            ),
            Native::P384 { public, private } => ec(
                Curve::P384,
                public.to_encoded_point(false).as_bytes(),
                private.as_ref().map(|k| k.to_bytes().to_vec()),
            ),
            Native::P521 { public, private } => ec(
                Curve::P521,
                public.to_encoded_point(false).as_bytes(),
                private.as_ref().map(|k| k.to_bytes().to_vec()),
            ),
            Native::Ed25519 { public, private } => Material::Ed25519(Box::new(EdParts {
                x: public.to_bytes(),
                d: private.as_ref().map(|k| Zeroizing::new(k.to_bytes())),
            })),
        })
    }

    /// A fresh key for `alg`'s family (HMAC secrets are random bytes: see `Key::generate`).
    pub fn generate(alg: Algorithm) -> Result<Self, Error> {
        let mut rng = rand_core::OsRng;
        Ok(match alg.family() {
            Family::Hmac => return Err(Error::key("an HMAC secret is not generated here")),
            Family::Rsa => {
                let private = RsaPrivateKey::new(&mut rng, MIN_RSA_BITS)
                    .map_err(|e| Error::key(format!("RSA generation failed: {e}")))?;
                Native::Rsa {
                    public: private.to_public_key(),
                    private: Some(Box::new(private)),
                }
            }
            Family::Ec(Curve::P256) => {
                let private = p256::ecdsa::SigningKey::random(&mut rng);
                Native::P256 {
                    public: *private.verifying_key(),
                    private: Some(private),
                }
            }
            Family::Ec(Curve::P384) => {
                let private = p384::ecdsa::SigningKey::random(&mut rng);
                Native::P384 {
                    public: *private.verifying_key(),
                    private: Some(private),
                }
            }
            Family::Ec(Curve::P521) => {
                let private = p521::ecdsa::SigningKey::random(&mut rng);
                Native::P521 {
                    public: p_verifying_key!(p521, &private),
                    private: Some(private),
                }
            }
            Family::Ed25519 => {
                let private = ed25519_dalek::SigningKey::generate(&mut rng);
                Native::Ed25519 {
                    public: private.verifying_key(),
                    private: Some(private),
                }
            }
        })
    }

    /// A PKCS#8 private key of any supported type.
    pub fn from_private_pem(pem: &str) -> Result<Self, Error> {
        if let Ok(private) = RsaPrivateKey::from_pkcs8_pem(pem) {
            return Ok(Native::Rsa {
                public: private.to_public_key(),
                private: Some(Box::new(private)),
            });
        }
        if let Ok(secret) = p256::SecretKey::from_pkcs8_pem(pem) {
            let private = p256::ecdsa::SigningKey::from(secret);
            return Ok(Native::P256 {
                public: *private.verifying_key(),
                private: Some(private),
            });
        }
        if let Ok(secret) = p384::SecretKey::from_pkcs8_pem(pem) {
            let private = p384::ecdsa::SigningKey::from(secret);
            return Ok(Native::P384 {
                public: *private.verifying_key(),
                private: Some(private),
            });
        }
        if let Ok(secret) = p521::SecretKey::from_pkcs8_pem(pem) {
            let private = p521::ecdsa::SigningKey::from_bytes(&secret.to_bytes())
                .map_err(|_| Error::key("P-521 private scalar is out of range"))?;
            return Ok(Native::P521 {
                public: p_verifying_key!(p521, &private),
                private: Some(private),
            });
        }
        if let Ok(private) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            return Ok(Native::Ed25519 {
                public: private.verifying_key(),
                private: Some(private),
            });
        }
        Err(Error::key(
            "PKCS#8 key is malformed or of an unsupported type (RSA, P-256/384/521, Ed25519)",
        ))
    }

    /// An SPKI public key of any supported type.
    pub fn from_public_pem(pem: &str) -> Result<Self, Error> {
        if let Ok(public) = RsaPublicKey::from_public_key_pem(pem) {
            return Ok(Native::Rsa {
                public,
                private: None,
            });
        }
        if let Ok(public) = p256::PublicKey::from_public_key_pem(pem) {
            return Ok(Native::P256 {
                public: public.into(),
                private: None,
            });
        }
        if let Ok(public) = p384::PublicKey::from_public_key_pem(pem) {
            return Ok(Native::P384 {
                public: public.into(),
                private: None,
            });
        }
        if let Ok(public) = p521::PublicKey::from_public_key_pem(pem) {
            let public = p521::ecdsa::VerifyingKey::from_affine(*public.as_affine())
                .map_err(|_| Error::key("EC point is not on the curve"))?;
            return Ok(Native::P521 {
                public,
                private: None,
            });
        }
        if let Ok(public) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            return Ok(Native::Ed25519 {
                public,
                private: None,
            });
        }
        Err(Error::key(
            "SPKI key is malformed or of an unsupported type (RSA, P-256/384/521, Ed25519)",
        ))
    }
}

fn rsa(parts: &RsaParts) -> Result<Native, Error> {
    let n = BigUint::from_bytes_be(&parts.n);
    let e = BigUint::from_bytes_be(&parts.e);
    let public = RsaPublicKey::new_with_max_size(n.clone(), e.clone(), MAX_RSA_BITS)
        .map_err(|e| Error::key(format!("invalid RSA public key: {e}")))?;
    let private = match &parts.private {
        None => None,
        Some(private) => {
            let d = BigUint::from_bytes_be(&private.d);
            // Without p and q the key is rebuilt from d (NIST SP 800-56B C.2).
            let primes = match &private.crt {
                Some(crt) => vec![
                    BigUint::from_bytes_be(&crt.p),
                    BigUint::from_bytes_be(&crt.q),
                ],
                None => Vec::new(),
            };
            let key = RsaPrivateKey::from_components(n, e, d, primes)
                .map_err(|e| Error::key(format!("inconsistent RSA private key: {e}")))?;
            // The CRT members are computed again from p, q and d; given ones that differ are a
            // key that does not fit together, refused rather than silently replaced.
            if let Some(crt) = &private.crt {
                let given = |bytes: &[u8]| BigUint::from_bytes_be(bytes);
                let fits = key.dp() == Some(&given(&crt.dp))
                    && key.dq() == Some(&given(&crt.dq))
                    && key.crt_coefficient() == Some(given(&crt.qi));
                if !fits {
                    return Err(Error::key(
                        "inconsistent RSA private key: dp, dq or qi does not fit p, q and d",
                    ));
                }
            }
            Some(Box::new(key))
        }
    };
    Ok(Native::Rsa { public, private })
}

fn ed25519(parts: &EdParts) -> Result<Native, Error> {
    let public = ed25519_dalek::VerifyingKey::from_bytes(&parts.x)
        .map_err(|_| Error::key("Ed25519 public key is not a valid point"))?;
    if public.is_weak() {
        return Err(Error::key("Ed25519 public key has small order"));
    }
    let private = match &parts.d {
        None => None,
        Some(seed) => {
            let private = ed25519_dalek::SigningKey::from_bytes(seed);
            if private.verifying_key() != public {
                return Err(Error::key(
                    "Ed25519 private key does not match its public key",
                ));
            }
            Some(private)
        }
    };
    Ok(Native::Ed25519 { public, private })
}
