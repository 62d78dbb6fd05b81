//! The worker's signature step on WebCrypto (`crypto.subtle`, BoringSSL in workerd): every
//! asymmetric signature (RS*, PS*, ES*, EdDSA/Ed25519), checked and made natively. The worker
//! is built without the pure-Rust provider (feature `rust-crypto`), so there is no fallback:
//! a key the host cannot import verifies nothing and signs nothing.
//!
//! Only the arithmetic moves. The core still parses the token, picks the candidate keys (the
//! algorithm comes from the key, RFC 8725 §3.1), checks the signature's exact length and, for
//! Ed25519, the strict checks of RFC 8032 §5.1.7 that the host's verification may not make
//! (`crypto::is_well_formed`), and after the host's yes every claim. HMAC stays in Rust: a
//! host round trip costs more than the MAC.

use std::cell::RefCell;
use std::collections::HashMap;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use futures_util::future::LocalBoxFuture;

use crate::crypto::{signature_len, AsyncCrypto, CryptoProvider, HmacOnly};
use crate::json::Object;
use crate::jwk::{Jwk, Key};
use crate::{Algorithm, Error};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = importKey, catch)]
    fn import_key(
        format: &str,
        jwk: &JsValue,
        algorithm: &JsValue,
        extractable: bool,
        usages: &JsValue,
    ) -> Result<js_sys::Promise, JsValue>;

    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = sign, catch)]
    fn subtle_sign(
        algorithm: &JsValue,
        key: &JsValue,
        data: &[u8],
    ) -> Result<js_sys::Promise, JsValue>;

    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = verify, catch)]
    fn subtle_verify(
        algorithm: &JsValue,
        key: &JsValue,
        signature: &[u8],
        data: &[u8],
    ) -> Result<js_sys::Promise, JsValue>;
}

/// An imported key with its `sign`/`verify` parameters, or the knowledge that the host cannot
/// import it.
#[derive(Clone)]
enum Imported {
    Key { key: JsValue, params: JsValue },
    Unsupported,
}

/// What a key is imported for: its public half checks signatures, its private half makes them.
#[derive(Clone, Copy)]
enum Use {
    Verify,
    Sign,
}

/// The most keys [`WebCryptoKeys`] keeps of each use. DPoP proofs bring keys of the client's
/// choosing, checked before the client authenticates: unbounded, a sender of fresh keys grew
/// the isolate towards Workers' 128 MB (an outside review against Cloudflare's limits).
const MAX_IMPORTED: usize = 1000;

/// CryptoKeys imported once per isolate, by the key's RFC 7638 thumbprint (a hash of its
/// public members: two issuers' keys that share a `kid` never share an entry) and algorithm.
#[derive(Default)]
pub struct WebCryptoKeys {
    imported: RefCell<HashMap<(String, Algorithm), Imported>>,
    /// Private keys imported for signing (the deployment's own), the same way.
    signing: RefCell<HashMap<(String, Algorithm), Imported>>,
}

/// WebCrypto's names for a JWS algorithm: (import parameters, sign/verify parameters).
fn params(alg: Algorithm) -> Option<(JsValue, JsValue)> {
    let object = |pairs: &[(&str, JsValue)]| -> JsValue {
        let o = js_sys::Object::new();
        for (name, value) in pairs {
            let _ = js_sys::Reflect::set(&o, &JsValue::from_str(name), value);
        }
        o.into()
    };
    let s = |text: &str| JsValue::from_str(text);
    let hash = |bits: u32| s(&format!("SHA-{bits}"));
    Some(match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
            let bits = alg.hash_len() as u32 * 8;
            let name = ("name", s("RSASSA-PKCS1-v1_5"));
            (
                object(&[name.clone(), ("hash", hash(bits))]),
                object(&[name]),
            )
        }
        // RFC 7518 §3.5: the salt is as long as the hash output.
        Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => {
            let bytes = alg.hash_len() as u32;
            let name = ("name", s("RSA-PSS"));
            (
                object(&[name.clone(), ("hash", hash(bytes * 8))]),
                object(&[name, ("saltLength", JsValue::from(bytes))]),
            )
        }
        // RFC 8037 §3.1 and RFC 9864 §2.2: both names are Ed25519 signatures.
        Algorithm::EdDSA | Algorithm::Ed25519 => {
            let name = object(&[("name", s("Ed25519"))]);
            (name.clone(), name)
        }
        Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
            let (curve, bits) = match alg {
                Algorithm::ES256 => ("P-256", 256),
                Algorithm::ES384 => ("P-384", 384),
                _ => ("P-521", 512),
            };
            let name = ("name", s("ECDSA"));
            (
                object(&[name.clone(), ("namedCurve", s(curve))]),
                object(&[name, ("hash", hash(bits))]),
            )
        }
        _ => return None,
    })
}

impl WebCryptoKeys {
    /// Which keys the host imported and which it refused, by algorithm (for /healthz).
    pub fn summary(&self) -> Object {
        let mut imported = Vec::new();
        let mut refused = Vec::new();
        for ((_, alg), entry) in self.imported.borrow().iter() {
            let list = match entry {
                Imported::Key { .. } => &mut imported,
                Imported::Unsupported => &mut refused,
            };
            // Kept in order as they come (a handful of names): a slice sort would link about
            // 10 KB of sorting code for this one list.
            let name = alg.name();
            list.insert(list.partition_point(|other| *other < name), name);
        }
        Object::new()
            .with("imported", imported)
            .with("refused", refused)
    }

    /// The imported key for `key` and `alg` (its private half for `Use::Sign`), importing it
    /// on first use.
    async fn import(&self, key: &Key, alg: Algorithm, usage: Use) -> Imported {
        let cache = match usage {
            Use::Verify => &self.imported,
            Use::Sign => &self.signing,
        };
        let id = (key.thumbprint(), alg);
        if let Some(hit) = cache.borrow().get(&id) {
            return hit.clone();
        }
        let imported = match params(alg) {
            Some((import, params)) => {
                let crypto_key = match usage {
                    Use::Verify => Self::import_jwk(key, &import).await,
                    Use::Sign => Self::import_private(key, &import).await,
                };
                match crypto_key {
                    Some(crypto_key) => Imported::Key {
                        key: crypto_key,
                        params,
                    },
                    None => Imported::Unsupported,
                }
            }
            None => Imported::Unsupported,
        };
        let mut cache = cache.borrow_mut();
        if cache.len() >= MAX_IMPORTED && !cache.contains_key(&id) {
            // Any one goes: a key of the deployment's own is imported again on its next use.
            if let Some(any) = cache.keys().next().cloned() {
                cache.remove(&any);
            }
        }
        cache.insert(id, imported.clone());
        imported
    }

    async fn import_jwk(key: &Key, import: &JsValue) -> Option<JsValue> {
        // The bare public members: no `alg`/`use`/`key_ops` for WebCrypto to second-guess.
        let jwk = js_sys::JSON::parse(&crate::json::of(&key.public_members())).ok()?;
        let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
        let promise = import_key("jwk", &jwk, import, false, &usages).ok()?;
        JsFuture::from(promise).await.ok()
    }

    async fn import_private(key: &Key, import: &JsValue) -> Option<JsValue> {
        // The key's members without `alg`/`use`/`key_ops`, which WebCrypto would second-guess.
        let jwk = Jwk {
            alg: None,
            use_: None,
            key_ops: None,
            kid: None,
            ..key.to_private_jwk()
        };
        let jwk = js_sys::JSON::parse(&crate::json::of(&jwk)).ok()?;
        let usages = js_sys::Array::of1(&JsValue::from_str("sign"));
        let promise = import_key("jwk", &jwk, import, false, &usages).ok()?;
        JsFuture::from(promise).await.ok()
    }

    /// Signs `input` with the private `key` (ECDSA's answer is already JWS's fixed `r || s`,
    /// RFC 7518 §3.4; Ed25519's is its 64 bytes). HMAC is computed in Rust.
    async fn sign_with_host(
        &self,
        alg: Algorithm,
        key: &Key,
        input: &[u8],
    ) -> Result<Vec<u8>, Error> {
        if !alg.is_asymmetric() {
            return CryptoProvider::sign(&HmacOnly, alg, key, input);
        }
        if !key.allows(alg) || !key.is_private() {
            return Err(Error::key(format!("key {:?} cannot sign {alg}", key.kid())));
        }
        let Imported::Key {
            key: crypto_key,
            params,
        } = self.import(key, alg, Use::Sign).await
        else {
            return Err(Error::key(format!(
                "the host could not import key {:?} for {alg}",
                key.kid()
            )));
        };
        let answer = match subtle_sign(&params, &crypto_key, input) {
            Ok(promise) => JsFuture::from(promise).await.ok(),
            Err(_) => None,
        };
        match answer.map(|buffer| js_sys::Uint8Array::new(&buffer).to_vec()) {
            Some(signature) if signature.len() == signature_len(alg, key) => Ok(signature),
            _ => Err(Error::key(format!(
                "the host could not sign {alg} with key {:?}",
                key.kid()
            ))),
        }
    }

    /// Whether `signature` verifies under `key`; the core has already checked its form
    /// (`crypto::is_well_formed`).
    async fn verify_with_host(
        &self,
        alg: Algorithm,
        key: &Key,
        input: &[u8],
        signature: &[u8],
    ) -> bool {
        if !alg.is_asymmetric() {
            return CryptoProvider::verify(&HmacOnly, alg, key, input, signature);
        }
        if signature.len() != signature_len(alg, key) {
            return false;
        }
        let Imported::Key {
            key: crypto_key,
            params,
        } = self.import(key, alg, Use::Verify).await
        else {
            return false;
        };
        match subtle_verify(&params, &crypto_key, signature, input) {
            Ok(promise) => JsFuture::from(promise)
                .await
                .is_ok_and(|ok| ok.as_bool() == Some(true)),
            Err(_) => false,
        }
    }
}

impl AsyncCrypto for WebCryptoKeys {
    fn verify<'a>(
        &'a self,
        alg: Algorithm,
        key: &'a Key,
        input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, bool> {
        Box::pin(self.verify_with_host(alg, key, input, signature))
    }

    fn sign<'a>(
        &'a self,
        alg: Algorithm,
        key: &'a Key,
        input: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(self.sign_with_host(alg, key, input))
    }
}
