//! The gateway's identity assertion for the origin: what it states, that only an assertion
//! passes its policy (not an access token of the same key), and that it holds for exactly the
//! request it was made for.

#[macro_use]
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use tollgate::assertion::{self, Statement};
use tollgate::gateway::{Identity, TokenType};
use tollgate::{Algorithm, Key, KeySet, TokenBuilder, Verifier};

const NOW: i64 = 1_800_000_000;
const ISSUER: &str = "https://auth.example";
const ORIGIN: &str = "https://origin.internal";

fn identity() -> Identity {
    Identity {
        token_type: TokenType::Dpop,
        sub: Some("usr_1".into()),
        scope: Some("read write".into()),
        jti: Some("tok-1".into()),
        client_id: Some("web".into()),
        ..Identity::default()
    }
}

fn verifier(key: &Key) -> Verifier {
    let public = Key::from_jwk(&key.to_public_jwk().unwrap()).unwrap();
    Verifier::new(
        KeySet::from_keys(vec![public]).unwrap(),
        assertion::policy(ISSUER, ORIGIN, 5),
    )
    .unwrap()
}

#[test]
fn an_assertion_states_who_and_for_which_request() {
    let key = Key::generate(Algorithm::ES256).unwrap();
    let statement = Statement::new(
        &identity(),
        ISSUER,
        ORIGIN,
        "POST",
        "https://Origin.Internal:443/api/x?q=1",
    )
    .unwrap();
    let token = statement.sign(&key, NOW).unwrap();
    let verified = verifier(&key).verify(&token, NOW + 59).unwrap();
    let claims = verified.claims();
    assert_eq!(claims["sub"], "usr_1");
    assert_eq!(claims["scope"], "read write");
    assert_eq!(claims["jti"], "tok-1");
    assert_eq!(claims["client_id"], "web");
    assert_eq!(claims["token_type"], "DPoP");
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], "https://origin.internal/api/x");
    assert_eq!(claims["exp"], NOW + 60);
    // The same request, spelled as an origin server sees it (query and case aside).
    assertion::check(&verified, "POST", "https://origin.internal/api/x?other=2").unwrap();
    for (method, url, claim) in [
        ("GET", "https://origin.internal/api/x", "htm"),
        ("POST", "https://origin.internal/api/y", "htu"),
        ("POST", "http://origin.internal/api/x", "htu"),
        ("POST", "https://origin.internal:8443/api/x", "htu"),
        ("POST", "not a url", "htu"),
    ] {
        let err = assertion::check(&verified, method, url).unwrap_err();
        assert_eq!(err.code(), "ERR_JWT_CLAIM_VALIDATION_FAILED");
        assert_eq!(err.claim(), Some(claim), "{method} {url}");
    }
    // Stale after its minute (and the 5 s tolerance).
    assert_eq!(
        verifier(&key).verify(&token, NOW + 66).unwrap_err().code(),
        "ERR_JWT_EXPIRED"
    );
}

#[test]
fn nothing_else_signed_by_the_same_key_passes_for_an_assertion() {
    let key = Key::generate(Algorithm::ES256).unwrap();
    let access = TokenBuilder::new(NOW)
        .issuer(ISSUER)
        .audience([ORIGIN])
        .subject("usr_1")
        .claim("htm", "GET")
        .claim("htu", "https://origin.internal/api/x")
        .typ("at+jwt")
        .lifetime(60)
        .sign(&key)
        .unwrap();
    assert_eq!(
        verifier(&key).verify(&access, NOW).unwrap_err().claim(),
        Some("typ")
    );
    let elsewhere = Statement::new(
        &identity(),
        ISSUER,
        "https://other.internal",
        "GET",
        "https://other.internal/",
    )
    .unwrap()
    .sign(&key, NOW)
    .unwrap();
    assert_eq!(
        verifier(&key).verify(&elsewhere, NOW).unwrap_err().claim(),
        Some("aud")
    );
}

/// The worker signs assertions asynchronously (WebCrypto) from the builder's signing input;
/// what it completes verifies like a token signed in one step.
#[test]
fn a_signing_input_completed_by_another_signer_verifies() {
    use tollgate::crypto::{CryptoProvider, RustCrypto};
    for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::PS256] {
        let key = Key::generate(alg).unwrap();
        let statement = Statement::new(
            &identity(),
            ISSUER,
            ORIGIN,
            "GET",
            "https://origin.internal/",
        )
        .unwrap();
        let (signing_alg, input) = statement.builder(NOW).signing_input(&key).unwrap();
        assert_eq!(signing_alg, key.signing_algorithm().unwrap());
        let signature = RustCrypto
            .sign(signing_alg, &key, input.as_bytes())
            .unwrap();
        let token = tollgate::issue::with_signature(input, &signature);
        let verified = verifier(&key).verify(&token, NOW).unwrap();
        assertion::check(&verified, "GET", "https://origin.internal/").unwrap();
    }
}
