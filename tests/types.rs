//! Member types and algorithm names: every registered header parameter (RFC 7515 §4.1) and
//! every registered claim (RFC 7519 §4.1) with every wrong JSON type, `null` included; and the
//! two names of Ed25519 signatures (RFC 9864 §2.2).

#[macro_use]
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use serde_json::{json, Value};
use tollgate::crypto::{CryptoProvider, RustCrypto};
use tollgate::{b64, Algorithm, Key, KeySet, Policy, Verifier};

const NOW: i64 = 1_800_000_000;

/// Whether a JSON value has a member's registered type.
type Admits = fn(&Value) -> bool;

fn strings(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|items| items.iter().all(Value::is_string))
}

fn audience(value: &Value) -> bool {
    value.is_string() || strings(value)
}

/// One value of each JSON type, and the shapes of array a member may require.
fn values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(7),
        json!(1.5),
        json!("text"),
        json!({}),
        json!([]),
        json!(["text"]),
        json!([1]),
        json!(["text", null]),
    ]
}

/// Signs `header` (a JSON object, `alg` included as written) over `payload` with `key`.
fn signed(key: &Key, alg: Algorithm, header: &Value, payload: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string().as_bytes()),
        b64::encode(payload.to_string().as_bytes())
    );
    let signature = RustCrypto.sign(alg, key, input.as_bytes()).unwrap();
    format!("{input}.{}", b64::encode(&signature))
}

fn hmac() -> Key {
    Key::hmac(&[7; 32], Algorithm::HS256, Some("k".into())).unwrap()
}

fn verify(key: &Key, token: &str) -> Result<tollgate::Verified, tollgate::Error> {
    let keys = KeySet::from_keys(vec![key.clone()]).unwrap();
    Verifier::new(keys, Policy::default())
        .unwrap()
        .verify(token, NOW)
}

/// The header members of RFC 7515 §4.1 (and `b64`, RFC 7797 §3) with the values of the
/// right type: anything else is a malformed JWS.
#[test]
fn rfc7515_4_1_each_header_parameter_has_its_registered_type() {
    let key = hmac();
    let payload = json!({"exp": NOW + 60});
    let members: [(&str, Admits); 12] = [
        ("alg", Value::is_string),
        ("jku", Value::is_string),
        ("jwk", Value::is_object),
        ("kid", Value::is_string),
        ("x5u", Value::is_string),
        ("x5c", strings),
        ("x5t", Value::is_string),
        ("x5t#S256", Value::is_string),
        ("typ", Value::is_string),
        ("cty", Value::is_string),
        ("crit", strings),
        ("b64", Value::is_boolean),
    ];
    let mut refused = 0;
    for (name, admits) in members {
        for value in values() {
            let mut header = json!({"alg": "HS256"});
            header[name] = value.clone();
            let token = signed(&key, Algorithm::HS256, &header, &payload);
            let result = verify(&key, &token);
            if admits(&value) {
                // The right type: whatever else the value means, it is not a type error.
                if let Err(err) = &result {
                    assert!(
                        !err.to_string().contains(&format!("\"{name}\" is not")),
                        "{header}: {err}"
                    );
                }
                continue;
            }
            let err = result.expect_err(&header.to_string());
            assert_eq!(err.code(), "ERR_JWS_INVALID", "{header}: {err}");
            assert!(
                err.to_string().contains(&format!("\"{name}\"")),
                "{header}: the message names the member: {err}"
            );
            // The answer is the same when the header arrives with other members before it.
            let mut crowded = json!({"x-first": 1, "alg": "HS256", "y": [1, {"z": null}]});
            crowded[name] = value;
            let token = signed(&key, Algorithm::HS256, &crowded, &payload);
            assert_eq!(
                verify(&key, &token).unwrap_err().to_string(),
                err.to_string()
            );
            refused += 1;
        }
    }
    assert_eq!(refused, 106, "every wrong type of every member was tried");
    // Right types everywhere, in one header: accepted (crit aside, which lists extensions).
    let header = json!({
        "alg": "HS256", "jku": "https://k", "jwk": {}, "kid": "k", "x5u": "https://x",
        "x5c": ["MII"], "x5t": "AA", "x5t#S256": "AA", "typ": "JWT", "cty": "json", "b64": true,
    });
    verify(&key, &signed(&key, Algorithm::HS256, &header, &payload)).unwrap();
}

/// RFC 7519 §4.1: `iss`, `sub`, `jti` are strings, `aud` a string or an array of strings,
/// `exp`/`nbf`/`iat` NumericDates. The type is checked whether or not the policy looks at the
/// claim, and the error names it.
#[test]
fn rfc7519_4_1_each_registered_claim_has_its_registered_type() {
    let key = hmac();
    let header = json!({"alg": "HS256"});
    let claims: [(&str, Admits); 7] = [
        ("iss", Value::is_string),
        ("sub", Value::is_string),
        ("aud", audience),
        ("exp", Value::is_number),
        ("nbf", Value::is_number),
        ("iat", Value::is_number),
        ("jti", Value::is_string),
    ];
    let mut refused = 0;
    for (name, admits) in claims {
        for value in values() {
            let mut payload = json!({"exp": NOW + 60});
            payload[name] = value.clone();
            let token = signed(&key, Algorithm::HS256, &header, &payload);
            let result = verify(&key, &token);
            if admits(&value) {
                if let Err(err) = &result {
                    // A date of the right type may still be in the past or the future.
                    assert_ne!(err.code(), "ERR_JWT_CLAIM_VALIDATION_FAILED", "{payload}");
                }
                continue;
            }
            let err = result.expect_err(&payload.to_string());
            assert_eq!(
                err.code(),
                "ERR_JWT_CLAIM_VALIDATION_FAILED",
                "{payload}: {err}"
            );
            assert_eq!(err.claim(), Some(name), "{payload}");
            refused += 1;
        }
    }
    assert_eq!(refused, 58, "every wrong type of every claim was tried");
}

/// A nested or unregistered member of any type is the application's business.
#[test]
fn unregistered_members_may_have_any_type() {
    let key = hmac();
    for value in values() {
        let header = json!({"alg": "HS256", "x": value.clone()});
        let payload = json!({"exp": NOW + 60, "scope2": value.clone(), "o": {"iss": value}});
        verify(&key, &signed(&key, Algorithm::HS256, &header, &payload)).unwrap();
    }
}

/// RFC 9864 §2.2: `Ed25519` is EdDSA on Ed25519, a JWS algorithm everywhere `EdDSA` is one.
#[test]
fn rfc9864_2_2_ed25519_signs_and_verifies_under_its_own_name() {
    let key = Key::generate(Algorithm::Ed25519).unwrap();
    assert_eq!(key.signing_algorithm().unwrap(), Algorithm::Ed25519);
    assert_eq!(key.to_public_jwk().unwrap().alg.as_deref(), Some("Ed25519"));
    let token = tollgate::TokenBuilder::new(NOW).sign(&key).unwrap();
    let public = Key::from_jwk(&key.to_public_jwk().unwrap()).unwrap();
    let verified = verify(&public, &token).unwrap();
    assert_eq!(verified.header.alg(), Algorithm::Ed25519);
    assert_eq!(Algorithm::from_name("Ed25519"), Some(Algorithm::Ed25519));
    let policy = Policy::from_json(r#"{"algorithms":["Ed25519"]}"#).unwrap();
    assert_eq!(policy.algorithms, [Algorithm::Ed25519]);
}

/// RFC 9864 §5 and §7, RFC 7517 §4.4: a key that declares one name verifies tokens under that
/// name only; a key that declares none verifies both (see `Key::allows`).
#[test]
fn rfc9864_5_a_key_declaring_one_name_does_not_accept_the_other() {
    let unbound = Key::generate(Algorithm::EdDSA).unwrap();
    let mut jwk = unbound.to_private_jwk();
    jwk.alg = None;
    let unbound = Key::from_jwk(&jwk).unwrap();
    assert_eq!(
        unbound.signing_algorithm().unwrap(),
        Algorithm::EdDSA,
        "an unbound Ed25519 key signs under the name deployed verifiers know"
    );
    let payload = json!({"exp": NOW + 60});
    let token = |alg: Algorithm| signed(&unbound, alg, &json!({"alg": alg.name()}), &payload);
    let (eddsa, ed25519) = (token(Algorithm::EdDSA), token(Algorithm::Ed25519));
    // The same computation: only the header differs.
    assert_eq!(
        eddsa.rsplit_once('.').unwrap().1.len(),
        ed25519.rsplit_once('.').unwrap().1.len()
    );
    verify(&unbound, &eddsa).unwrap();
    verify(&unbound, &ed25519).unwrap();
    for (bound, accepted, refused) in [
        (Algorithm::EdDSA, &eddsa, &ed25519),
        (Algorithm::Ed25519, &ed25519, &eddsa),
    ] {
        let key = unbound.clone().with_algorithm(bound).unwrap();
        verify(&key, accepted).unwrap();
        let err = verify(&key, refused).unwrap_err();
        assert_eq!(err.code(), "ERR_JWKS_NO_MATCHING_KEY", "{bound}: {err}");
    }
}

/// RFC 9864 §2.2 registers Ed448 too; Tollgate does not implement it and says so, wherever the
/// name or the curve appears. A key set may still carry Ed448 keys for other consumers.
#[test]
fn rfc9864_2_2_ed448_is_refused_as_not_supported() {
    let key = hmac();
    let token = signed(&key, Algorithm::HS256, &json!({"alg": "Ed448"}), &json!({}));
    assert_eq!(
        verify(&key, &token).unwrap_err().code(),
        "ERR_JOSE_NOT_SUPPORTED"
    );
    let policy = Policy::from_json(r#"{"algorithms":["ES256","Ed448"]}"#).unwrap_err();
    assert_eq!(policy.code(), "ERR_JOSE_NOT_SUPPORTED");
    assert_eq!(
        Policy::from_json(r#"{"algorithms":["Ed999"]}"#)
            .unwrap_err()
            .code(),
        "ERR_POLICY_INVALID"
    );
    let ed448 = json!({"kty": "OKP", "crv": "Ed448", "x": "AA"});
    let as_key = |jwk: &Value| Key::from_jwk(&serde_json::from_value(jwk.clone()).unwrap());
    assert_eq!(as_key(&ed448).unwrap_err().code(), "ERR_JOSE_NOT_SUPPORTED");
    let mut ed25519 = Key::generate(Algorithm::Ed25519)
        .unwrap()
        .to_public_jwk()
        .unwrap();
    ed25519.alg = Some("Ed448".into());
    assert_eq!(
        Key::from_jwk(&ed25519).unwrap_err().code(),
        "ERR_JOSE_NOT_SUPPORTED"
    );
    let good = Key::generate(Algorithm::Ed25519)
        .unwrap()
        .to_public_jwk()
        .unwrap();
    let x25519 = json!({"kty": "OKP", "crv": "X25519", "x": "AA"});
    let set = json!({"keys": [ed448, x25519, good]}).to_string();
    assert_eq!(KeySet::from_json(&set).unwrap().keys().len(), 1);
}
