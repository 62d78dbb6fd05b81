//! Public test vectors: Wycheproof JWS and JWK, RFC 7515 Appendix A, RFC 7520 §4.1–4.4,
//! RFC 8037 Ed25519. Provenance: tests/vectors/README.md. Each file is run whole; the few
//! cases where we disagree with a vector are listed here with the reason, and the test fails
//! if such a case starts agreeing (so the list cannot go stale).

#[macro_use]
mod common;

use serde_json::Value;
use tollgate::{Error, KeySet, Policy, Verifier};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Cases where our result differs from the vector's `result`, and why.
const WYCHEPROOF_EXCEPTIONS: &[(u64, &str)] = &[
    (
        346,
        "data bug: the key says alg PS256 for a PS384 token; the key binding rightly refuses it",
    ),
    (
        347,
        "data bug: the key says alg \"ES521\", which is not a registered algorithm",
    ),
    (
        372,
        "marked valid, but the MAC covers the header without the inserted '?': rejecting is right",
    ),
    (
        350,
        "data bug, as 346: the key_ops variant of the same PS256-labelled key",
    ),
    (
        351,
        "data bug, as 347: the key_ops variant of the same \"ES521\" key",
    ),
    (
        367,
        "the stored token is byte-identical to tc 357 (valid, same key): its padding was lost \
           before the copy we have; padded tokens are refused (see padded_tokens_are_refused)",
    ),
    (370, "as 367: byte-identical to tc 357"),
    (
        372,
        "marked valid, but the MAC covers the header without the inserted '?': rejecting is right",
    ),
    (
        373,
        "marked valid, but the MAC covers the payload without the inserted '?': rejecting is right",
    ),
];

#[test]
fn padded_tokens_are_refused() {
    // Wycheproof tc 357's key and token, with '=' padding added to each part in turn.
    let keys = KeySet::from_json(
        r#"{"kty":"oct","kid":"hs256-key","use":"sig","alg":"HS256","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
    )
    .unwrap();
    let verifier = Verifier::new(keys, Policy::default()).unwrap();
    let good = "eyJraWQiOiJoczI1Ni1rZXkiLCJhbGciOiJIUzI1NiJ9.VGVzdA.c1LROH7eNQwUT8KMVEO52VC3WZ9e_AnDWbZ7aMmowV8";
    verifier.verify_jws(good).unwrap();
    for padded in [
        "eyJraWQiOiJoczI1Ni1rZXkiLCJhbGciOiJIUzI1NiJ9.VGVzdA==.c1LROH7eNQwUT8KMVEO52VC3WZ9e_AnDWbZ7aMmowV8",
        "eyJraWQiOiJoczI1Ni1rZXkiLCJhbGciOiJIUzI1NiJ9.VGVzdA.c1LROH7eNQwUT8KMVEO52VC3WZ9e_AnDWbZ7aMmowV8=",
        "eyJraWQiOiJoczI1Ni1rZXkiLCJhbGciOiJIUzI1NiJ9=.VGVzdA.c1LROH7eNQwUT8KMVEO52VC3WZ9e_AnDWbZ7aMmowV8",
    ] {
        assert_eq!(verifier.verify_jws(padded).unwrap_err().code(), "ERR_JWS_INVALID", "{padded}");
    }
}

fn wycheproof_verify(keys: &Value, jws: &Value) -> Result<(), Error> {
    let keys = KeySet::from_json(&common::set_json(keys))?;
    let Some(jws) = jws.as_str() else {
        // JSON serialization: this product accepts compact tokens only.
        return Err(Error::Malformed {
            reason: "JSON serialization",
        });
    };
    let verifier = Verifier::new(keys, Policy::default())?;
    verifier.verify_jws(jws).map(|_| ())
}

fn run_wycheproof(data: Value) -> (usize, Vec<String>) {
    let mut mismatches = Vec::new();
    let mut count = 0;
    for group in data["testGroups"].as_array().unwrap() {
        let keys = group.get("public").unwrap_or(&group["private"]);
        for case in group["tests"].as_array().unwrap() {
            count += 1;
            let id = case["tcId"].as_u64().unwrap();
            let expected_valid = case["result"] == "valid";
            let outcome = wycheproof_verify(keys, &case["jws"]);
            let excepted = WYCHEPROOF_EXCEPTIONS.iter().any(|(tc, _)| *tc == id);
            if outcome.is_ok() != expected_valid && !excepted {
                mismatches.push(format!(
                    "tc {id} ({}): expected {}, got {:?}",
                    case["comment"], case["result"], outcome
                ));
            }
            if excepted && outcome.is_ok() != expected_valid {
                continue;
            }
            if excepted {
                mismatches.push(format!("tc {id} is listed as an exception but now agrees"));
            }
        }
    }
    (count, mismatches)
}

#[test]
fn wycheproof_json_web_signature() {
    let (count, mismatches) = run_wycheproof(vector!("wycheproof/json_web_signature_test.json"));
    assert!(count >= 400, "only {count} cases");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn wycheproof_json_web_key() {
    let (count, mismatches) = run_wycheproof(vector!("wycheproof/json_web_key_test.json"));
    assert_eq!(count, 26);
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn rfc7515_appendix_a() {
    let data = vector!("rfc7515/appendix-a.json");
    for example in data["examples"].as_array().unwrap() {
        let section = example["section"].as_str().unwrap();
        let compact = example["compact"].as_str().unwrap();
        let keys = match &example["jwk"] {
            Value::Null => Ok(KeySet::default()), // A.5 is unsecured: there is no key
            jwk => KeySet::from_json(&common::set_json(jwk)),
        };
        let outcome = keys
            .and_then(|keys| Verifier::new(keys, Policy::default()))
            .and_then(|verifier| verifier.verify_jws(compact));
        match example["expected"].as_str().unwrap() {
            "valid" => {
                let verified = outcome.unwrap_or_else(|e| panic!("{section}: {e}"));
                assert_eq!(
                    verified.header.alg().name(),
                    example["alg"].as_str().unwrap()
                );
            }
            _ => {
                let err = outcome.expect_err(section);
                assert_eq!(err.code(), "ERR_JOSE_ALG_NOT_ALLOWED", "{section}: {err}");
            }
        }
    }
}

fn cookbook_verify(path: &str, data: Value) {
    let key = &data["input"]["key"];
    let alg = data["input"]["alg"].as_str().unwrap();
    let compact = data["output"]["compact"].as_str().unwrap();
    let keys = KeySet::from_json(&common::set_json(key)).unwrap();
    let verified = Verifier::new(keys, Policy::default())
        .unwrap()
        .verify_jws(compact)
        .unwrap();
    assert_eq!(verified.header.alg().name(), alg, "{path}");
    assert_eq!(
        String::from_utf8(verified.payload).unwrap(),
        data["input"]["payload"].as_str().unwrap(),
        "{path}"
    );
}

#[test]
fn rfc7520_section_4_1_to_4_4() {
    cookbook_verify(
        "4.1",
        vector!("rfc7520-cookbook/jws/4_1.rsa_v15_signature.json"),
    );
    cookbook_verify(
        "4.2",
        vector!("rfc7520-cookbook/jws/4_2.rsa-pss_signature.json"),
    );
    cookbook_verify(
        "4.3",
        vector!("rfc7520-cookbook/jws/4_3.ecdsa_signature.json"),
    );
    cookbook_verify(
        "4.4",
        vector!("rfc7520-cookbook/jws/4_4.hmac-sha2_integrity_protection.json"),
    );
}

#[test]
fn rfc8037_ed25519() {
    cookbook_verify(
        "RFC 8037 A.4",
        vector!("rfc7520-cookbook/curve25519/jws.json"),
    );
}

#[test]
fn rfc8037_ed25519_signature_is_deterministic_and_matches() {
    // Ed25519 is deterministic: signing the RFC's input with its key gives the RFC's signature.
    let data = vector!("rfc7520-cookbook/curve25519/jws.json");
    let key = tollgate::Key::from_jwk_json(&data["input"]["key"].to_string()).unwrap();
    let input = data["signing"]["sig-input"].as_str().unwrap();
    let sig = tollgate::crypto::CryptoProvider::sign(
        &tollgate::crypto::RustCrypto,
        tollgate::Algorithm::EdDSA,
        &key,
        input.as_bytes(),
    )
    .unwrap();
    assert_eq!(
        tollgate::b64::encode(&sig),
        data["signing"]["sig"].as_str().unwrap()
    );
}

#[test]
fn rfc7797_unencoded_payload_is_refused_as_unsupported() {
    let data = vector!("rfc7797/section-4.2-final.json");
    let text = data.to_string();
    // The file holds the RFC 7515 A.1 key and the b64=false compact token (detached payload).
    let key = &data["key"];
    let compact = data["compact_detached"].as_str().expect(&text);
    let keys = KeySet::from_json(&common::set_json(key)).unwrap();
    let err = Verifier::new(keys, Policy::default())
        .unwrap()
        .verify_jws(compact)
        .unwrap_err();
    assert_eq!(err.code(), "ERR_JOSE_NOT_SUPPORTED", "{err}");
}
