//! The gateway's configuration: one type, read (`read.rs`) and validated once at start-up.
//!
//! It comes from the `TOLLGATE_CONFIG` variable (a TOML table in `wrangler.toml`, or JSON text).
//! Every field documents its default; unknown fields are refused so that a typo cannot quietly
//! turn a protection off.

use crate::alg::Algorithm;
use crate::error::Error;
use crate::path::{self, PathOptions};
use crate::policy::Policy;

mod read;

/// The whole gateway configuration.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// This deployment's issuer identifier (`iss` of the tokens it issues), e.g.
    /// `https://auth.example.com`: https, or http on loopback for development. Required.
    pub issuer: String,
    /// Audiences accepted in this deployment's own tokens. Default: none (`aud` unchecked).
    pub audiences: Vec<String>,
    /// Route rules, matched by the longest path prefix. A path no rule matches needs a token
    /// (deny by default). Default: none.
    pub routes: Vec<Route>,
    /// Name of the cookie that may carry the token for browsers. Default: none (only the
    /// `Authorization: Bearer` header is read).
    pub token_cookie: Option<String>,
    /// Whether the `Authorization` header goes on to the origin. Default: false.
    pub forward_authorization: bool,
    /// Whether each allowed request reaches the origin with a signed identity assertion
    /// (`X-Tollgate-Assertion`, [`crate::assertion`]), so that the origin need not trust the
    /// network path. Default: true (when the deployment has a signing key).
    pub origin_assertion: bool,
    /// The assertion's `aud`. Default: `ORIGIN_URL`.
    pub assertion_audience: Option<String>,
    /// Identity providers whose tokens are also accepted. Default: none.
    pub external_issuers: Vec<ExternalIssuer>,
    /// What to do with plain-HTTP requests. Default: `redirect`.
    pub https: HttpsMode,
    /// Whether plain HTTP is allowed from loopback hosts (local development). Default: true.
    pub allow_loopback_http: bool,
    /// Revocation-list behaviour.
    pub revocation: RevocationConfig,
    /// Verified-token cache size per isolate; 0 turns it off. Default: 10,000.
    pub token_cache_entries: usize,
    /// Where a browser without a valid token is sent (the OAuth login flow). Default: none,
    /// browsers get the 401 like any client.
    pub login_url: Option<String>,
    /// Clock tolerance in seconds for `exp`/`nbf`/`iat`. Default: 0.
    pub leeway: u64,
    /// Largest token accepted, in bytes. Default: 8192.
    pub max_token_bytes: usize,
    /// RFC 9449 §8: DPoP proofs at the token endpoint and the gateway must carry a server
    /// nonce (from the `DPoP-Nonce` header of a `use_dpop_nonce` answer), which bounds how long
    /// a proof made in advance stays usable. Default: false.
    pub dpop_nonce: bool,
    /// Token issuance (the OAuth endpoints).
    pub oauth: OAuthConfig,
    /// Which auth decisions get a log line. Default: `all`. Analytics Engine counts every
    /// decision whatever this says.
    pub log_decisions: LogDecisions,
    /// Whether the origin treats paths case-sensitively. Default: false: a path that differs
    /// from a protected (`auth = "token"`) route only by letter case is held to that route,
    /// since a case-insensitive origin serves `/API/admin` as `/api/admin`. Public routes
    /// always match their exact case, so case can only make a request need more, never less.
    pub case_sensitive_paths: bool,
    /// Whether `;` path parameters (`/a;v=1/b`) are passed to the origin. Default: false: they
    /// are refused with 400, since servers disagree on them (`..;/` is `..` to Tomcat).
    pub allow_path_parameters: bool,
    /// Whether the routing-override headers `X-Original-URL`, `X-Rewrite-URL`,
    /// `X-HTTP-Method-Override`, `X-HTTP-Method` and `X-Method-Override` reach the origin.
    /// Default: false: they are dropped, since an origin that honours them would act on a
    /// path or method the gateway never authorized.
    pub forward_override_headers: bool,
    /// Where single-use and counting records (codes, refresh tokens, one-time tokens, failure
    /// counters) live. Default: `durable` when the `TOLLGATE_COORDINATOR` Durable Object
    /// binding exists, else `kv`. `durable` without the binding is a start-up error.
    pub consistency: Option<Consistency>,
    /// Browser origins (`https://app.example`) allowed to call the token, JWKS and metadata
    /// endpoints from scripts (CORS, preflight answered). `"*"` allows any origin; credentials
    /// (cookies) are never allowed cross-origin. Default: none.
    pub cors_origins: Vec<String>,
}

/// Where the "once" records live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// Durable Objects: every single use and count is atomic, in one location and across the
    /// world.
    Durable,
    /// Workers KV (explicit opt-out): eventually consistent, no compare-and-swap; concurrent
    /// requests can both redeem one code or rotate one refresh token (README, "Consistency").
    Kv,
}

/// Which auth decisions are logged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogDecisions {
    /// Every decision (allow, public, deny).
    #[default]
    All,
    /// Refusals only: the cheapest setting that still records every attack.
    Denials,
    /// None (rely on Analytics Engine).
    None,
}

impl LogDecisions {
    /// Whether a decision with this outcome is logged.
    pub fn logs(self, outcome: crate::gateway::Outcome) -> bool {
        match self {
            LogDecisions::All => true,
            LogDecisions::Denials => outcome == crate::gateway::Outcome::Deny,
            LogDecisions::None => false,
        }
    }
}

/// Token issuance settings. Lifetimes in seconds.
#[derive(Clone, Debug)]
pub struct OAuthConfig {
    /// Access-token lifetime. Default: 900 (15 minutes); at most 3600.
    pub access_token_lifetime: u64,
    /// Refresh-token lifetime. Default: 2,592,000 (30 days); at most that.
    pub refresh_token_lifetime: u64,
    /// Authorization-code lifetime. Default: 60 (KV's minimum TTL).
    pub code_lifetime: u64,
    /// A rotated refresh token presented again within this many seconds is a client's
    /// concurrent retry, not theft. Default: 10.
    pub refresh_grace_seconds: u64,
    /// A session ends after this much inactivity. Default: 1800.
    pub session_idle_seconds: u64,
    /// A session ends this long after login, whatever the activity. Default: 43,200 (12 h).
    pub session_absolute_seconds: u64,
    /// Failed password (or client secret) attempts before a lockout. Default: 5.
    pub max_failures: u32,
    /// Lockout and failure-counting window. Default: 900.
    pub lockout_seconds: u64,
    /// `aud` of issued access tokens. Default: the first of `audiences`, else the issuer.
    pub access_token_audience: Option<String>,
    /// Routes (path prefixes) where a session cookie is accepted instead of a bearer token;
    /// each must cover or lie under a rule with `auth = "token"`
    /// (`GatewayConfig::meets_a_protected_route`). Default: none.
    pub session_routes: Vec<String>,
    /// Argon2id memory cost in KiB for new password hashes. Default: 19456.
    pub password_memory_kib: u32,
    /// Argon2id passes for new password hashes. Default: 2.
    pub password_iterations: u32,
    /// ID-token lifetime (OpenID Connect Core §2). Default: 600; at most 3600.
    pub id_token_lifetime: u64,
    /// The algorithm ID tokens are signed with, by the first key of that algorithm in the
    /// signing-key set (`oidc::id_token_key`). Default: the active key's. `RS256` is what
    /// relying parties expect unless told otherwise (Core §15.1, Discovery §3). Never HMAC:
    /// relying parties verify ID tokens with the published keys.
    pub id_token_signing_alg: Option<crate::Algorithm>,
}

impl OAuthConfig {
    /// Lifetimes and limits within their documented bounds.
    fn validate(&self) -> Result<(), String> {
        let o = self;
        if o.access_token_lifetime == 0 || o.access_token_lifetime > 3600 {
            return Err("oauth.accessTokenLifetime must be between 1 and 3600 seconds".into());
        }
        if o.refresh_token_lifetime < 60 || o.refresh_token_lifetime > crate::revocation::HORIZON {
            return Err("oauth.refreshTokenLifetime must be between 60 s and 30 days".into());
        }
        if o.id_token_lifetime == 0 || o.id_token_lifetime > 3600 {
            return Err("oauth.idTokenLifetime must be between 1 and 3600 seconds".into());
        }
        if let Some(alg) = o
            .id_token_signing_alg
            .filter(|alg| alg.family() == crate::alg::Family::Hmac)
        {
            return Err(format!(
                "oauth.idTokenSigningAlg {alg}: relying parties verify ID tokens with the published keys, and an HMAC secret is never published"
            ));
        }
        if o.code_lifetime < 60 || o.code_lifetime > 600 {
            return Err("oauth.codeLifetime must be between 60 and 600 seconds".into());
        }
        if o.max_failures == 0 || o.lockout_seconds < 60 {
            return Err(
                "oauth.maxFailures must be positive and oauth.lockoutSeconds at least 60".into(),
            );
        }
        if o.session_idle_seconds < 60 || o.session_absolute_seconds < o.session_idle_seconds {
            return Err("oauth session lifetimes: idle >= 60 s and absolute >= idle".into());
        }
        if o.password_memory_kib < 1024 || o.password_iterations == 0 {
            return Err(
                "oauth.passwordMemoryKib must be at least 1024 and passwordIterations positive"
                    .into(),
            );
        }
        Ok(())
    }
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            access_token_lifetime: 900,
            refresh_token_lifetime: 30 * 24 * 3600,
            code_lifetime: 60,
            refresh_grace_seconds: 10,
            session_idle_seconds: 1800,
            session_absolute_seconds: 12 * 3600,
            max_failures: 5,
            lockout_seconds: 900,
            access_token_audience: None,
            session_routes: Vec::new(),
            password_memory_kib: crate::password::DEFAULT_COST.memory_kib,
            password_iterations: crate::password::DEFAULT_COST.iterations,
            id_token_lifetime: 600,
            id_token_signing_alg: None,
        }
    }
}

/// One route rule.
#[derive(Clone, Debug)]
pub struct Route {
    /// Path prefix, matched on whole segments (`/api` matches `/api` and `/api/x`, not `/apix`).
    pub prefix: String,
    /// Methods this rule covers (upper case). Default: all.
    pub methods: Vec<String>,
    /// Whether a token is needed. Default: `token`.
    pub auth: Auth,
    /// Scopes the token must all carry. Default: none.
    pub scopes: Vec<String>,
    /// A sensitive action: besides the token, the request must carry a one-time token
    /// (`X-One-Time-Token`, from `POST /one-time-token`) issued to the same subject for this
    /// route; it is consumed on first use. Default: false.
    pub one_time: bool,
    /// `required`: only a DPoP-bound token with a proof passes (RFC 9449; a bearer token, an
    /// API key or a session is refused). Default: `allowed` (bound tokens need their proof,
    /// others pass as bearer tokens).
    pub dpop: DpopRule,
}

/// Whether a route insists on DPoP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DpopRule {
    /// Bearer and DPoP both accepted.
    #[default]
    Allowed,
    /// DPoP only.
    Required,
}

/// Whether a route needs a token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// Passed to the origin without a token (identity headers are still stripped).
    Public,
    /// A valid token is required.
    #[default]
    Token,
}

/// An external identity provider.
#[derive(Clone, Debug)]
pub struct ExternalIssuer {
    /// Its issuer identifier; tokens must carry exactly this `iss`.
    pub issuer: String,
    /// Its JWKS URL (https, or http on loopback for development).
    pub jwks_url: String,
    /// Audiences accepted in its tokens. Default: the deployment's `audiences` (RFC 9068 §4:
    /// a resource server checks that `aud` names it). Unchecked only when neither names any;
    /// before session 22 the default was unchecked, so that any token of that issuer, such as
    /// an ID token it issued to one of its own relying parties, passed (an outside run).
    pub audiences: Vec<String>,
    /// Algorithms accepted from it. Default: the asymmetric ones.
    pub algorithms: Vec<Algorithm>,
    /// How long fetched keys are fresh, in seconds. Default: 600.
    pub cache_seconds: u64,
    /// Least time between two refetches caused by an unknown `kid`. Default: 30.
    pub cooldown_seconds: u64,
    /// Fetch timeout in milliseconds. Default: 3000.
    pub timeout_ms: u64,
    /// Required `typ` header of its access tokens (e.g. `at+jwt` for an RFC 9068 issuer).
    /// Default: none, since most providers send `JWT` or nothing; set it when the provider
    /// types its access tokens, so that its ID tokens are never taken for access tokens.
    pub typ: Option<String>,
}

/// Plain-HTTP handling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpsMode {
    /// `GET`/`HEAD` are redirected to https (308); other methods are refused (403).
    #[default]
    Redirect,
    /// Every plain-HTTP request is refused (403).
    Reject,
    /// Plain HTTP is served (only behind a TLS-terminating proxy you trust).
    Off,
}

/// Revocation-list settings.
#[derive(Clone, Copy, Debug)]
pub struct RevocationConfig {
    /// Let requests through when the revocation list cannot be read. Default: false (fail
    /// closed with 503).
    pub fail_open: bool,
    /// Seconds an isolate trusts what it read from KV for a revocation key (a token's `jti`,
    /// subject or family). Default: 10. Adds to KV's own propagation delay (up to about 60 s)
    /// in the revocation window.
    pub cache_seconds: u64,
}

impl Default for RevocationConfig {
    fn default() -> Self {
        RevocationConfig {
            fail_open: false,
            cache_seconds: 10,
        }
    }
}

impl GatewayConfig {
    /// Parses JSON text and validates. An error names the member (`routes[2].auth`), not
    /// the variable the text came from: the adapter that read it says that once.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let config = read::gateway(json).map_err(Error::policy)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field once, at start-up.
    pub fn validate(&self) -> Result<(), Error> {
        let checks = [
            self.validate_issuer(),
            self.validate_paths(),
            self.validate_browser(),
            self.validate_external_issuers(),
            self.oauth.validate(),
        ];
        if let Some(Err(what)) = checks.into_iter().find(Result::is_err) {
            return Err(Error::policy(what));
        }
        self.policy().validate()?;
        for external in &self.external_issuers {
            self.external_policy(external).validate()?;
        }
        Ok(())
    }

    /// The issuer identifier is an https URL (RFC 8414 §2; OpenID Connect Discovery §3), or
    /// http on loopback for development: tokens carry it as `iss`, the metadata advertises
    /// endpoints under it and plain-HTTP requests are redirected to its host, so an http URL
    /// would send clients' credentials and codes in the clear.
    fn validate_issuer(&self) -> Result<(), String> {
        if self.issuer.is_empty() {
            return Err("issuer is required".into());
        }
        if !is_secure_url(&self.issuer) {
            return Err(format!(
                "issuer {:?} must be https (http only on loopback)",
                self.issuer
            ));
        }
        if self.issuer.contains(['?', '#', '@']) {
            return Err(format!(
                "issuer {:?} must have no query, fragment or userinfo (RFC 8414 section 2)",
                self.issuer
            ));
        }
        Ok(())
    }

    /// Route prefixes and session routes: canonical, methods upper case, public without scopes.
    fn validate_paths(&self) -> Result<(), String> {
        for route in &self.routes {
            if !self.is_canonical(&route.prefix) {
                return Err(format!(
                    "route prefix {:?} must be a canonical path (start with '/', no '//', dot \
                     segments or encoded unreserved characters)",
                    route.prefix
                ));
            }
            // A prefix matches whole segments, so "/a/" would cover "/a/x" but not "/a", which
            // an origin commonly serves as the same resource: refused, not rewritten.
            if route.prefix.len() > 1 && route.prefix.ends_with('/') {
                return Err(format!(
                    "route prefix {:?} must not end with '/': it would not cover {:?} itself \
                     (prefixes match whole segments, so {:?} covers both)",
                    route.prefix,
                    route.prefix.trim_end_matches('/'),
                    route.prefix.trim_end_matches('/'),
                ));
            }
            if route
                .methods
                .iter()
                .any(|m| m.is_empty() || m.to_ascii_uppercase() != *m)
            {
                return Err(format!(
                    "route {:?}: methods must be upper case",
                    route.prefix
                ));
            }
            if route.auth == Auth::Public && !route.scopes.is_empty() {
                return Err(format!(
                    "route {:?} is public but lists scopes",
                    route.prefix
                ));
            }
        }
        self.validate_overlaps()?;
        for prefix in &self.oauth.session_routes {
            if !self.is_canonical(prefix) {
                return Err(format!(
                    "oauth.sessionRoutes entry {prefix:?} must be a canonical path"
                ));
            }
            if !self.meets_a_protected_route(prefix) {
                return Err(format!(
                    "oauth.sessionRoutes entry {prefix:?} meets no route with auth = \"token\" \
                     (none covers it or lies under it): declare its area with a route, e.g. \
                     {{ prefix = {prefix:?} }}"
                ));
            }
        }
        Ok(())
    }

    /// Whether a session-route prefix names the area of a protected rule: one whose prefix
    /// covers it (as [`GatewayConfig::route`] matches, case folded unless
    /// `caseSensitivePaths`) or lies under it (exact case, as [`GatewayConfig::is_session_route`]
    /// matches). A session route is matched on the request path alone, beside `routes`, so
    /// an entry no such rule meets (`/ap` written for `/app`) was accepted and took effect
    /// nowhere the operator had described: sessions then failed on the area meant, or a
    /// public route made it check nothing.
    fn meets_a_protected_route(&self, session_prefix: &str) -> bool {
        self.routes
            .iter()
            .filter(|route| route.auth == Auth::Token)
            .any(|route| {
                prefix_matches(&route.prefix, session_prefix, !self.case_sensitive_paths)
                    || prefix_matches(session_prefix, &route.prefix, false)
            })
    }

    /// No two rules for one prefix and one method: [`GatewayConfig::route`] takes the longest
    /// prefix, and between two of the same length the last, so a second rule would silently
    /// replace the first (appending `{ prefix = "/api", auth = "public" }` made `/api` public).
    /// Prefixes that differ only by letter case are the same prefix when either rule is
    /// protected and paths fold case, since both then match one path.
    fn validate_overlaps(&self) -> Result<(), String> {
        for (j, later) in self.routes.iter().enumerate() {
            for (i, earlier) in self.routes.iter().enumerate().take(j) {
                let folded = !self.case_sensitive_paths
                    && (earlier.auth == Auth::Token || later.auth == Auth::Token);
                let same_prefix = earlier.prefix == later.prefix
                    || (folded && earlier.prefix.eq_ignore_ascii_case(&later.prefix));
                if let Some(methods) = same_prefix
                    .then(|| shared_methods(earlier, later))
                    .flatten()
                {
                    return Err(format!(
                        "routes[{i}] and routes[{j}] both cover prefix {:?} for {methods}: the \
                         later would silently replace the earlier; merge them, or give each its \
                         own methods",
                        later.prefix
                    ));
                }
            }
        }
        Ok(())
    }

    /// What browsers see: CORS origins and the token cookie's name.
    fn validate_browser(&self) -> Result<(), String> {
        if let Some(origin) = self
            .cors_origins
            .iter()
            .find(|o| *o != "*" && !is_web_origin(o))
        {
            return Err(format!(
                "corsOrigins entry {origin:?} must be \"*\" or scheme://host[:port]"
            ));
        }
        if let Some(cookie) = &self.token_cookie {
            let valid = !cookie.is_empty()
                && cookie
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !valid {
                return Err(format!("tokenCookie {cookie:?} is not a valid cookie name"));
            }
        }
        Ok(())
    }

    /// External issuers: not this deployment, secure JWKS URL, asymmetric algorithms.
    fn validate_external_issuers(&self) -> Result<(), String> {
        for external in &self.external_issuers {
            if external.issuer == self.issuer {
                return Err("an external issuer may not reuse this deployment's issuer".into());
            }
            if !is_secure_url(&external.jwks_url) {
                return Err(format!(
                    "jwksUrl {:?} must be https (http only on loopback)",
                    external.jwks_url
                ));
            }
            if external.algorithms.iter().any(|alg| !alg.is_asymmetric()) {
                return Err("external issuers may only use asymmetric algorithms".into());
            }
            if external.timeout_ms == 0 || external.cache_seconds == 0 {
                return Err("timeoutMs and cacheSeconds must be positive".into());
            }
        }
        Ok(())
    }

    /// How request paths are read ([`crate::path`]).
    pub fn path_options(&self) -> PathOptions {
        PathOptions {
            allow_parameters: self.allow_path_parameters,
        }
    }

    fn is_canonical(&self, path: &str) -> bool {
        path::canonical(path, self.path_options()).is_ok_and(|c| c == path)
    }

    /// The verification policy for this deployment's own access tokens: explicitly typed
    /// `at+jwt` with `sub` and `jti` (RFC 9068 §2.1, §4; RFC 8725 §3.11), so that no other JWT
    /// signed by the same key (an ID token, a token made for another purpose) passes as one;
    /// and no older than the revocation horizon (see [`crate::revocation::HORIZON`]).
    pub fn policy(&self) -> Policy {
        Policy {
            issuers: vec![self.issuer.clone()],
            audiences: self.audiences.clone(),
            typ: Some(ACCESS_TOKEN_TYP.to_owned()),
            required_claims: vec!["sub".to_owned(), "jti".to_owned()],
            leeway: self.leeway,
            max_token_bytes: self.max_token_bytes,
            max_token_age: Some(crate::revocation::HORIZON),
            ..Policy::default()
        }
    }

    /// [`GatewayConfig::policy`] for any audience: the access tokens this deployment issued,
    /// for any of the services behind it (RFC 8707 resources), as introspection and
    /// revocation judge them. Never a gateway's: a gateway checks its own audiences.
    pub fn issued_policy(&self) -> Policy {
        Policy {
            audiences: Vec::new(),
            ..self.policy()
        }
    }

    /// The policy for an `id_token_hint` (OpenID Connect RP-Initiated Logout 1.0 §2): this
    /// deployment's own ID token (`typ: JWT`, any client as audience). It may have expired, since
    /// an RP logs out after the fact: `crate::oauth::oidc::check_id_token_hint` judges it as of
    /// a moment of its life.
    pub fn id_token_hint_policy(&self) -> Policy {
        Policy {
            issuers: vec![self.issuer.clone()],
            typ: Some(crate::oauth::oidc::ID_TOKEN_TYP.to_owned()),
            required_claims: vec!["sub".to_owned(), "aud".to_owned()],
            leeway: self.leeway,
            max_token_bytes: self.max_token_bytes,
            ..Policy::default()
        }
    }

    /// The verification policy for an external issuer's tokens.
    pub fn external_policy(&self, external: &ExternalIssuer) -> Policy {
        let algorithms = if external.algorithms.is_empty() {
            Algorithm::ALL
                .into_iter()
                .filter(|alg| alg.is_asymmetric())
                .collect()
        } else {
            external.algorithms.clone()
        };
        Policy {
            algorithms,
            issuers: vec![external.issuer.clone()],
            audiences: if external.audiences.is_empty() {
                self.audiences.clone()
            } else {
                external.audiences.clone()
            },
            typ: external.typ.clone(),
            leeway: self.leeway,
            max_token_bytes: self.max_token_bytes,
            ..Policy::default()
        }
    }

    /// `aud` of the access tokens this deployment issues.
    pub fn access_token_audience(&self) -> &str {
        self.oauth
            .access_token_audience
            .as_deref()
            .or(self.audiences.first().map(String::as_str))
            .unwrap_or(&self.issuer)
    }

    /// The rule for a canonical path ([`crate::path::canonical`]): the longest prefix that
    /// matches on segment boundaries and covers the method. Protected rules also match a path
    /// that differs only by letter case, unless `caseSensitivePaths`; public rules never do.
    /// `None` means no rule: the request needs a token.
    pub fn route(&self, method: &str, path: &str) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|route| covers(route, method))
            .filter(|route| {
                let fold_case = route.auth == Auth::Token && !self.case_sensitive_paths;
                prefix_matches(&route.prefix, path, fold_case)
            })
            .max_by_key(|route| route.prefix.len())
    }

    /// Whether a session cookie is accepted on this canonical path: a whole-segment,
    /// exact-case match of an `oauth.sessionRoutes` prefix (accepting a cookie widens access,
    /// so case never widens it).
    pub fn is_session_route(&self, path: &str) -> bool {
        self.oauth
            .session_routes
            .iter()
            .any(|prefix| prefix_matches(prefix, path, false))
    }
}

impl GatewayConfig {
    /// The `Access-Control-Allow-Origin` value for a browser `Origin`, if `corsOrigins`
    /// allows it (Fetch standard, CORS protocol).
    pub fn cors_allow_origin<'a>(&'a self, origin: &'a str) -> Option<&'a str> {
        if self.cors_origins.iter().any(|o| o == "*") {
            return Some("*");
        }
        self.cors_origins
            .iter()
            .find(|allowed| *allowed == origin)
            .map(String::as_str)
    }
}

/// The `typ` of this deployment's access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Whether `prefix` covers `path` on whole segments (`/api` covers `/api` and `/api/x`, not
/// `/apix`), ignoring ASCII letter case when `fold_case`.
pub fn prefix_matches(prefix: &str, path: &str, fold_case: bool) -> bool {
    let Some(head) = path.get(..prefix.len()) else {
        return false;
    };
    let same = if fold_case {
        head.eq_ignore_ascii_case(prefix)
    } else {
        head == prefix
    };
    let rest = path.get(prefix.len()..).unwrap_or("");
    same && (rest.is_empty() || rest.starts_with('/') || prefix.ends_with('/'))
}

/// Whether `route` covers `method`: none listed is every method, and `GET` covers `HEAD` (RFC
/// 9110 §9.3.2: HEAD is GET without the body, and an origin answers it with its GET handler;
/// otherwise a stricter GET rule could be passed by asking HEAD under a weaker rule of a
/// shorter prefix).
fn covers(route: &Route, method: &str) -> bool {
    route.methods.is_empty()
        || route
            .methods
            .iter()
            .any(|m| m == method || (m == "GET" && method == "HEAD"))
}

/// The methods both rules cover, for an error message; `None` when they share none.
fn shared_methods(a: &Route, b: &Route) -> Option<String> {
    if a.methods.is_empty() && b.methods.is_empty() {
        return Some("every method".into());
    }
    // The methods either lists, and HEAD, which a GET covers without being listed.
    // In the order written, each once (no sort: the guard linked 10 KB of sorting for this
    // message alone).
    let listed = a.methods.iter().chain(&b.methods).map(String::as_str);
    let mut shared: Vec<&str> = Vec::new();
    for method in listed.chain(["HEAD"]) {
        if covers(a, method) && covers(b, method) && !shared.contains(&method) {
            shared.push(method);
        }
    }
    (!shared.is_empty()).then(|| shared.join(", "))
}

/// `scheme://host[:port]` with nothing after it, as browsers send in `Origin`.
fn is_web_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "https" | "http")
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
}

/// https, or http to a loopback host (development).
pub fn is_secure_url(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    is_loopback_host(host)
}

/// `localhost`, `127.x.x.x` or `[::1]`, with or without a port, and nothing else: an authority
/// with userinfo (`127.0.0.1:80@evil.example`, RFC 3986 §3.2.1) names another host, so it is
/// not loopback (a reviewer's find: it passed as one).
pub fn is_loopback_host(host_and_port: &str) -> bool {
    let (host, port) = match host_and_port.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((host, port)) => (host, port),
            None => return false,
        },
        None => match host_and_port.split_once(':') {
            Some((host, port)) => (host, port),
            None => (host_and_port, ""),
        },
    };
    let port = match port {
        "" => "0",
        port => match (host_and_port.starts_with('['), port.strip_prefix(':')) {
            (_, Some(digits)) => digits,
            (false, None) => port,
            (true, None) => return false,
        },
    };
    let port_ok = (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    port_ok && loopback
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Result<GatewayConfig, Error> {
        GatewayConfig::from_json(json)
    }

    #[test]
    fn routes_match_on_segments_and_longest_prefix() {
        let c = config(
            r#"{"issuer":"https://i","routes":[
                {"prefix":"/","auth":"public"},
                {"prefix":"/api","scopes":["read"]},
                {"prefix":"/api/admin","scopes":["admin"]},
                {"prefix":"/api/docs","methods":["GET"],"auth":"public"}]}"#,
        )
        .unwrap();
        let scopes = |m: &str, p: &str| c.route(m, p).map(|r| r.scopes.clone());
        assert_eq!(scopes("GET", "/api/x"), Some(vec!["read".to_owned()]));
        assert_eq!(scopes("GET", "/api"), Some(vec!["read".to_owned()]));
        assert_eq!(scopes("GET", "/apix").unwrap(), Vec::<String>::new());
        assert_eq!(
            scopes("GET", "/api/admin/users"),
            Some(vec!["admin".to_owned()])
        );
        assert_eq!(c.route("GET", "/api/docs/a").unwrap().auth, Auth::Public);
        assert_eq!(c.route("POST", "/api/docs/a").unwrap().scopes, vec!["read"]);
        let none = config(r#"{"issuer":"https://i"}"#).unwrap();
        assert!(none.route("GET", "/").is_none());
    }

    /// RFC 9110 §9.3.2: HEAD is GET without the body, so a rule for GET covers it; otherwise
    /// HEAD would pass under a weaker rule of a shorter prefix, and the origin would answer it
    /// with its GET handler.
    #[test]
    fn a_rule_for_get_covers_head() {
        let c = config(
            r#"{"issuer":"https://i","routes":[
                {"prefix":"/api","scopes":["read"]},
                {"prefix":"/api/reports","methods":["GET"],"scopes":["admin"]}]}"#,
        )
        .unwrap();
        for method in ["GET", "HEAD"] {
            assert_eq!(
                c.route(method, "/api/reports").unwrap().scopes,
                vec!["admin"],
                "{method}"
            );
        }
        assert_eq!(
            c.route("POST", "/api/reports").unwrap().scopes,
            vec!["read"]
        );
    }

    /// An outside audit: a second rule for `/api` replaced the first, without a word.
    #[test]
    fn two_rules_for_one_prefix_and_method_are_refused_naming_both() {
        let refused = |routes: &str| {
            let json = format!(r#"{{"issuer":"https://i","routes":[{routes}]}}"#);
            config(&json).err().map(|e| e.to_string())
        };
        assert_eq!(
            refused(r#"{"prefix":"/"},{"prefix":"/api","scopes":["read"]},{"prefix":"/api","auth":"public"}"#).as_deref(),
            Some(
                "invalid policy: routes[1] and routes[2] both cover prefix \"/api\" for every \
                 method: the later would silently replace the earlier; merge them, or give each \
                 its own methods"
            )
        );
        for (routes, methods) in [
            (
                r#"{"prefix":"/a","methods":["GET","POST"]},{"prefix":"/a","methods":["POST"],"auth":"public"}"#,
                "POST",
            ),
            (
                r#"{"prefix":"/a","methods":["PUT"]},{"prefix":"/a","auth":"public"}"#,
                "PUT",
            ),
            // GET covers HEAD (RFC 9110 §9.3.2), so these two both match a HEAD.
            (
                r#"{"prefix":"/a","methods":["GET"]},{"prefix":"/a","methods":["HEAD"],"auth":"public"}"#,
                "HEAD",
            ),
            // A protected rule folds case, so it meets "/a" on "/a/x".
            (
                r#"{"prefix":"/a","auth":"public"},{"prefix":"/A"}"#,
                "every method",
            ),
        ] {
            let error = refused(routes).unwrap_or_default();
            assert!(
                error.contains("routes[0] and routes[1] both cover prefix"),
                "{routes}: {error}"
            );
            assert!(
                error.contains(&format!(" for {methods}: ")),
                "{routes}: {error}"
            );
        }
        for routes in [
            r#"{"prefix":"/a","methods":["GET"]},{"prefix":"/a","methods":["POST"],"auth":"public"}"#,
            r#"{"prefix":"/a"},{"prefix":"/a/b"}"#,
            r#"{"prefix":"/a","auth":"public"},{"prefix":"/A","auth":"public"}"#,
        ] {
            assert_eq!(refused(routes), None, "{routes}");
        }
        let exact = r#"{"issuer":"https://i","caseSensitivePaths":true,"routes":[{"prefix":"/a","auth":"public"},{"prefix":"/A"}]}"#;
        assert!(config(exact).is_ok());
    }

    #[test]
    fn a_prefix_ending_in_a_slash_is_refused() {
        // "/api/secret/" would cover "/api/secret/x" and not "/api/secret" itself.
        for prefix in ["/api/secret/", "/a//"] {
            let json = format!(r#"{{"issuer":"https://i","routes":[{{"prefix":"{prefix}"}}]}}"#);
            assert_eq!(
                config(&json).unwrap_err().code(),
                "ERR_POLICY_INVALID",
                "{prefix}"
            );
        }
        assert!(
            config(r#"{"issuer":"https://i","routes":[{"prefix":"/","auth":"public"}]}"#).is_ok()
        );
    }

    #[test]
    fn no_rule_means_a_token_is_needed() {
        let none = config(r#"{"issuer":"https://i"}"#).unwrap();
        assert!(none.route("GET", "/").is_none());
    }

    #[test]
    fn session_routes_match_whole_segments_in_exact_case() {
        let c = config(
            r#"{"issuer":"https://i","routes":[{"prefix":"/app"}],"oauth":{"sessionRoutes":["/app"]}}"#,
        )
        .unwrap();
        assert!(c.is_session_route("/app") && c.is_session_route("/app/home"));
        for path in ["/apple", "/application", "/APP/home", "/ap"] {
            assert!(!c.is_session_route(path), "{path}");
        }
    }

    /// An outside audit: `sessionRoutes = ["/ap"]` beside a route `/app` was accepted, and
    /// took effect on no path any route describes.
    #[test]
    fn a_session_route_must_meet_a_protected_route() {
        let with = |routes: &str, session: &str| {
            let json = format!(
                r#"{{"issuer":"https://i","routes":[{routes}],"oauth":{{"sessionRoutes":["{session}"]}}}}"#
            );
            config(&json).map(|_| ()).map_err(|e| e.to_string())
        };
        let app = r#"{"prefix":"/public","auth":"public"},{"prefix":"/app"}"#;
        assert_eq!(
            with(app, "/ap"),
            Err(
                "invalid policy: oauth.sessionRoutes entry \"/ap\" meets no route with auth = \
                 \"token\" (none covers it or lies under it): declare its area with a route, \
                 e.g. { prefix = \"/ap\" }"
                    .to_owned()
            )
        );
        for (routes, session) in [
            (app, "/public"),
            (app, "/apps"),
            (r#"{"prefix":"/","auth":"public"}"#, "/app"),
            ("", "/app"),
        ] {
            assert!(with(routes, session).is_err(), "{routes} {session}");
        }
        for (routes, session) in [
            (app, "/app"),
            (app, "/app/home"),
            (app, "/"),
            (r#"{"prefix":"/"}"#, "/app"),
            (r#"{"prefix":"/APP"}"#, "/app"),
            (
                r#"{"prefix":"/","auth":"public"},{"prefix":"/app/account"}"#,
                "/app",
            ),
        ] {
            assert_eq!(with(routes, session), Ok(()), "{routes} {session}");
        }
        assert_eq!(
            config(r#"{"issuer":"https://i","oauth":{"sessionRoutes":[]}}"#)
                .map(|_| ())
                .ok(),
            Some(())
        );
    }

    #[test]
    fn protected_routes_also_match_their_case_variants_public_ones_never() {
        let c = config(
            r#"{"issuer":"https://i","routes":[
                {"prefix":"/public","auth":"public"},
                {"prefix":"/api","scopes":["read"]},
                {"prefix":"/api/admin","scopes":["admin"]}]}"#,
        )
        .unwrap();
        let scopes = |p: &str| c.route("GET", p).map(|r| r.scopes.clone());
        assert_eq!(scopes("/API/ADMIN/x"), Some(vec!["admin".to_owned()]));
        assert_eq!(scopes("/Api/x"), Some(vec!["read".to_owned()]));
        assert!(c.route("GET", "/PUBLIC/x").is_none(), "needs a token");
        let exact = config(
            r#"{"issuer":"https://i","caseSensitivePaths":true,"routes":[{"prefix":"/api","scopes":["read"]}]}"#,
        )
        .unwrap();
        assert!(exact.route("GET", "/API/x").is_none());
        // Prefixes must be canonical.
        for bad in ["/api//x", "/api/../x", "/a%70i", "/api;v=1"] {
            let json = format!(r#"{{"issuer":"https://i","routes":[{{"prefix":"{bad}"}}]}}"#);
            assert!(config(&json).is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_configs_are_refused() {
        for bad in [
            r#"{}"#,
            r#"{"issuer":""}"#,
            r#"{"issuer":"https://i","routez":[]}"#,
            r#"{"issuer":"https://i","routes":[{"prefix":"api"}]}"#,
            r#"{"issuer":"https://i","routes":[{"prefix":"/","auth":"public","scopes":["a"]}]}"#,
            r#"{"issuer":"https://i","routes":[{"prefix":"/","methods":["get"]}]}"#,
            r#"{"issuer":"https://i","tokenCookie":"a b"}"#,
            r#"{"issuer":"https://i","externalIssuers":[{"issuer":"e","jwksUrl":"http://evil.example/jwks"}]}"#,
            r#"{"issuer":"https://i","externalIssuers":[{"issuer":"e","jwksUrl":"https://e/jwks","algorithms":["HS256"]}]}"#,
            r#"{"issuer":"https://i","externalIssuers":[{"issuer":"https://i","jwksUrl":"https://e/jwks"}]}"#,
            r#"{"issuer":"https://i","maxTokenBytes":0}"#,
            r#"{"issuer":"http://auth.example.com"}"#,
            r#"{"issuer":"http://127.0.0.1.example.com"}"#,
            r#"{"issuer":"auth.example.com"}"#,
        ] {
            assert_eq!(
                config(bad).unwrap_err().code(),
                "ERR_POLICY_INVALID",
                "{bad}"
            );
        }
        assert!(config(
            r#"{"issuer":"https://i","externalIssuers":[{"issuer":"e","jwksUrl":"http://127.0.0.1:9/jwks"}]}"#
        )
        .is_ok());
    }

    /// RFC 8414 §2: the issuer is an https URL; http only on loopback, as for `jwksUrl`.
    #[test]
    fn the_issuer_is_https_or_loopback_http() {
        let error = config(r#"{"issuer":"http://auth.example.com"}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"invalid policy: issuer "http://auth.example.com" must be https (http only on loopback)"#
        );
        for issuer in [
            "https://auth.example.com",
            "http://127.0.0.1:8787",
            "http://localhost:8787",
        ] {
            let json = format!(r#"{{"issuer":"{issuer}"}}"#);
            assert!(config(&json).is_ok(), "{issuer}");
        }
        for issuer in [
            "http://127.0.0.1:80@evil.example",
            "https://auth.example.com/?tenant=a",
            "https://auth.example.com/#x",
            "https://user@auth.example.com",
        ] {
            let json = format!(r#"{{"issuer":"{issuer}"}}"#);
            assert!(config(&json).is_err(), "{issuer}");
        }
    }

    #[test]
    fn decision_logging_levels() {
        let c = config(r#"{"issuer":"https://i","logDecisions":"denials"}"#).unwrap();
        use crate::gateway::Outcome;
        assert!(c.log_decisions.logs(Outcome::Deny) && !c.log_decisions.logs(Outcome::Allow));
        assert_eq!(
            config(r#"{"issuer":"https://i"}"#).unwrap().log_decisions,
            LogDecisions::All
        );
        assert!(!LogDecisions::None.logs(crate::gateway::Outcome::Deny));
        assert!(config(r#"{"issuer":"https://i","logDecisions":"some"}"#).is_err());
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:8787",
            "127.0.0.1",
            "127.0.0.1:1",
            "[::1]:8787",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "127.example.com",
            "127.0.0.1.example.com:80",
            "[::2]",
            "10.0.0.1",
            "127.0.0.1:80@evil.example",
            "localhost:1@evil.example",
            "[::1]@evil.example",
            "[::1]:80@evil.example",
            "127.0.0.1:123456",
            "[::1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
