//! JWK, JWK Set and PEM parsing: no input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(key) = tollgate::Key::from_jwk_json(&text) {
        let _ = key.thumbprint();
        let _ = key.to_public_jwk();
        let _ = key.to_private_jwk();
    }
    if let Ok(set) = tollgate::KeySet::from_json(&text) {
        let _ = set.to_public_json();
    }
    let _ = tollgate::Key::from_pem(&text, None);
});
