//! The closed set of JWS algorithms Tollgate accepts (RFC 7518 §3, RFC 8037, RFC 9864), and the
//! two that jwt-compact lacks (ES384, ES512), implemented on its public `Algorithm` trait.
//!
//! `none` is not a variant, so no policy, key or caller can ask for it (RFC 8725 §3.1).
//!
//! Ed25519 signatures have two names: `Ed25519`, the fully specified identifier of RFC 9864
//! §2.2, and `EdDSA`, the polymorphic one of RFC 8037 §3.1 that RFC 9864 deprecates but that
//! most deployed verifiers still expect. Both are variants, so a key, a policy or a token names
//! exactly one of them (see [`crate::Key::allows`] for how a key bound to one treats the
//! other). `Ed448` is registered by RFC 9864 too but not implemented: [`Algorithm::parse`]
//! refuses it as unsupported rather than unknown.

use core::fmt;
use std::borrow::Cow;

#[cfg(feature = "rust-crypto")]
use jwt_compact::{Algorithm as JwtAlgorithm, AlgorithmSignature};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{truncated, Error};

/// A JWS signature algorithm.
#[allow(missing_docs)] // the variants are the registered names
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
    Ed25519,
}

/// The kind of key an algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// A shared secret (`kty: oct`).
    Hmac,
    /// RSASSA-PKCS1-v1_5 or RSASSA-PSS (`kty: RSA`).
    Rsa,
    /// ECDSA on the named NIST curve (`kty: EC`).
    Ec(Curve),
    /// EdDSA on Ed25519 (`kty: OKP`, `crv: Ed25519`), named `EdDSA` or `Ed25519`.
    Ed25519,
}

/// The NIST curves of ES256/384/512.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    /// The JWK `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// Bytes of one coordinate (and of `d`), RFC 7518 §6.2.1.2.
    pub fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The algorithm bound to this curve (RFC 7518 §3.4).
    pub fn algorithm(self) -> Algorithm {
        match self {
            Curve::P256 => Algorithm::ES256,
            Curve::P384 => Algorithm::ES384,
            Curve::P521 => Algorithm::ES512,
        }
    }
}

impl Algorithm {
    /// Every algorithm, in registry order.
    pub const ALL: [Algorithm; 14] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
        Algorithm::Ed25519,
    ];

    /// The registered `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::Ed25519 => "Ed25519",
        }
    }

    /// Parses a registered name, case-sensitively (RFC 7515 §4.1.1). `none` and unknown names
    /// give `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// [`Algorithm::from_name`] with the refusal spelled out: a registered signature algorithm
    /// Tollgate does not implement (`Ed448`, RFC 9864 §2.2) is `ERR_JOSE_NOT_SUPPORTED`; any
    /// other unknown name, `none` included, is `ERR_JOSE_ALG_NOT_ALLOWED`.
    pub fn parse(name: &str) -> Result<Self, Error> {
        Self::from_name(name).ok_or_else(|| match name {
            "Ed448" => Error::NotSupported {
                what: "the Ed448 algorithm (RFC 9864 §2.2)".to_owned(),
            },
            _ => Error::AlgNotAllowed {
                alg: truncated(name),
            },
        })
    }

    /// The kind of key this algorithm needs.
    pub fn family(self) -> Family {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Family::Rsa,
            Algorithm::ES256 => Family::Ec(Curve::P256),
            Algorithm::ES384 => Family::Ec(Curve::P384),
            Algorithm::ES512 => Family::Ec(Curve::P521),
            Algorithm::EdDSA | Algorithm::Ed25519 => Family::Ed25519,
        }
    }

    /// Output size of the hash, in bytes: the minimum HMAC key length (RFC 7518 §3.2).
    pub fn hash_len(self) -> usize {
        match self {
            Algorithm::HS256 | Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 => 32,
            Algorithm::HS384 | Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => 48,
            Algorithm::HS512 | Algorithm::RS512 | Algorithm::PS512 | Algorithm::ES512 => 64,
            Algorithm::EdDSA | Algorithm::Ed25519 => 64,
        }
    }

    /// True for the asymmetric algorithms, whose public keys may be published.
    pub fn is_asymmetric(self) -> bool {
        self.family() != Family::Hmac
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Algorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = Cow::<str>::deserialize(deserializer)?;
        Algorithm::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// ES384 (ECDSA P-384 with SHA-384) on jwt-compact's `Algorithm` trait.
#[cfg(feature = "rust-crypto")]
#[derive(Debug, Default, Clone, Copy)]
pub struct Es384;

/// ES512 (ECDSA P-521 with SHA-512) on jwt-compact's `Algorithm` trait.
#[cfg(feature = "rust-crypto")]
#[derive(Debug, Default, Clone, Copy)]
pub struct Es512;

/// A fixed-size `r || s` signature (RFC 7518 §3.4), wrapping a curve's signature type so that it
/// can implement jwt-compact's trait.
#[cfg(feature = "rust-crypto")]
#[derive(Debug, Clone)]
pub struct EcdsaSignature<S>(pub S);

#[cfg(feature = "rust-crypto")]
macro_rules! ecdsa_algorithm {
    ($alg:ident, $curve:ident, $name:literal, $len:literal) => {
        impl AlgorithmSignature for EcdsaSignature<$curve::ecdsa::Signature> {
            const LENGTH: Option<core::num::NonZeroUsize> = core::num::NonZeroUsize::new($len);

            fn try_from_slice(slice: &[u8]) -> anyhow::Result<Self> {
                $curve::ecdsa::Signature::from_slice(slice)
                    .map(EcdsaSignature)
                    .map_err(|err| anyhow::anyhow!(err))
            }

            fn as_bytes(&self) -> Cow<'_, [u8]> {
                Cow::Owned(self.0.to_bytes().to_vec())
            }
        }

        impl JwtAlgorithm for $alg {
            type SigningKey = $curve::ecdsa::SigningKey;
            type VerifyingKey = $curve::ecdsa::VerifyingKey;
            type Signature = EcdsaSignature<$curve::ecdsa::Signature>;

            fn name(&self) -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn sign(&self, signing_key: &Self::SigningKey, message: &[u8]) -> Self::Signature {
                use $curve::ecdsa::signature::Signer;
                EcdsaSignature(signing_key.sign(message))
            }

            fn verify_signature(
                &self,
                signature: &Self::Signature,
                verifying_key: &Self::VerifyingKey,
                message: &[u8],
            ) -> bool {
                use $curve::ecdsa::signature::Verifier;
                verifying_key.verify(message, &signature.0).is_ok()
            }
        }
    };
}

#[cfg(feature = "rust-crypto")]
ecdsa_algorithm!(Es384, p384, "ES384", 96);
#[cfg(feature = "rust-crypto")]
ecdsa_algorithm!(Es512, p521, "ES512", 132);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_none_does_not_exist() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
        }
        for name in ["none", "None", "NONE", "nOnE", "hs256", "ES256K", ""] {
            assert_eq!(Algorithm::from_name(name), None, "{name}");
        }
    }
}
