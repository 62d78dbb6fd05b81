//! Names of every Worker binding, secret and variable, in one place (README documents them).

/// Secret: a private JWK Set. The first key signs; every key verifies (rotation, README).
pub const SIGNING_KEYS: &str = "TOLLGATE_SIGNING_KEYS";
