//! OpenID Connect in the core: the single sign-on rule (`next_step`) as a table, the
//! authorization request's OpenID parameters, ID tokens from the code and refresh grants
//! (claims, `nonce`, `at_hash` by Core's own example), userinfo per scope, consent memory,
//! and RP-Initiated Logout's checks.

#[macro_use]
mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::collections::BTreeMap;

use common::ready;
use tollgate::config::{GatewayConfig, OAuthConfig};
use tollgate::oauth::oidc::{self, next_step, Prompt, Step, UserinfoError};
use tollgate::oauth::{
    self, AuthorizationRequest, AuthorizeError, OAuth, OAuthErrorCode, Session, TokenRequest,
};
use tollgate::password::Cost;
use tollgate::store::{MemoryStore, Store};
use tollgate::{Algorithm, Key, KeySet, Policy, Verifier};

const NOW: i64 = 1_800_000_000;
const PEPPER: &[u8] = b"test-pepper-0123456789abcdef0123";
const ISSUER: &str = "https://issuer.example";
const CB: &str = "https://rp.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct World {
    store: MemoryStore,
    key: Key,
    config: OAuthConfig,
    user: oauth::User,
    /// The secret of `legacy`, the one confidential client.
    legacy_secret: String,
}

impl World {
    fn new() -> Self {
        let store = MemoryStore::new();
        let put = |key: String, value: String| ready(store.put(&key, &value, None)).unwrap();
        // `legacy`: a confidential relying party that may leave PKCE out (RFC 9700 §2.1.1).
        let mut legacy_secret = String::new();
        for (id, first_party) in [("rp", true), ("partner", false), ("legacy", true)] {
            let (mut client, secret) = oauth::new_client(PEPPER, id, id == "legacy").unwrap();
            client.pkce_optional = true;
            client.backchannel_logout_uri =
                (id != "partner").then(|| format!("https://{id}.example/backchannel"));
            if let Some(secret) = secret {
                legacy_secret = secret;
            }
            client.grants = vec!["authorization_code".into(), "refresh_token".into()];
            client.scopes = vec!["read".into(), "admin".into()];
            client.redirect_uris = vec![CB.into()];
            client.post_logout_redirect_uris = vec!["https://rp.example/bye".into()];
            client.first_party = first_party;
            put(
                tollgate::schema::client(id),
                serde_json::to_string(&client).unwrap(),
            );
        }
        let cheap = Cost {
            memory_kib: 1024,
            iterations: 1,
        };
        let mut user =
            oauth::new_user("Alice", "correct horse battery", vec!["read".into()], cheap).unwrap();
        user.profile = oauth::Profile {
            name: Some("Alice Liddell".into()),
            email: Some("alice@example.com".into()),
            email_verified: true,
        };
        put(
            tollgate::schema::user("alice"),
            serde_json::to_string(&user).unwrap(),
        );
        put(
            tollgate::schema::subject(&user.sub),
            serde_json::to_string(&oauth::SubjectRecord {
                username: "Alice".into(),
            })
            .unwrap(),
        );
        World {
            store,
            key: Key::generate(Algorithm::ES256).unwrap(),
            config: OAuthConfig::default(),
            user,
            legacy_secret,
        }
    }

    fn oauth(&self) -> OAuth<'_, MemoryStore, MemoryStore> {
        OAuth {
            dpop_jkt: None,
            ended: None,
            store: &self.store,
            once: &self.store,
            signing_key: &self.key,
            id_token_key: oidc::id_token_key(std::slice::from_ref(&self.key), None),
            crypto: &tollgate::crypto::RustCrypto,
            issuer: ISSUER,
            audience: "api",
            pepper: PEPPER,
            config: &self.config,
        }
    }

    /// [`World::oauth`] noting the sessions it ends in `ended` (for back-channel logout).
    fn oauth_noting<'a>(
        &'a self,
        ended: &'a std::cell::RefCell<Vec<oauth::Ended>>,
    ) -> OAuth<'a, MemoryStore, MemoryStore> {
        OAuth {
            ended: Some(ended),
            ..self.oauth()
        }
    }

    fn session(&self, created: i64) -> Session {
        Session {
            sub: self.user.sub.clone(),
            username: self.user.username.clone(),
            account: self.user.username.to_lowercase(),
            created,
            signed_in: created,
            last_seen: created,
            absolute_exp: created + 3600,
            scopes: self.user.scopes.clone(),
            sid: "sid-42".into(),
        }
    }

    fn request(&self, extra: &[(&str, &str)]) -> Result<AuthorizationRequest, AuthorizeError> {
        let challenge = oauth::pkce_challenge(VERIFIER);
        let mut params: BTreeMap<String, String> = [
            ("client_id", "rp"),
            ("redirect_uri", CB),
            ("response_type", "code"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("scope", "openid profile email read"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            params.insert(k.to_string(), v.to_string());
        }
        ready(self.oauth().authorization_request(&params))
    }

    fn token(&self, params: &[(&str, &str)], now: i64) -> oauth::TokenResponse {
        self.try_token(params, now).unwrap()
    }

    fn try_token(
        &self,
        params: &[(&str, &str)],
        now: i64,
    ) -> Result<oauth::TokenResponse, oauth::OAuthError> {
        let req = TokenRequest {
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..TokenRequest::default()
        };
        ready(self.oauth().token(&req, now))
    }

    /// A code for `request`, its user signed in at `NOW - 100`.
    fn code(&self, request: &AuthorizationRequest) -> String {
        let location = ready(
            self.oauth()
                .issue_code(request, &self.session(NOW - 100), NOW),
        )
        .unwrap();
        code_of(&location)
    }

    /// The code flow for `request`, signed in at `NOW - 100`.
    fn redeem(&self, request: &AuthorizationRequest) -> oauth::TokenResponse {
        let code = self.code(request);
        self.redeem_code(&code, &request.client.client_id, NOW)
            .unwrap()
    }

    /// The code grant of `code` for `client`, with [`CB`] and [`VERIFIER`].
    fn redeem_code(
        &self,
        code: &str,
        client: &str,
        now: i64,
    ) -> Result<oauth::TokenResponse, oauth::OAuthError> {
        self.try_token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client),
                ("code", code),
                ("code_verifier", VERIFIER),
                ("redirect_uri", CB),
            ],
            now,
        )
    }

    /// The refresh grant of `tokens`' refresh token for `client`.
    fn refresh(
        &self,
        tokens: &oauth::TokenResponse,
        client: &str,
        now: i64,
    ) -> Result<oauth::TokenResponse, oauth::OAuthError> {
        let refresh_token = tokens.refresh_token.as_deref().unwrap();
        self.try_token(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", client),
                ("refresh_token", refresh_token),
            ],
            now,
        )
    }

    /// Verifies an ID token as a relying party would: this issuer, audience the client.
    fn id_claims(
        &self,
        id_token: &str,
        client: &str,
    ) -> serde_json::Map<String, serde_json::Value> {
        let public = Key::from_jwk(&self.key.to_public_jwk().unwrap()).unwrap();
        let verifier = Verifier::new(
            KeySet::from_keys(vec![public]).unwrap(),
            Policy {
                issuers: vec![ISSUER.into()],
                audiences: vec![client.into()],
                typ: Some("JWT".into()),
                ..Policy::default()
            },
        )
        .unwrap();
        verifier.verify(id_token, NOW).unwrap().claims().clone()
    }
}

/// The code of a redirect to the client.
fn code_of(location: &str) -> String {
    location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .unwrap()
        .to_owned()
}

fn redirect_error(err: AuthorizeError) -> String {
    err.location(ISSUER).expect("a redirect to the client")
}

#[test]
fn core_3_1_2_1_prompt_values() {
    assert_eq!(Prompt::parse(None), Ok(Prompt::default()));
    assert_eq!(
        Prompt::parse(Some("login consent")),
        Ok(Prompt {
            login: true,
            consent: true,
            none: false
        })
    );
    assert!(Prompt::parse(Some("select_account")).unwrap().login);
    assert!(
        Prompt::parse(Some("none login")).is_err(),
        "none stands alone"
    );
    assert!(Prompt::parse(Some("sometimes")).is_err());
}

/// The single sign-on rule, row by row: (first party, session age or none, consented,
/// prompt, max_age) → step.
#[test]
fn single_sign_on_is_a_pure_rule() {
    let w = World::new();
    let base = w.request(&[]).unwrap();
    let fresh = w.session(NOW - 100);
    let with = |first_party: bool, prompt: &str, max_age: Option<u64>| AuthorizationRequest {
        client: oauth::Client {
            first_party,
            ..base.client.clone()
        },
        prompt: Prompt::parse(Some(prompt)).unwrap(),
        max_age,
        ..base.clone()
    };
    type Row<'s> = (
        bool,
        Option<&'s Session>,
        bool,
        &'static str,
        Option<u64>,
        Step,
    );
    let cases: [Row; 14] = [
        (true, None, false, "", None, Step::Login),
        (true, Some(&fresh), false, "", None, Step::Issue),
        (true, Some(&fresh), false, "login", None, Step::Login),
        (true, Some(&fresh), false, "", Some(101), Step::Issue),
        (true, Some(&fresh), false, "", Some(100), Step::Login),
        (true, Some(&fresh), false, "", Some(0), Step::Login),
        (
            true,
            None,
            false,
            "none",
            None,
            Step::Refuse(OAuthErrorCode::LoginRequired),
        ),
        (true, Some(&fresh), false, "none", None, Step::Issue),
        (false, Some(&fresh), false, "", None, Step::Consent),
        (false, Some(&fresh), true, "", None, Step::Issue),
        (false, Some(&fresh), true, "consent", None, Step::Consent),
        // Core §3.1.2.1: prompt=consent asks a first-party client's user too.
        (true, Some(&fresh), false, "consent", None, Step::Consent),
        (
            false,
            Some(&fresh),
            false,
            "none",
            None,
            Step::Refuse(OAuthErrorCode::ConsentRequired),
        ),
        (false, Some(&fresh), false, "", Some(50), Step::Login),
    ];
    for (first_party, session, consented, prompt, max_age, expected) in cases {
        let request = with(first_party, prompt, max_age);
        assert_eq!(
            next_step(&request, session, consented, NOW),
            expected,
            "first_party={first_party} session={} consented={consented} prompt={prompt:?} max_age={max_age:?}",
            session.is_some()
        );
    }
}

/// Core §3.1.2.1: the password entered in answer to a request meets its `max_age` (`0`
/// included, which is `prompt=login`) and `prompt=login`, however the session's creation
/// falls against the whole-second clock; consent and `prompt=none` still count.
#[test]
fn a_login_just_made_meets_max_age_and_prompt_login() {
    let w = World::new();
    let base = w.request(&[]).unwrap();
    // Created in the second before the check: the write of the session crossed a second.
    let just_made = w.session(NOW - 1);
    for (prompt, max_age) in [
        ("", Some(0)),
        ("", Some(1)),
        ("login", None),
        ("login", Some(0)),
    ] {
        let request = AuthorizationRequest {
            prompt: Prompt::parse(Some(prompt)).unwrap(),
            max_age,
            ..base.clone()
        };
        assert_eq!(
            next_step(&request, Some(&just_made), false, NOW),
            Step::Login,
            "before the login: prompt={prompt:?} max_age={max_age:?}"
        );
        assert_eq!(
            next_step(&oidc::signed_in(&request), Some(&just_made), false, NOW),
            Step::Issue,
            "after it: prompt={prompt:?} max_age={max_age:?}"
        );
    }
    let third_party = AuthorizationRequest {
        client: oauth::Client {
            first_party: false,
            ..base.client.clone()
        },
        max_age: Some(0),
        ..base.clone()
    };
    assert_eq!(
        next_step(&oidc::signed_in(&third_party), Some(&just_made), false, NOW),
        Step::Consent
    );
}

/// Core §3.1.2.1, `id_token_hint`: only the hinted user's session answers; another user's is
/// as good as none (the login page, or `login_required` with `prompt=none`), and a login as
/// another user than the hint names ends in `login_required`, not a code for them.
#[test]
fn an_id_token_hint_is_answered_only_by_its_user() {
    let w = World::new();
    let base = w.request(&[]).unwrap();
    let session = w.session(NOW - 100);
    let hinted = |sub: &str, prompt: &str| AuthorizationRequest {
        hint_sub: Some(sub.to_owned()),
        prompt: Prompt::parse(Some(prompt)).unwrap(),
        ..base.clone()
    };
    let own = session.sub.clone();
    assert_eq!(
        next_step(&hinted(&own, ""), Some(&session), false, NOW),
        Step::Issue
    );
    assert_eq!(
        next_step(&hinted(&own, "none"), Some(&session), false, NOW),
        Step::Issue
    );
    assert_eq!(
        next_step(&hinted("bob", ""), Some(&session), false, NOW),
        Step::Login
    );
    assert_eq!(
        next_step(&hinted("bob", "none"), Some(&session), false, NOW),
        Step::Refuse(OAuthErrorCode::LoginRequired)
    );
    assert_eq!(
        oidc::after_login(&hinted(&own, "login"), &session, false, NOW),
        Step::Issue
    );
    assert_eq!(
        oidc::after_login(&hinted("bob", ""), &session, false, NOW),
        Step::Refuse(OAuthErrorCode::LoginRequired)
    );
    assert_eq!(oidc::on_consent(&hinted(&own, ""), &session), Step::Issue);
    assert_eq!(
        oidc::on_consent(&hinted("bob", ""), &session),
        Step::Refuse(OAuthErrorCode::LoginRequired),
        "the session changed user while the consent page was open"
    );
}

/// Core §3.1.2.1: scope values the server does not serve (`offline_access`, `phone`,
/// `address`) are ignored in an OpenID request, not `invalid_scope`; the granted scope says so.
#[test]
fn openid_scope_values_not_served_are_ignored() {
    let w = World::new();
    let request = w
        .request(&[("scope", "openid offline_access read phone address")])
        .unwrap();
    assert_eq!(request.scope, "openid read");
    // Outside OpenID Connect they are scopes like any other, and this client has none of them.
    assert!(w.request(&[("scope", "offline_access read")]).is_err());
}

#[test]
fn openid_parameters_are_validated_and_errors_go_back_to_the_client() {
    let w = World::new();
    let request = w
        .request(&[
            ("nonce", "n-0S6_WzA2Mj"),
            ("max_age", "300"),
            ("login_hint", "alice"),
        ])
        .unwrap();
    assert_eq!(request.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert_eq!(request.max_age, Some(300));
    assert_eq!(request.login_hint.as_deref(), Some("alice"));
    assert_eq!(request.scope, "openid profile email read");
    for (extra, error) in [
        (
            ("request", "eyJhbGciOiJub25lIn0.e30."),
            "request_not_supported",
        ),
        (
            ("request_uri", "https://rp.example/r"),
            "request_uri_not_supported",
        ),
        (("prompt", "none login"), "invalid_request"),
        (("max_age", "-1"), "invalid_request"),
        (("response_mode", "fragment"), "invalid_request"),
        (("scope", "openid write"), "invalid_scope"),
    ] {
        let location = redirect_error(w.request(&[extra]).unwrap_err());
        assert!(
            location.contains(&format!("error={error}")),
            "{extra:?}: {location}"
        );
    }
    let long = "n".repeat(513);
    assert!(redirect_error(w.request(&[("nonce", &long)]).unwrap_err()).contains("invalid_request"));
    // `claims` and `ui_locales` are optional for a provider: accepted and left unused.
    assert!(w
        .request(&[("claims", "{\"userinfo\":{}}"), ("ui_locales", "fr-CA fr")])
        .is_ok());
}

/// RFC 9700 §2.1.1: a confidential relying party registered `pkce_optional` may leave PKCE
/// out of an OpenID Connect request with a `nonce` (the ID token's nonce protects the code);
/// every other request needs PKCE, a code requested without a challenge is refused with a
/// verifier (the downgrade attack), and one requested with a challenge needs its verifier.
#[test]
fn a_confidential_relying_party_may_use_nonce_instead_of_pkce() {
    let w = World::new();
    let no_pkce = [("code_challenge", ""), ("code_challenge_method", "")];
    let legacy = |extra: &[(&str, &str)]| {
        let mut all = vec![("client_id", "legacy")];
        all.extend_from_slice(&no_pkce);
        all.extend_from_slice(extra);
        w.request(&all)
    };
    let request = legacy(&[("nonce", "n-legacy")]).unwrap();
    assert_eq!(request.challenge, None);
    let redeem = |request: &AuthorizationRequest, verifier: Option<&str>| {
        let code = w.code(request);
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("client_id", "legacy"),
            ("client_secret", w.legacy_secret.as_str()),
            ("code", code.as_str()),
            ("redirect_uri", CB),
        ];
        params.extend(verifier.map(|v| ("code_verifier", v)));
        w.try_token(&params, NOW)
    };
    let tokens = redeem(&request, None).unwrap();
    let claims = w.id_claims(tokens.id_token.as_deref().unwrap(), "legacy");
    assert_eq!(claims["nonce"], "n-legacy");
    // The downgrade: a verifier for a code requested without a challenge.
    let err = redeem(&request, Some(VERIFIER)).unwrap_err();
    assert_eq!(err.error.as_str(), "invalid_grant");
    // Without a nonce, or without openid, or with a method but no challenge: PKCE is required.
    for extra in [
        &[][..],
        &[("nonce", "n"), ("scope", "read")][..],
        &[("nonce", "n"), ("code_challenge_method", "S256")][..],
    ] {
        let location = redirect_error(legacy(extra).unwrap_err());
        assert!(
            location.contains("error=invalid_request"),
            "{extra:?}: {location}"
        );
    }
    // With a challenge, the verifier is required and checked, as for any client.
    let with = w
        .request(&[("client_id", "legacy"), ("nonce", "n")])
        .unwrap();
    for verifier in [None, Some("x".repeat(43).as_str())] {
        let err = redeem(&with, verifier).unwrap_err();
        assert_eq!(err.error.as_str(), "invalid_grant", "{verifier:?}");
    }
    assert!(redeem(&with, Some(VERIFIER)).is_ok());
    // A client not registered for it needs PKCE whatever it sends (`rp` is public, so its
    // `pkce_optional` has no effect).
    let rp = w
        .request(&[("nonce", "n"), no_pkce[0], no_pkce[1]])
        .unwrap_err();
    assert!(redirect_error(rp).contains("error=invalid_request"));
    let code = w.code(&w.request(&[("nonce", "n")]).unwrap());
    let err = w
        .try_token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "rp"),
                ("code", code.as_str()),
                ("redirect_uri", CB),
            ],
            NOW,
        )
        .unwrap_err();
    assert_eq!(err.error.as_str(), "invalid_request");
}

#[test]
fn the_code_flow_gives_an_id_token_with_every_core_claim() {
    let w = World::new();
    let request = w.request(&[("nonce", "n-0S6_WzA2Mj")]).unwrap();
    let tokens = w.redeem(&request);
    let id_token = tokens
        .id_token
        .as_deref()
        .expect("an ID token for scope openid");
    let claims = w.id_claims(id_token, "rp");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], w.user.sub.as_str());
    assert_eq!(claims["aud"], "rp");
    assert_eq!(claims["azp"], "rp");
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["auth_time"], NOW - 100);
    assert_eq!(claims["sid"], "sid-42");
    assert_eq!(claims["iat"], NOW);
    assert_eq!(claims["exp"], NOW + 600);
    assert_eq!(
        claims["at_hash"],
        oidc::token_hash(Algorithm::ES256, &tokens.access_token).as_str()
    );
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["preferred_username"], "Alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    // The user may not have `admin`, whatever the client may: the code's scope is both's.
    let admin = w.request(&[("scope", "openid admin read")]).unwrap();
    assert_eq!(w.redeem(&admin).scope, "openid read");

    // Core §12.2: a refresh gives a new ID token, same login, no nonce.
    let refreshed = w.token(
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "rp"),
            ("refresh_token", tokens.refresh_token.as_deref().unwrap()),
        ],
        NOW,
    );
    let again = w.id_claims(refreshed.id_token.as_deref().unwrap(), "rp");
    assert_eq!(again["sub"], claims["sub"]);
    assert_eq!(again["auth_time"], NOW - 100);
    assert_eq!(again["sid"], "sid-42");
    assert!(again.get("nonce").is_none());
    // Narrowed to a scope without openid: no ID token.
    let narrowed = w.token(
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "rp"),
            ("refresh_token", refreshed.refresh_token.as_deref().unwrap()),
            ("scope", "read"),
        ],
        NOW,
    );
    assert!(narrowed.id_token.is_none());

    // Without openid the code flow is plain OAuth: no ID token.
    let plain = w.request(&[("scope", "read")]).unwrap();
    assert!(w.redeem(&plain).id_token.is_none());
}

#[test]
fn core_a_at_hash_example() {
    // OpenID Connect Core 1.0, Appendix A.3: the access token and at_hash of an RS256 ID token.
    assert_eq!(
        oidc::token_hash(
            Algorithm::RS256,
            "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        ),
        "77QmUPtjPfzWtF2AnpK9RQ"
    );
    assert_eq!(oidc::token_hash(Algorithm::ES384, "x").len(), 32);
    assert_eq!(oidc::token_hash(Algorithm::EdDSA, "x").len(), 43);
}

#[test]
fn userinfo_releases_claims_per_scope() {
    let w = World::new();
    let sub = w.user.sub.as_str();
    let info = ready(w.oauth().userinfo(sub, "openid email")).unwrap();
    assert_eq!(info["sub"], sub);
    assert_eq!(info["email"], "alice@example.com");
    assert!(info.get("name").is_none(), "profile was not granted");
    let info = ready(w.oauth().userinfo(sub, "openid")).unwrap();
    assert_eq!(info.len(), 1, "sub only: {info:?}");
    assert!(matches!(
        ready(w.oauth().userinfo(sub, "read email")),
        Err(UserinfoError::InsufficientScope)
    ));
    assert!(matches!(
        ready(w.oauth().userinfo("usr_nobody", "openid")),
        Err(UserinfoError::UnknownUser)
    ));
}

#[test]
fn consent_is_remembered_per_user_and_client() {
    let w = World::new();
    let o = w.oauth();
    let sub = w.user.sub.as_str();
    assert!(!ready(o.consented(sub, "partner", "openid read")).unwrap());
    ready(o.remember_consent(sub, "partner", "openid", NOW)).unwrap();
    ready(o.remember_consent(sub, "partner", "read", NOW)).unwrap();
    assert!(ready(o.consented(sub, "partner", "openid read")).unwrap());
    assert!(!ready(o.consented(sub, "partner", "openid read email")).unwrap());
    assert!(
        !ready(o.consented(sub, "rp", "openid")).unwrap(),
        "per client"
    );
    ready(w.store.delete(&tollgate::schema::consent(sub, "partner"))).unwrap();
    assert!(
        !ready(o.consented(sub, "partner", "openid")).unwrap(),
        "revocable"
    );
}

#[test]
fn rp_initiated_logout_checks_the_hint_the_client_and_the_uri() {
    let w = World::new();
    let id_token = w.redeem(&w.request(&[]).unwrap()).id_token.unwrap();
    let config =
        GatewayConfig::from_json(&serde_json::json!({ "issuer": ISSUER }).to_string()).unwrap();
    let public = Key::from_jwk(&w.key.to_public_jwk().unwrap()).unwrap();
    let hints = Verifier::new(
        KeySet::from_keys(vec![public]).unwrap(),
        config.id_token_hint_policy(),
    )
    .unwrap();
    let logout = |params: &[(&str, &str)], now: i64| {
        let params: BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ready(w.oauth().logout_request(&params, &hints, now))
    };
    let ok = logout(
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", "https://rp.example/bye"),
            ("state", "s 1"),
        ],
        NOW + 7 * 24 * 3600,
    )
    .expect("an expired hint is still a hint");
    assert_eq!(
        ok.redirect.as_deref(),
        Some("https://rp.example/bye?state=s+1")
    );
    assert_eq!(ok.hint_sub.as_deref(), Some(w.user.sub.as_str()));
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("client_id", "partner"), ("id_token_hint", &id_token)],
            "another client",
        ),
        (
            &[
                ("client_id", "rp"),
                ("post_logout_redirect_uri", "https://evil.example/"),
            ],
            "not registered",
        ),
        (
            &[("post_logout_redirect_uri", "https://rp.example/bye")],
            "needs client_id",
        ),
        (&[("id_token_hint", "e30.e30.sig")], "not a valid ID token"),
        (
            &[
                ("client_id", "ghost"),
                ("post_logout_redirect_uri", "https://rp.example/bye"),
            ],
            "unknown client",
        ),
    ];
    for (params, expected) in cases {
        let err = logout(params, NOW).unwrap_err();
        assert!(err.contains(expected), "{params:?}: {err}");
    }
    // An access token is not an ID token.
    let access = w.redeem(&w.request(&[]).unwrap()).access_token;
    assert!(logout(&[("id_token_hint", &access)], NOW).is_err());
    // Older than the revocation horizon: no longer a hint.
    assert!(logout(&[("id_token_hint", &id_token)], NOW + 31 * 24 * 3600).is_err());
}

#[test]
fn signing_out_revokes_every_grant_made_in_the_session_and_no_other() {
    let w = World::new();
    let o = w.oauth();
    let (id, session) = ready(o.create_session(&w.user, NOW)).unwrap();
    let (_, other) = ready(o.create_session(&w.user, NOW)).unwrap();
    let redeem_in = |session: &Session, client: &str| {
        let request = AuthorizationRequest {
            client: ready(o.client(client)).unwrap().unwrap(),
            ..w.request(&[]).unwrap()
        };
        let code = code_of(&ready(o.issue_code(&request, session, NOW)).unwrap());
        w.redeem_code(&code, client, NOW).unwrap()
    };
    let refresh = |tokens: &oauth::TokenResponse, client: &str| w.refresh(tokens, client, NOW + 1);
    let at_a = redeem_in(&session, "rp");
    let at_b = redeem_in(&session, "partner");
    let elsewhere = redeem_in(&other, "rp");
    ready(o.end_session(&id, NOW + 1)).unwrap();
    assert!(ready(o.session(&id, NOW + 1)).unwrap().is_none());
    for (tokens, client) in [(&at_a, "rp"), (&at_b, "partner")] {
        let err = refresh(tokens, client).unwrap_err();
        assert_eq!(err.error.as_str(), "invalid_grant", "{client}");
    }
    assert!(
        refresh(&elsewhere, "rp").is_ok(),
        "another session's grant stays"
    );

    // The operator's revocation of a session (a stolen cookie) ends it the same way.
    let (stolen, in_it) = ready(o.create_session(&w.user, NOW)).unwrap();
    let minted = redeem_in(&in_it, "rp");
    let anyone = Verifier::new(
        KeySet::from_keys(vec![w.key.clone()]).unwrap(),
        Policy::default(),
    )
    .unwrap();
    ready(o.revoke(
        &stolen,
        tollgate::oauth::Revoker::Operator,
        &anyone,
        NOW + 1,
    ))
    .unwrap();
    assert!(ready(o.session(&stolen, NOW + 1)).unwrap().is_none());
    assert_eq!(
        refresh(&minted, "rp").unwrap_err().error.as_str(),
        "invalid_grant",
        "what was minted with a revoked session is revoked with it"
    );

    // Signing in again in the same browser: the old id stops serving, the same user keeps the
    // session's sid (a later sign-out revokes what came before), another user ends it.
    let (first, before) = ready(o.create_session(&w.user, NOW)).unwrap();
    let granted_before = redeem_in(&before, "rp");
    let (second, again) = ready(o.sign_in(&w.user, Some(&first), NOW + 1)).unwrap();
    assert!(
        ready(o.session(&first, NOW + 1)).unwrap().is_none(),
        "the old id is gone"
    );
    assert_eq!(again.sid, before.sid);
    ready(o.end_session(&second, NOW + 1)).unwrap();
    assert_eq!(
        refresh(&granted_before, "rp").unwrap_err().error.as_str(),
        "invalid_grant",
        "the sign-out after a second sign-in revokes the first one's grants"
    );
    let (mine, session) = ready(o.create_session(&w.user, NOW)).unwrap();
    let granted = redeem_in(&session, "rp");
    let mut stranger = w.user.clone();
    stranger.sub = "usr_someone_else".to_owned();
    let (_, theirs) = ready(o.sign_in(&stranger, Some(&mine), NOW + 1)).unwrap();
    assert_ne!(theirs.sid, session.sid);
    assert!(ready(o.session(&mine, NOW + 1)).unwrap().is_none());
    assert_eq!(
        refresh(&granted, "rp").unwrap_err().error.as_str(),
        "invalid_grant",
        "another user's sign-in ends the previous session with its grants"
    );
}

/// A sid keeps its grants across its user's sign-ins, and grants at most 500 codes (its
/// sign-out must stay within a request's operations). Once full, its user's next sign-in
/// ends it, as a sign-out would, and starts a new one: the refusal says "sign in again", and
/// signing in again works (before, the new session kept the full sid and was refused too).
#[test]
fn a_sid_full_of_grants_is_ended_by_its_users_next_sign_in() {
    let w = World::new();
    let ended = std::cell::RefCell::new(Vec::new());
    let o = w.oauth_noting(&ended);
    let (first, session) = ready(o.create_session(&w.user, NOW)).unwrap();
    let first_code = ready(o.issue_code(&w.request(&[]).unwrap(), &session, NOW)).unwrap();
    let first_grant = w.redeem_code(&code_of(&first_code), "rp", NOW).unwrap();
    // A second sign-in keeps the sid, and its grants count with the first session's.
    let (second, session) = ready(o.sign_in(&w.user, Some(&first), NOW + 1)).unwrap();
    let plain = w.request(&[("scope", "read")]).unwrap();
    for _ in 1..500 {
        ready(o.issue_code(&plain, &session, NOW + 1)).unwrap();
    }
    let refused = ready(o.issue_code(&plain, &session, NOW + 1)).unwrap_err();
    assert_eq!(
        (refused.error.as_str(), refused.description.as_str()),
        (
            "login_required",
            "this session has granted too many codes; sign in again"
        )
    );
    assert!(ended.borrow().is_empty());

    let (third, fresh) = ready(o.sign_in(&w.user, Some(&second), NOW + 2)).unwrap();
    assert_ne!(fresh.sid, session.sid, "a new sid");
    assert!(
        ready(o.issue_code(&plain, &fresh, NOW + 2)).is_ok(),
        "the new session grants again"
    );
    assert!(ready(o.session(&second, NOW + 2)).unwrap().is_none());
    assert_eq!(
        ended
            .borrow()
            .iter()
            .map(|e| e.sid.as_str())
            .collect::<Vec<_>>(),
        [session.sid.as_str()],
        "the full sid ended as a sign-out ends it (its relying parties are told)"
    );
    let refreshed = w.refresh(&first_grant, "rp", NOW + 2);
    assert_eq!(
        refreshed.unwrap_err().error.as_str(),
        "invalid_grant",
        "what the ended sid granted is revoked with it"
    );
    // The new sid is kept by the next sign-in, as any other.
    let (_, next) = ready(o.sign_in(&w.user, Some(&third), NOW + 3)).unwrap();
    assert_eq!(next.sid, fresh.sid);
}

/// A subject revocation at T ends everything from a sign-in at or before T, whatever
/// happened while it propagated (another location still read "not revoked"): a code issued
/// then, a refresh rotated then; and a session whose order ran ahead of the clock by quick
/// re-sign-ins. Each of the three escaped it before (an outside run).
#[test]
fn a_subject_revocation_ends_what_its_propagation_window_let_through() {
    let w = World::new();
    let o = w.oauth();
    let revoke_at = |seconds: i64| {
        ready(tollgate::revocation::revoke_subject(
            &w.store,
            ISSUER,
            &w.user.sub,
            tollgate::revocation::Millis(seconds * 1000),
        ))
        .unwrap()
    };
    let redeem = |code: &str, now: i64| w.redeem_code(code, "rp", now);
    let refresh = |tokens: &oauth::TokenResponse, now: i64| w.refresh(tokens, "rp", now);
    let (_, session) = ready(o.create_session(&w.user, NOW)).unwrap();
    let request = w.request(&[]).unwrap();
    let granted = redeem(
        &code_of(&ready(o.issue_code(&request, &session, NOW)).unwrap()),
        NOW,
    )
    .unwrap();
    // At NOW + 10, where the revocation made at NOW + 5 is not seen yet: a code from the
    // session, and a rotation of the family.
    let late_code = code_of(&ready(o.issue_code(&request, &session, NOW + 10)).unwrap());
    let rotated = refresh(&granted, NOW + 10).unwrap();
    revoke_at(NOW + 5);
    assert_eq!(
        redeem(&late_code, NOW + 11).unwrap_err().error.as_str(),
        "invalid_grant"
    );
    assert_eq!(
        refresh(&rotated, NOW + 11).unwrap_err().error.as_str(),
        "invalid_grant"
    );

    // Six sign-ins in one second put the session's order five seconds ahead of the clock.
    let (mut id, _) = ready(o.create_session(&w.user, NOW + 20)).unwrap();
    for _ in 0..6 {
        id = ready(o.sign_in(&w.user, Some(&id), NOW + 20)).unwrap().0;
    }
    revoke_at(NOW + 21);
    assert!(ready(o.session(&id, NOW + 21)).unwrap().is_none());
}

/// A user disabled (or deleted) since signing in: no code from the session, and the session
/// itself ends at its next use a minute or more after its last refresh.
#[test]
fn a_user_disabled_since_signing_in_gets_no_code_and_is_signed_out() {
    let w = World::new();
    let o = w.oauth();
    let (id, session) = ready(o.create_session(&w.user, NOW)).unwrap();
    let request = w.request(&[]).unwrap();
    assert!(ready(o.issue_code(&request, &session, NOW)).is_ok());
    let mut disabled = w.user.clone();
    disabled.disabled = true;
    ready(w.store.put(
        &tollgate::schema::user("alice"),
        &serde_json::to_string(&disabled).unwrap(),
        None,
    ))
    .unwrap();
    let refused = ready(o.issue_code(&request, &session, NOW + 1)).unwrap_err();
    assert_eq!(refused.error.as_str(), "login_required");
    assert!(
        ready(o.session(&id, NOW + 30)).unwrap().is_some(),
        "within the minute between refreshes"
    );
    assert!(ready(o.session(&id, NOW + 61)).unwrap().is_none());
    assert!(ready(o.session(&id, NOW + 62)).unwrap().is_none(), "gone");

    // Deleted and made again under the same name: another user, whom the session is not.
    let (_, session) = ready(o.create_session(&w.user, NOW + 100)).unwrap();
    let mut successor = w.user.clone();
    successor.sub = "usr_someone_new".into();
    ready(w.store.put(
        &tollgate::schema::user("alice"),
        &serde_json::to_string(&successor).unwrap(),
        None,
    ))
    .unwrap();
    let refused = ready(o.issue_code(&request, &session, NOW + 101)).unwrap_err();
    assert_eq!(refused.error.as_str(), "login_required");
}

/// Errors met once the client and redirect URI are known (issuing the code, the sign-in, the
/// store) go back to the client (RFC 6749 §4.1.2.1) with `state` and `iss` (RFC 9207); a
/// failure on the server's side keeps its detail out of the client's URL.
#[test]
fn rfc_6749_4_1_2_1_errors_after_validation_go_back_to_the_client() {
    let w = World::new();
    let request = w.request(&[("state", "s 1")]).unwrap();
    let query = |err: &oauth::OAuthError| {
        let location = request.error_location(err, ISSUER);
        let (base, query) = location.split_once('?').unwrap();
        assert_eq!(base, CB);
        oauth::parse_form(query)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>()
    };
    let denied = oauth::OAuthError::new(
        oauth::OAuthErrorCode::LoginRequired,
        "the session has ended; sign in again",
    );
    assert_eq!(
        query(&denied),
        [
            ("error", "login_required"),
            ("error_description", "the session has ended; sign in again"),
            ("iss", ISSUER),
            ("state", "s 1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    let down = oauth::OAuthError::new(
        oauth::OAuthErrorCode::TemporarilyUnavailable,
        "KV put session:4f2a failed: network",
    );
    assert_eq!(
        query(&down)[..2],
        [
            ("error", "temporarily_unavailable"),
            (
                "error_description",
                "the authorization server could not complete the request; try again"
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

/// A hint signed by a key since retired (a rotation's last step, while relying parties still
/// hold ID tokens of the old key) no longer vouches for its user, but the request is not an
/// error: the user confirms, and the browser goes back to the client it names (an outside run
/// found every such logout refused with the session left alive).
#[test]
fn a_logout_hint_of_a_retired_key_is_confirmed_by_the_user() {
    let w = World::new();
    let id_token = w.redeem(&w.request(&[]).unwrap()).id_token.unwrap();
    let config =
        GatewayConfig::from_json(&serde_json::json!({ "issuer": ISSUER }).to_string()).unwrap();
    let next = Key::generate(Algorithm::ES256).unwrap();
    let public = Key::from_jwk(&next.to_public_jwk().unwrap()).unwrap();
    let hints = Verifier::new(
        KeySet::from_keys(vec![public]).unwrap(),
        config.id_token_hint_policy(),
    )
    .unwrap();
    let logout = |hint: &str| {
        let params: BTreeMap<String, String> = [
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", "https://rp.example/bye"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        ready(w.oauth().logout_request(&params, &hints, NOW))
    };
    let asked = logout(&id_token).expect("a retired key's hint is still a request");
    assert_eq!(asked.hint_sub, None, "it vouches for nobody");
    assert_eq!(asked.redirect.as_deref(), Some("https://rp.example/bye"));
    // Another issuer's token, or a forged signature by a key still here, is refused.
    let elsewhere = tollgate::TokenBuilder::new(NOW)
        .issuer("https://elsewhere.example")
        .audience(["rp"])
        .sign(&Key::generate(Algorithm::ES256).unwrap())
        .unwrap();
    assert!(logout(&elsewhere).is_err());
    let impostor = Key::generate(Algorithm::ES256)
        .unwrap()
        .with_kid(next.kid());
    let forged = tollgate::TokenBuilder::new(NOW)
        .issuer(ISSUER)
        .audience(["rp"])
        .sign(&impostor)
        .unwrap();
    assert!(logout(&forged).is_err());
}

/// A code granted in a session and presented after its sign-out gives nothing: not an ID
/// token, which the relying party would take as a login of a user who just signed out (the
/// access and refresh tokens were already dead with the family; an outside OIDC run).
#[test]
fn a_code_granted_before_sign_out_is_refused_after_it() {
    let w = World::new();
    let o = w.oauth();
    let (id, session) = ready(o.create_session(&w.user, NOW)).unwrap();
    let code = code_of(
        &ready(o.issue_code(&w.request(&[("nonce", "n")]).unwrap(), &session, NOW)).unwrap(),
    );
    ready(o.end_session(&id, NOW + 1)).unwrap();
    let req = TokenRequest {
        params: [
            ("grant_type", "authorization_code"),
            ("client_id", "rp"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", CB),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..TokenRequest::default()
    };
    let err = ready(o.token(&req, NOW + 2)).unwrap_err();
    assert_eq!(err.error.as_str(), "invalid_grant");
}

/// ID tokens are signed by the first key of the algorithm the operator names
/// (`oauth.idTokenSigningAlg`, RS256 being what relying parties expect by default: Core §15.1,
/// Discovery §3), else by the active key; never with an HMAC secret, which a relying party
/// cannot verify, so such a deployment refuses `openid` (an outside run found its ID tokens
/// unverifiable by anyone).
#[test]
fn id_tokens_are_signed_by_the_named_algorithm_and_never_with_a_secret() {
    let es = Key::generate(Algorithm::ES256).unwrap();
    let rs = Key::generate(Algorithm::RS256).unwrap();
    let hs = Key::generate(Algorithm::HS256).unwrap();
    let verify_only = Key::from_jwk(&rs.to_public_jwk().unwrap()).unwrap();
    let kid = |keys: &[Key], alg| oidc::id_token_key(keys, alg).map(|key| key.kid().to_owned());
    let both = [es.clone(), rs.clone()];
    assert_eq!(
        kid(&both, None),
        Some(es.kid().to_owned()),
        "the active key"
    );
    assert_eq!(
        kid(&both, Some(Algorithm::RS256)),
        Some(rs.kid().to_owned())
    );
    assert_eq!(
        kid(&[es.clone(), verify_only], Some(Algorithm::RS256)),
        None,
        "an RS256 key that cannot sign is not chosen"
    );
    assert_eq!(kid(std::slice::from_ref(&hs), None), None);
    let config = |alg: &str| {
        let json = serde_json::json!({ "issuer": ISSUER, "oauth": { "idTokenSigningAlg": alg } });
        GatewayConfig::from_json(&json.to_string())
    };
    assert!(config("RS256").is_ok());
    assert!(config("HS256")
        .unwrap_err()
        .to_string()
        .contains("never published"));

    let mut w = World::new();
    w.key = hs;
    let refused = w.request(&[]).unwrap_err();
    match refused {
        AuthorizeError::Redirect { error, .. } => assert_eq!(error, OAuthErrorCode::InvalidScope),
        other => panic!("{other:?}"),
    }
}

/// Core §3.1.3.7 has relying parties support RS256: a deployment whose active key is RSA signs
/// its ID tokens with it, `at_hash` by SHA-256.
#[test]
fn an_rs256_deployment_signs_rs256_id_tokens() {
    let mut w = World::new();
    w.key = Key::generate(Algorithm::RS256).unwrap();
    let tokens = w.redeem(&w.request(&[("nonce", "n")]).unwrap());
    let id_token = tokens.id_token.unwrap();
    let header = tollgate::hazmat::decode_unverified(&id_token, 8192)
        .unwrap()
        .0;
    assert_eq!(header.alg(), Algorithm::RS256);
    let claims = w.id_claims(&id_token, "rp");
    assert_eq!(
        claims["at_hash"],
        oidc::token_hash(Algorithm::RS256, &tokens.access_token).as_str()
    );
}

/// OpenID Connect Back-Channel Logout 1.0: a session's end is noted with the relying parties
/// an ID token of it went to (not a plain OAuth grant's client), and each one registered with a
/// `backchannel_logout_uri` gets a logout token (§2.4): `typ: logout+jwt`, `iss`, `aud` the
/// client, `sub`, the session's `sid`, the logout event, a short `exp`, no `nonce`.
#[test]
fn a_sign_out_gives_each_relying_party_of_the_session_a_logout_token() {
    let w = World::new();
    let ended = std::cell::RefCell::new(Vec::new());
    let o = w.oauth_noting(&ended);
    let (id, session) = ready(o.create_session(&w.user, NOW)).unwrap();
    let nonce = [("nonce", "n")];
    let legacy_plain = [("client_id", "legacy"), ("scope", "read")];
    for request in [
        w.request(&nonce).unwrap(),
        w.request(&[("client_id", "partner"), ("nonce", "n")])
            .unwrap(),
        w.request(&legacy_plain).unwrap(),
        w.request(&nonce).unwrap(),
    ] {
        ready(o.issue_code(&request, &session, NOW)).unwrap();
    }
    ready(o.end_session(&id, NOW + 5)).unwrap();
    let sessions = ended.borrow().clone();
    assert_eq!(
        sessions,
        [oauth::Ended {
            sub: w.user.sub.clone(),
            sid: session.sid.clone(),
            clients: vec!["rp".into(), "partner".into()],
        }]
    );
    let deliveries = ready(o.backchannel_logouts(&sessions, NOW + 5)).unwrap();
    assert_eq!(deliveries.len(), 1, "partner has no backchannel_logout_uri");
    let delivery = &deliveries[0];
    assert_eq!(
        (delivery.client_id.as_str(), delivery.uri.as_str()),
        ("rp", "https://rp.example/backchannel")
    );
    let public = Key::from_jwk(&w.key.to_public_jwk().unwrap()).unwrap();
    let verifier = Verifier::new(
        KeySet::from_keys(vec![public]).unwrap(),
        Policy {
            issuers: vec![ISSUER.into()],
            audiences: vec!["rp".into()],
            typ: Some(oidc::LOGOUT_TOKEN_TYP.into()),
            ..Policy::default()
        },
    )
    .unwrap();
    let verified = verifier.verify(&delivery.logout_token, NOW + 5).unwrap();
    let claims = verified.claims();
    assert_eq!(claims["sub"], w.user.sub.as_str());
    assert_eq!(claims["sid"], session.sid.as_str());
    assert_eq!(
        claims["events"],
        serde_json::json!({ oidc::BACKCHANNEL_LOGOUT_EVENT: {} })
    );
    assert_eq!(claims["exp"], NOW + 5 + 120);
    assert!(claims.get("jti").is_some() && claims.get("nonce").is_none());
    // An ID token is not a logout token, nor the reverse: the types differ.
    let id_token = w.redeem(&w.request(&nonce).unwrap()).id_token.unwrap();
    assert!(verifier.verify(&id_token, NOW).is_err());
}
