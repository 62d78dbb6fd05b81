//! Names of every Worker binding, secret and variable, in one place (README documents them).

/// Secret: a private JWK Set. The first key signs; every key verifies (rotation, README).
pub const SIGNING_KEYS: &str = "TOLLGATE_SIGNING_KEYS";
/// Secret: the bearer token that authorises the operator's endpoints (`/revoke` for any token,
/// `/admin/*`, the details of `/healthz`); at least 32 characters, and empty is unset.
pub const ADMIN_TOKEN: &str = "TOLLGATE_ADMIN_TOKEN";
/// Variable: the gateway configuration (`config::GatewayConfig`), a TOML table or JSON text.
pub const CONFIG: &str = "TOLLGATE_CONFIG";
/// Variable: the origin every allowed request is forwarded to, e.g. `https://origin.internal`
/// (https, or http on loopback for development).
pub const ORIGIN_URL: &str = "ORIGIN_URL";
/// KV namespace: the revocation list, users, clients, API keys and sessions (and, with
/// `consistency = "kv"`, the single-use records too).
pub const KV: &str = "TOLLGATE_KV";
/// Analytics Engine dataset (optional): one data point per auth decision.
pub const ANALYTICS: &str = "TOLLGATE_ANALYTICS";
/// Secret: the pepper for keyed hashes of API keys, client secrets, refresh tokens, sessions
/// and codes (at least 32 characters). Changing it invalidates all of them.
pub const PEPPER: &str = "TOLLGATE_PEPPER";
/// Durable Object namespace (class `Coordinator`): single-use and counting records, atomic.
pub const COORDINATOR: &str = "TOLLGATE_COORDINATOR";
/// Service binding (the guard, built without the feature `issuance`): the issuer worker, which
/// answers the authorization server's endpoints.
pub const ISSUER: &str = "TOLLGATE_ISSUER";
