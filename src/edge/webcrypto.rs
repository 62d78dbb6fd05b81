//! The worker's signature step on WebCrypto (`crypto.subtle`, BoringSSL in workerd): RSA
//! (RS*, PS*) and ECDSA (ES*) signatures are checked natively instead of by pure-Rust
//! arithmetic in wasm, which costs a millisecond or more per P-256 signature here.
//!
//! Only the arithmetic moves. The core still parses the token, picks the candidate keys
//! (the algorithm comes from the key, RFC 8725 §3.1), checks the signature length and, after
//! the host's yes, every claim. HMAC stays in Rust (a host round trip costs more than the MAC)
//! and so does EdDSA, whose strict checks (no small-order points, RFC 8032 §5.1.7) WebCrypto
//! does not promise. A key the host cannot import (a curve it lacks) falls back to the
//! pure-Rust provider, so the answer never depends on which provider ran.

use std::cell::RefCell;
use std::collections::HashMap;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::crypto::{signature_len, CryptoProvider, RustCrypto};
use crate::jwk::Key;
use crate::token::UntrustedToken;
use crate::verify::SignatureChecked;
use crate::{hazmat, Algorithm, Error, Verifier};

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

/// An imported key with its `verify` parameters, or the knowledge that the host cannot
/// import it.
#[derive(Clone)]
enum Imported {
    Key { key: JsValue, verify: JsValue },
    Unsupported,
}

/// CryptoKeys imported once per isolate, by the key's RFC 7638 thumbprint (a hash of its
/// public members: two issuers' keys that share a `kid` never share an entry) and algorithm.
#[derive(Default)]
pub struct WebCryptoKeys {
    imported: RefCell<HashMap<(String, Algorithm), Imported>>,
    /// Private keys imported for signing (the deployment's own), the same way.
    signing: RefCell<HashMap<(String, Algorithm), Imported>>,
}

/// WebCrypto's names for a JWS algorithm: (import parameters, verify parameters).
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
    /// Which keys the host verifies and which fell back to Rust, by algorithm (for /healthz).
    pub fn summary(&self) -> serde_json::Value {
        let mut imported = Vec::new();
        let mut fallback = Vec::new();
        for ((_, alg), entry) in self.imported.borrow().iter() {
            match entry {
                Imported::Key { .. } => imported.push(alg.name()),
                Imported::Unsupported => fallback.push(alg.name()),
            }
        }
        imported.sort_unstable();
        fallback.sort_unstable();
        serde_json::json!({ "imported": imported, "fallback": fallback })
    }

    /// The imported key for `key` and `alg`, importing it on first use; `None` for algorithms
    /// that stay in Rust (HMAC, EdDSA).
    async fn import(&self, key: &Key, alg: Algorithm) -> Option<Imported> {
        let id = (key.thumbprint(), alg);
        if let Some(hit) = self.imported.borrow().get(&id) {
            return Some(hit.clone());
        }
        let (import, verify) = params(alg)?;
        let imported = match Self::import_jwk(key, &import).await {
            Some(crypto_key) => Imported::Key {
                key: crypto_key,
                verify,
            },
            None => Imported::Unsupported,
        };
        self.imported.borrow_mut().insert(id, imported.clone());
        Some(imported)
    }

    async fn import_jwk(key: &Key, import: &JsValue) -> Option<JsValue> {
        // The bare public members: no `alg`/`use`/`key_ops` for WebCrypto to second-guess.
        let jwk = serde_json::to_string(&key.public_members()).ok()?;
        let jwk = js_sys::JSON::parse(&jwk).ok()?;
        let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
        let promise = import_key("jwk", &jwk, import, false, &usages).ok()?;
        JsFuture::from(promise).await.ok()
    }

    /// Signs `input` with the private `key`: WebCrypto for RSA and ECDSA (ECDSA's answer is
    /// already JWS's fixed `r || s`, RFC 7518 §3.4), the pure-Rust provider for HMAC, EdDSA,
    /// or when the host cannot import the key or answers with a signature of the wrong length.
    pub async fn sign(&self, alg: Algorithm, key: &Key, input: &[u8]) -> Result<Vec<u8>, Error> {
        let id = (key.thumbprint(), alg);
        let cached = self.signing.borrow().get(&id).cloned();
        let imported = match cached {
            Some(hit) => hit,
            None => {
                let Some((import, params)) = params(alg) else {
                    return RustCrypto.sign(alg, key, input);
                };
                let imported = match Self::import_private(key, &import).await {
                    Some(crypto_key) => Imported::Key {
                        key: crypto_key,
                        verify: params,
                    },
                    None => Imported::Unsupported,
                };
                self.signing.borrow_mut().insert(id, imported.clone());
                imported
            }
        };
        let Imported::Key {
            key: crypto_key,
            verify: params,
        } = imported
        else {
            return RustCrypto.sign(alg, key, input);
        };
        let answer = match subtle_sign(&params, &crypto_key, input) {
            Ok(promise) => JsFuture::from(promise).await.ok(),
            Err(_) => None,
        };
        match answer.map(|buffer| js_sys::Uint8Array::new(&buffer).to_vec()) {
            Some(signature) if signature.len() == signature_len(alg, key) => Ok(signature),
            _ => RustCrypto.sign(alg, key, input),
        }
    }

    async fn import_private(key: &Key, import: &JsValue) -> Option<JsValue> {
        // The key's members without `alg`/`use`/`key_ops`, which WebCrypto would second-guess.
        let mut jwk = serde_json::to_value(key.to_private_jwk()).ok()?;
        if let Some(members) = jwk.as_object_mut() {
            for name in ["alg", "use", "key_ops"] {
                members.remove(name);
            }
        }
        let jwk = js_sys::JSON::parse(&jwk.to_string()).ok()?;
        let usages = js_sys::Array::of1(&JsValue::from_str("sign"));
        let promise = import_key("jwk", &jwk, import, false, &usages).ok()?;
        JsFuture::from(promise).await.ok()
    }

    /// Whether `signature` verifies under `key`: WebCrypto when it has the algorithm, the
    /// pure-Rust provider otherwise.
    async fn verify(&self, alg: Algorithm, key: &Key, input: &[u8], signature: &[u8]) -> bool {
        if !alg.is_asymmetric() {
            return RustCrypto.verify(alg, key, input, signature);
        }
        // The host never sees a malformed input: the exact RFC 7518 length first.
        if signature.len() != signature_len(alg, key) {
            return false;
        }
        let Some(Imported::Key {
            key: crypto_key,
            verify,
        }) = self.import(key, alg).await
        else {
            return RustCrypto.verify(alg, key, input, signature);
        };
        let answer = match subtle_verify(&verify, &crypto_key, signature, input) {
            Ok(promise) => JsFuture::from(promise).await,
            Err(err) => Err(err),
        };
        match answer {
            Ok(ok) => ok.as_bool() == Some(true),
            // The host refused the call itself: the portable provider decides instead.
            Err(_) => RustCrypto.verify(alg, key, input, signature),
        }
    }

    /// Step 2 of [`Verifier::verify_untrusted`] with WebCrypto doing the arithmetic: the first
    /// candidate key whose signature verifies.
    pub async fn check_signature<'t>(
        &self,
        verifier: &Verifier,
        untrusted: UntrustedToken<'t>,
    ) -> Result<SignatureChecked<'t>, Error> {
        let alg = untrusted.header().alg();
        for key in verifier.candidates(&untrusted)? {
            if self
                .verify(alg, key, untrusted.signing_input(), untrusted.signature())
                .await
            {
                return Ok(hazmat::signature_checked(untrusted, key));
            }
        }
        Err(Error::BadSignature)
    }
}
