//! OAuth 2.0 token issuance (RFC 6749) on the token engine, with all state in a [`Store`].
//!
//! Grants: client credentials, API key exchange, resource-owner password (per client),
//! authorization code with PKCE S256 (RFC 7636), refresh with rotation and reuse detection.
//! Also introspection (RFC 7662), revocation (RFC 7009), sessions and one-time tokens.
//! Errors are RFC 6749 §5.2 errors, rendered on the wire by [`OAuthError::render`] only.
//!
//! Consistency: Workers KV is eventually consistent and has no compare-and-swap. Single use
//! (codes, one-time tokens) and rotation (refresh tokens) are enforced by deleting or marking
//! the record on first use; two uses at nearly the same instant in different locations can
//! both succeed within KV's propagation window (about 60 s). README states this.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::OAuthConfig;
use crate::error::Error;
use crate::jwk::Key;
use crate::lockout::{self, Failures};
use crate::opaque::{self, Kind};
use crate::password::{self, Cost};
use crate::revocation;
use crate::store::{AtomicStore, Store, StoreError};
use crate::{b64, TokenBuilder, Verifier};

/// The grant types Tollgate implements (the values clients list in `grants`).
pub const GRANTS: [&str; 5] = [
    "authorization_code",
    "client_credentials",
    "password",
    "refresh_token",
    API_KEY_GRANT,
];

/// The extension grant for exchanging an API key (RFC 6749 §4.5 allows URIs as grant types).
pub const API_KEY_GRANT: &str = "urn:tollgate:params:oauth:grant-type:api-key";

/// A user. Stored under `user:<lower-case username>`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    /// Stable subject identifier.
    pub sub: String,
    /// Login name.
    pub username: String,
    /// Argon2id PHC hash.
    pub password: String,
    /// Scopes the user may grant.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// A disabled user cannot log in.
    #[serde(default)]
    pub disabled: bool,
}

/// A registered client. Stored under `client:<client_id>`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    /// The client id.
    pub client_id: String,
    /// Display name on the consent page.
    #[serde(default)]
    pub name: String,
    /// Keyed hash of the secret; absent for public clients.
    #[serde(default)]
    pub secret_hash: Option<String>,
    /// Exact redirect URIs (RFC 9700 §4.1.3: exact matching).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Grant types allowed.
    #[serde(default)]
    pub grants: Vec<String>,
    /// Scopes the client may obtain.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// First-party clients skip consent and may use the password grant if allowed.
    #[serde(default)]
    pub first_party: bool,
}

/// An API key. Stored under `apikey:<keyed hash>`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public identifier (for listing and revocation by id).
    pub id: String,
    /// The owner (becomes `sub`).
    pub owner: String,
    /// Scopes the key carries.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Expiry, if any.
    #[serde(default)]
    pub exp: Option<i64>,
    /// Creation time.
    pub created: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct CodeRecord {
    client_id: String,
    redirect_uri: String,
    sub: String,
    scope: String,
    challenge: String,
    exp: i64,
    /// The refresh family the redemption starts, chosen at issue so that a second redemption
    /// knows what to revoke (RFC 6749 §4.1.2).
    #[serde(default)]
    family: String,
    /// Set, atomically, by the one redemption; the record is then kept as the reuse marker.
    #[serde(default)]
    used: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct OneTimeRecord {
    sub: String,
    purpose: String,
    exp: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct RefreshRecord {
    family: String,
    client_id: String,
    sub: String,
    scope: String,
    exp: i64,
    iat: i64,
    #[serde(default)]
    rotated_at: Option<i64>,
}

/// A browser session. Stored under `session:<keyed hash of the id>`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    /// The user.
    pub sub: String,
    /// The user's name.
    pub username: String,
    /// Login time.
    pub created: i64,
    /// Last request.
    pub last_seen: i64,
    /// Absolute end.
    pub absolute_exp: i64,
    /// The user's scopes at login.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// An RFC 6749 §5.2 error response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// The error code (`invalid_request`, `invalid_client`, …).
    pub error: &'static str,
    /// Human-readable detail (never secret).
    pub description: String,
    /// Whether the client authenticated with HTTP Basic (then 401 carries a Basic challenge).
    pub basic: bool,
}

/// A rendered error: status, optional `WWW-Authenticate`, JSON body.
pub struct RenderedError {
    /// HTTP status.
    pub status: u16,
    /// `WWW-Authenticate`, for `invalid_client` with Basic.
    pub www_authenticate: Option<String>,
    /// `{"error", "error_description"}`.
    pub body: Value,
}

impl OAuthError {
    /// An error with this RFC 6749 code and description.
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            description: description.into(),
            basic: false,
        }
    }

    /// The one mapping to HTTP (RFC 6749 §5.2): 401 for `invalid_client`, 503 when the store
    /// is down, 400 otherwise.
    pub fn render(&self) -> RenderedError {
        let status = match self.error {
            "invalid_client" => 401,
            "temporarily_unavailable" => 503,
            "server_error" => 500,
            _ => 400,
        };
        RenderedError {
            status,
            www_authenticate: (status == 401).then(|| {
                if self.basic {
                    r#"Basic realm="tollgate""#.to_owned()
                } else {
                    r#"Bearer realm="tollgate""#.to_owned()
                }
            }),
            body: json!({ "error": self.error, "error_description": self.description }),
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        OAuthError::new("temporarily_unavailable", err.to_string())
    }
}

fn server_error(err: Error) -> OAuthError {
    OAuthError::new("server_error", err.to_string())
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TokenResponse {
    /// The JWT access token (RFC 9068).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The new refresh token, for grants that give one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scope.
    pub scope: String,
}

/// How a client authenticated (RFC 6749 §2.3).
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// `client_secret_basic`.
    Basic {
        /// client id
        id: String,
        /// secret
        secret: String,
    },
    /// `client_secret_post`.
    Post {
        /// client id
        id: String,
        /// secret
        secret: String,
    },
    /// A public client naming itself (`client_id` only).
    Public {
        /// client id
        id: String,
    },
    /// No client.
    None,
}

/// A request to the token endpoint, already taken apart by the adapter.
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    /// The form parameters.
    pub params: BTreeMap<String, String>,
    /// Credentials from `Authorization: Basic` (form-decoded id and secret).
    pub basic: Option<(String, String)>,
    /// An API key from `Authorization: Bearer` or `X-API-Key`.
    pub api_key: Option<String>,
    /// The client's IP (for throttling), if known.
    pub client_ip: Option<String>,
}

/// How many times a rule re-reads and retries after losing a compare-and-swap before the
/// request is answered `temporarily_unavailable` (each loss means another request on the same
/// record made progress).
const MAX_ATTEMPTS: usize = 64;

/// The issuance engine: two stores, a signing key, and settings.
pub struct OAuth<'a, S: Store, C: AtomicStore> {
    /// Read-mostly records: users, clients, API keys, sessions, the revocation list.
    pub store: &'a S,
    /// Single-use and counting records (codes, refresh tokens, one-time tokens, failure
    /// counters): the strongly consistent coordinator, or KV in `consistency = "kv"` mode.
    pub once: &'a C,
    /// The active signing key.
    pub signing_key: &'a Key,
    /// `iss`.
    pub issuer: &'a str,
    /// `aud` of access tokens.
    pub audience: &'a str,
    /// The pepper for keyed hashes (from a secret).
    pub pepper: &'a [u8],
    /// Lifetimes, lockout, sessions.
    pub config: &'a OAuthConfig,
}

fn scopes(text: &str) -> Vec<&str> {
    text.split(' ').filter(|s| !s.is_empty()).collect()
}

/// RFC 6749 §3.3: the requested scope must be within `allowed`; none requested means all.
fn grant_scope(requested: Option<&str>, allowed: &[String]) -> Result<String, OAuthError> {
    match requested.map(scopes).filter(|r| !r.is_empty()) {
        None => Ok(allowed.join(" ")),
        Some(requested) => {
            if let Some(extra) = requested.iter().find(|s| !allowed.iter().any(|a| a == *s)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    format!("scope {extra:?} is not allowed"),
                ));
            }
            let mut unique: Vec<&str> = Vec::new();
            for scope in requested {
                if !unique.contains(&scope) {
                    unique.push(scope);
                }
            }
            Ok(unique.join(" "))
        }
    }
}

fn equal_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes())
        .ct_eq(&Sha256::digest(b.as_bytes()))
        .into()
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The S256 challenge of a verifier (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    b64::encode(&Sha256::digest(verifier.as_bytes()))
}

fn parse_record<T: for<'de> Deserialize<'de>>(key: &str, text: &str) -> Result<T, OAuthError> {
    serde_json::from_str(text)
        .map_err(|e| OAuthError::new("server_error", format!("corrupt record {key:?}: {e}")))
}

fn record_text<T: Serialize>(value: &T) -> Result<String, OAuthError> {
    serde_json::to_string(value).map_err(|e| OAuthError::new("server_error", e.to_string()))
}

fn contended() -> OAuthError {
    OAuthError::new(
        "temporarily_unavailable",
        "too many concurrent requests on the same record; retry",
    )
}

/// One attempt of a compare-and-swap rule: finished (with its answer), or lost to a concurrent
/// request and to be tried again on a fresh read.
enum Redeem<T> {
    Done(T),
    Again,
}

/// Runs `attempt` until it finishes, at most `max` times.
async fn loop_redeem<T, F, Fut>(max: usize, mut attempt: F) -> Result<T, OAuthError>
where
    F: FnMut() -> Fut,
    Fut: core::future::Future<Output = Result<Redeem<T>, OAuthError>>,
{
    for _ in 0..max {
        if let Redeem::Done(answer) = attempt().await? {
            return Ok(answer);
        }
    }
    Err(contended())
}

/// What presenting a refresh token does (RFC 6749 §6, RFC 9700 §4.14.2).
#[derive(Debug, PartialEq, Eq)]
enum RefreshStep {
    /// Not rotated yet: rotate it.
    Rotate,
    /// Rotated less than the grace window ago: a client's concurrent retry, answered with the
    /// same successor.
    Retry,
    /// Rotated longer ago: theft.
    Reuse,
}

/// The pure refresh rule. The window is strict: `grace` 0 allows no retry.
fn refresh_step(record: &RefreshRecord, now: i64, grace: u64) -> RefreshStep {
    let Some(rotated_at) = record.rotated_at else {
        return RefreshStep::Rotate;
    };
    let grace = i64::try_from(grace).unwrap_or(i64::MAX);
    if now.saturating_sub(rotated_at) < grace {
        RefreshStep::Retry
    } else {
        RefreshStep::Reuse
    }
}

/// Store TTLs: KV refuses fewer than 60 seconds.
fn ttl(seconds: u64) -> Option<u64> {
    Some(seconds.max(revocation::MIN_TTL))
}

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    fn hash(&self, token: &str) -> String {
        opaque::keyed_hash(self.pepper, token)
    }

    async fn read<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<Option<T>, OAuthError> {
        match self.store.get(key).await? {
            None => Ok(None),
            Some(text) => parse_record(key, &text).map(Some),
        }
    }

    async fn write<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<u64>,
    ) -> Result<(), OAuthError> {
        let text = record_text(value)?;
        self.store
            .put(key, &text, ttl.map(|t| t.max(revocation::MIN_TTL)))
            .await?;
        Ok(())
    }

    /// A single-use or counting record from the coordinator, with its version.
    async fn read_once<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<(T, u64)>, OAuthError> {
        match self.once.get_versioned(key).await? {
            None => Ok(None),
            Some(found) => Ok(Some((parse_record(key, &found.value)?, found.version))),
        }
    }

    /// Replaces a coordinator record if its version is still `expected`.
    async fn swap_once<T: Serialize>(
        &self,
        key: &str,
        expected: Option<u64>,
        value: &T,
        ttl_seconds: u64,
    ) -> Result<bool, OAuthError> {
        Ok(self
            .once
            .compare_and_swap(key, expected, &record_text(value)?, ttl(ttl_seconds))
            .await?)
    }

    /// The registered client, if any.
    pub async fn client(&self, id: &str) -> Result<Option<Client>, OAuthError> {
        if id.is_empty() || id.len() > 200 {
            return Ok(None);
        }
        self.read(&format!("client:{id}")).await
    }

    /// Authenticates the client of a request (RFC 6749 §2.3) from `source` (the connecting
    /// address). `Ok(None)`: no client at all. Failures slow that source down for that client
    /// only ([`crate::lockout`]).
    pub async fn authenticate_client(
        &self,
        auth: &ClientAuth,
        source: Option<&str>,
        now: i64,
    ) -> Result<Option<Client>, OAuthError> {
        let (id, secret, basic) = match auth {
            ClientAuth::None => return Ok(None),
            ClientAuth::Basic { id, secret } => (id, Some(secret), true),
            ClientAuth::Post { id, secret } => (id, Some(secret), false),
            ClientAuth::Public { id } => (id, None, false),
        };
        let fail = |description: &str| OAuthError {
            basic,
            ..OAuthError::new("invalid_client", description)
        };
        let counter = lockout::account_key(&format!("client:{id}"), source);
        let failures = self.failures(&counter, now, self.limits()).await?;
        if failures.wait_until(now, self.limits()).is_some() {
            return Err(fail("client authentication failed"));
        }
        let client = self.client(id).await?;
        let ok = match (&client, secret) {
            (Some(client), Some(secret)) => client
                .secret_hash
                .as_deref()
                .is_some_and(|stored| equal_secret(stored, &self.hash(secret))),
            (Some(client), None) => client.secret_hash.is_none(),
            (None, _) => false,
        };
        if !ok {
            self.count_failure(&counter, self.limits(), now).await?;
            return Err(fail("client authentication failed"));
        }
        if failures.count > 0 {
            self.once.delete(&counter).await?;
        }
        Ok(client)
    }

    fn limits(&self) -> lockout::Limits {
        lockout::Limits {
            max_failures: self.config.max_failures,
            window: self.config.lockout_seconds,
        }
    }

    async fn failures(
        &self,
        key: &str,
        now: i64,
        limits: lockout::Limits,
    ) -> Result<Failures, OAuthError> {
        let record = self.read_once::<Failures>(key).await?.map(|(f, _)| f);
        Ok(Failures::current(record, now, limits))
    }

    /// Counts one failure atomically: read, apply the pure rule, compare-and-swap, and again
    /// if another request counted first, so concurrent failures are all counted.
    async fn count_failure(
        &self,
        key: &str,
        limits: lockout::Limits,
        now: i64,
    ) -> Result<(), OAuthError> {
        for _ in 0..MAX_ATTEMPTS {
            let found = self.read_once::<Failures>(key).await?;
            let version = found.as_ref().map(|(_, v)| *v);
            let next = Failures::current(found.map(|(f, _)| f), now, limits).after_failure(now);
            if self
                .swap_once(key, version, &next, self.config.lockout_seconds)
                .await?
            {
                return Ok(());
            }
        }
        Err(contended())
    }

    /// The token endpoint (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6, and the API key grant).
    pub async fn token(&self, req: &TokenRequest, now: i64) -> Result<TokenResponse, OAuthError> {
        let param = |name: &str| {
            req.params
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let grant = match (param("grant_type"), &req.api_key) {
            (Some(grant), _) => grant,
            (None, Some(_)) => API_KEY_GRANT,
            (None, None) => {
                return Err(OAuthError::new("invalid_request", "grant_type is required"))
            }
        };
        if !GRANTS.contains(&grant) {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type {grant:?} is not supported"),
            ));
        }
        if grant == API_KEY_GRANT {
            return self.api_key_grant(req, now).await;
        }
        let auth = match (&req.basic, param("client_id"), param("client_secret")) {
            (Some(_), _, Some(_)) => {
                return Err(OAuthError::new(
                    "invalid_request",
                    "use one client authentication method, not two",
                ))
            }
            (Some((id, secret)), form_id, None) => {
                if form_id.is_some_and(|f| f != id) {
                    return Err(OAuthError::new(
                        "invalid_request",
                        "client_id does not match the credentials",
                    ));
                }
                ClientAuth::Basic {
                    id: id.clone(),
                    secret: secret.clone(),
                }
            }
            (None, Some(id), Some(secret)) => ClientAuth::Post {
                id: id.to_owned(),
                secret: secret.to_owned(),
            },
            (None, Some(id), None) => ClientAuth::Public { id: id.to_owned() },
            (None, None, _) => {
                return Err(OAuthError::new(
                    "invalid_client",
                    "client authentication is required",
                ))
            }
        };
        let client = self
            .authenticate_client(&auth, req.client_ip.as_deref(), now)
            .await?
            .ok_or_else(|| {
                OAuthError::new("invalid_client", "client authentication is required")
            })?;
        if !client.grants.iter().any(|g| g == grant) {
            return Err(OAuthError::new(
                "unauthorized_client",
                format!("this client may not use {grant}"),
            ));
        }
        match grant {
            "client_credentials" => {
                if client.secret_hash.is_none() {
                    return Err(OAuthError::new(
                        "unauthorized_client",
                        "public clients cannot use client_credentials",
                    ));
                }
                let scope = grant_scope(param("scope"), &client.scopes)?;
                let access_token =
                    self.access_token(&client.client_id, &client.client_id, &scope, None, now)?;
                Ok(self.response(access_token, None, scope))
            }
            "password" => {
                let username = param("username")
                    .ok_or_else(|| OAuthError::new("invalid_request", "username is required"))?;
                let password = param("password")
                    .ok_or_else(|| OAuthError::new("invalid_request", "password is required"))?;
                // The source is the client's server, which relays many users' logins: no
                // per-source spraying counter here, or one user's typos would lock out all.
                let user = self
                    .check_password(username, password, req.client_ip.as_deref(), false, now)
                    .await
                    .map_err(|e| match e {
                        LoginError::Invalid => OAuthError::new(
                            "invalid_grant",
                            "invalid username or password, or too many attempts",
                        ),
                        LoginError::Store(e) => e,
                    })?;
                let allowed: Vec<String> = client
                    .scopes
                    .iter()
                    .filter(|s| user.scopes.contains(s))
                    .cloned()
                    .collect();
                let scope = grant_scope(param("scope"), &allowed)?;
                self.issue_pair(&client.client_id, &user.sub, &scope, &scope, None, now)
                    .await
            }
            "authorization_code" => {
                self.code_grant(
                    &client,
                    param("code"),
                    param("redirect_uri"),
                    param("code_verifier"),
                    now,
                )
                .await
            }
            "refresh_token" => {
                self.refresh_grant(&client, param("refresh_token"), param("scope"), now)
                    .await
            }
            _ => Err(OAuthError::new(
                "unsupported_grant_type",
                "unsupported grant",
            )),
        }
    }

    fn response(
        &self,
        access_token: String,
        refresh_token: Option<String>,
        scope: String,
    ) -> TokenResponse {
        TokenResponse {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: self.config.access_token_lifetime,
            refresh_token,
            scope,
        }
    }

    /// An RFC 9068 access token (`typ: at+jwt`, with `jti`). Tokens issued from a refresh
    /// family name it in [`revocation::FAMILY_CLAIM`], so that revoking the family revokes them.
    fn access_token(
        &self,
        client_id: &str,
        sub: &str,
        scope: &str,
        family: Option<&str>,
        now: i64,
    ) -> Result<String, OAuthError> {
        let jti = crate::issue::new_jti().map_err(server_error)?;
        let mut builder = TokenBuilder::new(now)
            .issuer(self.issuer)
            .subject(sub)
            .audience([self.audience])
            .claim("client_id", client_id)
            .scope(scope)
            .claim("jti", jti.as_str())
            .typ(crate::config::ACCESS_TOKEN_TYP)
            .lifetime(self.config.access_token_lifetime);
        if let Some(family) = family {
            builder = builder.claim(revocation::FAMILY_CLAIM, family);
        }
        builder.sign(self.signing_key).map_err(server_error)
    }

    /// An access token with `scope` and a new refresh family (its id given, or a fresh one)
    /// whose first refresh token carries `grant_scope`.
    async fn issue_pair(
        &self,
        client_id: &str,
        sub: &str,
        scope: &str,
        grant_scope: &str,
        family: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let family = match family {
            Some(family) => family.to_owned(),
            None => crate::issue::new_jti().map_err(server_error)?,
        };
        let refresh = opaque::generate(Kind::Refresh).map_err(server_error)?;
        let record = RefreshRecord {
            family,
            client_id: client_id.to_owned(),
            sub: sub.to_owned(),
            scope: grant_scope.to_owned(),
            exp: now.saturating_add(
                i64::try_from(self.config.refresh_token_lifetime).unwrap_or(i64::MAX),
            ),
            iat: now,
            rotated_at: None,
        };
        self.swap_once(
            &format!("refresh:{}", self.hash(&refresh)),
            None,
            &record,
            self.config.refresh_token_lifetime,
        )
        .await?;
        self.refresh_response(&record, refresh, scope, now)
    }

    /// The token response for a refresh token of `record`: a freshly signed access token with
    /// `scope` (at most the record's) and the refresh token itself.
    fn refresh_response(
        &self,
        record: &RefreshRecord,
        refresh: String,
        scope: &str,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let access = self.access_token(
            &record.client_id,
            &record.sub,
            scope,
            Some(&record.family),
            now,
        )?;
        Ok(self.response(access, Some(refresh), scope.to_owned()))
    }

    async fn api_key_grant(
        &self,
        req: &TokenRequest,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = req
            .api_key
            .as_deref()
            .or(req.params.get("api_key").map(String::as_str))
            .ok_or_else(|| {
                OAuthError::new(
                    "invalid_request",
                    "an API key is required (Authorization: Bearer or X-API-Key)",
                )
            })?;
        let key = self
            .lookup_api_key(presented, now)
            .await?
            .ok_or_else(|| OAuthError::new("invalid_client", "the API key is not valid"))?;
        let scope = grant_scope(req.params.get("scope").map(String::as_str), &key.scopes)?;
        let access =
            self.access_token(&format!("apikey:{}", key.id), &key.owner, &scope, None, now)?;
        Ok(self.response(access, None, scope))
    }

    /// The record of a valid, unexpired API key.
    pub async fn lookup_api_key(
        &self,
        presented: &str,
        now: i64,
    ) -> Result<Option<ApiKey>, OAuthError> {
        if opaque::parse(presented) != Some(Kind::ApiKey) {
            return Ok(None);
        }
        let key: Option<ApiKey> = self
            .read(&format!("apikey:{}", self.hash(presented)))
            .await?;
        let Some(key) = key.filter(|k| k.exp.is_none_or(|exp| exp > now)) else {
            return Ok(None);
        };
        if revocation::subject_revoked(self.store, self.issuer, &key.owner, key.created).await? {
            return Ok(None);
        }
        Ok(Some(key))
    }

    /// Creates an API key; returns the key (shown once) and its record.
    pub async fn create_api_key(
        &self,
        owner: &str,
        scopes: Vec<String>,
        lifetime: Option<u64>,
        now: i64,
    ) -> Result<(String, ApiKey), OAuthError> {
        let token = opaque::generate(Kind::ApiKey).map_err(server_error)?;
        let record = ApiKey {
            id: token[4..14].to_owned(),
            owner: owner.to_owned(),
            scopes,
            exp: lifetime.map(|l| now + i64::try_from(l).unwrap_or(i64::MAX / 2)),
            created: now,
        };
        self.write(&format!("apikey:{}", self.hash(&token)), &record, lifetime)
            .await?;
        Ok((token, record))
    }

    async fn code_grant(
        &self,
        client: &Client,
        code: Option<&str>,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let code = code.ok_or_else(|| OAuthError::new("invalid_request", "code is required"))?;
        let verifier = verifier.ok_or_else(|| {
            OAuthError::new("invalid_request", "code_verifier is required (PKCE)")
        })?;
        let invalid = || {
            OAuthError::new(
                "invalid_grant",
                "the code is invalid, expired, already used, or was issued to another client",
            )
        };
        if opaque::parse(code) != Some(Kind::Code) {
            return Err(invalid());
        }
        let key = format!("code:{}", self.hash(code));
        // Single use (RFC 6749 §4.1.2): the one request that swaps the record to `used` redeems
        // it; every other finds it used and revokes what the redemption gave.
        let record = loop_redeem(MAX_ATTEMPTS, || async {
            let Some((record, version)) = self.read_once::<CodeRecord>(&key).await? else {
                return Ok(Redeem::Done(Err(invalid())));
            };
            if record.used {
                if !record.family.is_empty() {
                    self.revoke_family(&record.family, now).await?;
                }
                return Ok(Redeem::Done(Err(invalid())));
            }
            let used = CodeRecord {
                used: true,
                ..record.clone()
            };
            // Kept past the code's life as the reuse marker.
            if self.swap_once(&key, Some(version), &used, 600).await? {
                return Ok(Redeem::Done(Ok(record)));
            }
            Ok(Redeem::Again)
        })
        .await??;
        if record.client_id != client.client_id || record.exp <= now {
            return Err(invalid());
        }
        if redirect_uri != Some(record.redirect_uri.as_str()) {
            return Err(OAuthError::new(
                "invalid_grant",
                "redirect_uri does not match the authorization request",
            ));
        }
        if !valid_verifier(verifier) || !equal_secret(&pkce_challenge(verifier), &record.challenge)
        {
            return Err(OAuthError::new(
                "invalid_grant",
                "code_verifier does not match the code_challenge",
            ));
        }
        let family = (!record.family.is_empty()).then_some(record.family.as_str());
        self.issue_pair(
            &client.client_id,
            &record.sub,
            &record.scope,
            &record.scope,
            family,
            now,
        )
        .await
    }

    async fn refresh_grant(
        &self,
        client: &Client,
        presented: Option<&str>,
        scope: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = presented
            .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required"))?;
        let invalid = || {
            OAuthError::new(
                "invalid_grant",
                "the refresh token is invalid, expired or revoked",
            )
        };
        if opaque::parse(presented) != Some(Kind::Refresh) {
            return Err(invalid());
        }
        let key = format!("refresh:{}", self.hash(presented));
        for _ in 0..MAX_ATTEMPTS {
            let Some((record, version)) = self.read_once::<RefreshRecord>(&key).await? else {
                return Err(invalid());
            };
            if record.client_id != client.client_id || record.exp <= now {
                return Err(invalid());
            }
            if revocation::family_revoked(self.store, &record.family).await?
                || revocation::subject_revoked(self.store, self.issuer, &record.sub, record.iat)
                    .await?
            {
                return Err(invalid());
            }
            let allowed: Vec<String> = scopes(&record.scope)
                .into_iter()
                .map(str::to_owned)
                .collect();
            let scope = grant_scope(scope, &allowed)?;
            // The successor is derived from the presented token, so the first rotation and
            // every retry inside the grace window hand out the same one: the family never
            // forks, however many requests race.
            let successor =
                opaque::derive(Kind::Refresh, self.pepper, "refresh-successor", presented);
            match refresh_step(&record, now, self.config.refresh_grace_seconds) {
                RefreshStep::Reuse => {
                    // A rotated token presented after the window: someone holds a stolen copy.
                    // End the family, every branch's access tokens with it (RFC 9700 §4.14.2).
                    self.revoke_family(&record.family, now).await?;
                    return Err(OAuthError::new(
                        "invalid_grant",
                        "refresh token reuse detected: the session is revoked",
                    ));
                }
                RefreshStep::Retry => {
                    return self.refresh_response(&record, successor, &scope, now);
                }
                RefreshStep::Rotate => {
                    // The successor's record first (only if absent: a late racer must not
                    // reset a successor that has itself rotated), then the old one is marked.
                    let next = RefreshRecord {
                        iat: now,
                        exp: now.saturating_add(
                            i64::try_from(self.config.refresh_token_lifetime).unwrap_or(i64::MAX),
                        ),
                        rotated_at: None,
                        ..record.clone()
                    };
                    self.swap_once(
                        &format!("refresh:{}", self.hash(&successor)),
                        None,
                        &next,
                        self.config.refresh_token_lifetime,
                    )
                    .await?;
                    let rotated = RefreshRecord {
                        rotated_at: Some(now),
                        ..record.clone()
                    };
                    let remaining = u64::try_from(record.exp.saturating_sub(now)).unwrap_or(0);
                    if self
                        .swap_once(&key, Some(version), &rotated, remaining)
                        .await?
                    {
                        return self.refresh_response(&next, successor, &scope, now);
                    }
                    // Another request rotated it first: read again, and answer as its retry.
                }
            }
        }
        Err(contended())
    }

    async fn revoke_family(&self, family: &str, now: i64) -> Result<(), OAuthError> {
        revocation::revoke_family(self.store, family, now, self.config.refresh_token_lifetime)
            .await?;
        Ok(())
    }

    /// Checks a username and password with throttling per account and per IP; unknown users
    /// cost the same time as known ones, and every failure reads the same.
    pub async fn check_password(
        &self,
        username: &str,
        password: &str,
        source: Option<&str>,
        count_spraying: bool,
        now: i64,
    ) -> Result<User, LoginError> {
        let name = username.trim().to_lowercase();
        let limits = self.limits();
        let spray_limits = limits.scaled(4);
        let user_key = lockout::account_key(&format!("user:{name}"), source);
        let source_key = source.filter(|_| count_spraying).map(lockout::source_key);
        let cost = Cost {
            memory_kib: self.config.password_memory_kib,
            iterations: self.config.password_iterations,
        };
        let user_failures = self.failures(&user_key, now, limits).await?;
        let source_failures = match &source_key {
            Some(key) => Some(self.failures(key, now, spray_limits).await?),
            None => None,
        };
        let waiting = user_failures.wait_until(now, limits).is_some()
            || source_failures.is_some_and(|f| f.wait_until(now, spray_limits).is_some());
        if waiting || name.is_empty() || name.len() > 200 || password.len() > 1024 {
            password::verify_dummy(password, cost);
            return Err(LoginError::Invalid);
        }
        let user: Option<User> = self.read(&format!("user:{name}")).await?;
        let ok = match &user {
            Some(user) if !user.disabled => password::verify(password, &user.password),
            _ => {
                password::verify_dummy(password, cost);
                false
            }
        };
        match (ok, user) {
            (true, Some(user)) => {
                if user_failures.count > 0 {
                    self.once.delete(&user_key).await?;
                }
                Ok(user)
            }
            _ => {
                self.count_failure(&user_key, limits, now).await?;
                if let Some(key) = &source_key {
                    self.count_failure(key, spray_limits, now).await?;
                }
                Err(LoginError::Invalid)
            }
        }
    }

    /// Validates an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3). Errors that must
    /// not be sent to the redirect URI (unknown client, unregistered redirect) are
    /// [`AuthorizeError::Page`]; the rest go back to the client.
    pub async fn authorization_request(
        &self,
        params: &BTreeMap<String, String>,
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        let param = |name: &str| {
            params
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let client_id = param("client_id").ok_or(AuthorizeError::Page("client_id is missing"))?;
        let client = self
            .client(client_id)
            .await
            .map_err(|_| AuthorizeError::Page("the service is temporarily unavailable"))?
            .ok_or(AuthorizeError::Page("unknown client"))?;
        let redirect_uri = match param("redirect_uri") {
            Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_owned(),
            Some(_) => {
                return Err(AuthorizeError::Page(
                    "redirect_uri is not registered for this client",
                ))
            }
            None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
            None => return Err(AuthorizeError::Page("redirect_uri is required")),
        };
        let state = param("state").map(str::to_owned);
        let back = |error: &'static str, description: &'static str| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description,
            state: state.clone(),
        };
        if param("response_type") != Some("code") {
            return Err(back(
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        if !client.grants.iter().any(|g| g == "authorization_code") {
            return Err(back(
                "unauthorized_client",
                "this client may not use the authorization code grant",
            ));
        }
        let challenge = param("code_challenge")
            .ok_or_else(|| back("invalid_request", "code_challenge is required (PKCE)"))?;
        if param("code_challenge_method") != Some("S256") {
            return Err(back(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        if challenge.len() != 43 || b64::decode(challenge).is_none() {
            return Err(back(
                "invalid_request",
                "code_challenge must be a base64url SHA-256",
            ));
        }
        let scope = grant_scope(param("scope"), &client.scopes)
            .map_err(|_| back("invalid_scope", "a requested scope is not allowed"))?;
        Ok(AuthorizationRequest {
            client,
            redirect_uri,
            scope,
            state,
            challenge: challenge.to_owned(),
        })
    }

    /// Issues a single-use code for an authenticated user and a validated request; returns
    /// the redirect URL.
    pub async fn issue_code(
        &self,
        request: &AuthorizationRequest,
        sub: &str,
        now: i64,
    ) -> Result<String, OAuthError> {
        let code = opaque::generate(Kind::Code).map_err(server_error)?;
        let record = CodeRecord {
            client_id: request.client.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            sub: sub.to_owned(),
            scope: request.scope.clone(),
            challenge: request.challenge.clone(),
            exp: now + i64::try_from(self.config.code_lifetime).unwrap_or(60),
            family: crate::issue::new_jti().map_err(server_error)?,
            used: false,
        };
        self.swap_once(
            &format!("code:{}", self.hash(&code)),
            None,
            &record,
            self.config.code_lifetime,
        )
        .await?;
        let mut query = vec![("code", code.as_str()), ("iss", self.issuer)];
        if let Some(state) = &request.state {
            query.push(("state", state));
        }
        Ok(with_query(&request.redirect_uri, &query))
    }

    /// Starts a session for a user; returns the session id for the cookie.
    pub async fn create_session(&self, user: &User, now: i64) -> Result<String, OAuthError> {
        let id = opaque::generate(Kind::Session).map_err(server_error)?;
        let session = Session {
            sub: user.sub.clone(),
            username: user.username.clone(),
            created: now,
            last_seen: now,
            absolute_exp: now + i64::try_from(self.config.session_absolute_seconds).unwrap_or(0),
            scopes: user.scopes.clone(),
        };
        self.write(
            &format!("session:{}", self.hash(&id)),
            &session,
            Some(self.config.session_idle_seconds),
        )
        .await?;
        Ok(id)
    }

    /// The live session for an id, refreshing its idle expiry (at most once a minute).
    pub async fn session(&self, id: &str, now: i64) -> Result<Option<Session>, OAuthError> {
        if opaque::parse(id) != Some(Kind::Session) {
            return Ok(None);
        }
        let key = format!("session:{}", self.hash(id));
        let Some(mut session) = self.read::<Session>(&key).await? else {
            return Ok(None);
        };
        let idle = i64::try_from(self.config.session_idle_seconds).unwrap_or(0);
        let revoked =
            revocation::subject_revoked(self.store, self.issuer, &session.sub, session.created)
                .await?;
        if revoked || now >= session.absolute_exp || now - session.last_seen >= idle {
            self.store.delete(&key).await?;
            return Ok(None);
        }
        if now - session.last_seen >= 60 {
            session.last_seen = now;
            let ttl = u64::try_from((session.absolute_exp - now).min(idle)).unwrap_or(60);
            self.write(&key, &session, Some(ttl)).await?;
        }
        Ok(Some(session))
    }

    /// Ends a session (logout).
    pub async fn end_session(&self, id: &str) -> Result<(), OAuthError> {
        if opaque::parse(id) == Some(Kind::Session) {
            self.store
                .delete(&format!("session:{}", self.hash(id)))
                .await?;
        }
        Ok(())
    }

    /// Issues a one-time token: accepted exactly once by [`OAuth::consume_one_time`].
    pub async fn issue_one_time(
        &self,
        sub: &str,
        purpose: &str,
        lifetime: u64,
        now: i64,
    ) -> Result<String, OAuthError> {
        let token = opaque::generate(Kind::OneTime).map_err(server_error)?;
        let record = OneTimeRecord {
            sub: sub.to_owned(),
            purpose: purpose.to_owned(),
            exp: now.saturating_add(i64::try_from(lifetime).unwrap_or(0)),
        };
        self.swap_once(
            &format!("onetime:{}", self.hash(&token)),
            None,
            &record,
            lifetime,
        )
        .await?;
        Ok(token)
    }

    /// Consumes a one-time token for `purpose`: the first call returns its subject, every
    /// later one `None`.
    pub async fn consume_one_time(
        &self,
        token: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<String>, OAuthError> {
        if opaque::parse(token) != Some(Kind::OneTime) {
            return Ok(None);
        }
        let key = format!("onetime:{}", self.hash(token));
        // Taken, not read then deleted: of two concurrent uses exactly one gets the record.
        let Some(text) = self.once.take(&key).await? else {
            return Ok(None);
        };
        let record: OneTimeRecord = parse_record(&key, &text)?;
        Ok((record.exp > now && record.purpose == purpose).then_some(record.sub))
    }

    /// RFC 7662 introspection of any token type. `verifier` checks JWT access tokens.
    pub async fn introspect(
        &self,
        token: &str,
        verifier: &Verifier,
        now: i64,
    ) -> Result<Value, OAuthError> {
        let inactive = json!({ "active": false });
        match opaque::parse(token) {
            Some(Kind::ApiKey) => Ok(match self.lookup_api_key(token, now).await? {
                Some(key) => {
                    json!({ "active": true, "token_type": "api_key", "sub": key.owner, "scope": key.scopes.join(" "), "exp": key.exp, "iat": key.created, "iss": self.issuer })
                }
                None => inactive,
            }),
            Some(Kind::Refresh) => {
                let record = self
                    .read_once::<RefreshRecord>(&format!("refresh:{}", self.hash(token)))
                    .await?
                    .map(|(record, _)| record);
                let Some(record) = record.filter(|r| r.exp > now && r.rotated_at.is_none()) else {
                    return Ok(inactive);
                };
                if revocation::family_revoked(self.store, &record.family).await?
                    || revocation::subject_revoked(self.store, self.issuer, &record.sub, record.iat)
                        .await?
                {
                    return Ok(inactive);
                }
                Ok(
                    json!({ "active": true, "token_type": "refresh_token", "sub": record.sub, "client_id": record.client_id, "scope": record.scope, "exp": record.exp, "iat": record.iat, "iss": self.issuer }),
                )
            }
            Some(Kind::Session) => Ok(match self.session(token, now).await? {
                Some(s) => {
                    json!({ "active": true, "token_type": "session", "sub": s.sub, "username": s.username, "iat": s.created, "exp": s.absolute_exp, "iss": self.issuer })
                }
                None => inactive,
            }),
            Some(_) => Ok(inactive),
            None => {
                let Ok(verified) = verifier.verify(token, now) else {
                    return Ok(inactive);
                };
                if revocation::check(self.store, &verified, self.issuer).await? {
                    return Ok(inactive);
                }
                let mut out = json!({ "active": true, "token_type": "access_token" });
                for claim in [
                    "sub",
                    "scope",
                    "client_id",
                    "exp",
                    "iat",
                    "nbf",
                    "iss",
                    "aud",
                    "jti",
                ] {
                    if let Some(value) = verified.claims().get(claim) {
                        out[claim] = value.clone();
                    }
                }
                Ok(out)
            }
        }
    }

    /// RFC 7009 revocation of any token type. A client may revoke only what was issued to it
    /// (§2.1: another's token is refused with `unauthorized_client`); the operator may revoke
    /// anything. Unknown or invalid tokens succeed silently (§2.2). Revoking a refresh token
    /// revokes its family, and so every access token issued from the grant.
    pub async fn revoke(
        &self,
        token: &str,
        by: Revoker<'_>,
        verifier: &Verifier,
        now: i64,
    ) -> Result<(), OAuthError> {
        let issued_to_caller = |client_id: &str| match by {
            Revoker::Operator => true,
            Revoker::Client(client) => client.client_id == client_id,
        };
        let not_yours = || {
            OAuthError::new(
                "unauthorized_client",
                "the token was not issued to this client",
            )
        };
        match opaque::parse(token) {
            Some(Kind::Refresh) => {
                let key = format!("refresh:{}", self.hash(token));
                if let Some((record, _)) = self.read_once::<RefreshRecord>(&key).await? {
                    if !issued_to_caller(&record.client_id) {
                        return Err(not_yours());
                    }
                    self.revoke_family(&record.family, now).await?;
                }
            }
            // API keys and sessions belong to users, not to clients: only the operator (or
            // the user, by logging out) ends them.
            Some(Kind::ApiKey) => {
                let key = format!("apikey:{}", self.hash(token));
                if self.read::<ApiKey>(&key).await?.is_some() {
                    if !matches!(by, Revoker::Operator) {
                        return Err(not_yours());
                    }
                    self.store.delete(&key).await?;
                }
            }
            Some(Kind::Session) => {
                let key = format!("session:{}", self.hash(token));
                if self.read::<Session>(&key).await?.is_some() {
                    if !matches!(by, Revoker::Operator) {
                        return Err(not_yours());
                    }
                    self.store.delete(&key).await?;
                }
            }
            Some(_) => {}
            None => {
                let Ok(checked) = verifier.verify_signature(token) else {
                    return Ok(());
                };
                let claims: Value = serde_json::from_slice(checked.payload()).unwrap_or_default();
                let client_id = claims["client_id"].as_str().unwrap_or("");
                if !issued_to_caller(client_id) {
                    return Err(not_yours());
                }
                if let Some(jti) = claims["jti"].as_str() {
                    revocation::revoke_jti(
                        self.store,
                        self.issuer,
                        jti,
                        claims["exp"].as_i64(),
                        now,
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}

/// Who asks for a revocation.
#[derive(Clone, Copy, Debug)]
pub enum Revoker<'a> {
    /// An authenticated client: only its own tokens.
    Client(&'a Client),
    /// The operator (the admin token): any token.
    Operator,
}

/// Why a login failed. Every failure reads the same to the user.
#[derive(Debug)]
pub enum LoginError {
    /// Wrong name or password, disabled, or locked out.
    Invalid,
    /// The store is down.
    Store(OAuthError),
}

impl From<OAuthError> for LoginError {
    fn from(err: OAuthError) -> Self {
        LoginError::Store(err)
    }
}

impl From<StoreError> for LoginError {
    fn from(err: StoreError) -> Self {
        LoginError::Store(err.into())
    }
}

/// A validated authorization request.
#[derive(Clone, Debug)]
pub struct AuthorizationRequest {
    /// The client.
    pub client: Client,
    /// The exact registered redirect URI.
    pub redirect_uri: String,
    /// The scope to grant.
    pub scope: String,
    /// The client's state, returned unchanged.
    pub state: Option<String>,
    /// The PKCE S256 challenge.
    pub challenge: String,
}

/// Why an authorization request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown to the user; never redirected (the redirect URI is not trusted).
    Page(&'static str),
    /// Sent back to the client's redirect URI (RFC 6749 §4.1.2.1).
    Redirect {
        /// Where.
        redirect_uri: String,
        /// The error code.
        error: &'static str,
        /// Detail.
        description: &'static str,
        /// The client's state.
        state: Option<String>,
    },
}

impl AuthorizeError {
    /// The redirect URL for a `Redirect` error.
    pub fn location(&self, issuer: &str) -> Option<String> {
        match self {
            AuthorizeError::Page(_) => None,
            AuthorizeError::Redirect {
                redirect_uri,
                error,
                description,
                state,
            } => {
                let mut query = vec![
                    ("error", *error),
                    ("error_description", *description),
                    ("iss", issuer),
                ];
                if let Some(state) = state {
                    query.push(("state", state));
                }
                Some(with_query(redirect_uri, &query))
            }
        }
    }
}

/// Largest form body or query string accepted by the OAuth endpoints.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// A CSRF value for the login and consent forms: a random nonce and its keyed hash under the
/// pepper (`nonce.mac`). Only the server can mint one, so a pair an attacker planted (a cookie
/// set from a sibling domain plus the same value in a forged form) does not pass
/// [`csrf_valid`]; the double-submit cookie still ties it to the browser.
pub fn csrf_token(pepper: &[u8]) -> Result<String, Error> {
    let nonce = crate::issue::new_jti()?;
    let mac = opaque::keyed_hash(pepper, &format!("tollgate-csrf:{nonce}"));
    Ok(format!("{nonce}.{mac}"))
}

/// Whether the form's CSRF value is one this server issued and equals the cookie's.
pub fn csrf_valid(pepper: &[u8], form: &str, cookie: &str) -> bool {
    let Some((nonce, mac)) = form.split_once('.') else {
        return false;
    };
    let expected = opaque::keyed_hash(pepper, &format!("tollgate-csrf:{nonce}"));
    !nonce.is_empty() && equal_secret(mac, &expected) && equal_secret(form, cookie)
}

/// Form parameters by name.
pub type Form = BTreeMap<String, String>;

/// Parses an `application/x-www-form-urlencoded` body or a query string. Parameters may not
/// repeat (RFC 6749 §3.1), and the input is bounded.
pub fn parse_form(body: &str) -> Result<Form, OAuthError> {
    parse_form_bytes(body.as_bytes())
}

/// [`parse_form`] over raw bytes: anything that is not UTF-8, raw or once percent-decoded, is
/// `invalid_request` (the WHATWG parser would replace it with U+FFFD, silently changing what
/// the client sent).
pub fn parse_form_bytes(body: &[u8]) -> Result<Form, OAuthError> {
    if body.len() > MAX_FORM_BYTES {
        return Err(OAuthError::new(
            "invalid_request",
            "the request is too large",
        ));
    }
    let invalid = || OAuthError::new("invalid_request", "the form is not valid UTF-8");
    let mut params = BTreeMap::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (
                pair.get(..at).unwrap_or_default(),
                pair.get(at + 1..).unwrap_or_default(),
            ),
            None => (pair, &[][..]),
        };
        let name = form_decode(name).ok_or_else(invalid)?;
        let value = form_decode(value).ok_or_else(invalid)?;
        if params.insert(name, value).is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                "a parameter is repeated",
            ));
        }
    }
    Ok(params)
}

/// Decodes one form component (`+` is a space, `%XX` a byte; a `%` without two hex digits
/// stays as it is, as in the WHATWG parser); `None` when the result is not UTF-8.
fn form_decode(raw: &[u8]) -> Option<String> {
    let hex = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&byte) = raw.get(i) {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => match (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            ) {
                (Some(high), Some(low)) => {
                    bytes.push((high << 4) | low);
                    i += 2;
                }
                _ => bytes.push(b'%'),
            },
            _ => bytes.push(byte),
        }
        i += 1;
    }
    String::from_utf8(bytes).ok()
}

/// `Authorization: Basic` client credentials (RFC 6749 §2.3.1: id and secret are
/// form-encoded before base64). `None` for any other scheme or a malformed value.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 4096 {
        return None;
    }
    let decoded = <base64ct::Base64 as base64ct::Encoding>::decode_vec(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (id, secret) = (decode(id), decode(secret));
    (!id.is_empty()).then_some((id, secret))
}

/// Whether a redirect URI may be registered (RFC 9700 §2.1, §4.1): absolute, no fragment,
/// https, or http only to a loopback host (native and development clients).
pub fn valid_redirect_uri(uri: &str) -> bool {
    if uri.len() > 2048
        || uri.contains('#')
        || uri.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return false;
    }
    let rest = match (uri.strip_prefix("https://"), uri.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) => {
            let host = rest.split(['/', '?']).next().unwrap_or("");
            if !crate::config::is_loopback_host(host) {
                return false;
            }
            rest
        }
        _ => return false,
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    !host.is_empty() && !host.contains('@')
}

/// Appends form-encoded parameters to a URL (keeping any query it already has).
pub fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let mut out = url.to_owned();
    let mut separator = if url.contains('?') { '&' } else { '?' };
    for (name, value) in params {
        out.push(separator);
        out.push_str(&form_encode(name));
        out.push('=');
        out.push_str(&form_encode(value));
        separator = '&';
    }
    out
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A new API key: the key itself (shown once), its store key, and its record.
pub fn new_api_key(
    pepper: &[u8],
    owner: &str,
    scopes: Vec<String>,
    lifetime: Option<u64>,
    now: i64,
) -> Result<(String, String, ApiKey), Error> {
    let token = opaque::generate(Kind::ApiKey)?;
    let record = ApiKey {
        id: token.get(4..14).unwrap_or_default().to_owned(),
        owner: owner.to_owned(),
        scopes,
        exp: lifetime.map(|l| now.saturating_add(i64::try_from(l).unwrap_or(i64::MAX))),
        created: now,
    };
    let key = api_key_store_key(pepper, &token);
    Ok((token, key, record))
}

/// The store key of an API key.
pub fn api_key_store_key(pepper: &[u8], token: &str) -> String {
    format!("apikey:{}", opaque::keyed_hash(pepper, token))
}

/// Builds a client record with a fresh secret (returned once) for confidential clients.
pub fn new_client(
    pepper: &[u8],
    client_id: &str,
    confidential: bool,
) -> Result<(Client, Option<String>), Error> {
    let secret = if confidential {
        Some(opaque::generate(Kind::ApiKey)?.replacen("tgk_", "tgcs_", 1))
    } else {
        None
    };
    Ok((
        Client {
            client_id: client_id.to_owned(),
            name: client_id.to_owned(),
            secret_hash: secret.as_deref().map(|s| opaque::keyed_hash(pepper, s)),
            redirect_uris: Vec::new(),
            grants: Vec::new(),
            scopes: Vec::new(),
            first_party: false,
        },
        secret,
    ))
}

/// Builds a user record (the password hashed with Argon2id).
pub fn new_user(
    username: &str,
    password_text: &str,
    scopes: Vec<String>,
    cost: Cost,
) -> Result<User, Error> {
    if username.trim().is_empty() || password_text.len() < 8 {
        return Err(Error::policy(
            "a username and a password of at least 8 characters are required",
        ));
    }
    Ok(User {
        sub: format!("usr_{}", crate::issue::new_jti()?),
        username: username.trim().to_owned(),
        password: password::hash(password_text, cost)?,
        scopes,
        disabled: false,
    })
}
