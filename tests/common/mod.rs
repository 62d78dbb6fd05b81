//! Helpers shared by the behaviour tests. Vectors are compiled in (`include_str!`), so the same
//! tests run natively and on wasm32 under Node, where there is no file system.
#![allow(dead_code, unused_macros)]

use serde_json::Value;
use tollgate::{Algorithm, Key};

/// A vector file under tests/vectors/, parsed.
macro_rules! vector {
    ($path:literal) => {
        serde_json::from_str::<serde_json::Value>(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/",
            $path
        )))
        .expect($path)
    };
}

/// A text file under tests/vectors/.
macro_rules! text {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/",
            $path
        ))
    };
}

/// A JWK Set's JSON text from a value that is either a set or one JWK.
pub fn set_json(value: &Value) -> String {
    if value.get("keys").is_some() {
        value.to_string()
    } else {
        serde_json::json!({ "keys": [value] }).to_string()
    }
}

/// The RFC 7520 §3.4 RSA private key (2048 bits), so tests need not generate RSA keys.
pub fn rfc7520_rsa() -> Key {
    let data = vector!("rfc7520-cookbook/jwk/3_4.rsa_private_key.json");
    Key::from_jwk_json(&data.to_string()).expect("RFC 7520 RSA key")
}

/// A private key for every algorithm (RSA from the RFC, the others freshly generated).
pub fn private_key(alg: Algorithm) -> Key {
    match alg.family() {
        tollgate::alg::Family::Rsa => rfc7520_rsa().with_algorithm(alg).expect("bind RSA key"),
        _ => Key::generate(alg).expect("generate key"),
    }
}

/// The public JWK Set for a private key (or the key itself for HMAC).
pub fn verification_set(key: &Key) -> tollgate::KeySet {
    let jwk = if key.is_symmetric() {
        key.to_private_jwk()
    } else {
        key.to_public_jwk().expect("public jwk")
    };
    tollgate::KeySet::from_json(&serde_json::json!({ "keys": [jwk] }).to_string()).expect("set")
}

/// Runs a future that never waits (the in-memory store's): one poll with a no-op waker.
pub fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the in-memory store never waits"),
    }
}
