//! DPoP proofs (RFC 9449): each check of §4.3 refuses on its own, with the member named, and
//! proofs made by `create_proof` (and the RFC's own examples) pass.

#[macro_use]
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use serde_json::{json, Value};
use tollgate::crypto::RustCrypto;
use tollgate::dpop::{self, Policy, ProofRequest, Request};
use tollgate::issue::sign_segments;
use tollgate::{b64, Algorithm, Key};

const NOW: i64 = 1_800_000_000;
const URL: &str = "https://api.example/resource";
const TOKEN: &str = "an-access-token";

fn request() -> Request<'static> {
    Request {
        method: "GET",
        url: URL,
        access_token: Some(TOKEN),
        nonces: &[],
    }
}

fn public(key: &Key) -> Value {
    let mut jwk = serde_json::to_value(key.to_public_jwk().unwrap()).unwrap();
    for member in ["kid", "alg", "use"] {
        jwk.as_object_mut().unwrap().remove(member);
    }
    jwk
}

/// A proof with this header and these claims, signed by `key`.
fn craft(key: &Key, header: Value, claims: Value) -> String {
    let alg = key.signing_algorithm().unwrap();
    let header = b64::encode(header.to_string().as_bytes());
    sign_segments(&header, &claims.to_string(), alg, key, &RustCrypto).unwrap()
}

struct Fixture {
    key: Key,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            key: Key::generate(Algorithm::ES256).unwrap(),
        }
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public(&self.key)})
    }

    fn claims(&self) -> Value {
        json!({
            "jti": "e1j3V_bKic8-LAEB", "htm": "GET", "htu": URL, "iat": NOW,
            "ath": dpop::access_token_hash(TOKEN),
        })
    }

    fn check(&self, proof: &str) -> Result<dpop::Proof, tollgate::Error> {
        dpop::verify_proof(proof, &request(), &Policy::default(), NOW)
    }

    /// The member a refusal names, after checking its code.
    fn refused(&self, proof: &str) -> String {
        let err = self.check(proof).unwrap_err();
        assert_eq!(err.code(), "ERR_DPOP_PROOF_INVALID", "{err}");
        err.claim().unwrap().to_owned()
    }

    fn with_claims(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = self.claims();
        edit(&mut claims);
        craft(&self.key, self.header(), claims)
    }

    fn with_header(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut header = self.header();
        edit(&mut header);
        craft(&self.key, header, self.claims())
    }
}

#[test]
fn a_well_formed_proof_passes_and_names_its_key() {
    let f = Fixture::new();
    let proof = f.check(&craft(&f.key, f.header(), f.claims())).unwrap();
    assert_eq!(proof.jkt, f.key.thumbprint());
    assert_eq!(proof.jti, "e1j3V_bKic8-LAEB");
    assert_eq!((proof.iat, proof.alg), (NOW, Algorithm::ES256));
}

#[test]
fn rfc9449_4_3_step_2_one_well_formed_jwt() {
    let f = Fixture::new();
    let good = craft(&f.key, f.header(), f.claims());
    for bad in [
        "".to_owned(),
        "not.a.jwt".to_owned(),
        format!("{good}.x"),
        format!("{good}="),
        "a".repeat(5000),
    ] {
        assert_eq!(f.refused(&bad), "proof", "{bad:.40}");
    }
}

#[test]
fn rfc9449_4_3_step_3_required_claims() {
    let f = Fixture::new();
    for member in ["jti", "htm", "htu", "iat", "ath"] {
        let proof = f.with_claims(|c| {
            c.as_object_mut().unwrap().remove(member);
        });
        assert_eq!(f.refused(&proof), member);
    }
    for (member, value) in [
        ("jti", json!(7)),
        ("jti", json!("")),
        ("jti", json!("x".repeat(257))),
        ("htm", json!(null)),
        ("htu", json!(["https://api.example/resource"])),
        ("iat", json!("1800000000")),
        ("ath", json!(false)),
    ] {
        let proof = f.with_claims(|c| c[member] = value.clone());
        assert_eq!(f.refused(&proof), member, "{value}");
    }
    // Without a token, no ath is needed.
    let proof = f.with_claims(|c| {
        c.as_object_mut().unwrap().remove("ath");
    });
    let no_token = Request {
        access_token: None,
        ..request()
    };
    dpop::verify_proof(&proof, &no_token, &Policy::default(), NOW).unwrap();
}

#[test]
fn rfc9449_4_3_step_4_typ_is_dpop_jwt() {
    let f = Fixture::new();
    for typ in [json!("JWT"), json!("at+jwt"), json!(null)] {
        let proof = f.with_header(|h| h["typ"] = typ.clone());
        let err = f.check(&proof).unwrap_err();
        assert_eq!(err.code(), "ERR_DPOP_PROOF_INVALID", "{typ}");
    }
    let proof = f.with_header(|h| {
        h.as_object_mut().unwrap().remove("typ");
    });
    assert_eq!(f.refused(&proof), "typ");
    // A media type: case-insensitive, with an optional application/ prefix (RFC 7515 §4.1.9).
    let proof = f.with_header(|h| h["typ"] = json!("application/DPoP+JWT"));
    f.check(&proof).unwrap();
}

#[test]
fn rfc9449_4_3_step_5_asymmetric_alg_from_the_allow_list() {
    let f = Fixture::new();
    let good = craft(&f.key, f.header(), f.claims());
    let only_eddsa = Policy {
        algorithms: vec![Algorithm::EdDSA, Algorithm::Ed25519],
        ..Policy::default()
    };
    let err = dpop::verify_proof(&good, &request(), &only_eddsa, NOW).unwrap_err();
    assert_eq!(err.claim(), Some("alg"));
    // HS256 with a shared secret in the header: refused before any key is read.
    let secret = Key::hmac(&[1; 32], Algorithm::HS256, None).unwrap();
    let header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": b64::encode(&[1; 32])}});
    assert_eq!(f.refused(&craft(&secret, header, f.claims())), "alg");
    for alg in ["none", "Ed448", "HS257"] {
        let proof = f.with_header(|h| h["alg"] = json!(alg));
        assert_eq!(f.refused(&proof), "alg", "{alg}");
    }
}

#[test]
fn rfc9449_4_3_step_6_signed_by_the_header_key() {
    let f = Fixture::new();
    let other = Key::generate(Algorithm::ES256).unwrap();
    assert_eq!(
        f.refused(&craft(&other, f.header(), f.claims())),
        "signature"
    );
    let mut proof = craft(&f.key, f.header(), f.claims());
    proof.replace_range(proof.len() - 3.., "AAA");
    assert_eq!(f.refused(&proof), "signature");
}

#[test]
fn rfc9449_4_3_step_7_no_private_key_in_the_header() {
    let f = Fixture::new();
    let private = serde_json::to_value(f.key.to_private_jwk()).unwrap();
    let proof = f.with_header(|h| h["jwk"] = private.clone());
    assert_eq!(f.refused(&proof), "jwk");
    for jwk in [
        json!(null),
        json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
        json!({"kty": "oct", "k": "AAAA"}),
    ] {
        let proof = f.with_header(|h| h["jwk"] = jwk.clone());
        assert!(f.check(&proof).is_err(), "{jwk}");
    }
    let proof = f.with_header(|h| {
        h.as_object_mut().unwrap().remove("jwk");
    });
    assert_eq!(f.refused(&proof), "jwk");
    // A jwk whose own alg names another algorithm does not verify this one.
    let proof = f.with_header(|h| h["jwk"]["alg"] = json!("ES384"));
    assert_eq!(f.refused(&proof), "jwk");
}

#[test]
fn rfc9449_4_3_step_8_the_method_exactly() {
    let f = Fixture::new();
    for htm in ["POST", "get", "GET "] {
        let proof = f.with_claims(|c| c["htm"] = json!(htm));
        assert_eq!(f.refused(&proof), "htm", "{htm}");
    }
}

#[test]
fn rfc9449_4_3_step_9_the_uri_without_query_and_fragment() {
    let f = Fixture::new();
    for htu in [
        "https://api.example/other",
        "https://evil.example/resource",
        "http://api.example/resource",
        "https://api.example:8443/resource",
        "/resource",
    ] {
        let proof = f.with_claims(|c| c["htu"] = json!(htu));
        assert_eq!(f.refused(&proof), "htu", "{htu}");
    }
    for htu in [
        "https://API.example/resource",
        "https://api.example:443/resource",
        "https://api.example/resource?x=1#y",
        "https://api.example/%72esource",
    ] {
        let proof = f.with_claims(|c| c["htu"] = json!(htu));
        f.check(&proof).unwrap_or_else(|e| panic!("{htu}: {e}"));
    }
    let with_query = Request {
        url: "https://api.example/resource?page=2",
        ..request()
    };
    let proof = craft(&f.key, f.header(), f.claims());
    dpop::verify_proof(&proof, &with_query, &Policy::default(), NOW).unwrap();
}

#[test]
fn rfc9449_4_3_step_10_and_8_the_server_nonce() {
    let f = Fixture::new();
    let nonces = ["n-current", "n-previous"];
    let asking = Request {
        nonces: &nonces,
        ..request()
    };
    let check = |proof: &str| dpop::verify_proof(proof, &asking, &Policy::default(), NOW);
    let none = craft(&f.key, f.header(), f.claims());
    let stale = f.with_claims(|c| c["nonce"] = json!("n-old"));
    for proof in [none, stale] {
        let err = check(&proof).unwrap_err();
        assert_eq!(err.code(), "ERR_DPOP_NONCE_REQUIRED");
        assert_eq!(err.claim(), Some("nonce"));
    }
    for nonce in nonces {
        let proof = f.with_claims(|c| c["nonce"] = json!(nonce));
        assert_eq!(check(&proof).unwrap().nonce.as_deref(), Some(nonce));
    }
}

#[test]
fn rfc9449_4_3_step_11_created_within_the_window() {
    let f = Fixture::new();
    let policy = Policy::default();
    for (iat, ok) in [
        (NOW, true),
        (NOW - 300, true),
        (NOW - 305, true),
        (NOW - 306, false),
        (NOW + 5, true),
        (NOW + 6, false),
    ] {
        let proof = f.with_claims(|c| c["iat"] = json!(iat));
        let result = dpop::verify_proof(&proof, &request(), &policy, NOW);
        assert_eq!(result.is_ok(), ok, "iat {iat}");
        if !ok {
            assert_eq!(result.unwrap_err().claim(), Some("iat"));
        }
    }
}

#[test]
fn rfc9449_4_3_step_12_ath_is_the_hash_of_the_presented_token() {
    let f = Fixture::new();
    let proof = f.with_claims(|c| c["ath"] = json!(dpop::access_token_hash("another-token")));
    assert_eq!(f.refused(&proof), "ath");
    // RFC 9449 §7.1's example: the token and its ath.
    assert_eq!(
        dpop::access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn created_proofs_verify_for_every_asymmetric_family() {
    let rsa = common::rfc7520_rsa()
        .with_algorithm(Algorithm::PS256)
        .unwrap();
    for key in [
        Key::generate(Algorithm::ES256).unwrap(),
        Key::generate(Algorithm::ES384).unwrap(),
        Key::generate(Algorithm::EdDSA).unwrap(),
        Key::generate(Algorithm::Ed25519).unwrap(),
        rsa,
    ] {
        let made = ProofRequest {
            method: "POST",
            url: "https://as.example/token?x=1",
            access_token: Some(TOKEN),
            nonce: Some("n"),
        };
        let proof = dpop::create_proof(&key, &made, NOW, &RustCrypto).unwrap();
        let nonces = ["n"];
        let request = Request {
            method: "POST",
            url: "https://as.example/token",
            access_token: Some(TOKEN),
            nonces: &nonces,
        };
        let checked = dpop::verify_proof(&proof, &request, &Policy::default(), NOW).unwrap();
        assert_eq!(checked.jkt, key.thumbprint());
        let (header, claims) = tollgate::hazmat::decode_unverified(&proof, 8192).unwrap();
        assert_eq!(claims["htu"], "https://as.example/token", "no query in htu");
        assert!(
            header.members()["jwk"].get("d").is_none(),
            "public members only"
        );
    }
    let secret = Key::hmac(&[1; 32], Algorithm::HS256, None).unwrap();
    let made = ProofRequest {
        method: "GET",
        url: URL,
        access_token: None,
        nonce: None,
    };
    assert!(dpop::create_proof(&secret, &made, NOW, &RustCrypto).is_err());
}

/// RFC 9449's own example proofs (§4.1, §5, §7.1; tests/vectors/rfc9449), at their `iat`:
/// each verifies for the request it describes, with the thumbprint of §6.1, and not for
/// another method, URL or token.
#[test]
fn rfc9449_example_proofs_verify() {
    let vectors = vector!("rfc9449/examples.json");
    for proof in vectors["proofs"].as_array().unwrap() {
        let compact = proof["compact"].as_str().unwrap();
        let claims = &proof["payload"];
        let iat = claims["iat"].as_i64().unwrap();
        let request = Request {
            method: claims["htm"].as_str().unwrap(),
            url: claims["htu"].as_str().unwrap(),
            access_token: proof["access_token"].as_str(),
            nonces: &[],
        };
        let checked = dpop::verify_proof(compact, &request, &Policy::default(), iat + 10).unwrap();
        assert_eq!(checked.jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
        let other_method = Request {
            method: "PUT",
            ..request
        };
        assert!(dpop::verify_proof(compact, &other_method, &Policy::default(), iat).is_err());
        let other_url = Request {
            url: "https://server.example.com/other",
            ..request
        };
        assert!(dpop::verify_proof(compact, &other_url, &Policy::default(), iat).is_err());
        let other_token = Request {
            access_token: Some("another"),
            ..request
        };
        assert!(dpop::verify_proof(compact, &other_token, &Policy::default(), iat).is_err());
        let late = dpop::verify_proof(compact, &request, &Policy::default(), iat + 400);
        assert_eq!(late.unwrap_err().claim(), Some("iat"));
    }
}
