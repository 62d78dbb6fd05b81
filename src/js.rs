//! The npm package's bindings (feature `js`). Thin: JSON text in, JSON text out, so the JS side
//! (pkg/entries/api/) owns argument checking and object shapes, and Rust owns every rule.
//! Errors cross as plain objects `{code, message, claim}`, mapped from the core's error in
//! exactly one function, [`to_js`]; the JS side turns them into `TollgateError`s.

use std::cell::{Cell, RefCell};

use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use crate::crypto::{CryptoProvider, DefaultCrypto, HmacOnly};
use crate::issue::{header_segment, Fill};
use crate::{Algorithm, Error, Key, KeySet, Policy};

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

/// An algorithm's index in [`Algorithm::ALL`]: how the host functions name it (the same
/// order as `ALGORITHMS` in pkg/entries/api/args.js).
fn alg_index(alg: Algorithm) -> u32 {
    Algorithm::ALL
        .iter()
        .position(|a| *a == alg)
        .map_or(u32::MAX, |i| i as u32)
}

fn policy_error(message: impl Into<String>) -> JsValue {
    to_js(&Error::InvalidPolicy {
        reason: message.into(),
    })
}

#[wasm_bindgen]
extern "C" {
    /// A host function `(algIndex, keyIndex, signingInput, signature) => boolean` that checks
    /// one signature with the host's native crypto: node:crypto, at once. WebCrypto answers
    /// later, so there it answers true provisionally and `answeredLater` (pkg/entries/api/later.js)
    /// releases nothing until the real answers are in, running the call again if one is no: a
    /// result of a call with this host is only as good as that rule. The byte arguments are
    /// views of wasm memory, valid only during the call.
    pub type HostVerify;

    #[wasm_bindgen(method, catch, js_name = call)]
    fn verify(
        this: &HostVerify,
        context: &JsValue,
        alg: u32,
        key: u32,
        data: &[u8],
        signature: &[u8],
    ) -> Result<bool, JsValue>;
}

/// The signature step done by the host: every parsing, key, length and policy check stays in
/// Rust; only the arithmetic crosses. HMAC stays in Rust (crossing costs more than it saves).
struct HostCrypto {
    host: HostVerify,
    kids: Vec<String>,
}

impl CryptoProvider for HostCrypto {
    fn verify(&self, alg: Algorithm, key: &Key, input: &[u8], signature: &[u8]) -> bool {
        if !alg.is_asymmetric() {
            return HmacOnly.verify(alg, key, input, signature);
        }
        if signature.len() != crate::crypto::signature_len(alg, key) {
            return false;
        }
        let Some(index) = self.kids.iter().position(|kid| kid == key.kid()) else {
            return false;
        };
        self.host
            .verify(
                &JsValue::NULL,
                alg_index(alg),
                index as u32,
                input,
                signature,
            )
            .unwrap_or(false)
    }

    fn sign(&self, alg: Algorithm, key: &Key, input: &[u8]) -> Result<Vec<u8>, Error> {
        DefaultCrypto::default().sign(alg, key, input)
    }
}

enum Inner {
    Portable(crate::Verifier),
    Host(crate::Verifier<HostCrypto>),
}

/// Keys and policy, parsed and checked once; the fast path for servers.
#[wasm_bindgen]
pub struct Verifier {
    inner: Inner,
}

#[wasm_bindgen]
impl Verifier {
    /// `jwks`: a JWK Set (or one JWK) as JSON text. `policy`: the policy as JSON text.
    /// `host`: optional native signature check (see [`HostVerify`]); keys are then indexed in
    /// the order of [`Verifier::keys_json`] (`keys()` in JavaScript).
    #[wasm_bindgen(constructor)]
    pub fn new(jwks: &str, policy: &str, host: Option<HostVerify>) -> Result<Verifier, JsValue> {
        let keys = KeySet::from_json(jwks).map_err(|e| to_js(&e))?;
        let policy = Policy::from_json(policy).map_err(|e| to_js(&e))?;
        let inner = match host {
            None => Inner::Portable(crate::Verifier::new(keys, policy).map_err(|e| to_js(&e))?),
            Some(host) => {
                let kids = keys.keys().iter().map(|k| k.kid().to_owned()).collect();
                let provider = HostCrypto { host, kids };
                Inner::Host(
                    crate::Verifier::with_provider(keys, policy, provider)
                        .map_err(|e| to_js(&e))?,
                )
            }
        };
        Ok(Verifier { inner })
    }

    /// The keys as public JWKs (HMAC keys in full), with their resolved `kid` and `alg`, in
    /// index order: what a host provider imports.
    #[wasm_bindgen(js_name = keys)]
    pub fn keys_json(&self) -> String {
        let keys = match &self.inner {
            Inner::Portable(v) => v.keys(),
            Inner::Host(v) => v.keys(),
        };
        let list: Vec<Value> = keys
            .keys()
            .iter()
            .map(|k| {
                let jwk = k.to_public_jwk().unwrap_or_else(|_| k.to_private_jwk());
                serde_json::to_value(jwk).unwrap_or_default()
            })
            .collect();
        Value::Array(list).to_string()
    }

    /// Verifies at `now` (seconds); returns `{"payload": {...}, "protectedHeader": {...}}` as
    /// JSON, or with `header` false only the payload (a caller that already holds this header:
    /// see pkg/entries/api/verify.js).
    pub fn verify(&self, token: &str, now: f64, header: bool) -> Result<String, JsValue> {
        self.verify_str(token, now, header)
    }

    /// [`Verifier::verify`] for a token the caller has written as UTF-8 into the first `len`
    /// bytes of the [`input_buffer`] (with `TextEncoder.encodeInto`: no allocation and one
    /// copy, where a string argument is copied character by character). The answer is
    /// written over the token, from the start of the buffer; the return value is its length.
    /// It always fits: its JSON texts are shorter than their base64url spelling in the token
    /// by more than the 32 bytes the wrapping adds, since every signature has 32 bytes or more.
    #[wasm_bindgen(js_name = verifyInput)]
    pub fn verify_input(&self, len: usize, now: f64, header: bool) -> u32 {
        // One number back, not a `Result`: wasm-bindgen returns a `Result` as an array, one
        // allocation per call on the hottest path. A refusal leaves its error for `takeError`.
        self.verify_in_buffer(len, now, header)
            .unwrap_or_else(|error| {
                ERROR.set(Some(error));
                REFUSED
            })
    }
}

/// What [`Verifier::verify_input`] returns for a refused token: no answer is this long.
const REFUSED: u32 = u32::MAX;

thread_local! {
    /// The error of the last refused [`Verifier::verify_input`], until `takeError` takes it.
    static ERROR: Cell<Option<JsValue>> = const { Cell::new(None) };
}

/// The error object of the last refused `verifyInput` (see [`to_js`]).
#[wasm_bindgen(js_name = takeError)]
pub fn take_error() -> JsValue {
    ERROR.take().unwrap_or(JsValue::UNDEFINED)
}

fn re_entered() -> JsValue {
    policy_error("verify was called again while a verify was running")
}

/// The answer to a verify, in pieces: the checked JSON texts as sent (not re-serialised),
/// `{"payload": …, "protectedHeader": …}` or, without the header, the payload alone.
fn answer(verified: &crate::Verified, with_header: bool) -> [&[u8]; 5] {
    if with_header {
        [
            b"{\"payload\":",
            &verified.raw_claims,
            b",\"protectedHeader\":",
            verified.header.raw_json(),
            b"}",
        ]
    } else {
        [&verified.raw_claims, b"", b"", b"", b""]
    }
}

/// The bytes of [`input_buffer`].
const INPUT_BYTES: usize = 16 * 1024;

thread_local! {
    /// Where JavaScript writes a token for [`Verifier::verify_input`]: allocated once.
    static INPUT: RefCell<Box<[u8]>> = RefCell::new(vec![0; INPUT_BYTES].into_boxed_slice());
}

/// The address and length of the input buffer in wasm memory, `[address, length]`. The
/// address never changes; a view of it must be re-made when the memory grows.
#[wasm_bindgen(js_name = inputBuffer)]
pub fn input_buffer() -> Vec<u32> {
    INPUT.with(|input| match input.try_borrow_mut() {
        Ok(mut input) => vec![input.as_mut_ptr() as u32, input.len() as u32],
        Err(_) => Vec::new(),
    })
}

/// The module's memory, for views of [`input_buffer`].
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

impl Verifier {
    fn verify_in_buffer(&self, len: usize, now: f64, header: bool) -> Result<u32, JsValue> {
        INPUT.with(|input| {
            // Held for the whole call, and `try_`: a verify re-entered from a host callback is
            // refused, never a panic (api/verify.js does not write the buffer while a call runs).
            let mut input = input.try_borrow_mut().map_err(|_| re_entered())?;
            let token = input
                .get(..len)
                .and_then(|bytes| std::str::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    to_js(&Error::Malformed {
                        reason: "token is not UTF-8",
                    })
                })?;
            let verified = self.verified(token, now)?;
            let mut at = 0;
            for part in answer(&verified, header) {
                let end = at + part.len();
                input
                    .get_mut(at..end)
                    .ok_or_else(|| policy_error("the answer does not fit the input buffer"))?
                    .copy_from_slice(part);
                at = end;
            }
            // At most INPUT_BYTES.
            Ok(at as u32)
        })
    }

    fn verified(&self, token: &str, now: f64) -> Result<crate::Verified, JsValue> {
        let now = now.floor() as i64;
        match &self.inner {
            Inner::Portable(v) => v.verify(token, now),
            Inner::Host(v) => v.verify(token, now),
        }
        .map_err(|e| to_js(&e))
    }

    fn verify_str(&self, token: &str, now: f64, with_header: bool) -> Result<String, JsValue> {
        let verified = self.verified(token, now)?;
        String::from_utf8(answer(&verified, with_header).concat()).map_err(|_| {
            to_js(&Error::Malformed {
                reason: "token JSON is not UTF-8",
            })
        })
    }
}

#[wasm_bindgen]
extern "C" {
    /// A host function `(algIndex, signingInput) => Uint8Array` that signs with the host's
    /// native crypto; the input is a view of wasm memory, valid only during the call.
    pub type HostSign;

    #[wasm_bindgen(method, catch, js_name = call)]
    fn sign(this: &HostSign, context: &JsValue, alg: u32, data: &[u8]) -> Result<JsValue, JsValue>;
}

/// Signing by the host for asymmetric keys; HMAC stays in Rust.
struct HostSigner {
    host: HostSign,
}

impl CryptoProvider for HostSigner {
    fn verify(&self, alg: Algorithm, key: &Key, input: &[u8], signature: &[u8]) -> bool {
        DefaultCrypto::default().verify(alg, key, input, signature)
    }

    fn sign(&self, alg: Algorithm, key: &Key, input: &[u8]) -> Result<Vec<u8>, Error> {
        // HMAC stays in Rust; a key that may not sign gets the same refusal from the same code.
        if !alg.is_asymmetric() || !key.allows(alg) || !key.is_private() {
            return HmacOnly.sign(alg, key, input);
        }
        let signature = self
            .host
            .sign(&JsValue::NULL, alg_index(alg), input)
            .map_err(|_| Error::InvalidKey {
                reason: "the host could not sign with this key".into(),
            })?;
        let bytes = js_sys::Uint8Array::new(&signature).to_vec();
        check_host_signature(alg, key, &bytes)?;
        Ok(bytes)
    }
}

/// A host's signature has exactly the length `alg` gives with `key`: anything else is the
/// host's fault, refused before it becomes a token no verifier accepts.
fn check_host_signature(alg: Algorithm, key: &Key, signature: &[u8]) -> Result<(), Error> {
    if signature.len() != crate::crypto::signature_len(alg, key) {
        return Err(Error::InvalidKey {
            reason: "the host returned a signature of the wrong length".into(),
        });
    }
    Ok(())
}

/// A private key parsed and checked once, for signing many tokens.
#[wasm_bindgen]
pub struct Signer {
    key: Key,
    host: Option<HostSigner>,
    /// Which signer this is: a template is used only by the signer that prepared it.
    id: u64,
}

/// The next [`Signer::id`].
static NEXT_SIGNER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

#[wasm_bindgen]
impl Signer {
    /// `jwk`: a private JWK as JSON text; `alg` binds an RSA or HMAC key without one.
    #[wasm_bindgen(constructor)]
    pub fn new(jwk: &str, alg: Option<String>, host: Option<HostSign>) -> Result<Signer, JsValue> {
        let mut key = Key::from_jwk_json(jwk).map_err(|e| to_js(&e))?;
        if let Some(alg) = alg {
            let alg = Algorithm::parse(&alg).map_err(|e| to_js(&e))?;
            key = key.with_algorithm(alg).map_err(|e| to_js(&e))?;
        }
        let alg = key.signing_algorithm().map_err(|e| to_js(&e))?;
        if !key.is_private() {
            return Err(to_js(&Error::InvalidKey {
                reason: format!("key {:?} is public: it cannot sign {alg}", key.kid()),
            }));
        }
        Ok(Signer {
            key,
            host: host.map(|host| HostSigner { host }),
            id: NEXT_SIGNER.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// The signing key's algorithm name.
    #[wasm_bindgen(getter)]
    pub fn alg(&self) -> String {
        self.key
            .signing_algorithm()
            .map(|a| a.name().to_owned())
            .unwrap_or_default()
    }

    /// Prepares `options` (JSON: kid, typ, expiresIn, notBefore, issuer, audience, subject,
    /// jti) once for many tokens: the header segment and what the options fill.
    pub fn prepare(&self, options: &str) -> Result<SignTemplate, JsValue> {
        let options: SignOptions = serde_json::from_str(options)
            .map_err(|e| policy_error(format!("sign options: {e}")))?;
        let alg = self.key.signing_algorithm().map_err(|e| to_js(&e))?;
        let kid =
            crate::issue::header_kid(options.kid.as_deref(), &self.key).map_err(|e| to_js(&e))?;
        let typ = crate::issue::header_typ(options.typ.as_deref())
            .map_err(|e| to_js(&e))?
            .unwrap_or("JWT");
        let mut fill = Fill::default();
        let text = |text: &String| Value::String(text.clone());
        for (claim, option, value) in [
            ("iss", "issuer", options.issuer.as_ref().map(text)),
            ("sub", "subject", options.subject.as_ref().map(text)),
            ("jti", "jti", options.jti.as_ref().map(text)),
            // As the caller wrote it: a string stays a string, an array an array (a one-name
            // array too; RFC 7519 §4.1.3 reads both alike).
            ("aud", "audience", options.audience.map(audience_as_given)),
            ("nbf", "notBefore", options.not_before.map(Value::from)),
        ] {
            if let Some(value) = value {
                fill.set(claim, option, &value);
            }
        }
        if let Some(seconds) = options.expires_in {
            fill.set_lifetime(seconds);
        }
        Ok(SignTemplate {
            signer: self.id,
            header: header_segment(alg, kid, Some(typ)),
            fill,
        })
    }

    /// Signs `payload` (JSON object text, its claims kept as written) under `template`.
    pub fn sign(
        &self,
        template: &SignTemplate,
        payload: &str,
        now: f64,
    ) -> Result<String, JsValue> {
        self.finish(self.signing_input(template, payload, now)?)
    }

    /// What [`Signer::sign`] signs, for a host that signs later (WebCrypto): the signing input
    /// `header.payload`, every claim rule applied. [`Signer::attach_signature`] finishes it.
    #[wasm_bindgen(js_name = signingInput)]
    pub fn signing_input(
        &self,
        template: &SignTemplate,
        payload: &str,
        now: f64,
    ) -> Result<String, JsValue> {
        let payload = self.completed(template, payload, now)?;
        Ok(crate::issue::jws_input(&template.header, &payload))
    }

    /// The token: `input` (from [`Signer::signing_input`] or [`Signer::dpop_proof_input`])
    /// and the host's `signature` over it, whose length is checked as [`HostSigner`] checks it.
    #[wasm_bindgen(js_name = attachSignature)]
    pub fn attach_signature(&self, input: String, signature: &[u8]) -> Result<String, JsValue> {
        let alg = self.key.signing_algorithm().map_err(|e| to_js(&e))?;
        check_host_signature(alg, &self.key, signature).map_err(|e| to_js(&e))?;
        Ok(crate::issue::with_signature(input, signature))
    }
}

impl Signer {
    /// The token for a signing input, signed here: by the host's synchronous `sign`, or by the
    /// build's own provider.
    fn finish(&self, input: String) -> Result<String, JsValue> {
        let alg = self.key.signing_algorithm().map_err(|e| to_js(&e))?;
        let signature = match &self.host {
            Some(host) => host.sign(alg, &self.key, input.as_bytes()),
            None => DefaultCrypto::default().sign(alg, &self.key, input.as_bytes()),
        }
        .map_err(|e| to_js(&e))?;
        Ok(crate::issue::with_signature(input, &signature))
    }

    /// `payload` with what `template` fills, at `now`.
    fn completed(
        &self,
        template: &SignTemplate,
        payload: &str,
        now: f64,
    ) -> Result<String, JsValue> {
        // Its header names this signer's key: another signer's would sign under a wrong kid.
        if template.signer != self.id {
            return Err(policy_error("this template was prepared by another signer"));
        }
        template
            .fill
            .complete(payload, now.floor() as i64)
            .map_err(|e| to_js(&e))
    }
}

#[wasm_bindgen]
impl Signer {
    /// A DPoP proof (RFC 9449 §4.2) for a request, signed with this key.
    #[wasm_bindgen(js_name = dpopProof)]
    pub fn dpop_proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<String>,
        nonce: Option<String>,
        now: f64,
    ) -> Result<String, JsValue> {
        self.finish(self.dpop_proof_input(method, url, access_token, nonce, now)?)
    }

    /// The signing input of [`Signer::dpop_proof`], for a host that signs later.
    #[wasm_bindgen(js_name = dpopProofInput)]
    pub fn dpop_proof_input(
        &self,
        method: &str,
        url: &str,
        access_token: Option<String>,
        nonce: Option<String>,
        now: f64,
    ) -> Result<String, JsValue> {
        let request = crate::dpop::ProofRequest {
            method,
            url,
            access_token: access_token.as_deref(),
            nonce: nonce.as_deref(),
        };
        crate::dpop::proof_input(&self.key, &request, now.floor() as i64)
            .map(|(_, input)| input)
            .map_err(|e| to_js(&e))
    }
}

/// What `verifyDpopProof` checks a proof against, as pkg/entries/api/dpop.js passes it.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DpopOptions {
    method: String,
    url: String,
    access_token: Option<String>,
    #[serde(default)]
    nonces: Vec<String>,
    max_age: Option<u64>,
    clock_tolerance: Option<u64>,
    algorithms: Option<Vec<Algorithm>>,
}

#[wasm_bindgen]
extern "C" {
    /// A host function `(algIndex, publicJwk, signingInput, signature) => boolean` that checks
    /// one signature by a key given as public JWK text (a DPoP proof's own key) with the
    /// host's native crypto; WebCrypto's answers come later, as for [`HostVerify`]. The byte
    /// arguments are views of wasm memory, valid only during the call.
    pub type HostJwkVerify;

    #[wasm_bindgen(method, catch, js_name = call)]
    fn verify(
        this: &HostJwkVerify,
        context: &JsValue,
        alg: u32,
        jwk: &str,
        data: &[u8],
        signature: &[u8],
    ) -> Result<bool, JsValue>;
}

/// A proof's signature checked by the host, after the core's checks of its form.
struct HostJwkCrypto {
    host: HostJwkVerify,
}

impl CryptoProvider for HostJwkCrypto {
    fn verify(&self, alg: Algorithm, key: &Key, input: &[u8], signature: &[u8]) -> bool {
        let Ok(jwk) = serde_json::to_string(&key.public_members()) else {
            return false;
        };
        self.host
            .verify(&JsValue::NULL, alg_index(alg), &jwk, input, signature)
            .unwrap_or(false)
    }

    fn sign(&self, alg: Algorithm, key: &Key, input: &[u8]) -> Result<Vec<u8>, Error> {
        DefaultCrypto::default().sign(alg, key, input)
    }
}

/// Verifies a DPoP proof (RFC 9449 §4.3): `{"jkt", "jti", "iat", "alg", "nonce"?,
/// "protectedHeader", "payload"}` as JSON. Replay (`jti`) is the caller's to track. `host`
/// checks the signature natively (see [`HostJwkVerify`]); without it the build's own provider
/// does.
#[wasm_bindgen(js_name = verifyDpopProof)]
pub fn verify_dpop_proof(
    proof: &str,
    options: &str,
    now: f64,
    host: Option<HostJwkVerify>,
) -> Result<String, JsValue> {
    let options: DpopOptions = serde_json::from_str(options).map_err(|e| {
        to_js(&Error::InvalidPolicy {
            reason: format!("DPoP options: {e}"),
        })
    })?;
    let mut policy = crate::dpop::Policy::default();
    if let Some(algorithms) = options.algorithms {
        if algorithms.is_empty() || algorithms.iter().any(|alg| !alg.is_asymmetric()) {
            return Err(policy_error(
                "DPoP algorithms must be asymmetric, and at least one",
            ));
        }
        policy.algorithms = algorithms;
    }
    policy.max_age = options.max_age.unwrap_or(policy.max_age);
    policy.leeway = options.clock_tolerance.unwrap_or(policy.leeway);
    let nonces: Vec<&str> = options.nonces.iter().map(String::as_str).collect();
    let request = crate::dpop::Request {
        method: &options.method,
        url: &options.url,
        access_token: options.access_token.as_deref(),
        nonces: &nonces,
    };
    let now = now.floor() as i64;
    let checked = match host {
        Some(host) => {
            crate::dpop::verify_proof_with(proof, &request, &policy, now, &HostJwkCrypto { host })
        }
        None => crate::dpop::verify_proof(proof, &request, &policy, now),
    }
    .map_err(|e| to_js(&e))?;
    let (header, payload) = crate::hazmat::decode_unverified(proof, crate::dpop::MAX_PROOF_BYTES)
        .map_err(|e| to_js(&e))?;
    Ok(json!({
        "jkt": checked.jkt,
        "jti": checked.jti,
        "iat": checked.iat,
        "alg": checked.alg,
        "nonce": checked.nonce,
        "protectedHeader": header.members(),
        "payload": payload,
    })
    .to_string())
}

/// The options of `sign()`, as pkg/entries/api/sign.js passes them (already type-checked there).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignOptions {
    kid: Option<String>,
    typ: Option<String>,
    expires_in: Option<u64>,
    not_before: Option<i64>,
    issuer: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    audience: Option<OneOrMany>,
    subject: Option<String>,
    jti: Option<String>,
}

/// `audience`: one name, or a list of them (sign.js refuses an empty list).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<OneOrMany>, D::Error> {
    serde::Deserialize::deserialize(deserializer).map(Some)
}

fn audience_as_given(audience: OneOrMany) -> Value {
    match audience {
        OneOrMany::One(one) => Value::String(one),
        OneOrMany::Many(many) => Value::Array(many.into_iter().map(Value::String).collect()),
    }
}

/// Sign options prepared by [`Signer::prepare`] for one signer: reused for every token.
#[wasm_bindgen]
pub struct SignTemplate {
    signer: u64,
    header: String,
    fill: Fill,
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
    let alg = Algorithm::parse(alg).map_err(|e| to_js(&e))?;
    let key = Key::generate(alg).map_err(|e| to_js(&e))?;
    let public = key.to_public_jwk().ok();
    Ok(json!({ "privateJwk": key.to_private_jwk(), "publicJwk": public }).to_string())
}

/// A key pair a host generated (a private JWK as JSON text), checked and named as
/// [`generate_key_pair`] names its own: the key bound to `alg`, its RFC 7638 thumbprint as
/// `kid`, `use: sig`. For builds without the pure-Rust provider, whose hosts generate keys.
#[wasm_bindgen(js_name = keyPairFromJwk)]
pub fn key_pair_from_jwk(jwk: &str, alg: &str) -> Result<String, JsValue> {
    let alg = Algorithm::parse(alg).map_err(|e| to_js(&e))?;
    let mut jwk: crate::jwk::Jwk =
        serde_json::from_str(jwk).map_err(|_| policy_error("the host's key is not a JWK"))?;
    jwk.kid = None;
    jwk.alg = None;
    let key = Key::from_jwk(&jwk)
        .and_then(|key| key.with_algorithm(alg))
        .map_err(|e| to_js(&e))?;
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

/// The gateway's answer to a refused request (`gateway::render_code`), for the package's
/// middleware: `{"status", "wwwAuthenticate", "body"}` as JSON. `scopes` is a JSON array.
#[wasm_bindgen(js_name = refusal)]
pub fn refusal(code: &str, description: &str, claim: Option<String>, scopes: &str) -> String {
    let scopes: Vec<String> = serde_json::from_str(scopes).unwrap_or_default();
    let rendered = crate::gateway::render_code(code, description, claim.as_deref(), &scopes);
    json!({
        "status": rendered.status,
        "wwwAuthenticate": rendered.www_authenticate,
        "body": rendered.body,
    })
    .to_string()
}

/// The `typ` of the gateway's origin assertions ([`crate::assertion::TYP`]).
#[wasm_bindgen(js_name = assertionTyp)]
pub fn assertion_typ() -> String {
    crate::assertion::TYP.to_owned()
}

/// Whether a verified assertion's claims (JSON text) were made for this request
/// ([`crate::assertion::check_request`]); throws `ERR_JWT_CLAIM_VALIDATION_FAILED` naming `htm`
/// or `htu` otherwise.
#[wasm_bindgen(js_name = checkAssertionRequest)]
pub fn check_assertion_request(claims: &str, method: &str, url: &str) -> Result<(), JsValue> {
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(claims).map_err(|_| policy_error("claims must be a JSON object"))?;
    crate::assertion::check_request(&claims, method, url).map_err(|e| to_js(&e))
}

/// Whether a JWKS URL is acceptable: https, or http to a loopback host. The package asks this
/// instead of restating the rule (`config::is_secure_url`, the worker's check).
#[wasm_bindgen(js_name = isAcceptableJwksUrl)]
pub fn is_acceptable_jwks_url(url: &str) -> bool {
    crate::config::is_secure_url(url)
}

/// A fetched JWK Set cut to the keys that may verify (`jwks::Published`: RFC 7517 §5), as JSON
/// text `{"set": <the JWK Set of usable keys>, "ignored": [{"kid", "reason"}]}` for the
/// package's remote key sets.
#[wasm_bindgen(js_name = publishedKeys)]
pub fn published_keys(document: &str) -> Result<String, JsValue> {
    let published = crate::jwks::Published::from_json(document).map_err(|e| to_js(&e))?;
    let ignored: Vec<crate::json::Object> = published
        .ignored
        .iter()
        .map(|(kid, reason)| {
            crate::json::Object::new()
                .with_some("kid", kid.as_ref())
                .with("reason", reason)
        })
        .collect();
    let keys = published.keys;
    // `keys` is already JSON text: spliced in whole rather than parsed again.
    let ignored = crate::json::of(&ignored);
    Ok(format!("{{\"set\":{keys},\"ignored\":{ignored}}}"))
}

/// The remote key set's caching rule (`jwks_cache::decide`) for the package: 0 use the keys
/// held, 1 use them and refresh in the background, 2 fetch, 3 wait for the fetch in flight, 4
/// unavailable (a failed attempt within the cooldown). `fetched_at` and `fetching_since` are
/// negative infinity when no keys are held and no fetch runs.
#[wasm_bindgen(js_name = jwksCacheAction)]
#[allow(clippy::too_many_arguments)] // the rule's inputs, one number each across the boundary
pub fn jwks_cache_action(
    fetched_at: f64,
    last_attempt: f64,
    knows_kid: bool,
    fetching_since: f64,
    max_age: f64,
    cooldown: f64,
    timeout: f64,
    now: f64,
) -> u8 {
    let held = crate::jwks_cache::Held {
        fetched_at: fetched_at.is_finite().then_some(fetched_at),
        last_attempt,
        knows_kid,
        fetching_since: fetching_since.is_finite().then_some(fetching_since),
    };
    let limits = jwks_limits(max_age, cooldown, timeout);
    crate::jwks_cache::decide(held, limits, now).as_u8()
}

/// How long the package waits for a fetch in flight (`jwks_cache::wait_limit`).
#[wasm_bindgen(js_name = jwksWaitLimit)]
pub fn jwks_wait_limit(timeout: f64) -> f64 {
    crate::jwks_cache::wait_limit(jwks_limits(0.0, 0.0, timeout))
}

fn jwks_limits(max_age: f64, cooldown: f64, timeout: f64) -> crate::jwks_cache::Limits {
    crate::jwks_cache::Limits {
        max_age,
        cooldown,
        timeout,
    }
}
