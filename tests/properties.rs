//! Property tests: no input makes the core panic, and random tokens never verify.
//! Host only (proptest's RNG does not build for wasm32-unknown-unknown).
#![cfg(not(target_arch = "wasm32"))]

#[macro_use]
mod common;

use proptest::prelude::*;
use serde_json::Value;
use tollgate::{b64, Algorithm, Key, KeySet, Policy, Verifier};

fn verifier() -> &'static (Verifier, Vec<Verifier>) {
    use std::sync::OnceLock;
    static V: OnceLock<(Verifier, Vec<Verifier>)> = OnceLock::new();
    V.get_or_init(|| {
        let hs = Key::generate(Algorithm::HS256).unwrap();
        let all: Vec<Verifier> = Algorithm::ALL
            .into_iter()
            .map(|alg| {
                let key = common::private_key(alg);
                Verifier::new(common::verification_set(&key), Policy::default()).unwrap()
            })
            .collect();
        (
            Verifier::new(common::verification_set(&hs), Policy::default()).unwrap(),
            all,
        )
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("alg"),
            Just("kid"),
            Just("crit"),
            Just("b64"),
            Just("typ"),
            Just("none"),
            Just("HS256"),
            Just("ES256")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("alg".to_owned()),
                    Just("kid".to_owned()),
                    Just("crit".to_owned()),
                    Just("exp".to_owned()),
                    Just("nbf".to_owned()),
                    Just("iat".to_owned()),
                    Just("aud".to_owned()),
                    Just("b64".to_owned()),
                    ".{0,6}".prop_map(|s| s)
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_strings_never_panic_and_never_verify(token in ".{0,300}") {
        let (hs, all) = verifier();
        prop_assert!(hs.verify(&token, 0).is_err());
        for v in all {
            prop_assert!(v.verify(&token, 0).is_err());
        }
    }

    #[test]
    fn random_bytes_in_each_part_never_panic(
        header in prop::collection::vec(any::<u8>(), 0..80),
        payload in prop::collection::vec(any::<u8>(), 0..80),
        sig in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let token = format!("{}.{}.{}", b64::encode(&header), b64::encode(&payload), b64::encode(&sig));
        let (_, all) = verifier();
        for v in all {
            prop_assert!(v.verify(&token, 0).is_err());
        }
    }

    #[test]
    fn random_json_headers_and_claims_never_panic(header in json_value(), claims in json_value(), sig in prop::collection::vec(any::<u8>(), 0..140), now in any::<i64>()) {
        let token = format!(
            "{}.{}.{}",
            b64::encode(header.to_string().as_bytes()),
            b64::encode(claims.to_string().as_bytes()),
            b64::encode(&sig)
        );
        let (hs, all) = verifier();
        prop_assert!(hs.verify(&token, now).is_err());
        for v in all {
            prop_assert!(v.verify(&token, now).is_err());
        }
    }

    #[test]
    fn random_signatures_for_every_alg_never_panic_and_never_verify(
        alg in 0..Algorithm::ALL.len(),
        claims in json_value(),
        sig in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let header = format!(r#"{{"alg":"{}"}}"#, Algorithm::ALL[alg].name());
        let token = format!("{}.{}.{}", b64::encode(header.as_bytes()), b64::encode(claims.to_string().as_bytes()), b64::encode(&sig));
        let (_, all) = verifier();
        let err = all[alg].verify(&token, 0).unwrap_err();
        prop_assert_eq!(err.code(), "ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    }

    #[test]
    fn random_jwks_never_panic(jwk in json_value(), kty in prop_oneof![Just("RSA"), Just("EC"), Just("OKP"), Just("oct")],
                               crv in prop_oneof![Just("P-256"), Just("P-384"), Just("P-521"), Just("Ed25519")],
                               member in prop::collection::vec(any::<u8>(), 0..70)) {
        let _ = Key::from_jwk_json(&jwk.to_string());
        let _ = KeySet::from_json(&jwk.to_string());
        let m = b64::encode(&member);
        let shaped = format!(r#"{{"kty":"{kty}","crv":"{crv}","x":"{m}","y":"{m}","d":"{m}","n":"{m}","e":"{m}","k":"{m}"}}"#);
        let _ = Key::from_jwk_json(&shaped);
        let _ = Key::from_pem(&format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----", m), None);
        let _ = Key::from_pem(&format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----", m), None);
    }

    #[test]
    fn policies_from_random_json_never_panic(policy in json_value()) {
        let _ = Policy::from_json(&policy.to_string());
    }
}
