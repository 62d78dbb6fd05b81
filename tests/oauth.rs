//! The OAuth engine against the in-memory store: every grant, every RFC 6749 §5.2 error the
//! grants can give, PKCE, refresh rotation and reuse detection, lockout, introspection and
//! revocation of each token type, sessions and one-time tokens.

#[macro_use]
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::collections::BTreeMap;

use common::ready;
use tollgate::config::OAuthConfig;
use tollgate::oauth::{
    self, AuthorizeError, Client, ClientAuth, OAuth, Revoker, TokenRequest, API_KEY_GRANT,
};
use tollgate::password::Cost;
use tollgate::revocation::{self, Millis};
use tollgate::store::{MemoryStore, Store};
use tollgate::{Algorithm, Key, KeySet, Policy, Verifier};

const NOW: i64 = 1_800_000_000;
const PEPPER: &[u8] = b"test-pepper-0123456789abcdef0123";
const CHEAP: Cost = Cost {
    memory_kib: 1024,
    iterations: 1,
};

struct World {
    store: MemoryStore,
    key: Key,
    config: OAuthConfig,
    secret: String,
}

impl World {
    fn new() -> Self {
        let store = MemoryStore::new();
        let (mut confidential, secret) = oauth::new_client(PEPPER, "svc", true).unwrap();
        confidential.grants = vec![
            "client_credentials".into(),
            "password".into(),
            "refresh_token".into(),
            "authorization_code".into(),
        ];
        confidential.scopes = vec!["read".into(), "write".into()];
        confidential.redirect_uris = vec!["https://app.example/cb".into()];
        confidential.first_party = true;
        // Also the resource server of `api`: it introspects every token for it.
        confidential.introspects = vec!["api".into()];
        let (mut public, _) = oauth::new_client(PEPPER, "spa", false).unwrap();
        public.grants = vec!["authorization_code".into(), "refresh_token".into()];
        public.scopes = vec!["read".into()];
        public.redirect_uris = vec![
            "https://spa.example/cb".into(),
            "http://127.0.0.1:9999/cb".into(),
        ];
        for client in [&confidential, &public] {
            ready(store.put(
                &format!("client:{}", client.client_id),
                &serde_json::to_string(client).unwrap(),
                None,
            ))
            .unwrap();
        }
        let user = oauth::new_user(
            "Alice",
            "correct horse battery",
            vec!["read".into(), "write".into()],
            CHEAP,
        )
        .unwrap();
        // The subject the tests' sessions name (`signed_in`).
        let user = oauth::User {
            sub: "usr_alice".into(),
            ..user
        };
        ready(store.put("user:alice", &serde_json::to_string(&user).unwrap(), None)).unwrap();
        // As `tollgate user add` writes them: a token's `sub` finds its user.
        let subject = oauth::SubjectRecord {
            username: user.username.clone(),
        };
        let subject = serde_json::to_string(&subject).unwrap();
        ready(store.put(&tollgate::schema::subject(&user.sub), &subject, None)).unwrap();
        let config = OAuthConfig {
            password_memory_kib: CHEAP.memory_kib,
            password_iterations: CHEAP.iterations,
            ..OAuthConfig::default()
        };
        World {
            store,
            key: Key::generate(Algorithm::ES256).unwrap(),
            config,
            secret: secret.unwrap(),
        }
    }

    /// Alice's user record as stored.
    fn alice_user(&self) -> oauth::User {
        serde_json::from_str(&ready(self.store.get("user:alice")).unwrap().unwrap()).unwrap()
    }

    fn oauth(&self) -> OAuth<'_, MemoryStore, MemoryStore> {
        self.oauth_on(&self.store)
    }

    /// The engine with `store` for its read-mostly records (the coordinator stays the world's).
    fn oauth_on<'a, S: Store>(&'a self, store: &'a S) -> OAuth<'a, S, MemoryStore> {
        OAuth {
            dpop_jkt: None,
            ended: None,
            store,
            once: &self.store,
            signing_key: &self.key,
            id_token_key: tollgate::oauth::oidc::id_token_key(
                std::slice::from_ref(&self.key),
                None,
            ),
            crypto: &tollgate::crypto::RustCrypto,
            issuer: "https://issuer",
            audience: "api",
            pepper: PEPPER,
            config: &self.config,
        }
    }

    fn verifier(&self) -> Verifier {
        let public = Key::from_jwk(&self.key.to_public_jwk().unwrap()).unwrap();
        Verifier::new(
            KeySet::from_keys(vec![public]).unwrap(),
            Policy {
                typ: Some("at+jwt".into()),
                ..Policy::default()
            },
        )
        .unwrap()
    }

    fn token(
        &self,
        params: &[(&str, &str)],
        basic: Option<(&str, &str)>,
        now: i64,
    ) -> Result<oauth::TokenResponse, oauth::OAuthError> {
        self.token_from("192.0.2.1", params, basic, now)
    }

    /// A token request from the connecting address `ip`.
    fn token_from(
        &self,
        ip: &str,
        params: &[(&str, &str)],
        basic: Option<(&str, &str)>,
        now: i64,
    ) -> Result<oauth::TokenResponse, oauth::OAuthError> {
        let req = TokenRequest {
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            basic: basic.map(|(a, b)| (a.to_owned(), b.to_owned())),
            api_key: None,
            client_ip: Some(ip.into()),
        };
        ready(self.oauth().token(&req, now))
    }
}

impl World {
    /// Stores a client record, as `tollgate client add` writes it.
    fn put_client(&self, client: &Client) {
        let key = tollgate::schema::client(&client.client_id);
        let record = serde_json::to_string(client).unwrap();
        ready(self.store.put(&key, &record, None)).unwrap();
    }

    /// The confidential client's record: the caller of introspection.
    fn svc(&self) -> Client {
        ready(self.oauth().client("svc")).unwrap().unwrap()
    }

    /// Alice's password grant through the confidential client.
    fn alice(&self, now: i64) -> Result<oauth::TokenResponse, oauth::OAuthError> {
        let secret = self.secret.clone();
        self.token(
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct horse battery"),
            ],
            Some(("svc", &secret)),
            now,
        )
    }
}

fn error(result: Result<oauth::TokenResponse, oauth::OAuthError>) -> &'static str {
    result.expect_err("must fail").error.as_str()
}

#[test]
fn client_credentials_basic_and_post() {
    let w = World::new();
    let s = w.secret.clone();
    let by_basic = w
        .token(
            &[("grant_type", "client_credentials")],
            Some(("svc", &s)),
            NOW,
        )
        .unwrap();
    assert_eq!(by_basic.scope, "read write");
    assert!(by_basic.refresh_token.is_none());
    let verified = w.verifier().verify(&by_basic.access_token, NOW).unwrap();
    assert_eq!(verified.claim_str("client_id"), Some("svc"));
    assert_eq!(verified.claim_str("aud"), Some("api"));
    assert_eq!(verified.header.typ(), Some("at+jwt"));
    let by_post = w
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "svc"),
                ("client_secret", &s),
                ("scope", "read"),
            ],
            None,
            NOW,
        )
        .unwrap();
    assert_eq!(by_post.scope, "read");
    assert_eq!(
        error(w.token(
            &[("grant_type", "client_credentials"), ("scope", "admin")],
            Some(("svc", &s)),
            NOW
        )),
        "invalid_scope"
    );
    let wrong = w
        .token(
            &[("grant_type", "client_credentials")],
            Some(("svc", "nope")),
            NOW,
        )
        .unwrap_err();
    assert_eq!(wrong.error, "invalid_client");
    let rendered = wrong.render();
    assert_eq!(
        (rendered.status, rendered.www_authenticate.as_deref()),
        (401, Some(r#"Basic realm="tollgate""#))
    );
    assert_eq!(
        error(w.token(
            &[("grant_type", "client_credentials"), ("client_id", "spa")],
            None,
            NOW
        )),
        "unauthorized_client"
    );
    assert_eq!(
        error(
            w.token(
                &[("grant_type", "client_credentials")],
                Some(("svc", &s)),
                NOW
            )
            .and_then(|_| w.token(
                &[("grant_type", "client_credentials"), ("client_secret", &s)],
                Some(("svc", &s)),
                NOW
            ))
        ),
        "invalid_request"
    );
    assert_eq!(
        error(w.token(&[("grant_type", "magic")], Some(("svc", &s)), NOW)),
        "unsupported_grant_type"
    );
    assert_eq!(
        error(w.token(&[], Some(("svc", &s)), NOW)),
        "invalid_request"
    );
    assert_eq!(
        error(w.token(&[("grant_type", "client_credentials")], None, NOW)),
        "invalid_client"
    );
}

#[test]
fn client_secret_failures_slow_their_source_and_never_lock_out_the_owner() {
    let w = World::new();
    let cc = [("grant_type", "client_credentials")];
    let s = w.secret.clone();
    for _ in 0..5 {
        let attempt = w.token_from("198.51.100.7", &cc, Some(("svc", "bad")), NOW);
        assert_eq!(error(attempt), "invalid_client");
    }
    assert_eq!(
        error(w.token_from("198.51.100.7", &cc, Some(("svc", &s)), NOW + 1)),
        "invalid_client",
        "the guessing source waits, even with the right secret"
    );
    assert!(
        w.token_from("192.0.2.1", &cc, Some(("svc", &s)), NOW + 1)
            .is_ok(),
        "the owner, from its own address, is not locked out"
    );
    assert!(
        w.token_from("198.51.100.7", &cc, Some(("svc", &s)), NOW + 60)
            .is_ok(),
        "the first wait is a minute"
    );
}

#[test]
fn api_keys_exchange_for_short_lived_tokens() {
    let w = World::new();
    let o = w.oauth();
    let (key, record) =
        ready(o.create_api_key("robot", vec!["read".into()], Some(3600), Millis(NOW * 1000)))
            .unwrap();
    assert!(key.starts_with("tgk_"));
    assert!(
        w.store
            .dump()
            .iter()
            .all(|(k, v, _)| !k.contains(&key) && !v.contains(&key)),
        "only a keyed hash is stored"
    );
    let req = TokenRequest {
        api_key: Some(key.clone()),
        ..TokenRequest::default()
    };
    let response = ready(o.token(&req, NOW)).unwrap();
    let verified = w.verifier().verify(&response.access_token, NOW).unwrap();
    assert_eq!(verified.subject(), Some("robot"));
    assert_eq!(
        verified.claim_str("client_id").unwrap(),
        format!("apikey:{}", record.id)
    );
    let mut params = BTreeMap::new();
    params.insert("grant_type".to_owned(), API_KEY_GRANT.to_owned());
    params.insert("scope".to_owned(), "write".to_owned());
    let req = TokenRequest {
        params,
        api_key: Some(key.clone()),
        ..TokenRequest::default()
    };
    assert_eq!(
        ready(o.token(&req, NOW)).unwrap_err().error,
        "invalid_scope"
    );
    let expired = TokenRequest {
        api_key: Some(key.clone()),
        ..TokenRequest::default()
    };
    assert_eq!(
        ready(o.token(&expired, NOW + 3601)).unwrap_err().error,
        "invalid_client"
    );
    let bogus = TokenRequest {
        api_key: Some("tgk_nope".into()),
        ..TokenRequest::default()
    };
    assert_eq!(
        ready(o.token(&bogus, NOW)).unwrap_err().error,
        "invalid_client"
    );
    // The operator's revocation of the key ends the tokens exchanged for it as well.
    let family = verified
        .claim_str(tollgate::revocation::FAMILY_CLAIM)
        .unwrap();
    assert_eq!(family, format!("apikey:{}", record.id));
    ready(o.revoke(&key, Revoker::Operator, &w.verifier(), NOW + 1)).unwrap();
    assert!(ready(tollgate::revocation::family_revoked(&w.store, family)).unwrap());
}

/// RFC 6749 §2.3: one authentication method per request. An API key beside client
/// credentials, an API key on another grant, or two API keys are `invalid_request`, whichever
/// of them is valid: none is silently ignored.
#[test]
fn an_api_key_and_client_credentials_are_not_sent_together() {
    let w = World::new();
    let o = w.oauth();
    let (key, _) =
        ready(o.create_api_key("robot", vec!["read".into()], None, Millis(NOW * 1000))).unwrap();
    let form = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let good_basic = Some(("svc".to_owned(), w.secret.clone()));
    let wrong_basic = Some(("svc".to_owned(), "wrong".to_owned()));
    let cases = [
        // The API key grant with client credentials too, right or wrong.
        (form(&[]), good_basic.clone(), Some(key.clone())),
        (form(&[]), wrong_basic.clone(), Some(key.clone())),
        (
            form(&[("client_id", "svc"), ("client_secret", "wrong")]),
            None,
            Some(key.clone()),
        ),
        // Another grant, with an API key beside its client credentials, valid or not.
        (
            form(&[("grant_type", "client_credentials")]),
            good_basic.clone(),
            Some(key.clone()),
        ),
        (
            form(&[("grant_type", "client_credentials")]),
            good_basic.clone(),
            Some("tgk_nope".into()),
        ),
        (
            form(&[("grant_type", "client_credentials"), ("api_key", &key)]),
            good_basic.clone(),
            None,
        ),
        // Two API keys.
        (form(&[("api_key", &key)]), None, Some(key.clone())),
    ];
    for (params, basic, api_key) in cases {
        let described = format!(
            "{params:?} basic={:?} key={}",
            basic.as_ref().map(|b| &b.1),
            api_key.is_some()
        );
        let req = TokenRequest {
            params,
            basic,
            api_key,
            client_ip: None,
        };
        assert_eq!(
            ready(o.token(&req, NOW)).unwrap_err().error,
            "invalid_request",
            "{described}"
        );
    }
    // Each alone still works.
    let alone = TokenRequest {
        api_key: Some(key),
        ..TokenRequest::default()
    };
    assert!(ready(o.token(&alone, NOW)).is_ok());
    let client = TokenRequest {
        params: form(&[("grant_type", "client_credentials")]),
        basic: good_basic,
        ..TokenRequest::default()
    };
    assert!(ready(o.token(&client, NOW)).is_ok());
}

#[test]
fn password_grant_with_lockout_and_no_user_enumeration() {
    let w = World::new();
    let s = w.secret.clone();
    let ok = w
        .token(
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct horse battery"),
                ("scope", "read"),
            ],
            Some(("svc", &s)),
            NOW,
        )
        .unwrap();
    assert!(ok.refresh_token.as_deref().unwrap().starts_with("tgr_"));
    let unknown = w
        .token(
            &[
                ("grant_type", "password"),
                ("username", "mallory"),
                ("password", "whatever1"),
            ],
            Some(("svc", &s)),
            NOW,
        )
        .unwrap_err();
    let wrong = w
        .token(
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "wrong-one"),
            ],
            Some(("svc", &s)),
            NOW,
        )
        .unwrap_err();
    assert_eq!(
        unknown, wrong,
        "an unknown user and a wrong password read the same"
    );
    for _ in 0..4 {
        w.token(
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "wrong-one"),
            ],
            Some(("svc", &s)),
            NOW,
        )
        .unwrap_err();
    }
    let locked = w.alice(NOW);
    assert_eq!(
        error(locked),
        "invalid_grant",
        "this source waits after 5 failures"
    );
    let elsewhere = w.token_from(
        "203.0.113.5",
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "correct horse battery"),
        ],
        Some(("svc", &s)),
        NOW,
    );
    assert!(
        elsewhere.is_ok(),
        "alice from another address is not locked out"
    );
    let fourth_minute = w.token_from(
        "192.0.2.1",
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "wrong-one"),
        ],
        Some(("svc", &s)),
        NOW + 60,
    );
    assert_eq!(error(fourth_minute), "invalid_grant");
    assert_eq!(
        error(w.alice(NOW + 61)),
        "invalid_grant",
        "one more failure after the wait doubles it"
    );
    assert!(w.alice(NOW + 180).is_ok());
    assert_eq!(
        error(w.token(
            &[("grant_type", "password"), ("username", "alice")],
            Some(("svc", &s)),
            NOW
        )),
        "invalid_request"
    );
}

fn authorize(
    w: &World,
    client: &str,
    redirect: &str,
    challenge: &str,
) -> Result<oauth::AuthorizationRequest, AuthorizeError> {
    let params: BTreeMap<String, String> = [
        ("client_id", client),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", "xyz"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    ready(w.oauth().authorization_request(&params))
}

/// A live session of `sub`, who may grant `read` and `write`.
fn signed_in(sub: &str) -> oauth::Session {
    oauth::Session {
        sub: sub.to_owned(),
        username: "alice".to_owned(),
        account: "alice".to_owned(),
        created: NOW,
        signed_in: NOW,
        last_seen: NOW,
        absolute_exp: NOW + 3600,
        scopes: vec!["read".into(), "write".into()],
        sid: "sid-1".to_owned(),
    }
}

fn code_from(location: &str) -> String {
    location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .unwrap()
        .to_owned()
}

/// RFC 6749 §4.1.3: the token request must carry `redirect_uri`, identical, if the
/// authorization request did, and may leave it out if it did not (§3.1.2.3: a client with one
/// registered URI). OpenID Connect Core §3.1.2.1 requires it in an OpenID request.
#[test]
fn redirect_uri_at_the_token_endpoint_follows_the_authorization_request() {
    let w = World::new();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = oauth::pkce_challenge(verifier);
    let request_with = |extra: &[(&str, &str)]| {
        let mut params: BTreeMap<String, String> = [
            ("client_id", "svc"),
            ("response_type", "code"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        params.retain(|_, v| !v.is_empty());
        ready(w.oauth().authorization_request(&params))
    };
    let s = w.secret.clone();
    let redeem = |request: &oauth::AuthorizationRequest, redirect: Option<&str>| {
        let code =
            code_from(&ready(w.oauth().issue_code(request, &signed_in("usr_alice"), NOW)).unwrap());
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier),
        ];
        params.extend(redirect.map(|r| ("redirect_uri", r)));
        w.token(&params, Some(("svc", &s)), NOW + 5)
    };
    let omitted = request_with(&[]).unwrap();
    assert!(omitted.redirect_uri_omitted);
    assert_eq!(omitted.redirect_uri, "https://app.example/cb");
    assert!(redeem(&omitted, None).is_ok(), "left out both times");
    assert!(redeem(&omitted, Some("https://app.example/cb")).is_ok());
    assert_eq!(
        error(redeem(&omitted, Some("https://app.example/other"))),
        "invalid_grant"
    );
    let named = request_with(&[("redirect_uri", "https://app.example/cb")]).unwrap();
    assert!(!named.redirect_uri_omitted);
    assert_eq!(error(redeem(&named, None)), "invalid_grant");
    assert!(redeem(&named, Some("https://app.example/cb")).is_ok());
    assert!(matches!(
        request_with(&[("scope", "openid read")]),
        Err(AuthorizeError::Page(_))
    ));
}

/// RFC 6749 §4.1.2.1: a missing `response_type` is `invalid_request`, one this server does
/// not serve `unsupported_response_type`; both go back to the client.
#[test]
fn response_type_missing_or_unsupported() {
    let w = World::new();
    for (response_type, expected) in [
        (None, oauth::OAuthErrorCode::InvalidRequest),
        (
            Some("token"),
            oauth::OAuthErrorCode::UnsupportedResponseType,
        ),
    ] {
        let mut params: BTreeMap<String, String> = [
            ("client_id", "spa"),
            ("redirect_uri", "https://spa.example/cb"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        if let Some(value) = response_type {
            params.insert("response_type".into(), value.into());
        }
        match ready(w.oauth().authorization_request(&params)) {
            Err(AuthorizeError::Redirect { error, .. }) => assert_eq!(error, expected),
            other => panic!("{response_type:?}: {other:?}"),
        }
    }
}

#[test]
fn authorization_code_with_pkce() {
    let w = World::new();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = oauth::pkce_challenge(verifier);
    assert_eq!(
        challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "RFC 7636 appendix B"
    );
    let request = authorize(&w, "spa", "https://spa.example/cb", &challenge).unwrap();
    let location = ready(w.oauth().issue_code(&request, &signed_in("usr_alice"), NOW)).unwrap();
    assert!(location.starts_with("https://spa.example/cb?code=tgc_"));
    assert!(location.contains("&state=xyz") && location.contains("&iss=https%3A%2F%2Fissuer"));
    let code = code_from(&location);
    let exchange = |code: &str, verifier: &str, redirect: &str| {
        w.token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("code", code),
                ("code_verifier", verifier),
                ("redirect_uri", redirect),
            ],
            None,
            NOW + 5,
        )
    };
    let wrong_verifier = exchange(&code, &"a".repeat(43), "https://spa.example/cb");
    assert_eq!(error(wrong_verifier), "invalid_grant");
    // The failed attempt consumed the code: codes are single use.
    assert_eq!(
        error(exchange(&code, verifier, "https://spa.example/cb")),
        "invalid_grant"
    );

    let code =
        code_from(&ready(w.oauth().issue_code(&request, &signed_in("usr_alice"), NOW)).unwrap());
    assert_eq!(
        error(exchange(&code, verifier, "https://spa.example/other")),
        "invalid_grant"
    );
    let code =
        code_from(&ready(w.oauth().issue_code(&request, &signed_in("usr_alice"), NOW)).unwrap());
    let tokens = exchange(&code, verifier, "https://spa.example/cb").unwrap();
    assert_eq!(
        w.verifier()
            .verify(&tokens.access_token, NOW + 5)
            .unwrap()
            .subject(),
        Some("usr_alice")
    );
    // Reusing the code fails and revokes what it gave (RFC 6749 §4.1.2).
    assert_eq!(
        error(exchange(&code, verifier, "https://spa.example/cb")),
        "invalid_grant"
    );
    let refresh = tokens.refresh_token.unwrap();
    let after = w.token(
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", &refresh),
        ],
        None,
        NOW + 6,
    );
    assert_eq!(error(after), "invalid_grant");
    // An expired code fails.
    let code =
        code_from(&ready(w.oauth().issue_code(&request, &signed_in("usr_alice"), NOW)).unwrap());
    assert_eq!(
        error(w.token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("code", &code),
                ("code_verifier", verifier),
                ("redirect_uri", "https://spa.example/cb")
            ],
            None,
            NOW + 61
        )),
        "invalid_grant"
    );
}

/// RFC 9449 §10: `dpop_jkt` binds the code to a key; only a token request whose proof is by
/// that key redeems it, and a failed attempt spends the code like any other.
#[test]
fn a_code_bound_by_dpop_jkt_is_redeemed_only_with_that_key() {
    let w = World::new();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = oauth::pkce_challenge(verifier);
    let bound_key = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    let other_key = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    let request_with = |jkt: &str| {
        let params: BTreeMap<String, String> = [
            ("client_id", "spa"),
            ("redirect_uri", "https://spa.example/cb"),
            ("response_type", "code"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("dpop_jkt", jkt),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        ready(w.oauth().authorization_request(&params))
    };
    for malformed in ["abc", &format!("{bound_key}="), &"*".repeat(43)] {
        let err = request_with(malformed).unwrap_err();
        assert!(
            err.location("https://issuer")
                .unwrap()
                .contains("error=invalid_request"),
            "{malformed:?}"
        );
    }
    let request = request_with(bound_key).unwrap();
    assert_eq!(request.dpop_jkt.as_deref(), Some(bound_key));
    let redeem = |proof_key: Option<&str>| {
        let code = code_from(
            &ready(w.oauth().issue_code(&request, &signed_in("usr_alice"), NOW)).unwrap(),
        );
        let req = TokenRequest {
            params: [
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("code", code.as_str()),
                ("code_verifier", verifier),
                ("redirect_uri", "https://spa.example/cb"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            basic: None,
            api_key: None,
            client_ip: Some("192.0.2.1".into()),
        };
        let mut oauth = w.oauth();
        oauth.dpop_jkt = proof_key;
        let first = ready(oauth.token(&req, NOW + 5));
        (first, ready(oauth.token(&req, NOW + 6)))
    };
    for proof_key in [None, Some(other_key)] {
        let (first, again) = redeem(proof_key);
        assert_eq!(error(first), "invalid_grant", "{proof_key:?}");
        assert_eq!(error(again), "invalid_grant", "the attempt spent the code");
    }
    let (first, _) = redeem(Some(bound_key));
    let tokens = first.unwrap();
    assert_eq!(tokens.token_type, "DPoP");
    let verified = w.verifier().verify(&tokens.access_token, NOW + 5).unwrap();
    assert_eq!(
        verified.claims()["cnf"]["jkt"].as_str(),
        Some(bound_key),
        "the access token is bound to the same key"
    );
}

#[test]
fn authorization_requests_are_validated_before_anything_is_shown() {
    let w = World::new();
    let challenge = oauth::pkce_challenge(&"v".repeat(43));
    assert_eq!(
        authorize(&w, "nobody", "https://spa.example/cb", &challenge).unwrap_err(),
        AuthorizeError::Page("unknown client")
    );
    assert!(
        matches!(
            authorize(&w, "spa", "https://evil.example/cb", &challenge),
            Err(AuthorizeError::Page(_))
        ),
        "never redirect to an unregistered URI"
    );
    assert!(
        matches!(
            authorize(&w, "spa", "https://spa.example/cb/", &challenge),
            Err(AuthorizeError::Page(_))
        ),
        "exact match only"
    );
    let plain: BTreeMap<String, String> = [
        ("client_id", "spa"),
        ("redirect_uri", "https://spa.example/cb"),
        ("response_type", "code"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "plain"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let err = ready(w.oauth().authorization_request(&plain)).unwrap_err();
    assert!(
        err.location("https://issuer")
            .unwrap()
            .contains("error=invalid_request"),
        "plain PKCE is refused"
    );
    let mut no_pkce = plain.clone();
    no_pkce.remove("code_challenge");
    assert!(matches!(
        ready(w.oauth().authorization_request(&no_pkce)),
        Err(AuthorizeError::Redirect {
            error: oauth::OAuthErrorCode::InvalidRequest,
            ..
        })
    ));
}

#[test]
fn the_grace_window_is_strictly_shorter_than_its_length() {
    let w = World::new();
    let s = w.secret.clone();
    let r1 = w.alice(NOW).unwrap().refresh_token.unwrap();
    let refresh = |token: &str, now: i64| {
        w.token(
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
            Some(("svc", &s)),
            now,
        )
    };
    assert!(refresh(&r1, NOW + 100).is_ok());
    assert!(
        refresh(&r1, NOW + 109).is_ok(),
        "9 s after rotation: a retry"
    );
    assert_eq!(
        error(refresh(&r1, NOW + 110)),
        "invalid_grant",
        "10 s: reuse"
    );
}

#[test]
fn refresh_rotates_and_reuse_revokes_the_family() {
    let w = World::new();
    let s = w.secret.clone();
    let first = w.alice(NOW).unwrap();
    let r1 = first.refresh_token.unwrap();
    let refresh = |token: &str, now: i64| {
        w.token(
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
            Some(("svc", &s)),
            now,
        )
    };
    let second = refresh(&r1, NOW + 100).unwrap();
    let r2 = second.refresh_token.clone().unwrap();
    assert_ne!(r1, r2);
    // A concurrent retry within the grace window is not theft.
    assert!(refresh(&r1, NOW + 105).is_ok());
    // Later, reuse of r1 is theft: the family dies, r2 with it, and every access token issued
    // from it: the victim's first one and the newer ones alike (RFC 9700 §4.14.2).
    let active = |token: &str, now: i64| {
        introspected(ready(w.oauth().introspect(
            token,
            &w.svc(),
            &w.verifier(),
            now,
        )))["active"]
            == true
    };
    assert!(active(&first.access_token, NOW + 150) && active(&second.access_token, NOW + 150));
    assert_eq!(error(refresh(&r1, NOW + 200)), "invalid_grant");
    assert_eq!(error(refresh(&r2, NOW + 201)), "invalid_grant");
    assert!(
        !active(&first.access_token, NOW + 202),
        "the first access token"
    );
    assert!(
        !active(&second.access_token, NOW + 202),
        "the newer access token"
    );
    // A refresh token is bound to its client.
    let other = w.alice(NOW).unwrap();
    let stolen = w.token(
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", other.refresh_token.as_deref().unwrap()),
        ],
        None,
        NOW,
    );
    assert_eq!(error(stolen), "invalid_grant");
    // Narrowing scope on refresh is allowed; widening is not.
    let narrowed = w
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", other.refresh_token.as_deref().unwrap()),
                ("scope", "read"),
            ],
            Some(("svc", &s)),
            NOW,
        )
        .unwrap();
    assert_eq!(narrowed.scope, "read");
    // RFC 6749 §6: the new refresh token keeps the scope originally granted, so the next
    // refresh may ask for all of it again, and for nothing beyond it.
    let next = narrowed.refresh_token.as_deref().unwrap();
    assert_eq!(
        error(w.token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", next),
                ("scope", "read admin")
            ],
            Some(("svc", &s)),
            NOW
        )),
        "invalid_scope"
    );
    let whole = w
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", next),
                ("scope", "read write"),
            ],
            Some(("svc", &s)),
            NOW,
        )
        .unwrap();
    assert_eq!(whole.scope, "read write");
}

#[test]
fn concurrent_and_retried_refreshes_get_the_same_successor_and_never_fork() {
    let w = World::new();
    let s = w.secret.clone();
    let r1 = w.alice(NOW).unwrap().refresh_token.unwrap();
    let refresh = |token: &str, now: i64| {
        w.token(
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
            Some(("svc", &s)),
            now,
        )
        .unwrap()
    };
    let first = refresh(&r1, NOW + 1);
    let retries: Vec<String> = (0..5)
        .map(|i| refresh(&r1, NOW + 1 + i).refresh_token.unwrap())
        .collect();
    let r2 = first.refresh_token.unwrap();
    assert!(
        retries.iter().all(|r| *r == r2),
        "one successor for every retry"
    );
    // The family has exactly one live refresh token: r2 (r1 is rotated).
    let live: Vec<String> = w
        .store
        .dump()
        .into_iter()
        .filter(|(k, v, _)| k.starts_with("refresh:") && v.contains("\"rotated_at\":null"))
        .map(|(k, _, _)| k)
        .collect();
    assert_eq!(live.len(), 1, "{live:?}");
    // The successor rotates in turn, to its own single successor.
    let r3 = refresh(&r2, NOW + 20).refresh_token.unwrap();
    assert_ne!(r3, r2);
    assert_eq!(refresh(&r2, NOW + 21).refresh_token.unwrap(), r3);
}

#[test]
fn an_authorization_code_is_redeemed_once_and_reuse_revokes_its_grant() {
    let w = World::new();
    let verifier = "v".repeat(43);
    let request = w.spa_request(&verifier);
    let location = ready(w.oauth().issue_code(&request, &signed_in("usr_alice"), NOW)).unwrap();
    let code = code_from(&location);
    let redeem = || w.redeem_spa(&code, &verifier, NOW + 1);
    let tokens = redeem().unwrap();
    // A family lives in one coordinator object: the code, its first refresh token and every
    // successor share the code's routing slot, so each rule is one atomic step there.
    let first = tokens.refresh_token.clone().unwrap();
    assert_eq!(
        tollgate::opaque::slot(&first),
        tollgate::opaque::slot(&code)
    );
    let next = w
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "spa"),
                ("refresh_token", &first),
            ],
            None,
            NOW + 2,
        )
        .unwrap()
        .refresh_token
        .unwrap();
    assert_eq!(tollgate::opaque::slot(&next), tollgate::opaque::slot(&code));
    assert_eq!(
        tollgate::opaque::parse(&next),
        Some(tollgate::opaque::Kind::Refresh)
    );
    assert_eq!(error(redeem()), "invalid_grant");
    let active = introspected(ready(w.oauth().introspect(
        &tokens.access_token,
        &w.svc(),
        &w.verifier(),
        NOW + 2,
    )))["active"]
        == true;
    assert!(!active, "the second redemption revoked what the first gave");
}

/// An introspection response (RFC 7662 §2.2), parsed.
fn introspected(answer: Result<String, oauth::OAuthError>) -> serde_json::Value {
    serde_json::from_str(&answer.unwrap()).unwrap()
}

#[test]
fn introspection_and_revocation_of_every_token_type() {
    let w = World::new();
    let o = w.oauth();
    let v = w.verifier();
    let client: Client =
        serde_json::from_str(&ready(w.store.get("client:svc")).unwrap().unwrap()).unwrap();
    let pair = w.alice(NOW).unwrap();
    let (api_key, _) =
        ready(o.create_api_key("robot", vec!["read".into()], None, Millis(NOW * 1000))).unwrap();
    let user = w.alice_user();
    let (session, _) = ready(o.create_session(&user, NOW)).unwrap();
    let active = |token: &str| {
        introspected(ready(o.introspect(token, &w.svc(), &v, NOW + 1)))["active"] == true
    };
    let (spa, _) = oauth::new_client(PEPPER, "spa", false).unwrap();
    let refresh = pair.refresh_token.clone().unwrap();
    for (token, kind) in [
        (&pair.access_token, "Bearer"),
        (&refresh, "refresh_token"),
        (&api_key, "api_key"),
        (&session, "session"),
    ] {
        let info = introspected(ready(o.introspect(token, &w.svc(), &v, NOW + 1)));
        assert_eq!(info["active"], true, "{kind}");
        assert_eq!(info["token_type"], kind);
        // RFC 7662 §2.2 types each member: one the token lacks (the API key's `exp`) is left
        // out, not written as null.
        assert!(
            info.as_object()
                .unwrap()
                .values()
                .all(|value| !value.is_null()),
            "{kind}: {info}"
        );
        // RFC 7009 §2.1: a client may revoke only what was issued to it.
        let refused = ready(o.revoke(token, Revoker::Client(&spa), &v, NOW + 2)).unwrap_err();
        assert_eq!(refused.error, "unauthorized_client", "{kind}");
        assert!(active(token), "{kind} survives another client's request");
        let by = if matches!(kind, "api_key" | "session") {
            // Issued to a user, not to a client: the issuing client may not end them either.
            let refused =
                ready(o.revoke(token, Revoker::Client(&client), &v, NOW + 2)).unwrap_err();
            assert_eq!(refused.error, "unauthorized_client", "{kind}");
            Revoker::Operator
        } else {
            Revoker::Client(&client)
        };
        ready(o.revoke(token, by, &v, NOW + 2)).unwrap();
        assert!(!active(token), "{kind} revoked");
    }
    assert!(!active("garbage"));
    ready(o.revoke("garbage", Revoker::Client(&client), &v, NOW)).unwrap();
}

/// RFC 8725 §3.11, RFC 7009 §2.2: the gateway's origin assertion is signed with the access
/// tokens' key and carries the presented token's `jti` and `client_id`; handed to `/revoke`
/// (by its client, or by the operator) it is not an access token and revokes nothing. An
/// outside run revoked a user's token with the assertion its origin had been sent.
#[test]
fn rfc_8725_3_11_an_origin_assertion_does_not_revoke_its_access_token() {
    let w = World::new();
    let (o, v) = (w.oauth(), w.verifier());
    let pair = w.alice(NOW).unwrap();
    let claims = v.verify(&pair.access_token, NOW).unwrap().claims().clone();
    let assertion = tollgate::TokenBuilder::new(NOW)
        .typ(tollgate::assertion::TYP)
        .lifetime(tollgate::assertion::LIFETIME)
        .claim("iss", "https://issuer")
        .claim("sub", claims["sub"].clone())
        .claim("jti", claims["jti"].clone())
        .claim("client_id", claims["client_id"].clone())
        .sign(&w.key)
        .unwrap();
    ready(o.revoke(&assertion, Revoker::Client(&w.svc()), &v, NOW + 1)).unwrap();
    ready(o.revoke(&assertion, Revoker::Operator, &v, NOW + 1)).unwrap();
    let info = introspected(ready(o.introspect(
        &pair.access_token,
        &w.svc(),
        &v,
        NOW + 2,
    )));
    assert_eq!(info["active"], true, "{info}");
    // The access token itself still revokes.
    ready(o.revoke(&pair.access_token, Revoker::Client(&w.svc()), &v, NOW + 3)).unwrap();
    let info = introspected(ready(o.introspect(
        &pair.access_token,
        &w.svc(),
        &v,
        NOW + 4,
    )));
    assert_eq!(info["active"], false);
}

#[test]
fn revoking_a_refresh_token_revokes_the_access_tokens_of_its_family() {
    let w = World::new();
    let (o, v) = (w.oauth(), w.verifier());
    let s = w.secret.clone();
    let first = w.alice(NOW).unwrap();
    let second = w
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", first.refresh_token.as_deref().unwrap()),
            ],
            Some(("svc", &s)),
            NOW + 1,
        )
        .unwrap();
    let unrelated = w.alice(NOW).unwrap();
    let active = |token: &str| {
        introspected(ready(o.introspect(token, &w.svc(), &v, NOW + 3)))["active"] == true
    };
    ready(o.revoke(
        second.refresh_token.as_deref().unwrap(),
        Revoker::Operator,
        &v,
        NOW + 2,
    ))
    .unwrap();
    assert!(!active(&first.access_token) && !active(&second.access_token));
    assert!(
        active(&unrelated.access_token),
        "another grant is untouched"
    );
    // Every access token names its family; client credentials have none.
    let claims = |token: &str| -> serde_json::Value {
        serde_json::Value::Object(v.verify(token, NOW + 3).unwrap().claims().clone())
    };
    assert!(claims(&unrelated.access_token)["family"].is_string());
    let cc = w
        .token(
            &[("grant_type", "client_credentials")],
            Some(("svc", &s)),
            NOW,
        )
        .unwrap();
    assert!(claims(&cc.access_token).get("family").is_none());
}

#[test]
fn a_subject_revocation_ends_sessions_refresh_families_and_api_keys() {
    let w = World::new();
    let (o, v) = (w.oauth(), w.verifier());
    let s = w.secret.clone();
    let pair = w.alice(NOW).unwrap();
    let user = w.alice_user();
    let (session, _) = ready(o.create_session(&user, NOW)).unwrap();
    let key_at = |ms: i64| {
        ready(o.create_api_key(&user.sub, vec!["read".into()], None, Millis(ms)))
            .unwrap()
            .0
    };
    let api_key = key_at(NOW * 1000);
    let just_before = key_at((NOW + 5) * 1000 + 100);
    ready(revocation::revoke_subject(
        &w.store,
        "https://issuer",
        &user.sub,
        Millis((NOW + 5) * 1000 + 400),
    ))
    .unwrap();
    // The operator's script makes the owner's new key at once, in the same second.
    let just_after = key_at((NOW + 5) * 1000 + 700);
    assert!(ready(o.session(&session, NOW + 6)).unwrap().is_none());
    for (key, revoked) in [(&api_key, true), (&just_before, true), (&just_after, false)] {
        let found = ready(o.lookup_api_key(key, NOW + 6)).unwrap();
        assert_eq!(found.is_none(), revoked, "{found:?}");
    }
    let refresh = w.token(
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", pair.refresh_token.as_deref().unwrap()),
        ],
        Some(("svc", &s)),
        NOW + 6,
    );
    assert_eq!(error(refresh), "invalid_grant");
    assert_eq!(
        introspected(ready(o.introspect(
            &pair.access_token,
            &w.svc(),
            &v,
            NOW + 6
        )))["active"],
        false
    );
    // A login after the cut-off starts afresh.
    assert!(w.alice(NOW + 10).is_ok());
    let (later, _) = ready(o.create_session(&user, NOW + 10)).unwrap();
    assert!(ready(o.session(&later, NOW + 11)).unwrap().is_some());
    // An API key may outlive every token (this one has no expiry): once whatever expires has
    // expired, the key made before the cut-off stays refused.
    w.store.expire_all();
    let much_later = NOW + 10 * i64::try_from(revocation::HORIZON).unwrap();
    assert!(ready(o.lookup_api_key(&api_key, much_later))
        .unwrap()
        .is_none());
}

#[test]
fn sessions_expire_when_idle_or_old() {
    let w = World::new();
    let o = w.oauth();
    let user = w.alice_user();
    let (id, _) = ready(o.create_session(&user, NOW)).unwrap();
    assert!(ready(o.session(&id, NOW + 1000)).unwrap().is_some());
    assert!(
        ready(o.session(&id, NOW + 1000 + 1800)).unwrap().is_none(),
        "idle for 30 minutes"
    );
    let (id, _) = ready(o.create_session(&user, NOW)).unwrap();
    let mut t = NOW;
    while t < NOW + 12 * 3600 - 1000 {
        t += 1000;
        assert!(ready(o.session(&id, t)).unwrap().is_some());
    }
    assert!(
        ready(o.session(&id, NOW + 12 * 3600)).unwrap().is_none(),
        "absolute expiry"
    );
    let (id, _) = ready(o.create_session(&user, NOW)).unwrap();
    ready(o.end_session(&id, NOW)).unwrap();
    assert!(ready(o.session(&id, NOW)).unwrap().is_none());
}

/// Two rules of Workers KV that local KV does not show: one write a second per key (the next
/// is `429`), and reads served from a location's cache for up to a minute after a delete
/// elsewhere (an outside review of the code against Cloudflare's limits).
#[test]
fn a_session_refresh_bears_kvs_write_limit_and_never_brings_back_a_signed_out_session() {
    let w = World::new();
    let o = w.oauth();
    let user = w.alice_user();
    let (id, _) = ready(o.create_session(&user, NOW)).unwrap();
    // A page's parallel requests refresh the session in the same second: the ones KV refuses
    // are served, not failed.
    w.store.limit_writes(Some("session:"));
    assert!(ready(o.session(&id, NOW + 61)).unwrap().is_some());
    w.store.limit_writes(None);

    let record = |store: &MemoryStore| {
        store
            .dump()
            .into_iter()
            .find(|(key, _, _)| key.starts_with("session:"))
    };
    let (key, stale, _) = record(&w.store).unwrap();
    ready(o.end_session(&id, NOW + 62)).unwrap();
    assert!(record(&w.store).is_none());
    // Another location still reads its cached copy, older than a minute, so it refreshes it:
    // the refresh finds the session's grants closed and deletes the record it wrote.
    ready(w.store.put(&key, &stale, Some(600))).unwrap();
    assert!(ready(o.session(&id, NOW + 200)).unwrap().is_none());
    assert!(
        record(&w.store).is_none(),
        "the signed-out session came back"
    );

    // The same user signing in again replaces the id and keeps the sid (its grants stay
    // open): a cached copy of the old id is not refreshed back either, even when both sign-ins
    // fall in one second, and the new session is not taken for a replaced one.
    let (old, _) = ready(o.create_session(&user, NOW)).unwrap();
    let (old_key, stale, _) = record(&w.store).unwrap();
    let (new, _) = ready(o.sign_in(&user, Some(&old), NOW)).unwrap();
    let (new_key, _, _) = record(&w.store).unwrap();
    assert_ne!(old_key, new_key);
    ready(w.store.put(&old_key, &stale, Some(600))).unwrap();
    assert!(ready(o.session(&old, NOW + 200)).unwrap().is_none());
    assert!(ready(o.session(&new, NOW + 200)).unwrap().is_some());
    let sessions: Vec<String> = w
        .store
        .dump()
        .into_iter()
        .map(|(key, _, _)| key)
        .filter(|key| key.starts_with("session:"))
        .collect();
    assert_eq!(sessions, [new_key], "the replaced id came back");
}

/// A store whose next write of a session record first lets a sign-out land: the sign-out
/// that races a refresh between its read and its write.
struct SignOutFirst<'a> {
    inner: &'a MemoryStore,
    sign_out: std::cell::RefCell<Option<Box<dyn FnOnce() + 'a>>>,
}

impl Store for SignOutFirst<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, tollgate::store::StoreError> {
        self.inner.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        value: &str,
        ttl: Option<u64>,
    ) -> Result<(), tollgate::store::StoreError> {
        if key.starts_with("session:") {
            let sign_out = self.sign_out.borrow_mut().take();
            if let Some(sign_out) = sign_out {
                sign_out();
            }
        }
        self.inner.put(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), tollgate::store::StoreError> {
        self.inner.delete(key).await
    }
}

/// The refresh reads the coordinator after its write, not before: a sign-out that lands
/// between the two is seen, and the refresh's write is undone.
#[test]
fn a_sign_out_racing_a_session_refresh_is_not_undone_by_it() {
    let w = World::new();
    let user = w.alice_user();
    let (id, _) = ready(w.oauth().create_session(&user, NOW)).unwrap();
    let racing = SignOutFirst {
        inner: &w.store,
        sign_out: std::cell::RefCell::new(Some(Box::new(|| {
            ready(w.oauth().end_session(&id, NOW + 61)).unwrap();
        }))),
    };
    assert!(ready(w.oauth_on(&racing).session(&id, NOW + 61))
        .unwrap()
        .is_none());
    assert!(
        !w.store
            .dump()
            .iter()
            .any(|(key, _, _)| key.starts_with("session:")),
        "the refresh wrote the signed-out session back"
    );
}

#[test]
fn one_time_tokens_are_accepted_exactly_once() {
    let w = World::new();
    let o = w.oauth();
    let own = "https://issuer";
    let token = ready(o.issue_one_time(own, "alice", "delete-account", 300, NOW)).unwrap();
    // Another route's or another subject's use takes nothing: the owner's use still works.
    assert!(!ready(o.consume_one_time(&token, "other", own, "alice", NOW)).unwrap());
    assert!(!ready(o.consume_one_time(&token, "delete-account", own, "mallory", NOW)).unwrap());
    assert!(ready(o.consume_one_time(&token, "delete-account", own, "alice", NOW)).unwrap());
    assert!(
        !ready(o.consume_one_time(&token, "delete-account", own, "alice", NOW)).unwrap(),
        "once"
    );
    let late = ready(o.issue_one_time(own, "alice", "delete-account", 300, NOW)).unwrap();
    assert!(!ready(o.consume_one_time(&late, "delete-account", own, "alice", NOW + 300)).unwrap());
}

/// RFC 7519 §4.1.2: a subject is unique within its issuer only. An external issuer's `alice`
/// neither uses nor spends this deployment's `alice`'s one-time token, nor the reverse (an
/// outside run consumed one with the other's token).
#[test]
fn rfc_7519_4_1_2_a_one_time_token_is_bound_to_its_subjects_issuer() {
    let w = World::new();
    let o = w.oauth();
    let (own, idp) = ("https://issuer", "https://idp.example");
    let mine = ready(o.issue_one_time(own, "alice", "/pay", 300, NOW)).unwrap();
    let theirs = ready(o.issue_one_time(idp, "alice", "/pay", 300, NOW)).unwrap();
    assert!(!ready(o.consume_one_time(&mine, "/pay", idp, "alice", NOW)).unwrap());
    assert!(!ready(o.consume_one_time(&theirs, "/pay", own, "alice", NOW)).unwrap());
    assert!(ready(o.consume_one_time(&mine, "/pay", own, "alice", NOW)).unwrap());
    assert!(ready(o.consume_one_time(&theirs, "/pay", idp, "alice", NOW)).unwrap());
}

#[test]
fn the_store_failing_is_temporarily_unavailable() {
    let w = World::new();
    w.store.set_failing(true);
    let s = w.secret.clone();
    let err = w
        .token(
            &[("grant_type", "client_credentials")],
            Some(("svc", &s)),
            NOW,
        )
        .unwrap_err();
    assert_eq!(
        (err.error.as_str(), err.render().status),
        ("temporarily_unavailable", 503)
    );
}

#[test]
fn one_parser_for_client_credentials() {
    let basic = ("svc".to_owned(), "s3cret".to_owned());
    let form = |pairs: &[(&str, &str)]| -> oauth::Form {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let parse =
        |b: Option<&(String, String)>, f: &[(&str, &str)]| ClientAuth::from_parts(b, &form(f));
    assert!(
        matches!(parse(Some(&basic), &[]), Ok(ClientAuth::Basic { ref id, .. }) if id == "svc")
    );
    assert!(matches!(
        parse(Some(&basic), &[("client_id", "svc")]),
        Ok(ClientAuth::Basic { .. })
    ));
    // The form names another client than the Basic credentials: refused, on every endpoint.
    assert_eq!(
        parse(Some(&basic), &[("client_id", "other")])
            .unwrap_err()
            .error,
        "invalid_request"
    );
    assert_eq!(
        parse(Some(&basic), &[("client_secret", "x")])
            .unwrap_err()
            .error,
        "invalid_request"
    );
    assert!(matches!(
        parse(None, &[("client_id", "a"), ("client_secret", "b")]),
        Ok(ClientAuth::Post { .. })
    ));
    assert!(matches!(
        parse(None, &[("client_id", "spa")]),
        Ok(ClientAuth::Public { .. })
    ));
    assert!(matches!(
        parse(None, &[("client_id", "")]),
        Ok(ClientAuth::None)
    ));
    // An assertion (RFC 7523), which Tollgate neither offers nor advertises, is refused rather
    // than ignored beside the client_id that came with it.
    for assertion in [
        &[("client_id", "spa"), ("client_assertion", "eyJ.x.y")][..],
        &[(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )],
    ] {
        assert_eq!(parse(None, assertion).unwrap_err().error, "invalid_client");
    }
}

#[test]
fn a_login_rehashes_a_password_stored_at_another_cost() {
    let mut w = World::new();
    w.config.password_memory_kib = 2048;
    let stored = || w.alice_user();
    assert!(stored().password.contains("m=1024"));
    ready(
        w.oauth()
            .check_password("alice", "correct horse battery", None, false, NOW),
    )
    .unwrap();
    assert!(
        stored().password.contains("m=2048"),
        "{}",
        stored().password
    );
    // The new hash still verifies, and a wrong password changes nothing.
    ready(
        w.oauth()
            .check_password("alice", "correct horse battery", None, false, NOW),
    )
    .unwrap();
    assert!(ready(w.oauth().check_password("alice", "wrong", None, false, NOW)).is_err());
    assert!(stored().password.contains("m=2048"));
}

#[test]
fn csrf_values_are_minted_by_the_server_only() {
    let issued = oauth::csrf_token(PEPPER, None, NOW).unwrap();
    assert!(oauth::csrf_valid(PEPPER, &issued, &issued, None, NOW));
    assert!(
        !oauth::csrf_valid(PEPPER, &issued, "other", None, NOW),
        "cookie differs"
    );
    assert!(!oauth::csrf_valid(
        b"another-pepper-0123456789abcdef!!",
        &issued,
        &issued,
        None,
        NOW
    ));
    // An attacker's equal cookie and form pair is not enough.
    for planted in [
        "",
        "x",
        "x.y",
        "attacker.chosen",
        ".",
        "abc.",
        "a.1.",
        "a.x.b",
    ] {
        assert!(
            !oauth::csrf_valid(PEPPER, planted, planted, None, NOW),
            "{planted:?}"
        );
    }
}

/// RFC 9700 §4.7 (an outside browser run planted a server-minted pair from a sibling site and
/// approved a consent with it): a value is bound to the browser session it was shown to, and
/// expires with its cookie.
#[test]
fn csrf_values_are_bound_to_the_session_and_expire() {
    let mine = oauth::csrf_token(PEPPER, Some("tgs_victim"), NOW).unwrap();
    assert!(oauth::csrf_valid(
        PEPPER,
        &mine,
        &mine,
        Some("tgs_victim"),
        NOW
    ));
    // Minted for the attacker's own session, or for none: refused in the victim's browser.
    for (made_for, used_in) in [
        (Some("tgs_attacker"), Some("tgs_victim")),
        (None, Some("tgs_victim")),
        (Some("tgs_victim"), None),
    ] {
        let planted = oauth::csrf_token(PEPPER, made_for, NOW).unwrap();
        assert!(
            !oauth::csrf_valid(PEPPER, &planted, &planted, used_in, NOW),
            "{made_for:?} in {used_in:?}"
        );
    }
    let lifetime = oauth::CSRF_LIFETIME;
    assert!(oauth::csrf_valid(
        PEPPER,
        &mine,
        &mine,
        Some("tgs_victim"),
        NOW + lifetime - 1
    ));
    assert!(!oauth::csrf_valid(
        PEPPER,
        &mine,
        &mine,
        Some("tgs_victim"),
        NOW + lifetime
    ));
    assert!(
        !oauth::csrf_valid(PEPPER, &mine, &mine, Some("tgs_victim"), NOW - 1),
        "from the future"
    );
    // The time is under the mac: moving it forward breaks the value.
    let parts: Vec<&str> = mine.split('.').collect();
    let moved = format!("{}.{}.{}", parts[0], NOW + 1000, parts[2]);
    assert!(!oauth::csrf_valid(
        PEPPER,
        &moved,
        &moved,
        Some("tgs_victim"),
        NOW + 1000
    ));
}

#[test]
fn request_parsers() {
    let form = oauth::parse_form("grant_type=password&username=al%20ice&scope=a+b").unwrap();
    assert_eq!(form["username"], "al ice");
    assert_eq!(form["scope"], "a b");
    assert_eq!(
        oauth::parse_form("a=1&a=2").unwrap_err().error,
        "invalid_request"
    );
    assert!(oauth::parse_form(&"a".repeat(oauth::MAX_FORM_BYTES + 1)).is_err());
    // RFC 6749 §2.3.1: the id and secret are form-encoded inside Basic.
    assert_eq!(
        oauth::parse_basic("Basic c3ZjOnMlM0FjcmV0"),
        Some(("svc".into(), "s:cret".into()))
    );
    assert_eq!(
        oauth::parse_basic("basic c3ZjOg=="),
        Some(("svc".into(), String::new()))
    );
    for bad in [
        "Bearer c3ZjOnM=",
        "Basic !!!",
        "Basic c3Zj",
        "Basic",
        "Basic Ojp4",
    ] {
        assert_eq!(oauth::parse_basic(bad), None, "{bad}");
    }
    for good in [
        "https://app.example/cb",
        "http://127.0.0.1:8788/callback",
        "http://localhost/cb",
        "https://a.example/cb?x=1",
        "https://xn--bcher-kva.example/cb",
        "https://a.example:8443/c%C3%A9?x=%2F",
        "http://[::1]:8080/cb",
    ] {
        assert!(oauth::valid_redirect_uri(good), "{good}");
    }
    for bad in [
        "http://app.example/cb",
        "https://app.example/cb#frag",
        "/relative",
        "javascript:alert(1)",
        "https://user@evil.example/",
        "https:///nohost",
        "http://127.0.0.1.evil.example/",
        "https://bücher.example/cb",
        "https://app.example/cb?q=é",
        // RFC 3986 §2's characters only, and a plain authority: browsers read the first as
        // evil.example (an outside run sent a code there).
        "https://evil.example\\.app.example.com/cb",
        "https://%65vil.example/cb",
        "https://a.example\"<>{}|^`/cb",
        "https://a.example/cb%zz",
        "http://127.0.0.1:99999/cb",
        "http://127.0.0.1:8a/cb",
        "http://[::1/cb",
        "https://[1.2.3.4]/cb",
        "http://[:]/cb",
        "http://[::1.2]/cb",
        "http://[1:2:3:4:5:6:7:8:9]/cb",
        "https://-/cb",
        "https://../cb",
        "https://a..example/cb",
    ] {
        assert!(!oauth::valid_redirect_uri(bad), "{bad}");
    }
}

/// What sign-ins and tokens could not use, or would read as something else, is refused where
/// records are made: scopes outside RFC 6749 §3.3, a client id shaped as a user's subject
/// (RFC 9700 §4.14), an empty or line-breaking API key owner, usernames with characters that
/// make look-alike accounts (RFC 8265 §3.3), names and passwords no sign-in takes. Outside
/// runs made each of them.
#[test]
fn records_refuse_what_sign_ins_and_tokens_could_not_tell_apart() {
    let cost = tollgate::password::Cost {
        memory_kib: 64,
        iterations: 1,
    };
    let user = |name: &str, password: &str, scopes: &[&str]| {
        oauth::new_user(
            name,
            password,
            scopes.iter().map(|s| s.to_string()).collect(),
            cost,
        )
    };
    assert!(user("josé", "correct horse", &["read"]).is_ok());
    assert!(
        user("Kate", "パスワードです八文", &["read"]).is_ok(),
        "8 characters, not bytes"
    );
    for name in [
        "ａｄｍｉｎ",
        "ad\u{200B}min",
        "\u{202E}nimda",
        "jose\u{301}",
        "a\u{0}b",
        "admin\u{E0100}",
        "admin\u{E0001}",
        "ad\u{2028}min",
        "ad\u{A0}min",
    ] {
        let err = user(name, "correct horse", &["read"]).unwrap_err();
        assert!(err.to_string().contains("U+"), "{name:?}: {err}");
    }
    assert!(user(&"a".repeat(201), "correct horse", &[]).is_err());
    assert!(user("alice", &"p".repeat(1025), &[]).is_err());
    assert!(user("alice", "パスワード", &[]).is_err(), "5 characters");
    for scope in ["read\twrite", "x\"y", "café", "a\\b", ""] {
        assert!(
            user("alice", "correct horse", &[scope]).is_err(),
            "{scope:?}"
        );
        let key = oauth::new_api_key(PEPPER, "robot", vec![scope.into()], None, Millis(0));
        assert!(key.is_err(), "{scope:?}");
        let (mut client, _) = oauth::new_client(PEPPER, "svc2", true).unwrap();
        client.grants = vec!["client_credentials".into()];
        client.scopes = vec![scope.into()];
        assert!(client.unusable().is_some(), "{scope:?}");
    }
    let (mut client, secret) = oauth::new_client(PEPPER, "usr_x", true).unwrap();
    client.grants = vec!["client_credentials".into()];
    assert!(client.unusable().unwrap().contains("usr_"));
    // One registered before the rule, or written by hand, gets no token with a user's `sub`.
    let w = World::new();
    w.put_client(&client);
    let refused = w
        .token(
            &[("grant_type", "client_credentials")],
            Some(("usr_x", secret.as_deref().unwrap())),
            NOW,
        )
        .unwrap_err();
    assert_eq!(refused.error, "unauthorized_client");
    // Made through the engine, a refused owner is the caller's error, not the server's.
    let err = ready(w.oauth().create_api_key("", vec![], None, Millis(0))).unwrap_err();
    assert_eq!(err.error, "invalid_request");
    for owner in ["", "bot\r\nX-Evil: 1", "a b"] {
        assert!(
            oauth::new_api_key(PEPPER, owner, vec![], None, Millis(0)).is_err(),
            "{owner:?}"
        );
    }
    assert!(oauth::new_api_key(PEPPER, "usr_abc", vec!["read".into()], None, Millis(0)).is_ok());
}

impl World {
    /// The public client's authorization request (PKCE S256 with `verifier`).
    fn spa_request(&self, verifier: &str) -> oauth::AuthorizationRequest {
        let params = [
            ("client_id", "spa"),
            ("redirect_uri", "https://spa.example/cb"),
            ("response_type", "code"),
            ("code_challenge", &oauth::pkce_challenge(verifier)),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        ready(self.oauth().authorization_request(&params)).unwrap()
    }

    /// The token request that redeems a code of [`World::spa_request`].
    fn redeem_spa(
        &self,
        code: &str,
        verifier: &str,
        now: i64,
    ) -> Result<oauth::TokenResponse, oauth::OAuthError> {
        let params = [
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", "https://spa.example/cb"),
        ];
        self.token(&params, None, now)
    }

    /// Rewrites a stored record as an operator would (`user:alice`, `client:svc`).
    fn edit<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        key: &str,
        change: impl FnOnce(&mut T),
    ) {
        let text = ready(self.store.get(key)).unwrap().unwrap();
        let mut record: T = serde_json::from_str(&text).unwrap();
        change(&mut record);
        ready(
            self.store
                .put(key, &serde_json::to_string(&record).unwrap(), None),
        )
        .unwrap();
    }
}

/// A refresh gives only what the user and the client may still have (RFC 9700 §4.14, RFC
/// 6749 §10.4): an operator who disables or deletes a user, or takes a scope from the user or
/// the client, ends the grant's refreshes (an outside run refreshed all of them).
#[test]
fn a_refresh_ends_when_the_user_or_the_scope_is_taken_away() {
    type Change = Box<dyn Fn(&World)>;
    let cases: [(&str, Change); 4] = [
        (
            "disabled",
            Box::new(|w| w.edit("user:alice", |u: &mut oauth::User| u.disabled = true)),
        ),
        (
            "deleted",
            Box::new(|w| ready(w.store.delete("user:alice")).unwrap()),
        ),
        (
            "scope taken from the user",
            Box::new(|w| {
                w.edit("user:alice", |u: &mut oauth::User| {
                    u.scopes = vec!["read".into()]
                })
            }),
        ),
        (
            "scope taken from the client",
            Box::new(|w| {
                w.edit("client:svc", |c: &mut oauth::Client| {
                    c.scopes = vec!["read".into()]
                })
            }),
        ),
    ];
    for (what, change) in cases {
        let w = World::new();
        let secret = w.secret.clone();
        let refresh = |token: &str, scope: Option<&str>, now: i64| {
            let mut params = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
            params.extend(scope.map(|scope| ("scope", scope)));
            w.token(&params, Some(("svc", &secret)), now)
        };
        let first = w.alice(NOW).unwrap();
        assert_eq!(first.scope, "read write");
        let r1 = first.refresh_token.unwrap();
        let r2 = refresh(&r1, None, NOW + 1).unwrap().refresh_token.unwrap();
        change(&w);
        let err = refresh(&r2, None, NOW + 2).unwrap_err();
        assert_eq!(err.error.as_str(), "invalid_grant", "{what}");
        if what.starts_with("scope") {
            assert!(
                err.description.contains("'write'"),
                "{what}: {}",
                err.description
            );
            // What is still allowed may still be asked for.
            assert_eq!(
                refresh(&r2, Some("read"), NOW + 3).unwrap().scope,
                "read",
                "{what}"
            );
        }
    }
}

/// RFC 6749 §5.1: a client that may not use refresh tokens gets none, from a password grant or
/// a code (an outside run got one from each and was refused when it used it).
#[test]
fn a_client_without_the_refresh_grant_gets_no_refresh_token() {
    let w = World::new();
    w.edit("client:svc", |c: &mut oauth::Client| {
        c.grants.retain(|g| g != "refresh_token")
    });
    let tokens = w.alice(NOW).unwrap();
    assert!(tokens.refresh_token.is_none() && !tokens.access_token.is_empty());
    w.edit("client:spa", |c: &mut oauth::Client| {
        c.grants = vec!["authorization_code".into()]
    });
    let verifier = "v".repeat(43);
    let request = w.spa_request(&verifier);
    let code =
        code_from(&ready(w.oauth().issue_code(&request, &signed_in("usr_alice"), NOW)).unwrap());
    let tokens = w.redeem_spa(&code, &verifier, NOW + 1).unwrap();
    assert!(tokens.refresh_token.is_none() && !tokens.access_token.is_empty());
}

/// A subject revoked between a code's grant and its redemption is revoked for that code's
/// family too: the family's time is the grant's, not the redemption's (a review found the
/// family issued and refreshing for 30 days).
#[test]
fn a_code_granted_before_its_subjects_revocation_gives_nothing_after_it() {
    let w = World::new();
    let verifier = "v".repeat(43);
    let request = w.spa_request(&verifier);
    let code =
        code_from(&ready(w.oauth().issue_code(&request, &signed_in("usr_alice"), NOW)).unwrap());
    ready(tollgate::revocation::revoke_subject(
        &w.store,
        "https://issuer",
        "usr_alice",
        Millis((NOW + 1) * 1000),
    ))
    .unwrap();
    let redeemed = w.redeem_spa(&code, &verifier, NOW + 2);
    assert_eq!(error(redeemed), "invalid_grant");
}

/// RFC 8707 resource indicators: a client registered for resources gets tokens for the first
/// (its default audience) or for the one it names, and `invalid_target` for any other, for a
/// malformed one and for two at once; a grant keeps its resource through the code and every
/// refresh, where naming another is refused; an API key for one resource exchanges into
/// tokens for it and is refused by guards of other services. Several services behind one
/// issuer thus each get tokens only their own audience check takes (an outside run found
/// every token of a shared issuer carrying the same `aud`).
#[test]
fn rfc_8707_tokens_are_for_the_resource_the_client_may_reach() {
    let w = World::new();
    const B: &str = "https://b.example/";
    const C: &str = "https://c.example/api";
    let (mut multi, secret) = oauth::new_client(PEPPER, "svc-b", true).unwrap();
    multi.grants = vec![
        "client_credentials".into(),
        "password".into(),
        "refresh_token".into(),
        "authorization_code".into(),
    ];
    multi.scopes = vec!["read".into()];
    multi.redirect_uris = vec!["https://b.example/cb".into()];
    multi.first_party = true;
    multi.resources = vec![B.into(), C.into()];
    w.put_client(&multi);
    let secret = secret.unwrap();
    let creds = Some(("svc-b", secret.as_str()));
    let aud = |token: &str| {
        w.verifier()
            .verify(token, NOW + 1)
            .unwrap()
            .claim_str("aud")
            .map(str::to_owned)
    };
    let cc = |extra: &[(&str, &str)]| {
        let mut params = vec![("grant_type", "client_credentials")];
        params.extend_from_slice(extra);
        w.token(&params, creds, NOW)
    };
    assert_eq!(aud(&cc(&[]).unwrap().access_token).as_deref(), Some(B));
    assert_eq!(
        aud(&cc(&[("resource", C)]).unwrap().access_token).as_deref(),
        Some(C)
    );
    for bad in [
        "https://a.example/",
        "b.example",
        "https://b.example/#x",
        "api",
    ] {
        assert_eq!(error(cc(&[("resource", bad)])), "invalid_target", "{bad}");
    }
    // RFC 6749 §3.1: sent without a value, it is omitted (an outside run: refused before).
    assert_eq!(
        aud(&cc(&[("resource", "")]).unwrap().access_token).as_deref(),
        Some(B)
    );
    // A client registered for none gets the deployment's audience, and no other.
    let s = w.secret.clone();
    let plain = w
        .token(
            &[("grant_type", "client_credentials")],
            Some(("svc", &s)),
            NOW,
        )
        .unwrap();
    assert_eq!(aud(&plain.access_token).as_deref(), Some("api"));
    let other = w.token(
        &[("grant_type", "client_credentials"), ("resource", B)],
        Some(("svc", &s)),
        NOW,
    );
    assert_eq!(error(other), "invalid_target");
    // Two resources at once: one token is for one service.
    let twice = oauth::parse_form("grant_type=client_credentials&resource=https%3A%2F%2Fb.example%2F&resource=https%3A%2F%2Fc.example%2Fapi");
    assert_eq!(twice.unwrap_err().error.as_str(), "invalid_target");

    // The password grant's family keeps its resource through each refresh.
    let pair = w
        .token(
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct horse battery"),
                ("resource", C),
            ],
            creds,
            NOW,
        )
        .unwrap();
    assert_eq!(aud(&pair.access_token).as_deref(), Some(C));
    let refresh = pair.refresh_token.unwrap();
    let refreshed = |token: &str, resource: Option<&str>| {
        let mut params = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
        params.extend(resource.map(|r| ("resource", r)));
        w.token(&params, creds, NOW + 1)
    };
    assert_eq!(error(refreshed(&refresh, Some(B))), "invalid_target");
    let next = refreshed(&refresh, Some(C)).unwrap();
    assert_eq!(aud(&next.access_token).as_deref(), Some(C));
    let after = refreshed(next.refresh_token.as_deref().unwrap(), None).unwrap();
    assert_eq!(aud(&after.access_token).as_deref(), Some(C));

    // The code flow: the authorization request names the resource, the code keeps it.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let request = |resource: &str| {
        let params: BTreeMap<String, String> = [
            ("client_id", "svc-b"),
            ("redirect_uri", "https://b.example/cb"),
            ("response_type", "code"),
            ("code_challenge", &oauth::pkce_challenge(verifier)),
            ("code_challenge_method", "S256"),
            ("resource", resource),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        ready(w.oauth().authorization_request(&params))
    };
    let denied = request("https://a.example/").unwrap_err();
    assert!(denied
        .location("https://issuer")
        .unwrap()
        .contains("error=invalid_target"));
    let granted = request(C).unwrap();
    assert_eq!(granted.resource.as_deref(), Some(C));
    let redeem = |resource: Option<&str>| {
        let location = ready(w.oauth().issue_code(&granted, &signed_in("usr_alice"), NOW)).unwrap();
        let code = code_from(&location);
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier),
            ("redirect_uri", "https://b.example/cb"),
        ];
        params.extend(resource.map(|r| ("resource", r)));
        w.token(&params, creds, NOW)
    };
    assert_eq!(error(redeem(Some(B))), "invalid_target");
    let tokens = redeem(None).unwrap();
    assert_eq!(aud(&tokens.access_token).as_deref(), Some(C));
    let again = refreshed(tokens.refresh_token.as_deref().unwrap(), None).unwrap();
    assert_eq!(aud(&again.access_token).as_deref(), Some(C));
    // A resource taken from the client since ends the grant's refreshes.
    multi.resources = vec![B.into()];
    w.put_client(&multi);
    let taken = refreshed(again.refresh_token.as_deref().unwrap(), None);
    assert_eq!(error(taken), "invalid_grant");
    multi.resources = vec![B.into(), C.into()];
    w.put_client(&multi);

    // An API key for one resource: its tokens are for it, and other services' guards refuse it.
    let (_, _, mut key) = oauth::new_api_key(
        PEPPER,
        "robot",
        vec!["read".into()],
        None,
        Millis(NOW * 1000),
    )
    .unwrap();
    assert!(
        key.accepted_by(&["https://a.example/".into()]),
        "a key for no resource"
    );
    key.resource = Some(B.into());
    assert!(key.accepted_by(&[B.into(), C.into()]));
    assert!(!key.accepted_by(&["https://a.example/".into()]));
    assert!(key.accepted_by(&[]), "a guard that checks no audience");
}

/// The password grant gives the client the user's password (RFC 9700 §2.4 says not to use
/// it): only a first-party client gets it, even one whose record lists the grant.
#[test]
fn the_password_grant_is_for_first_party_clients_only() {
    let w = World::new();
    let (mut third, secret) = oauth::new_client(PEPPER, "partner", true).unwrap();
    third.grants = vec!["password".into()];
    third.scopes = vec!["read".into()];
    w.put_client(&third);
    let secret = secret.unwrap();
    let grant = w.token(
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "correct horse battery"),
        ],
        Some(("partner", &secret)),
        NOW,
    );
    assert_eq!(error(grant), "unauthorized_client");
    assert!(w.alice(NOW).is_ok(), "the first-party client");
}

/// RFC 7662 §2.2, §4: a client sees as active its own tokens and those for an audience it is
/// registered to check (`introspects`, a resource server's): the service that checks a token
/// may ask about it, any other client may not (an outside run found any client reading any
/// token, refresh tokens and sessions included).
#[test]
fn introspection_shows_a_client_its_own_tokens_and_those_of_its_resources() {
    use tollgate::oauth::may_introspect;
    let w = World::new();
    let mut b = w.svc();
    b.client_id = "svc-b".into();
    b.resources = vec!["https://b.example/".into()];
    b.first_party = false;
    b.introspects.clear();
    let mut a = w.svc();
    a.introspects.clear();
    let mut api = w.svc();
    api.client_id = "api-server".into();
    // (caller, token's client, token's audiences) -> may see it
    for (caller, client, audiences, may) in [
        (&a, Some("svc"), &["api"][..], true),
        (&a, Some("other"), &["api"][..], false),
        (&api, Some("other"), &["api"][..], true),
        (&api, Some("svc-b"), &["https://b.example/"][..], false),
        (&b, Some("svc"), &["api"][..], false),
        (&b, Some("x"), &["https://b.example/"][..], false),
        (&b, Some("svc-b"), &[][..], true),
        (&b, None, &[][..], false),
    ] {
        assert_eq!(
            may_introspect(caller, client, audiences),
            may,
            "{} asks about {client:?} {audiences:?}",
            caller.client_id
        );
    }
    // Through the endpoint: svc-b reads none of svc's tokens, nor a session (third party).
    let pair = w.alice(NOW).unwrap();
    let o = w.oauth();
    let v = w.verifier();
    let seen_by = |caller: &Client, token: &str| {
        introspected(ready(o.introspect(token, caller, &v, NOW + 1)))["active"] == true
    };
    let refresh = pair.refresh_token.unwrap();
    for token in [pair.access_token.as_str(), refresh.as_str()] {
        assert!(seen_by(&a, token));
        assert!(!seen_by(&b, token));
    }
    let user = w.alice_user();
    let (session, _) = ready(o.create_session(&user, NOW)).unwrap();
    assert!(seen_by(&a, &session), "a first-party client");
    assert!(!seen_by(&b, &session), "a third-party client");
}

/// RFC 6749 §5.2: a 401 `invalid_client` challenges with the scheme clients authenticate
/// with here, `Basic`, whichever method the request tried (an outside run saw `Bearer` after
/// a wrong `client_secret_post`, which tells a client to present a bearer token); an API
/// key, a bearer credential, is challenged with `Bearer`. `error_description` keeps to
/// printable ASCII without `"` and `\`, even where it quotes what the client sent.
#[test]
fn rfc_6749_5_2_invalid_client_challenges_with_basic_and_descriptions_keep_its_characters() {
    let w = World::new();
    let challenge = |result: Result<oauth::TokenResponse, oauth::OAuthError>| {
        result.unwrap_err().render().www_authenticate
    };
    let basic = Some(r#"Basic realm="tollgate""#.to_owned());
    let cc = ("grant_type", "client_credentials");
    for (params, creds) in [
        (
            vec![cc, ("client_id", "svc"), ("client_secret", "wrong")],
            None,
        ),
        (vec![cc, ("client_id", "svc")], None),
        (vec![cc, ("client_id", "nobody")], None),
        (vec![cc], None),
        (vec![cc], Some(("svc", "wrong"))),
    ] {
        assert_eq!(challenge(w.token(&params, creds, NOW)), basic, "{params:?}");
    }
    let key = [
        ("grant_type", "urn:tollgate:params:oauth:grant-type:api-key"),
        ("api_key", "tgk_nope"),
    ];
    assert_eq!(
        challenge(w.token(&key, None, NOW)).as_deref(),
        Some(r#"Bearer realm="tollgate""#)
    );
    // Sent without a value, the key is omitted (RFC 6749 §3.1): the request lacks one.
    let empty = w.token(&[key[0], ("api_key", "")], None, NOW).unwrap_err();
    assert_eq!(empty.error, "invalid_request");

    let s = w.secret.clone();
    for (name, value) in [("grant_type", "x\"y\\zé"), ("scope", "admin\"é")] {
        let params = if name == "scope" {
            vec![cc, (name, value)]
        } else {
            vec![(name, value)]
        };
        let err = w.token(&params, Some(("svc", &s)), NOW).unwrap_err();
        let body: serde_json::Value = serde_json::from_str(&err.render().body).unwrap();
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description
                .bytes()
                .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
            "{description}"
        );
    }
}

/// A repeated parameter is named in the order met, every one of them, with the first value
/// kept: `/authorize` shows a page when `client_id` or `redirect_uri` is among them, even after
/// another (a second outside run redirected `state=a&state=b&client_id=x&client_id=y`).
#[test]
fn rfc_6749_3_1_every_repeated_parameter_is_named() {
    let (params, repeats) =
        oauth::parse_form_first(b"state=a&state=b&client_id=x&client_id=y&state=c").unwrap();
    assert_eq!(repeats, ["state", "client_id"]);
    assert_eq!(params["state"], "a");
    assert_eq!(params["client_id"], "x");
    let err = oauth::parse_form("a=1&a=2").unwrap_err();
    assert_eq!(
        (err.error.as_str(), err.description.as_str()),
        ("invalid_request", "the parameter a is repeated")
    );
}
