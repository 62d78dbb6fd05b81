//! Every algorithm: sign → verify, then tamper with each part (rejected), and the classic
//! algorithm-confusion attacks (RFC 8725 §2.1, §3.1).

#[macro_use]
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use tollgate::{b64, Algorithm, Key, KeySet, Policy, TokenBuilder, Verifier};

const NOW: i64 = 1_800_000_000;

fn signed(alg: Algorithm) -> (String, Verifier) {
    let key = common::private_key(alg);
    let token = TokenBuilder::new(NOW).subject("alice").sign(&key).unwrap();
    let verifier = Verifier::new(common::verification_set(&key), Policy::default()).unwrap();
    (token, verifier)
}

/// Re-encodes one part after flipping one bit of its decoded bytes.
fn flip(token: &str, part: usize, byte: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut bytes = b64::decode(&parts[part]).unwrap();
    let at = byte % bytes.len();
    bytes[at] ^= 0x01;
    parts[part] = b64::encode(&bytes);
    parts.join(".")
}

#[test]
fn every_algorithm_round_trips_and_every_part_is_tamper_evident() {
    for alg in Algorithm::ALL {
        let (token, verifier) = signed(alg);
        let verified = verifier
            .verify(&token, NOW)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(verified.subject(), Some("alice"));
        assert_eq!(verified.header.alg(), alg);
        for part in 0..3 {
            let len = b64::decode(token.split('.').nth(part).unwrap())
                .unwrap()
                .len();
            for byte in [0, 1, len / 2, len - 1] {
                let bad = flip(&token, part, byte);
                let err = verifier
                    .verify(&bad, NOW)
                    .expect_err(&format!("{alg} part {part} byte {byte}"));
                if part > 0 {
                    assert_eq!(
                        err.code(),
                        "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
                        "{alg} {part}: {err}"
                    );
                }
            }
        }
        // Truncated and extended signatures.
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = b64::decode(sig).unwrap();
        for bad in [
            &sig[..sig.len() - 1],
            &[&sig[..], &[0u8]].concat()[..],
            &[][..],
        ] {
            let forged = format!("{input}.{}", b64::encode(bad));
            assert!(
                verifier.verify(&forged, NOW).is_err(),
                "{alg} signature length {}",
                bad.len()
            );
        }
    }
}

#[test]
fn alg_none_is_refused_in_every_casing() {
    let (token, verifier) = signed(Algorithm::ES256);
    let payload = token.split('.').nth(1).unwrap();
    for none in ["none", "None", "NONE", "nOnE", "none "] {
        let header = b64::encode(format!(r#"{{"alg":"{none}"}}"#).as_bytes());
        for sig in ["", "AA"] {
            let forged = format!("{header}.{payload}.{sig}");
            let err = verifier.verify(&forged, NOW).unwrap_err();
            assert_eq!(err.code(), "ERR_JOSE_ALG_NOT_ALLOWED", "{none:?}: {err}");
        }
    }
}

/// Signs `header.payload` with HMAC over `secret`, as an attacker would.
fn forge_hs256(payload_b64: &str, secret: &[u8], kid: Option<&str>) -> String {
    let header = match kid {
        Some(kid) => format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#),
        None => r#"{"alg":"HS256"}"#.to_owned(),
    };
    let input = format!("{}.{payload_b64}", b64::encode(header.as_bytes()));
    let key = Key::hmac(secret, Algorithm::HS256, None).unwrap(); // every secret here is >= 32 bytes
    let sig = tollgate::crypto::CryptoProvider::sign(
        &tollgate::crypto::RustCrypto,
        Algorithm::HS256,
        &key,
        input.as_bytes(),
    )
    .unwrap();
    format!("{input}.{}", b64::encode(&sig))
}

#[test]
fn hmac_with_a_public_key_as_secret_is_refused() {
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let (token, verifier) = signed(alg);
        let payload = token.split('.').nth(1).unwrap();
        let public = verifier.keys().keys()[0].to_public_jwk().unwrap();
        let kid = verifier.keys().keys()[0].kid().to_owned();
        // The public key's JSON and its raw members, as the HMAC secret.
        let secrets = [
            serde_json::to_vec(&public).unwrap(),
            b64::decode(public.n.as_deref().or(public.x.as_deref()).unwrap()).unwrap(),
        ];
        for secret in &secrets {
            for kid in [Some(kid.as_str()), None] {
                let forged = forge_hs256(payload, secret, kid);
                let err = verifier.verify(&forged, NOW).unwrap_err();
                assert_eq!(err.code(), "ERR_JWKS_NO_MATCHING_KEY", "{alg}: {err}");
            }
        }
        // Even a policy that lists HS256 does not let an asymmetric key verify it.
        let lax = Policy {
            algorithms: Algorithm::ALL.to_vec(),
            ..Policy::default()
        };
        let lax = Verifier::new(verifier.keys().clone(), lax).unwrap();
        assert!(lax
            .verify(&forge_hs256(payload, &secrets[0], None), NOW)
            .is_err());
    }
}

#[test]
fn the_policy_narrows_algorithms() {
    let (token, verifier) = signed(Algorithm::ES256);
    let only_eddsa = Policy {
        algorithms: vec![Algorithm::EdDSA],
        ..Policy::default()
    };
    let strict = Verifier::new(verifier.keys().clone(), only_eddsa).unwrap();
    assert_eq!(
        strict.verify(&token, NOW).unwrap_err().code(),
        "ERR_JOSE_ALG_NOT_ALLOWED"
    );
    let none = Policy {
        algorithms: vec![],
        ..Policy::default()
    };
    assert_eq!(
        Verifier::new(KeySet::default(), none).unwrap_err().code(),
        "ERR_POLICY_INVALID"
    );
}

#[test]
fn a_key_bound_to_one_rsa_alg_refuses_its_siblings() {
    let key = common::private_key(Algorithm::RS256);
    let verifier = Verifier::new(common::verification_set(&key), Policy::default()).unwrap();
    // The same RSA material and kid under PS256 (`with_algorithm` refuses to rebind a key).
    let mut jwk = key.to_private_jwk();
    jwk.alg = Some("PS256".to_owned());
    let pss = tollgate::Key::from_jwk(&jwk).unwrap();
    assert_eq!(pss.kid(), key.kid());
    let token = TokenBuilder::new(NOW).sign(&pss).unwrap();
    assert_eq!(
        verifier.verify(&token, NOW).unwrap_err().code(),
        "ERR_JWKS_NO_MATCHING_KEY"
    );
}

#[test]
fn unknown_kid_is_no_matching_key() {
    let (_, verifier) = signed(Algorithm::ES256);
    let other = Key::generate(Algorithm::ES256).unwrap();
    let token = TokenBuilder::new(NOW).sign(&other).unwrap();
    let err = verifier.verify(&token, NOW).unwrap_err();
    assert_eq!(err.code(), "ERR_JWKS_NO_MATCHING_KEY");
    // Without a kid, the only candidate is tried and the signature fails.
    let token = tollgate::issue::sign_jws(
        &serde_json::Map::new(),
        r#"{"exp":1900000000}"#,
        &other,
        &tollgate::crypto::RustCrypto,
    )
    .unwrap();
    assert_eq!(
        verifier.verify(&token, NOW).unwrap_err().code(),
        "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"
    );
}
