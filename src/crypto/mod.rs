//! Step 2 of verification: the signature check, behind a provider trait.
//!
//! Parsing (step 1) and claims (step 3) are pure and shared; only this step may be replaced, for
//! instance by a provider that hands the arithmetic to the host's native crypto (node:crypto,
//! WebCrypto). Every provider sees the same inputs and answers only yes or no, so the error
//! codes cannot differ between providers. [`RustCrypto`] is the portable one: jwt-compact's
//! algorithms on RustCrypto, plus ES384/ES512 from [`crate::alg`].

use std::ops::Deref;

use futures_util::future::LocalBoxFuture;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use crate::alg::Algorithm;
use crate::error::Error;
use crate::jwk::{Key, Material};

#[cfg(feature = "rust-crypto")]
mod rust;
#[cfg(feature = "rust-crypto")]
pub use rust::RustCrypto;

/// The provider a build uses when none is named: the pure-Rust one where it is built in
/// (feature `rust-crypto`), otherwise [`HmacOnly`], which leaves asymmetric signatures to a
/// host provider.
#[cfg(feature = "rust-crypto")]
pub type DefaultCrypto = RustCrypto;
/// The provider a build uses when none is named (see the `rust-crypto` build's).
#[cfg(not(feature = "rust-crypto"))]
pub type DefaultCrypto = HmacOnly;

/// Checks and makes signatures.
pub trait CryptoProvider {
    /// True when `signature` is a valid `alg` signature of `signing_input` under `key`.
    /// The caller has already checked that `key` allows `alg`.
    fn verify(&self, alg: Algorithm, key: &Key, signing_input: &[u8], signature: &[u8]) -> bool;

    /// Signs `signing_input` with `key` under `alg`.
    fn sign(&self, alg: Algorithm, key: &Key, signing_input: &[u8]) -> Result<Vec<u8>, Error>;
}

/// [`CryptoProvider`] for a host whose crypto answers later (WebCrypto's promises). Every
/// synchronous provider is one too.
pub trait AsyncCrypto {
    /// True when `signature` is a valid `alg` signature of `signing_input` under `key`.
    fn verify<'a>(
        &'a self,
        alg: Algorithm,
        key: &'a Key,
        signing_input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, bool>;

    /// Signs `signing_input` with `key` under `alg`.
    fn sign<'a>(
        &'a self,
        alg: Algorithm,
        key: &'a Key,
        signing_input: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>>;
}

impl<P: CryptoProvider> AsyncCrypto for P {
    fn verify<'a>(
        &'a self,
        alg: Algorithm,
        key: &'a Key,
        input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, bool> {
        Box::pin(std::future::ready(CryptoProvider::verify(
            self, alg, key, input, signature,
        )))
    }

    fn sign<'a>(
        &'a self,
        alg: Algorithm,
        key: &'a Key,
        input: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(std::future::ready(CryptoProvider::sign(
            self, alg, key, input,
        )))
    }
}

/// HMAC, which every build computes itself: a host round trip would cost more than the MAC.
/// Asymmetric signatures verify nothing and sign nothing here; a build without the pure-Rust
/// provider hands them to a host provider (the worker's WebCrypto).
#[derive(Clone, Copy, Debug, Default)]
pub struct HmacOnly;

impl CryptoProvider for HmacOnly {
    fn verify(&self, alg: Algorithm, key: &Key, input: &[u8], signature: &[u8]) -> bool {
        match key.material() {
            Material::Hmac(secret) => secret.verify(alg, input, signature),
            _ => false,
        }
    }

    fn sign(&self, alg: Algorithm, key: &Key, input: &[u8]) -> Result<Vec<u8>, Error> {
        if !key.allows(alg) {
            return Err(Error::key(format!(
                "key {:?} is not bound to {alg}",
                key.kid()
            )));
        }
        match key.material() {
            Material::Hmac(secret) => secret
                .mac(alg, input)
                .ok_or_else(|| Error::key("not an HMAC algorithm")),
            _ => Err(Error::NotSupported {
                what: format!("{alg} signatures without a host provider (feature rust-crypto)"),
            }),
        }
    }
}

/// The exact signature length `alg` produces with `key` (RFC 7518 §3: fixed `r || s` for
/// ECDSA, 64 bytes for EdDSA, the modulus size for RSA, the hash size for HMAC). Providers that
/// hand the arithmetic to the host check it first, so the host never sees a malformed input.
pub fn signature_len(alg: Algorithm, key: &Key) -> usize {
    match key.material() {
        Material::Rsa(parts) => parts.n.len(),
        _ => match alg {
            Algorithm::ES256 => 64,
            Algorithm::ES384 => 96,
            Algorithm::ES512 => 132,
            Algorithm::EdDSA | Algorithm::Ed25519 => 64,
            other => other.hash_len(),
        },
    }
}

/// The checks every provider's input passes first, made once here so that no provider can
/// answer differently on them: the exact RFC 7518 length (§3.2: no truncated MACs; §3.4: ECDSA's
/// fixed `r || s`), and for Ed25519 a canonical `S` and an `R` not of small order (RFC 8032
/// §5.1.7, which a host's verification may not check).
pub fn is_well_formed(alg: Algorithm, key: &Key, signature: &[u8]) -> bool {
    signature.len() == signature_len(alg, key)
        && (alg.family() != crate::alg::Family::Ed25519
            || crate::jwk::parts::ed25519_signature_is_canonical(signature))
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
