//! Keys: parsing, validation of weak keys, binding, thumbprints, PEM, serialization.

#[macro_use]
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use tollgate::{Algorithm, Key, KeySet};

fn invalid(json: &str) -> String {
    let err = Key::from_jwk_json(json).expect_err(json);
    assert_eq!(err.code(), "ERR_JWK_INVALID", "{err}");
    err.to_string()
}

#[test]
fn rfc7638_thumbprint_is_the_default_kid_and_ignores_optional_members() {
    let data = vector!("rfc7638/section-3.1.json");
    let expected = data["thumbprint"].as_str().unwrap();
    let key = Key::from_jwk_json(&data["jwk"].to_string()).unwrap();
    assert_eq!(key.thumbprint(), expected);
    assert_eq!(key.kid(), "2011-04-29", "an explicit kid is kept");
    let mut bare = data["jwk"].clone();
    bare.as_object_mut()
        .unwrap()
        .retain(|k, _| ["kty", "n", "e"].contains(&k.as_str()));
    assert_eq!(
        Key::from_jwk_json(&bare.to_string()).unwrap().kid(),
        expected
    );
}

#[test]
fn weak_rsa_keys_are_refused() {
    let wycheproof = vector!("wycheproof/json_web_key_test.json");
    let groups = wycheproof["testGroups"].as_array().unwrap();
    let by_comment = |c: &str| {
        groups.iter().find(|g| g["comment"] == c).unwrap()["private"]["keys"][0].to_string()
    };
    assert!(invalid(&by_comment("keysize_too_small")).contains("1024 bits"));
    assert!(invalid(&by_comment("exponentOne")).contains("exponent"));
    assert!(invalid(&by_comment("jws_rsa_roca_key")).contains("ROCA"));
    // The same 1024-bit modulus through PEM.
    let err = Key::from_pem(text!("pem/rsa1024.pem"), None).unwrap_err();
    assert_eq!(err.code(), "ERR_JWK_INVALID");
}

#[test]
fn an_rsa_private_exponent_out_of_range_is_refused_not_a_panic() {
    // Found by the `keys` fuzz target: d = 0 without p and q made prime recovery underflow.
    let mut key = vector!("rfc7520-cookbook/jwk/3_4.rsa_private_key.json");
    for name in ["p", "q", "dp", "dq", "qi"] {
        key.as_object_mut().unwrap().remove(name);
    }
    let n = key["n"].clone();
    for d in [
        serde_json::json!(""),
        serde_json::json!("AA"),
        serde_json::json!("AQ"),
        n,
    ] {
        key["d"] = d;
        assert!(invalid(&key.to_string()).contains("out of range"));
    }
}

/// Without its CRT members an RSA private key is refused in every build: node:crypto and
/// browsers' WebCrypto cannot use one, so the runtimes disagreed on it (an outside audit).
#[test]
fn an_rsa_private_key_without_its_crt_members_is_refused() {
    let mut key = vector!("rfc7520-cookbook/jwk/3_4.rsa_private_key.json");
    assert!(Key::from_jwk_json(&key.to_string()).is_ok());
    for name in ["p", "q", "dp", "dq", "qi"] {
        key.as_object_mut().unwrap().remove(name);
    }
    assert!(invalid(&key.to_string()).contains("CRT members"));
}

#[test]
fn hmac_keys_must_be_as_long_as_the_hash() {
    let k31 = tollgate::b64::encode(&[7u8; 31]);
    let k32 = tollgate::b64::encode(&[7u8; 32]);
    let k48 = tollgate::b64::encode(&[7u8; 48]);
    invalid(&format!(r#"{{"kty":"oct","k":"{k31}"}}"#));
    invalid(&format!(r#"{{"kty":"oct","alg":"HS384","k":"{k32}"}}"#));
    invalid(r#"{"kty":"oct","alg":"HS256","k":""}"#);
    let unbound = Key::from_jwk_json(&format!(r#"{{"kty":"oct","k":"{k48}"}}"#)).unwrap();
    assert!(unbound.allows(Algorithm::HS256) && unbound.allows(Algorithm::HS384));
    assert!(
        !unbound.allows(Algorithm::HS512),
        "48 bytes are too short for HS512"
    );
    assert!(Key::hmac(&[1u8; 63], Algorithm::HS512, None).is_err());
}

#[test]
fn ec_points_must_be_on_their_curve_and_match_d() {
    let good = r#"{"kty":"EC","crv":"P-256","x":"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY","y":"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw","d":"yy49oPcINGK2ps0LmtxpB6UTEOiITghHBif6wDqmJ3c"}"#;
    let key = Key::from_jwk_json(good).unwrap();
    assert_eq!(key.signing_algorithm().unwrap(), Algorithm::ES256);
    assert!(invalid(&good.replace("nVgmw", "nVgnw")).contains("not on the curve"));
    invalid(&good.replace("P-256", "P-384"));
    assert!(invalid(&good.replace("yy49oPcINGK2", "yy49oPcINGK3")).contains("does not match"));
    invalid(&good.replace(r#""crv":"P-256","#, ""));
}

#[test]
fn a_declared_alg_must_fit_the_key_type() {
    let ec = r#"{"kty":"EC","crv":"P-256","alg":"RS256","x":"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY","y":"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw"}"#;
    assert!(invalid(ec).contains("does not fit"));
    let curve_mismatch = ec.replace("RS256", "ES384");
    invalid(&curve_mismatch);
    assert!(invalid(&ec.replace("RS256", "none")).contains("unsupported key alg"));
}

#[test]
fn keys_meant_for_encryption_are_refused_alone_and_skipped_in_sets() {
    let enc = r#"{"kty":"EC","use":"enc","crv":"P-256","x":"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY","y":"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw"}"#;
    invalid(enc);
    let set = KeySet::from_json(&format!(r#"{{"keys":[{enc}]}}"#)).unwrap();
    assert!(set.is_empty());
}

#[test]
fn sets_refuse_duplicate_kids_and_mixed_symmetry() {
    let hs = Key::generate(Algorithm::HS256).unwrap().with_kid("a");
    let hs2 = Key::generate(Algorithm::HS256).unwrap().with_kid("a");
    let ec = Key::generate(Algorithm::ES256).unwrap();
    assert!(KeySet::from_keys(vec![hs.clone(), hs2]).is_err());
    assert!(KeySet::from_keys(vec![hs, ec]).is_err());
}

#[test]
fn a_published_set_ignores_the_keys_it_cannot_use_rfc7517_section_5() {
    let good = Key::generate(Algorithm::ES256).unwrap().with_kid("good");
    let public = |key: &Key| serde_json::to_value(key.to_public_jwk().unwrap()).unwrap();
    let weak = vector!("wycheproof/json_web_key_test.json")["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["comment"] == "keysize_too_small")
        .unwrap()["public"]["keys"][0]
        .clone();
    let twin = |kid: &str| {
        let mut jwk = public(&Key::generate(Algorithm::ES256).unwrap());
        jwk["kid"] = kid.into();
        jwk
    };
    let mut wrong_alg = public(&Key::generate(Algorithm::ES256).unwrap());
    wrong_alg["kid"] = "wrong-alg".into();
    wrong_alg["alg"] = "RS256".into();
    let private = serde_json::to_value(
        Key::generate(Algorithm::EdDSA)
            .unwrap()
            .with_kid("leaked")
            .to_private_jwk(),
    )
    .unwrap();
    let document = serde_json::json!({ "keys": [
        public(&good),
        { "kty": "oct", "kid": "secret", "k": "AQID" },
        { "kty": "oct", "kid": "long-secret", "k": tollgate::b64::encode(&[9u8; 32]) },
        weak,
        wrong_alg,
        private,
        twin("twin"),
        twin("twin"),
        // A key that could verify, beside a refused one with its kid: still ambiguous.
        { "kty": "oct", "kid": "shadowed", "k": tollgate::b64::encode(&[7u8; 32]) },
        twin("shadowed"),
        "not an object",
        { "kty": "RSA", "use": "enc", "kid": "enc", "n": "AQAB", "e": "AQAB" },
        { "kty": "OKP", "crv": "X25519", "kid": "agreement", "x": "AQID" },
    ]});
    let published = tollgate::jwks::Published::from_json(&document.to_string()).unwrap();
    let set = KeySet::from_json(&published.keys).unwrap();
    let kids: Vec<&str> = set.keys().iter().map(|key| key.kid()).collect();
    assert_eq!(kids, ["good"]);
    let ignored: Vec<(Option<&str>, &str)> = published
        .ignored
        .iter()
        .map(|(kid, reason)| (kid.as_deref(), reason.as_str()))
        .collect();
    let reason = |kid: &str| {
        ignored
            .iter()
            .find(|(k, _)| *k == Some(kid))
            .unwrap_or_else(|| panic!("{kid} not reported: {ignored:?}"))
            .1
    };
    assert!(reason("secret").contains("at least"), "{ignored:?}");
    assert!(reason("long-secret").contains("HMAC secret"));
    assert!(reason("wrong-alg").contains("does not fit"));
    assert!(reason("leaked").contains("private key"));
    assert!(reason("twin").contains("same kid"));
    assert_eq!(
        ignored.iter().filter(|(k, _)| *k == Some("twin")).count(),
        2
    );
    assert!(ignored
        .iter()
        .any(|(k, r)| *k == Some("shadowed") && r.contains("same kid")));
    assert!(ignored.iter().any(|(_, r)| r.contains("1024 bits")));
    assert!(ignored
        .iter()
        .any(|(k, r)| k.is_none() && r.starts_with("not a JWK")));
    assert_eq!(
        ignored.len(),
        10,
        "enc and X25519 keys are skipped silently: {ignored:?}"
    );
    // What was kept is the published text of the key, unchanged.
    let kept: serde_json::Value = serde_json::from_str(&published.keys).unwrap();
    assert_eq!(kept["keys"][0], public(&good));
    // A document that is not a key set at all is still an error, as is one without usable keys
    // only in that it verifies nothing.
    for document in ["[]", r#"{"keys":7}"#, "{not json"] {
        let err = tollgate::jwks::Published::from_json(document).unwrap_err();
        assert_eq!(err.code(), "ERR_JWK_INVALID", "{document}");
    }
    let none = tollgate::jwks::Published::from_json(r#"{"keys":[]}"#).unwrap();
    assert!(KeySet::from_json(&none.keys).unwrap().is_empty());
}

#[test]
fn pem_keys_parse_for_every_type() {
    let cases = [
        (text!("pem/rsa2048.pem"), "RSA", true),
        (text!("pem/rsa2048.pub.pem"), "RSA", false),
        (text!("pem/p256.pem"), "EC", true),
        (text!("pem/p256.pub.pem"), "EC", false),
        (text!("pem/p384.pem"), "EC", true),
        (text!("pem/p521.pem"), "EC", true),
        (text!("pem/p521.pub.pem"), "EC", false),
        (text!("pem/ed25519.pem"), "OKP", true),
        (text!("pem/ed25519.pub.pem"), "OKP", false),
    ];
    for (pem, kty, private) in cases {
        let key = Key::from_pem(pem, None).unwrap_or_else(|e| panic!("{kty}: {e}"));
        assert_eq!(key.type_name(), kty);
        assert_eq!(key.is_private(), private);
    }
    // A private PEM and its public PEM have the same thumbprint.
    let private = Key::from_pem(text!("pem/p256.pem"), None).unwrap();
    let public = Key::from_pem(text!("pem/p256.pub.pem"), None).unwrap();
    assert_eq!(private.thumbprint(), public.thumbprint());
    assert!(Key::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n", None).is_err());
}

#[test]
fn jwk_round_trips_and_public_form_has_no_secret() {
    for alg in [
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
        Algorithm::HS512,
    ] {
        let key = Key::generate(alg).unwrap();
        let private = serde_json::to_string(&key.to_private_jwk()).unwrap();
        let again = Key::from_jwk_json(&private).unwrap();
        assert_eq!(again.thumbprint(), key.thumbprint(), "{alg}");
        assert_eq!(again.algorithm(), Some(alg));
        if alg.is_asymmetric() {
            let public = key.to_public_jwk().unwrap();
            assert!(public.d.is_none() && public.k.is_none());
            assert_eq!(
                Key::from_jwk(&public).unwrap().thumbprint(),
                key.thumbprint()
            );
        } else {
            assert!(
                key.to_public_jwk().is_err(),
                "HMAC keys have no public form"
            );
        }
    }
    let rsa = common::rfc7520_rsa();
    let again = Key::from_jwk_json(&serde_json::to_string(&rsa.to_private_jwk()).unwrap()).unwrap();
    assert_eq!(again.thumbprint(), rsa.thumbprint());
}

#[test]
fn debug_output_never_shows_private_material() {
    let key = Key::generate(Algorithm::HS256).unwrap();
    let secret = key.to_private_jwk().k.unwrap();
    assert!(!format!("{key:?}").contains(&secret));
    assert!(!format!("{:?}", key.to_private_jwk()).contains(&secret));
}

#[test]
fn rsa_and_hmac_keys_need_an_alg_to_sign() {
    let mut jwk = common::rfc7520_rsa().to_private_jwk();
    jwk.alg = None;
    let unbound = Key::from_jwk(&jwk).unwrap();
    assert!(unbound.signing_algorithm().is_err());
    assert!(unbound.allows(Algorithm::PS512) && unbound.allows(Algorithm::RS256));
    assert!(!unbound.allows(Algorithm::HS256) && !unbound.allows(Algorithm::ES256));
}

/// RFC 7517 §4.4 and RFC 8725 §3.1: a key is used with the one algorithm its `alg` names; an
/// option asking for another is refused, never obeyed (a token signed so would not verify
/// with the same key).
#[test]
fn a_key_that_names_its_alg_is_not_rebound_by_an_option() {
    let rsa = common::rfc7520_rsa()
        .with_algorithm(Algorithm::RS256)
        .unwrap();
    let err = rsa.clone().with_algorithm(Algorithm::PS256).unwrap_err();
    assert_eq!(err.code(), "ERR_POLICY_INVALID");
    assert!(err.to_string().contains("RS256") && err.to_string().contains("PS256"));
    assert_eq!(
        rsa.with_algorithm(Algorithm::RS256).unwrap().algorithm(),
        Some(Algorithm::RS256),
        "the same alg is not a conflict"
    );
    let ed = Key::generate(Algorithm::EdDSA).unwrap();
    assert_eq!(
        ed.clone()
            .with_algorithm(Algorithm::Ed25519)
            .unwrap_err()
            .code(),
        "ERR_POLICY_INVALID"
    );
    let hs = Key::generate(Algorithm::HS512).unwrap();
    assert_eq!(
        hs.with_algorithm(Algorithm::HS256).unwrap_err().code(),
        "ERR_POLICY_INVALID"
    );
}

/// RFC 7517 §4.3: `key_ops` name what a key is for; a private key that says `verify` only
/// still verifies and signs nothing.
#[test]
fn a_key_whose_key_ops_leave_out_sign_signs_nothing() {
    let key = Key::generate(Algorithm::ES256).unwrap();
    let mut jwk = serde_json::to_value(key.to_private_jwk()).unwrap();
    jwk["key_ops"] = serde_json::json!(["verify"]);
    let verify_only = Key::from_jwk_json(&jwk.to_string()).unwrap();
    let err = verify_only.signing_algorithm().unwrap_err();
    assert_eq!(err.code(), "ERR_JWK_INVALID");
    assert!(err.to_string().contains("key_ops"), "{err}");
    assert_eq!(
        tollgate::TokenBuilder::new(0)
            .sign(&verify_only)
            .unwrap_err()
            .code(),
        "ERR_JWK_INVALID"
    );
    assert!(verify_only.allows(Algorithm::ES256));
    // Exported, it still says so.
    let exported = verify_only.to_private_jwk();
    assert_eq!(exported.key_ops, Some(vec!["verify".to_owned()]));
    let again = Key::from_jwk(&exported).unwrap();
    assert_eq!(
        again.signing_algorithm().unwrap_err().code(),
        "ERR_JWK_INVALID"
    );
    jwk["key_ops"] = serde_json::json!(["sign", "verify"]);
    let both = Key::from_jwk_json(&jwk.to_string()).unwrap();
    assert_eq!(both.signing_algorithm().unwrap(), Algorithm::ES256);
}

/// RFC 7518 §6.3.2: the CRT members are part of the key; ones that do not fit p, q and d are
/// refused, not recomputed over what the caller wrote.
#[test]
fn rsa_crt_members_that_do_not_fit_are_refused() {
    let key = vector!("rfc7520-cookbook/jwk/3_4.rsa_private_key.json");
    assert!(Key::from_jwk_json(&key.to_string()).is_ok());
    for member in ["dp", "dq", "qi"] {
        let mut wrong = key.clone();
        let text = wrong[member].as_str().unwrap().to_owned();
        let flipped = if &text[10..11] == "A" { "B" } else { "A" };
        wrong[member] = format!("{}{flipped}{}", &text[..10], &text[11..]).into();
        assert!(
            invalid(&wrong.to_string()).contains("does not fit"),
            "{member}"
        );
    }
}
