//! The revocation list (blacklist): what is stored, under which key, for how long, and how a
//! verified token is checked against it. Storage itself is the adapter's (Workers KV).
//!
//! Two kinds of entry:
//! - a token, by its `jti`, kept until the token would have expired anyway;
//! - a subject, "every token issued to `sub` at or before time T", kept for the longest
//!   lifetime a token can have.
//!
//! Keys are hashes of (issuer, value), so attacker-chosen `jti`s cannot collide across issuers,
//! overflow KV's 512-byte key limit, or inject key separators.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::b64;
use crate::issue::DEFAULT_MAX_LIFETIME;
use crate::verify::Verified;

/// Workers KV refuses an `expirationTtl` below 60 seconds.
pub const MIN_TTL: u64 = 60;

/// A token revocation, stored under [`jti_key`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRevocation {
    /// When it was revoked.
    pub at: i64,
}

/// A subject revocation, stored under [`subject_key`]: tokens with `iat <= before` are revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRevocation {
    /// Tokens issued at or before this time are revoked.
    pub before: i64,
}

fn hashed(kind: &str, issuer: &str, value: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(issuer.as_bytes());
    hash.update([0]);
    hash.update(value.as_bytes());
    format!("revoked:{kind}:{}", b64::encode(&hash.finalize()))
}

/// The store key of a token revocation.
pub fn jti_key(issuer: &str, jti: &str) -> String {
    hashed("jti", issuer, jti)
}

/// The store key of a subject revocation.
pub fn subject_key(issuer: &str, sub: &str) -> String {
    hashed("sub", issuer, sub)
}

/// How long a token revocation must be kept: until the token expires, at least [`MIN_TTL`].
/// A token without `exp` (accepted only by a lax policy) is kept for the longest lifetime.
pub fn token_ttl(exp: Option<i64>, now: i64) -> u64 {
    let remaining = exp.map_or(DEFAULT_MAX_LIFETIME, |exp| {
        u64::try_from(exp.saturating_sub(now)).unwrap_or(0)
    });
    remaining.max(MIN_TTL)
}

/// How long a subject revocation must be kept: the longest lifetime any token can have.
pub fn subject_ttl() -> u64 {
    DEFAULT_MAX_LIFETIME
}

/// Where the revocation check looks for a verified token.
pub struct Lookup {
    /// Key of the token entry, if the token has a `jti`.
    pub jti: Option<String>,
    /// Key of the subject entry, if the token has a `sub`.
    pub subject: Option<String>,
}

/// The keys to read for a verified token.
pub fn lookup(token: &Verified) -> Lookup {
    let issuer = token.claim_str("iss").unwrap_or("");
    Lookup {
        jti: token.jti().map(|jti| jti_key(issuer, jti)),
        subject: token.subject().map(|sub| subject_key(issuer, sub)),
    }
}

/// Decides from what the store returned. A subject entry revokes tokens issued at or before
/// its time, and tokens with no `iat` at all (their age is unknown).
pub fn is_revoked(token: &Verified, jti_entry: Option<&str>, subject_entry: Option<&str>) -> bool {
    if jti_entry.is_some() {
        return true;
    }
    let Some(entry) = subject_entry else {
        return false;
    };
    let before = serde_json::from_str::<SubjectRevocation>(entry)
        .map(|r| r.before)
        .unwrap_or(i64::MAX); // an unreadable entry revokes: fail closed
    match token
        .claims()
        .get("iat")
        .and_then(serde_json::Value::as_i64)
    {
        Some(iat) => iat <= before,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fixed_length_and_separate_issuers() {
        let a = jti_key("https://a", "x");
        assert_eq!(a.len(), "revoked:jti:".len() + 43);
        assert_ne!(a, jti_key("https://b", "x"));
        assert_ne!(jti_key("a", "bc"), jti_key("ab", "c"));
        assert_ne!(jti_key("i", "s"), subject_key("i", "s"));
        assert_eq!(jti_key("i", &"j".repeat(10_000)).len(), a.len());
    }

    #[test]
    fn ttl_respects_the_kv_minimum() {
        assert_eq!(token_ttl(Some(1_000), 990), 60);
        assert_eq!(token_ttl(Some(1_000), 2_000), 60);
        assert_eq!(token_ttl(Some(10_000), 1_000), 9_000);
        assert_eq!(token_ttl(None, 0), DEFAULT_MAX_LIFETIME);
    }
}
