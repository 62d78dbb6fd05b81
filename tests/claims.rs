//! Step 3 and step 1 rules: claims against the policy, structure, and their error codes.

#[macro_use]
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use serde_json::{json, Map, Value};
use tollgate::{b64, issue::sign_jws, Algorithm, Key, Policy, Verifier};

const NOW: i64 = 1_800_000_000;

struct Fixture {
    key: Key,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            key: Key::generate(Algorithm::EdDSA).unwrap(),
        }
    }

    fn token(&self, claims: Value) -> String {
        self.token_with_header(Map::new(), &claims.to_string())
    }

    fn token_with_header(&self, header: Map<String, Value>, payload: &str) -> String {
        sign_jws(&header, payload, &self.key, &tollgate::crypto::RustCrypto).unwrap()
    }

    fn verify(&self, token: &str, policy: Policy) -> Result<tollgate::Verified, tollgate::Error> {
        Verifier::new(common::verification_set(&self.key), policy)?.verify(token, NOW)
    }

    fn code(&self, claims: Value, policy: Policy) -> &'static str {
        match self.verify(&self.token(claims), policy) {
            Ok(_) => "OK",
            Err(err) => err.code(),
        }
    }
}

fn header(members: Value) -> Map<String, Value> {
    members.as_object().unwrap().clone()
}

#[test]
fn expiry_is_required_and_enforced_with_leeway() {
    let f = Fixture::new();
    let p = Policy::default;
    assert_eq!(f.code(json!({"exp": NOW + 1}), p()), "OK");
    assert_eq!(
        f.code(json!({"exp": NOW}), p()),
        "ERR_JWT_EXPIRED",
        "exp is exclusive"
    );
    assert_eq!(
        f.code(json!({"exp": NOW - 30}), Policy { leeway: 60, ..p() }),
        "OK"
    );
    assert_eq!(f.code(json!({}), p()), "ERR_JWT_CLAIM_VALIDATION_FAILED");
    assert_eq!(
        f.code(
            json!({}),
            Policy {
                require_exp: false,
                ..p()
            }
        ),
        "OK"
    );
    assert_eq!(
        f.code(json!({"exp": "tomorrow"}), p()),
        "ERR_JWT_CLAIM_VALIDATION_FAILED"
    );
    assert_eq!(f.code(json!({"exp": (NOW + 10) as f64 + 0.5}), p()), "OK");
    let err = f
        .verify(&f.token(json!({"exp": NOW - 1})), p())
        .unwrap_err();
    assert!(err.is_expired());
    assert_eq!(err.claim(), Some("exp"));
}

#[test]
fn not_before_and_issued_in_the_future_are_not_yet_valid() {
    let f = Fixture::new();
    let p = Policy::default;
    let exp = NOW + 600;
    assert_eq!(
        f.code(json!({"exp": exp, "nbf": NOW + 5}), p()),
        "ERR_JWT_NOT_YET_VALID"
    );
    assert_eq!(f.code(json!({"exp": exp, "nbf": NOW}), p()), "OK");
    assert_eq!(
        f.code(json!({"exp": exp, "iat": NOW + 5}), p()),
        "ERR_JWT_NOT_YET_VALID"
    );
    assert_eq!(
        f.code(
            json!({"exp": exp, "iat": NOW + 5}),
            Policy { leeway: 10, ..p() }
        ),
        "OK"
    );
    let err = f
        .verify(&f.token(json!({"exp": exp, "iat": NOW + 5})), p())
        .unwrap_err();
    assert_eq!(err.claim(), Some("iat"));
}

#[test]
fn issuer_and_audience() {
    let f = Fixture::new();
    let exp = NOW + 600;
    let policy = || Policy {
        issuers: vec!["https://a.example".into(), "https://b.example".into()],
        audiences: vec!["api".into()],
        ..Policy::default()
    };
    assert_eq!(
        f.code(
            json!({"exp": exp, "iss": "https://b.example", "aud": "api"}),
            policy()
        ),
        "OK"
    );
    assert_eq!(
        f.code(
            json!({"exp": exp, "iss": "https://b.example", "aud": ["x", "api"]}),
            policy()
        ),
        "OK"
    );
    for (claims, claim) in [
        (
            json!({"exp": exp, "iss": "https://c.example", "aud": "api"}),
            "iss",
        ),
        (json!({"exp": exp, "aud": "api"}), "iss"),
        (
            json!({"exp": exp, "iss": "https://a.example", "aud": "web"}),
            "aud",
        ),
        (
            json!({"exp": exp, "iss": "https://a.example", "aud": ["web"]}),
            "aud",
        ),
        (
            json!({"exp": exp, "iss": "https://a.example", "aud": 7}),
            "aud",
        ),
        (json!({"exp": exp, "iss": "https://a.example"}), "aud"),
    ] {
        let err = f.verify(&f.token(claims.clone()), policy()).unwrap_err();
        assert_eq!(err.code(), "ERR_JWT_CLAIM_VALIDATION_FAILED", "{claims}");
        assert_eq!(err.claim(), Some(claim), "{claims}");
    }
}

#[test]
fn typ_is_compared_as_a_media_type() {
    let f = Fixture::new();
    let policy = || Policy {
        typ: Some("at+jwt".into()),
        ..Policy::default()
    };
    let claims = json!({"exp": NOW + 60}).to_string();
    for (typ, ok) in [
        ("at+jwt", true),
        ("application/at+jwt", true),
        ("AT+JWT", true),
        ("JWT", false),
    ] {
        let token = f.token_with_header(header(json!({"typ": typ})), &claims);
        assert_eq!(f.verify(&token, policy()).is_ok(), ok, "{typ}");
    }
    let untyped = f.token_with_header(Map::new(), &claims);
    assert_eq!(
        f.verify(&untyped, policy()).unwrap_err().claim(),
        Some("typ")
    );
}

#[test]
fn required_claims_and_max_age() {
    let f = Fixture::new();
    let exp = NOW + 600;
    let required = || Policy {
        required_claims: vec!["sub".into(), "jti".into()],
        ..Policy::default()
    };
    assert_eq!(
        f.code(json!({"exp": exp, "sub": "a", "jti": "j"}), required()),
        "OK"
    );
    let err = f
        .verify(&f.token(json!({"exp": exp, "sub": "a"})), required())
        .unwrap_err();
    assert_eq!(
        (err.code(), err.claim()),
        ("ERR_JWT_CLAIM_VALIDATION_FAILED", Some("jti"))
    );
    let aged = || Policy {
        max_token_age: Some(300),
        ..Policy::default()
    };
    assert_eq!(f.code(json!({"exp": exp, "iat": NOW - 300}), aged()), "OK");
    assert_eq!(
        f.code(json!({"exp": exp, "iat": NOW - 301}), aged()),
        "ERR_JWT_CLAIM_VALIDATION_FAILED"
    );
    assert_eq!(
        f.code(json!({"exp": exp}), aged()),
        "ERR_JWT_CLAIM_VALIDATION_FAILED"
    );
}

#[test]
fn structure_errors() {
    let f = Fixture::new();
    let p = Policy::default;
    let good = f.token(json!({"exp": NOW + 60}));
    let (h, rest) = good.split_once('.').unwrap();
    for (bad, code) in [
        (String::new(), "ERR_JWS_INVALID"),
        ("a.b".to_owned(), "ERR_JWS_INVALID"),
        (format!("{good}.x"), "ERR_JWS_INVALID"),
        (format!("{good}.x.y"), "ERR_JWS_INVALID"),
        (format!(" {good}"), "ERR_JWS_INVALID"),
        (format!("{h}=.{rest}"), "ERR_JWS_INVALID"),
        (
            format!("{}.{rest}", b64::encode(b"[1,2]")),
            "ERR_JWS_INVALID",
        ),
        (
            format!("{}.{rest}", b64::encode(b"{\"alg\":7}")),
            "ERR_JWS_INVALID",
        ),
        (
            format!("{}.{rest}", b64::encode(b"{\"typ\":\"JWT\"}")),
            "ERR_JWS_INVALID",
        ),
        (
            format!("{}.{rest}", b64::encode(b"{\"alg\":\"HS257\"}")),
            "ERR_JOSE_ALG_NOT_ALLOWED",
        ),
        ("a".repeat(9000), "ERR_JWT_TOO_LARGE"),
    ] {
        let err = f.verify(&bad, p()).unwrap_err();
        assert_eq!(err.code(), code, "{:.60}: {err}", bad);
    }
    let small = Policy {
        max_token_bytes: 16,
        ..p()
    };
    assert_eq!(
        f.verify(&good, small).unwrap_err().code(),
        "ERR_JWT_TOO_LARGE"
    );
    // A signed payload that is not a JSON object is a malformed JWT.
    for payload in ["[]", "\"x\"", "not json", "{\"exp\":1"] {
        let token = f.token_with_header(Map::new(), payload);
        assert_eq!(
            f.verify(&token, p()).unwrap_err().code(),
            "ERR_JWS_INVALID",
            "{payload}"
        );
    }
}

#[test]
fn crit_and_b64() {
    let f = Fixture::new();
    let claims = json!({"exp": NOW + 60}).to_string();
    for (members, code) in [
        (json!({"crit": ["exp"], "exp": 1}), "ERR_JOSE_NOT_SUPPORTED"),
        (
            json!({"crit": ["b64"], "b64": false}),
            "ERR_JOSE_NOT_SUPPORTED",
        ),
        (json!({"b64": false}), "ERR_JOSE_NOT_SUPPORTED"),
        (json!({"crit": []}), "ERR_JWS_INVALID"),
        (json!({"crit": "exp"}), "ERR_JWS_INVALID"),
        (json!({"crit": ["kid"], "kid": "x"}), "ERR_JWS_INVALID"),
        (json!({"crit": ["missing"]}), "ERR_JWS_INVALID"),
        (json!({"b64": "no"}), "ERR_JWS_INVALID"),
        (json!({"kid": 5}), "ERR_JWS_INVALID"),
    ] {
        let token = f.token_with_header(header(members.clone()), &claims);
        assert_eq!(
            f.verify(&token, Policy::default()).unwrap_err().code(),
            code,
            "{members}"
        );
    }
    // b64: true is the default and harmless.
    let token = f.token_with_header(header(json!({"b64": true})), &claims);
    assert!(f.verify(&token, Policy::default()).is_ok());
}

#[test]
fn policy_parses_from_camel_case_json_and_is_validated() {
    let policy = Policy::from_json(
        r#"{"algorithms":["ES256"],"issuer":"https://a","audience":["x","y"],"clockTolerance":5,
            "maxTokenAge":60,"requiredClaims":["sub"],"typ":"at+jwt","maxTokenBytes":4096}"#,
    )
    .unwrap();
    assert_eq!(policy.algorithms, vec![Algorithm::ES256]);
    assert_eq!(policy.issuers, vec!["https://a"]);
    assert_eq!(policy.audiences, vec!["x", "y"]);
    assert_eq!(policy.leeway, 5);
    for bad in [
        r#"{"algorithms":[]}"#,
        r#"{"algorithms":["none"]}"#,
        r#"{"algorithmz":["ES256"]}"#,
        r#"{"maxTokenBytes":0}"#,
        r#"{"issuer":""}"#,
        r#"{"clockTolerance":999999}"#,
    ] {
        assert_eq!(
            Policy::from_json(bad).unwrap_err().code(),
            "ERR_POLICY_INVALID",
            "{bad}"
        );
    }
}

#[test]
fn issued_tokens_carry_the_registered_claims() {
    let key = Key::generate(Algorithm::ES256).unwrap();
    let token = tollgate::TokenBuilder::new(NOW)
        .issuer("https://issuer")
        .subject("alice")
        .audience(["api"])
        .scope("read write")
        .lifetime(120)
        .typ("at+jwt")
        .sign(&key)
        .unwrap();
    let policy = Policy {
        issuers: vec!["https://issuer".into()],
        audiences: vec!["api".into()],
        typ: Some("at+jwt".into()),
        ..Policy::default()
    };
    let verified = Verifier::new(common::verification_set(&key), policy)
        .unwrap()
        .verify(&token, NOW)
        .unwrap();
    assert_eq!(verified.claims()["iat"], NOW);
    assert_eq!(verified.claims()["exp"], NOW + 120);
    assert_eq!(verified.header.kid(), Some(key.kid()));
    assert_eq!(verified.scopes().collect::<Vec<_>>(), ["read", "write"]);
    let jti = b64::decode(verified.jti().unwrap()).unwrap();
    assert_eq!(jti.len(), 16, "jti carries 128 random bits");
    let other = tollgate::TokenBuilder::new(NOW).sign(&key).unwrap();
    assert_ne!(other, token);
    assert!(tollgate::TokenBuilder::new(NOW)
        .lifetime(0)
        .sign(&key)
        .is_err());
    let year: Value = serde_json::from_str(
        &tollgate::TokenBuilder::new(NOW)
            .lifetime(365 * 24 * 3600)
            .payload()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        year["exp"],
        NOW + 365 * 24 * 3600,
        "the signer has no lifetime cap: caps are issuance policy"
    );
}

/// The signer keeps what the caller wrote (RFC 7519 §4.1 claims included), fills only what is
/// absent, and refuses a claim given twice (payload and option) rather than pick one.
#[test]
fn signing_keeps_the_callers_claims_and_refuses_conflicts() {
    let key = Key::generate(Algorithm::ES256).unwrap();
    let written = json!({
        "iat": NOW - 10, "exp": NOW + 400 * 24 * 3600, "nbf": NOW - 5, "jti": "mine",
        "iss": "https://a", "aud": ["x", "y"], "sub": "s", "scope": "read",
    });
    let mut builder = tollgate::TokenBuilder::new(NOW);
    for (name, value) in written.as_object().unwrap() {
        builder = builder.claim(name, value.clone());
    }
    let token = builder.sign(&key).unwrap();
    let verified = Verifier::new(common::verification_set(&key), Policy::default())
        .unwrap()
        .verify(&token, NOW)
        .unwrap();
    assert_eq!(Value::Object(verified.claims().clone()), written);

    let with = |claim: &str, value: Value| tollgate::TokenBuilder::new(NOW).claim(claim, value);
    for (builder, claim, option) in [
        (with("exp", json!(NOW + 9)).lifetime(60), "exp", "expiresIn"),
        (with("iss", json!("a")).issuer("a"), "iss", "issuer"),
        (with("sub", json!("a")).subject("b"), "sub", "subject"),
        (with("aud", json!("a")).audience(["a"]), "aud", "audience"),
        (with("jti", json!("a")).jti("b"), "jti", "jti"),
        (with("nbf", json!(NOW)).not_before(NOW), "nbf", "notBefore"),
        (with("scope", json!("a")).scope("b"), "scope", "scope"),
    ] {
        let err = builder.sign(&key).unwrap_err();
        assert_eq!(err.code(), "ERR_POLICY_INVALID", "{claim}");
        let message = err.to_string();
        assert!(
            message.contains(&format!("\"{claim}\"")) && message.contains(option),
            "{message}"
        );
    }
    for (claim, value) in [
        ("exp", json!("tomorrow")),
        ("iat", Value::Null),
        ("nbf", json!(true)),
        ("iss", json!(7)),
        ("sub", Value::Null),
        ("aud", json!(["x", 1])),
        ("jti", json!({})),
    ] {
        let err = with(claim, value).sign(&key).unwrap_err();
        assert_eq!(err.code(), "ERR_POLICY_INVALID", "{claim}");
        assert!(err.to_string().contains(claim), "{err}");
    }
}
