//! Everything an isolate keeps between requests: the validated configuration, the parsed
//! keys, the verified-token cache, the revocation answers, and remote key sets.
//!
//! It is built from the environment once per isolate, at start-up (`start` in mod.rs), or by
//! the first request when that failed, so parsing and validation happen once.

use crate::codes::Code;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use worker::Env;

use super::bindings;
use super::keys::{self, OwnKeys};
use super::remote_jwks::RemoteJwks;
use super::revocation::RevokedHere;
use super::webcrypto::WebCryptoKeys;
use crate::config::{Consistency, GatewayConfig};
use crate::token::HeaderMemo;
use crate::token_cache::TokenCache;
use crate::{Error, Verifier};

/// Which trusted issuer verified a token: the worker itself or an external issuer's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trusted {
    /// The worker's own keys.
    Own,
    /// `config.external_issuers[i]`.
    External(usize),
}

pub struct State {
    /// Where single-use and counting records live (resolved at start-up).
    pub consistency: Consistency,
    pub config: Option<Rc<GatewayConfig>>,
    pub origin: Option<String>,
    pub keys: OwnKeys,
    pub own_verifier: Option<Rc<Verifier>>,
    /// This deployment's access tokens for any audience ([`GatewayConfig::issued_policy`]):
    /// introspection and revocation only, never the gateway or its verified-token cache.
    pub issued_verifier: Option<Rc<Verifier>>,
    pub remotes: Vec<RemoteJwks>,
    pub token_cache: RefCell<TokenCache<Trusted>>,
    /// Revocation-list keys read recently: the time (ms) of the read and the entry found.
    pub recently_read: RefCell<HashMap<String, (f64, Option<String>)>>,
    /// Revocations this isolate wrote, or that the issuer wrote for a request it forwarded.
    pub revoked_here: RefCell<RevokedHere>,
    /// Public keys imported into WebCrypto, for the signature step.
    pub webcrypto: WebCryptoKeys,
    /// The last token header parsed: a first-sight token usually shares it.
    pub headers: HeaderMemo,
    /// Signed origin assertions by what they state, with their `exp`: repeated requests of
    /// one caller to one URL reuse one while it is fresh, instead of signing again.
    pub assertions: RefCell<HashMap<crate::assertion::Statement, (String, i64)>>,
    /// The operator's bearer token (`TOLLGATE_ADMIN_TOKEN`, [`admin_token`]); `None`: the
    /// admin endpoints are disabled.
    pub admin_token: Option<String>,
    /// Why `TOLLGATE_ADMIN_TOKEN` was refused ([`admin_token`]): the admin endpoints answer
    /// it and `/healthz` is 503, while the gateway and the token endpoint go on serving (the
    /// admin token guards the admin endpoints only; refusing the whole worker for it turned
    /// an upgrade into an outage, a reviewer noted).
    pub admin_token_refused: Option<String>,
}

/// Why the worker cannot serve: the detail goes to the log, the code to the client.
pub struct ConfigError {
    pub code: &'static str,
    pub detail: String,
}

impl ConfigError {
    /// `context` names the secret or variable once: a configuration error's reason already
    /// names the member (`routes[2].auth: …`), so it is not wrapped in "invalid policy" too.
    fn from_error(context: &str, err: Error) -> Self {
        match err {
            Error::InvalidPolicy { reason } => ConfigError {
                code: Code::ConfigInvalid.as_str(),
                detail: format!("{context}: {reason}"),
            },
            other => ConfigError {
                code: other.code(),
                detail: format!("{context}: {other}"),
            },
        }
    }
}

thread_local! {
    static STATE: RefCell<Option<Rc<State>>> = const { RefCell::new(None) };
}

/// The configuration variable as JSON text: wrangler passes a TOML table as an object. Read as
/// the host gives it (`JSON.stringify` for anything but text), not through serde's JS glue; a
/// value of the wrong type (a number, `null`) reaches the parser and is refused there.
fn config_text(env: &Env) -> Option<String> {
    let value = js_sys::Reflect::get(env, &bindings::CONFIG.into()).ok()?;
    if value.is_undefined() {
        return None;
    }
    if let Some(text) = value.as_string() {
        return Some(text);
    }
    js_sys::JSON::stringify(&value).ok().map(String::from)
}

/// The isolate's state, building it on first use or when the environment changed.
pub fn state(env: &Env) -> Result<Rc<State>, ConfigError> {
    // Secrets and variables are fixed for an isolate's life (a deploy, a `wrangler secret put`
    // or a `wrangler dev` reload starts new isolates), so the state is built once; a failed
    // build is not kept, and the next request tries again.
    if let Some(hit) = STATE.with(|s| s.borrow().clone()) {
        return Ok(hit);
    }
    let secret = env
        .secret(bindings::SIGNING_KEYS)
        .ok()
        .map(|s| s.to_string());
    let config = config_text(env);
    let origin = env.var(bindings::ORIGIN_URL).ok().map(|v| v.to_string());
    let has_coordinator = env.durable_object(bindings::COORDINATOR).is_ok();
    let admin = env
        .secret(bindings::ADMIN_TOKEN)
        .ok()
        .map(|s| s.to_string());
    let mut state = build(secret, config, origin, has_coordinator)?;
    match admin_token(admin) {
        Ok(token) => state.admin_token = token,
        Err(refused) => state.admin_token_refused = Some(refused.detail),
    }
    let state = Rc::new(state);
    STATE.with(|s| *s.borrow_mut() = Some(Rc::clone(&state)));
    Ok(state)
}

fn build(
    secret: Option<String>,
    config: Option<String>,
    origin: Option<String>,
    has_coordinator: bool,
) -> Result<State, ConfigError> {
    let secret = secret.ok_or_else(|| ConfigError {
        code: Code::SigningKeysMissing.as_str(),
        detail: format!(
            "secret {} is not set (scripts/dev creates one in .dev.vars)",
            bindings::SIGNING_KEYS
        ),
    })?;
    let keys =
        keys::parse(&secret).map_err(|e| ConfigError::from_error(bindings::SIGNING_KEYS, e))?;
    let config = config
        .map(|text| GatewayConfig::from_json(&text))
        .transpose()
        .map_err(|e| ConfigError::from_error(bindings::CONFIG, e))?;
    // The key `oauth.idTokenSigningAlg` names must be there at start, not missing at the
    // first login.
    if let Some(alg) = config.as_ref().and_then(|c| c.oauth.id_token_signing_alg) {
        if crate::oauth::oidc::id_token_key(keys.set.keys(), Some(alg)).is_none() {
            return Err(ConfigError {
                code: Code::ConfigInvalid.as_str(),
                detail: format!(
                    "oauth.idTokenSigningAlg is {alg}, and {} has no private {alg} key",
                    bindings::SIGNING_KEYS
                ),
            });
        }
    }
    if let Some(origin) = &origin {
        check_origin(origin)?;
    }
    let verifier = |policy: crate::Policy| {
        Verifier::new(keys.set.clone(), policy)
            .map(Rc::new)
            .map_err(|e| ConfigError::from_error(bindings::CONFIG, e))
    };
    let own_verifier = config.as_ref().map(|c| verifier(c.policy())).transpose()?;
    let issued_verifier = config
        .as_ref()
        .map(|c| verifier(c.issued_policy()))
        .transpose()?;
    let remotes = config
        .as_ref()
        .map(|c| {
            c.external_issuers
                .iter()
                .map(|e| RemoteJwks::new(e.clone(), c.external_policy(e)))
                .collect()
        })
        .unwrap_or_default();
    let consistency = match config.as_ref().and_then(|c| c.consistency) {
        Some(Consistency::Durable) if !has_coordinator => {
            return Err(ConfigError {
                code: Code::ConfigInvalid.as_str(),
                detail: format!(
                "consistency = \"durable\" needs the Durable Object binding {} (wrangler.toml); \
                     set consistency = \"kv\" to opt out explicitly",
                bindings::COORDINATOR
            ),
            })
        }
        Some(chosen) => chosen,
        None if has_coordinator => Consistency::Durable,
        None => Consistency::Kv,
    };
    let capacity = config.as_ref().map_or(0, |c| c.token_cache_entries);
    Ok(State {
        consistency,
        config: config.map(Rc::new),
        origin: origin.map(|o| o.trim_end_matches('/').to_owned()),
        keys,
        own_verifier,
        issued_verifier,
        remotes,
        token_cache: RefCell::new(TokenCache::new(capacity)),
        recently_read: RefCell::new(HashMap::new()),
        revoked_here: RefCell::new(RevokedHere::default()),
        webcrypto: WebCryptoKeys::default(),
        headers: HeaderMemo::default(),
        assertions: RefCell::new(HashMap::new()),
        admin_token: None,
        admin_token_refused: None,
    })
}

/// The operator's token, checked once at start-up: at least 32 characters, as the pepper, since
/// it revokes any token and any subject and one guessed is the whole deployment's revocation
/// list (an outside audit found `TOLLGATE_ADMIN_TOKEN='a'` accepted). Empty is unset: the admin
/// endpoints answer `ERR_ADMIN_DISABLED`, not a refusal of every token presented.
fn admin_token(secret: Option<String>) -> Result<Option<String>, ConfigError> {
    match secret.filter(|token| !token.is_empty()) {
        Some(token) if token.len() < crate::oauth::MIN_SECRET_LEN => Err(ConfigError {
            code: Code::ConfigInvalid.as_str(),
            detail: format!(
                "secret {} must be at least 32 characters (or unset, which disables the admin \
                 endpoints)",
                bindings::ADMIN_TOKEN
            ),
        }),
        token => Ok(token),
    }
}

/// `ORIGIN_URL` is https, or http on loopback (the development origin of `scripts/dev`), as
/// for `jwksUrl`: the forwarded request carries the identity headers, the signed assertion and
/// with `forwardAuthorization` the credentials, none of which may cross a network in the clear.
/// Nor a query, fragment or userinfo: the request's path and query are appended to it, so
/// `http://127.0.0.1:8788/?next=` or `…#x` sent every path to the origin's `/` (an outside run).
fn check_origin(origin: &str) -> Result<(), ConfigError> {
    let refused = |rule: &str| {
        Err(ConfigError {
            code: Code::ConfigInvalid.as_str(),
            detail: format!("{} {origin:?} must {rule}", bindings::ORIGIN_URL),
        })
    };
    if !crate::config::is_secure_url(origin) {
        return refused("be https (http only on loopback)");
    }
    let after_scheme = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    if origin.contains(['?', '#']) || authority.contains('@') {
        return refused("have no query, fragment or userinfo: request paths are appended to it");
    }
    Ok(())
}

/// What a worker lacks to serve its requests, for `/healthz` (503 when `Err`): an isolate whose
/// state built can still fail every request of a kind, and a health check that says "ok" then
/// hides it (an outside audit: 200 while every OAuth endpoint answered 500
/// `ERR_PEPPER_MISSING`, or every gateway request 500 `ERR_CONFIG_MISSING`). Only what this
/// worker needs counts:
/// - with `TOLLGATE_CONFIG`, it guards an origin, so `ORIGIN_URL` is needed;
/// - a pepper that is set is meant to be used, and one under 32 characters fails every use;
/// - an unset pepper is needed by the authorization server's endpoints, which this worker
///   serves itself (`serves_issuance`: the issuer) or through the issuer it is bound to (the
///   guard with `TOLLGATE_ISSUER`, the issuer reading the same secrets, README "Two workers"),
///   and at the gateway by `dpopNonce` and `oauth.sessionRoutes`. A guard alone that only
///   verifies JWTs needs none.
///
/// Without `TOLLGATE_CONFIG` the worker only publishes its keys, which need neither.
pub fn readiness(
    config: Option<&GatewayConfig>,
    origin_set: bool,
    pepper: Option<&str>,
    serves_issuance: bool,
) -> Result<(), ConfigError> {
    let Some(config) = config else {
        return Ok(());
    };
    if !origin_set {
        return Err(ConfigError {
            code: Code::ConfigMissing.as_str(),
            detail: format!(
                "{} is not set: every gateway request fails",
                bindings::ORIGIN_URL
            ),
        });
    }
    let pepper_error = |detail: String| ConfigError {
        code: Code::PepperMissing.as_str(),
        detail,
    };
    match pepper {
        Some(pepper) if pepper.len() < crate::oauth::MIN_SECRET_LEN => Err(pepper_error(format!(
            "secret {} must be at least 32 characters",
            bindings::PEPPER
        ))),
        Some(_) => Ok(()),
        None => {
            let needed_by = if serves_issuance {
                Some("the authorization server's endpoints")
            } else if config.dpop_nonce {
                Some("dpopNonce")
            } else if !config.oauth.session_routes.is_empty() {
                Some("oauth.sessionRoutes")
            } else {
                None
            };
            match needed_by {
                Some(what) => Err(pepper_error(format!(
                    "secret {} is not set; it is needed by {what}",
                    bindings::PEPPER
                ))),
                None => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_error(json: &str) -> ConfigError {
        let err = GatewayConfig::from_json(json)
            .err()
            .unwrap_or_else(|| panic!("{json}"));
        ConfigError::from_error(bindings::CONFIG, err)
    }

    /// An outside audit read "TOLLGATE_CONFIG: invalid policy: TOLLGATE_CONFIG: …" and a run
    /// of spaces inside a sentence; the variable is named once, the member after it.
    #[test]
    fn a_configuration_error_names_the_variable_once_and_reads_as_one_sentence() {
        let e = config_error(r#"{"issuer":"https://i","routes":[{"prefix":"/","auth":"Public"}]}"#);
        assert_eq!(e.code, "ERR_CONFIG_INVALID");
        assert_eq!(
            e.detail,
            r#"TOLLGATE_CONFIG: routes[0].auth: expected one of ["public", "token"], found "Public""#
        );
        let e = config_error(r#"{"issuer":"https://i","routes":[{"prefix":"/api/"}]}"#);
        assert_eq!(
            e.detail,
            "TOLLGATE_CONFIG: route prefix \"/api/\" must not end with '/': it would not cover \
             \"/api\" itself (prefixes match whole segments, so \"/api\" covers both)"
        );
        let e = config_error(r#"{"issuer":"https://i","maxTokenBytes":0}"#);
        assert!(!e.detail.contains("invalid policy"), "{}", e.detail);
        assert_eq!(
            e.detail.matches("TOLLGATE_CONFIG").count(),
            1,
            "{}",
            e.detail
        );
    }

    /// An outside audit: `http://origin.example.com` was accepted, and identity headers and the
    /// assertion went to it in the clear.
    #[test]
    fn the_origin_is_https_or_loopback_http() {
        for origin in [
            "http://origin.example.com",
            "http://10.0.0.1:8080",
            "ftp://origin",
            "origin.example.com",
        ] {
            let refused = check_origin(origin).err();
            let detail = refused.map(|e| (e.code, e.detail));
            assert_eq!(
                detail,
                Some((
                    "ERR_CONFIG_INVALID",
                    format!("ORIGIN_URL {origin:?} must be https (http only on loopback)")
                )),
                "{origin}"
            );
        }
        for origin in [
            "https://origin.internal",
            "http://127.0.0.1:3000",
            "http://localhost:3000/",
            "http://[::1]:3000",
            "https://origin.internal/base",
            "https://origin.internal/@org",
        ] {
            assert!(check_origin(origin).is_ok(), "{origin}");
        }
        for origin in [
            "http://127.0.0.1:8788#@evil.example",
            "http://127.0.0.1:8788/?next=",
            "https://user@origin.internal",
        ] {
            let detail = check_origin(origin).err().map(|e| e.detail);
            assert!(
                detail
                    .as_deref()
                    .is_some_and(|d| d.contains("no query, fragment or userinfo")),
                "{origin}: {detail:?}"
            );
        }
    }

    #[test]
    fn an_admin_token_is_at_least_32_characters_and_empty_is_unset() {
        let short = admin_token(Some("a".repeat(31))).err();
        assert_eq!(
            short.map(|e| (e.code, e.detail)),
            Some((
                "ERR_CONFIG_INVALID",
                "secret TOLLGATE_ADMIN_TOKEN must be at least 32 characters (or unset, which \
                 disables the admin endpoints)"
                    .to_owned()
            ))
        );
        assert!(admin_token(Some("a".into())).is_err());
        assert_eq!(admin_token(Some(String::new())).ok(), Some(None));
        assert_eq!(admin_token(None).ok(), Some(None));
        let long = "a".repeat(32);
        assert_eq!(admin_token(Some(long.clone())).ok(), Some(Some(long)));
    }

    #[test]
    fn a_worker_is_ready_when_it_has_what_its_requests_need() {
        let plain = GatewayConfig::from_json(r#"{"issuer":"https://i"}"#).ok();
        let sessions = GatewayConfig::from_json(
            r#"{"issuer":"https://i","routes":[{"prefix":"/app"}],"oauth":{"sessionRoutes":["/app"]}}"#,
        )
        .ok();
        let nonce = GatewayConfig::from_json(r#"{"issuer":"https://i","dpopNonce":true}"#).ok();
        let pepper = "p".repeat(32);
        let code = |r: Result<(), ConfigError>| r.err().map(|e| e.code);
        // Keys only: nothing else is served.
        assert_eq!(code(readiness(None, false, None, true)), None);
        // A gateway without its origin.
        assert_eq!(
            code(readiness(plain.as_ref(), false, Some(&pepper), true)),
            Some("ERR_CONFIG_MISSING")
        );
        // A short pepper fails wherever it is used; an absent one where it is needed.
        for issuance in [true, false] {
            assert_eq!(
                code(readiness(plain.as_ref(), true, Some("short"), issuance)),
                Some("ERR_PEPPER_MISSING")
            );
        }
        assert_eq!(
            code(readiness(plain.as_ref(), true, None, true)),
            Some("ERR_PEPPER_MISSING")
        );
        for needs in [&sessions, &nonce] {
            assert_eq!(
                code(readiness(needs.as_ref(), true, None, false)),
                Some("ERR_PEPPER_MISSING")
            );
        }
        // A guard alone that verifies JWTs needs no pepper.
        assert_eq!(code(readiness(plain.as_ref(), true, None, false)), None);
        assert_eq!(
            code(readiness(plain.as_ref(), true, Some(&pepper), true)),
            None
        );
    }
}
