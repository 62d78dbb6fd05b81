//! The npm package's bindings (feature `js`). Thin: JSON text in, JSON text out, so the JS side
//! (pkg/entries/api.js) owns argument checking and object shapes, and Rust owns every rule.
//! Errors cross as plain objects `{code, message, claim}`, mapped from the core's error in
//! exactly one function, [`to_js`]; the JS side turns them into `TollgateError`s.

use serde_json::{json, Map, Value};
use wasm_bindgen::prelude::*;

use crate::{Algorithm, Error, Key, KeySet, Policy, TokenBuilder};

/// The one mapping from a core error to what JavaScript sees.
fn to_js(err: &Error) -> JsValue {
    let object = js_sys::Object::new();
    let set = |name: &str, value: JsValue| {
        let _ = js_sys::Reflect::set(&object, &JsValue::from_str(name), &value);
    };
    set("code", JsValue::from_str(err.code()));
    set("message", JsValue::from_str(&err.to_string()));
    if let Some(claim) = err.claim() {
        set("claim", JsValue::from_str(claim));
    }
    object.into()
}

fn policy_error(message: impl Into<String>) -> JsValue {
    to_js(&Error::InvalidPolicy {
        reason: message.into(),
    })
}

/// Keys and policy, parsed and checked once; the fast path for servers.
#[wasm_bindgen]
pub struct Verifier {
    inner: crate::Verifier,
}

#[wasm_bindgen]
impl Verifier {
    /// `jwks`: a JWK Set (or one JWK) as JSON text. `policy`: the policy as JSON text.
    #[wasm_bindgen(constructor)]
    pub fn new(jwks: &str, policy: &str) -> Result<Verifier, JsValue> {
        let keys = KeySet::from_json(jwks).map_err(|e| to_js(&e))?;
        let policy = Policy::from_json(policy).map_err(|e| to_js(&e))?;
        let inner = crate::Verifier::new(keys, policy).map_err(|e| to_js(&e))?;
        Ok(Verifier { inner })
    }

    /// Verifies at `now` (seconds); returns `{"payload": {...}, "protectedHeader": {...}}` as JSON.
    pub fn verify(&self, token: &str, now: f64) -> Result<String, JsValue> {
        let verified = self
            .inner
            .verify(token, now.floor() as i64)
            .map_err(|e| to_js(&e))?;
        Ok(
            json!({ "payload": verified.claims, "protectedHeader": verified.header.members() })
                .to_string(),
        )
    }
}

/// Signs `payload` (JSON object text) with `jwk` (JSON text). `options` (JSON): alg, kid, typ,
/// expiresIn, notBefore, issuer, audience, subject, jti. `iat` is `now`.
#[wasm_bindgen]
pub fn sign(payload: &str, jwk: &str, options: &str, now: f64) -> Result<String, JsValue> {
    let claims: Map<String, Value> = serde_json::from_str(payload)
        .map_err(|_| policy_error("the payload must be a JSON object"))?;
    let options: Map<String, Value> =
        serde_json::from_str(options).map_err(|_| policy_error("options must be an object"))?;
    let mut key = Key::from_jwk_json(jwk).map_err(|e| to_js(&e))?;
    if let Some(alg) = options.get("alg").and_then(Value::as_str) {
        let alg = Algorithm::from_name(alg).ok_or_else(|| {
            to_js(&Error::AlgNotAllowed {
                alg: crate::error::truncated(alg),
            })
        })?;
        key = key.with_algorithm(alg).map_err(|e| to_js(&e))?;
    }
    let mut builder = TokenBuilder::new(now.floor() as i64);
    for (name, value) in claims {
        builder = builder.claim(&name, value);
    }
    let text = |name: &str| options.get(name).and_then(Value::as_str);
    if let Some(kid) = text("kid") {
        builder = builder.kid(kid);
    }
    if let Some(typ) = text("typ") {
        builder = builder.typ(typ);
    }
    if let Some(iss) = text("issuer") {
        builder = builder.issuer(iss);
    }
    if let Some(sub) = text("subject") {
        builder = builder.subject(sub);
    }
    if let Some(jti) = text("jti") {
        builder = builder.claim("jti", jti);
    }
    match options.get("audience") {
        Some(Value::String(aud)) => builder = builder.audience([aud.as_str()]),
        Some(Value::Array(auds)) => {
            builder = builder.audience(auds.iter().filter_map(Value::as_str))
        }
        _ => {}
    }
    if let Some(seconds) = options.get("expiresIn").and_then(Value::as_u64) {
        builder = builder.lifetime(seconds);
    }
    if let Some(nbf) = options.get("notBefore").and_then(Value::as_i64) {
        builder = builder.not_before(nbf);
    }
    builder.sign(&key).map_err(|e| to_js(&e))
}

/// Decodes without verifying: `{"payload", "protectedHeader"}` as JSON.
#[wasm_bindgen]
pub fn decode(token: &str) -> Result<String, JsValue> {
    let (header, payload) =
        crate::hazmat::decode_unverified(token, crate::policy::DEFAULT_MAX_TOKEN_BYTES)
            .map_err(|e| to_js(&e))?;
    Ok(json!({ "payload": payload, "protectedHeader": header.members() }).to_string())
}

/// A new key pair for `alg`: `{"privateJwk", "publicJwk"}` as JSON (`publicJwk` is null for HMAC).
#[wasm_bindgen(js_name = generateKeyPair)]
pub fn generate_key_pair(alg: &str) -> Result<String, JsValue> {
    let alg = Algorithm::from_name(alg).ok_or_else(|| {
        to_js(&Error::AlgNotAllowed {
            alg: crate::error::truncated(alg),
        })
    })?;
    let key = Key::generate(alg).map_err(|e| to_js(&e))?;
    let public = key.to_public_jwk().ok();
    Ok(json!({ "privateJwk": key.to_private_jwk(), "publicJwk": public }).to_string())
}

/// The RFC 7638 thumbprint of a JWK (JSON text).
#[wasm_bindgen(js_name = thumbprint)]
pub fn thumbprint(jwk: &str) -> Result<String, JsValue> {
    Key::from_jwk_json(jwk)
        .map(|key| key.thumbprint())
        .map_err(|e| to_js(&e))
}
