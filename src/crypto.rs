//! Step 2 of verification: the signature check, behind a provider trait.
//!
//! Parsing (step 1) and claims (step 3) are pure and shared; only this step may be replaced, for
//! instance by a provider that hands the arithmetic to the host's native crypto (node:crypto,
//! WebCrypto). Every provider sees the same inputs and answers only yes or no, so the error
//! codes cannot differ between providers. [`RustCrypto`] is the portable one: jwt-compact's
//! algorithms on RustCrypto, plus ES384/ES512 from [`crate::alg`].

use std::ops::Deref;

use hmac::{Hmac, Mac};
use jwt_compact::{alg::Rsa, Algorithm as JwtAlgorithm, AlgorithmSignature};
use rsa::traits::PublicKeyParts;
use sha2::{Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use crate::alg::{Algorithm, Es384, Es512};
use crate::error::Error;
use crate::jwk::{Key, Material};

/// Checks and makes signatures.
pub trait CryptoProvider {
    /// True when `signature` is a valid `alg` signature of `signing_input` under `key`.
    /// The caller has already checked that `key` allows `alg`.
    fn verify(&self, alg: Algorithm, key: &Key, signing_input: &[u8], signature: &[u8]) -> bool;

    /// Signs `signing_input` with `key` under `alg`.
    fn sign(&self, alg: Algorithm, key: &Key, signing_input: &[u8]) -> Result<Vec<u8>, Error>;
}

/// The exact signature length `alg` produces with `key` (RFC 7518 §3: fixed `r || s` for
/// ECDSA, 64 bytes for EdDSA, the modulus size for RSA, the hash size for HMAC). Providers that
/// hand the arithmetic to the host check it first, so the host never sees a malformed input.
pub fn signature_len(alg: Algorithm, key: &Key) -> usize {
    match key.material() {
        Material::Rsa { public, .. } => public.size(),
        _ => match alg {
            Algorithm::ES256 => 64,
            Algorithm::ES384 => 96,
            Algorithm::ES512 => 132,
            Algorithm::EdDSA | Algorithm::Ed25519 => 64,
            other => other.hash_len(),
        },
    }
}

/// An HMAC secret with its keyed hash states, computed once when the key is imported: the
/// RFC 2104 inner and outer key blocks are hashed then, not again for every token (two of the
/// seven SHA-256 blocks a typical token costs). The states are as sensitive as the secret.
#[derive(Clone)]
pub(crate) struct HmacSecret {
    bytes: Zeroizing<Vec<u8>>,
    hs256: Option<Hmac<Sha256>>,
    hs384: Option<Hmac<Sha384>>,
    hs512: Option<Hmac<Sha512>>,
}

impl HmacSecret {
    pub(crate) fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        // HMAC takes a key of any length (RFC 2104 §2): these are always `Some`.
        HmacSecret {
            hs256: Hmac::new_from_slice(&bytes).ok(),
            hs384: Hmac::new_from_slice(&bytes).ok(),
            hs512: Hmac::new_from_slice(&bytes).ok(),
            bytes,
        }
    }

    /// The MAC of `input` under `alg` (HS256/384/512).
    fn mac(&self, alg: Algorithm, input: &[u8]) -> Option<Vec<u8>> {
        fn run<M: Mac + Clone>(keyed: Option<&M>, input: &[u8]) -> Option<Vec<u8>> {
            let mut mac = keyed?.clone();
            mac.update(input);
            Some(mac.finalize().into_bytes().to_vec())
        }
        match alg {
            Algorithm::HS256 => run(self.hs256.as_ref(), input),
            Algorithm::HS384 => run(self.hs384.as_ref(), input),
            Algorithm::HS512 => run(self.hs512.as_ref(), input),
            _ => None,
        }
    }

    /// Constant-time check of a full-length tag (RFC 7518 §3.2: no truncated MACs).
    fn verify(&self, alg: Algorithm, input: &[u8], tag: &[u8]) -> bool {
        fn run<M: Mac + Clone>(keyed: Option<&M>, input: &[u8], tag: &[u8]) -> bool {
            let Some(keyed) = keyed else { return false };
            let mut mac = keyed.clone();
            mac.update(input);
            mac.verify_slice(tag).is_ok()
        }
        match alg {
            Algorithm::HS256 => run(self.hs256.as_ref(), input, tag),
            Algorithm::HS384 => run(self.hs384.as_ref(), input, tag),
            Algorithm::HS512 => run(self.hs512.as_ref(), input, tag),
            _ => false,
        }
    }
}

impl Deref for HmacSecret {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

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
        match (key.material(), alg) {
            (Material::Hmac(secret), alg) => secret.verify(alg, input, sig),
            (Material::Rsa { public, .. }, alg) => match rsa_alg(alg) {
                // RFC 8017 §8.2.2 / §8.1.2: the signature is exactly k = |n| bytes.
                Some(rsa) if sig.len() == public.size() => verify_with(rsa, public, input, sig),
                _ => false,
            },
            (Material::P256 { public, .. }, Algorithm::ES256) => {
                verify_with(jwt_compact::alg::Es256, public, input, sig)
            }
            (Material::P384 { public, .. }, Algorithm::ES384) => {
                verify_with(Es384, public, input, sig)
            }
            (Material::P521 { public, .. }, Algorithm::ES512) => {
                verify_with(Es512, public, input, sig)
            }
            (Material::Ed25519 { public, .. }, Algorithm::EdDSA | Algorithm::Ed25519) => {
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
        Ok(match (key.material(), alg) {
            (Material::Hmac(secret), alg) if !alg.is_asymmetric() => secret
                .mac(alg, input)
                .ok_or_else(|| Error::key("not an HMAC algorithm"))?,
            (Material::Rsa { private, .. }, alg) => {
                let private = private.as_deref().ok_or_else(public_only)?;
                let rsa = rsa_alg(alg).ok_or_else(|| Error::key("not an RSA algorithm"))?;
                sign_with(rsa, private, input)
            }
            (Material::P256 { private, .. }, Algorithm::ES256) => sign_with(
                jwt_compact::alg::Es256,
                private.as_ref().ok_or_else(public_only)?,
                input,
            ),
            (Material::P384 { private, .. }, Algorithm::ES384) => {
                sign_with(Es384, private.as_ref().ok_or_else(public_only)?, input)
            }
            (Material::P521 { private, .. }, Algorithm::ES512) => {
                sign_with(Es512, private.as_ref().ok_or_else(public_only)?, input)
            }
            (Material::Ed25519 { private, .. }, Algorithm::EdDSA | Algorithm::Ed25519) => {
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
