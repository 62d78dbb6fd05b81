//! The pure-Rust provider (feature `rust-crypto`): jwt-compact's algorithms on RustCrypto,
//! plus ES384/ES512 from [`crate::alg`]. It computes with the key's RustCrypto objects
//! ([`crate::jwk::native`]), built once with the key.

use jwt_compact::{alg::Rsa, Algorithm as JwtAlgorithm, AlgorithmSignature};
use rsa::traits::PublicKeyParts;

use super::CryptoProvider;
use crate::alg::{Algorithm, Es384, Es512};
use crate::error::Error;
use crate::jwk::{Key, Native};

/// The pure-Rust provider. Works on every target, wasm included.
#[derive(Clone, Copy, Debug, Default)]
pub struct RustCrypto;

/// Verifies through a jwt-compact algorithm, refusing a wrong-length signature before it reaches
/// code that would panic on it.
fn verify_with<A: JwtAlgorithm>(alg: A, key: &A::VerifyingKey, input: &[u8], sig: &[u8]) -> bool {
    if let Some(len) = A::Signature::LENGTH {
        if sig.len() != len.get() {
            return false;
        }
    }
    match A::Signature::try_from_slice(sig) {
        Ok(signature) => alg.verify_signature(&signature, key, input),
        Err(_) => false,
    }
}

fn sign_with<A: JwtAlgorithm>(alg: A, key: &A::SigningKey, input: &[u8]) -> Vec<u8> {
    alg.sign(key, input).as_bytes().into_owned()
}

fn rsa_alg(alg: Algorithm) -> Option<Rsa> {
    Some(match alg {
        Algorithm::RS256 => Rsa::rs256(),
        Algorithm::RS384 => Rsa::rs384(),
        Algorithm::RS512 => Rsa::rs512(),
        Algorithm::PS256 => Rsa::ps256(),
        Algorithm::PS384 => Rsa::ps384(),
        Algorithm::PS512 => Rsa::ps512(),
        _ => return None,
    })
}

impl CryptoProvider for RustCrypto {
    fn verify(&self, alg: Algorithm, key: &Key, input: &[u8], sig: &[u8]) -> bool {
        match (key.native(), alg) {
            (Native::Hmac, alg) => super::HmacOnly.verify(alg, key, input, sig),
            (Native::Rsa { public, .. }, alg) => match rsa_alg(alg) {
                // RFC 8017 §8.2.2 / §8.1.2: the signature is exactly k = |n| bytes.
                Some(rsa) if sig.len() == public.size() => verify_with(rsa, public, input, sig),
                _ => false,
            },
            (Native::P256 { public, .. }, Algorithm::ES256) => {
                verify_with(jwt_compact::alg::Es256, public, input, sig)
            }
            (Native::P384 { public, .. }, Algorithm::ES384) => {
                verify_with(Es384, public, input, sig)
            }
            (Native::P521 { public, .. }, Algorithm::ES512) => {
                verify_with(Es512, public, input, sig)
            }
            (Native::Ed25519 { public, .. }, Algorithm::EdDSA | Algorithm::Ed25519) => {
                // verify_strict: no small-order R or A, canonical S (RFC 8032 §5.1.7).
                <[u8; 64]>::try_from(sig).is_ok_and(|bytes| {
                    public
                        .verify_strict(input, &ed25519_dalek::Signature::from_bytes(&bytes))
                        .is_ok()
                })
            }
            _ => false,
        }
    }

    fn sign(&self, alg: Algorithm, key: &Key, input: &[u8]) -> Result<Vec<u8>, Error> {
        let public_only = || Error::key(format!("key {:?} is public: it cannot sign", key.kid()));
        if !key.allows(alg) {
            return Err(Error::key(format!(
                "key {:?} is not bound to {alg}",
                key.kid()
            )));
        }
        Ok(match (key.native(), alg) {
            (Native::Hmac, alg) if !alg.is_asymmetric() => super::HmacOnly.sign(alg, key, input)?,
            (Native::Rsa { private, .. }, alg) => {
                let private = private.as_deref().ok_or_else(public_only)?;
                let rsa = rsa_alg(alg).ok_or_else(|| Error::key("not an RSA algorithm"))?;
                sign_with(rsa, private, input)
            }
            (Native::P256 { private, .. }, Algorithm::ES256) => sign_with(
                jwt_compact::alg::Es256,
                private.as_ref().ok_or_else(public_only)?,
                input,
            ),
            (Native::P384 { private, .. }, Algorithm::ES384) => {
                sign_with(Es384, private.as_ref().ok_or_else(public_only)?, input)
            }
            (Native::P521 { private, .. }, Algorithm::ES512) => {
                sign_with(Es512, private.as_ref().ok_or_else(public_only)?, input)
            }
            (Native::Ed25519 { private, .. }, Algorithm::EdDSA | Algorithm::Ed25519) => {
                use ed25519_dalek::Signer;
                private
                    .as_ref()
                    .ok_or_else(public_only)?
                    .sign(input)
                    .to_bytes()
                    .to_vec()
            }
            _ => return Err(Error::key(format!("key {:?} cannot sign {alg}", key.kid()))),
        })
    }
}
