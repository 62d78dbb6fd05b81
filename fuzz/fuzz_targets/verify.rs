//! Token parsing and verification for every algorithm: no input may panic or verify. DPoP
//! proofs (RFC 9449) go through the proof checks too: no input may panic there.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate::{Algorithm, Key, KeySet, Policy, Verifier};

fn verifiers() -> &'static Vec<Verifier> {
    static V: OnceLock<Vec<Verifier>> = OnceLock::new();
    V.get_or_init(|| {
        let rsa = Key::from_jwk_json(include_str!(
            "../../tests/vectors/rfc7520-cookbook/jwk/3_4.rsa_private_key.json"
        ))
        .expect("rsa");
        Algorithm::ALL
            .into_iter()
            .map(|alg| {
                let key = match alg.family() {
                    tollgate::alg::Family::Rsa => rsa.clone().with_algorithm(alg).expect("bind"),
                    _ => Key::generate(alg).expect("key"),
                };
                let set = if key.is_symmetric() {
                    KeySet::from_keys(vec![key]).expect("set")
                } else {
                    KeySet::from_keys(vec![
                        Key::from_jwk(&key.to_public_jwk().expect("public")).expect("parse")
                    ])
                    .expect("set")
                };
                Verifier::new(set, Policy::default()).expect("verifier")
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for verifier in verifiers() {
        assert!(
            verifier.verify(&text, 1_800_000_000).is_err(),
            "a fuzzed token verified"
        );
        let _ = verifier.verify_jws(&text);
    }
    let _ = tollgate::hazmat::decode_unverified(&text, 8192);
    let request = tollgate::dpop::Request {
        method: "POST",
        url: "https://server.example.com/token",
        access_token: Some("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        nonces: &["n"],
    };
    let _ = tollgate::dpop::verify_proof(&text, &request, &Default::default(), 1_562_262_616);
});
