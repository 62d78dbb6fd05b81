//! Password hashing with Argon2id (RFC 9106), in PHC string format.
//!
//! Parameters are a trade between attack cost and the Worker's CPU budget per request; they
//! are stored in each hash, so they can be raised later without invalidating old hashes (a
//! login rehashes when they differ). The default was chosen by measurement (README: "Password
//! hashing cost").

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm as Variant, Argon2, Params, Version};

use crate::error::Error;

/// Argon2id parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
}

/// The default: 19 MiB, 2 passes, one lane (OWASP's first Argon2id recommendation).
pub const DEFAULT_COST: Cost = Cost {
    memory_kib: 19 * 1024,
    iterations: 2,
};

fn hasher(cost: Cost) -> Result<Argon2<'static>, Error> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, Some(32))
        .map_err(|e| Error::policy(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Variant::Argon2id, Version::V0x13, params))
}

/// Hashes a password with a fresh 128-bit salt.
pub fn hash(password: &str, cost: Cost) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(Error::no_randomness)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::policy(e.to_string()))?;
    hasher(cost)?
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::policy(format!("argon2: {e}")))
}

/// Checks a password against a stored PHC hash (constant-time comparison inside argon2).
/// A malformed hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) if parsed.algorithm.as_str() == "argon2id" => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        _ => false,
    }
}

/// Spends the same work as a real check, for unknown users: the response time must not tell
/// whether a username exists.
pub fn verify_dummy(password: &str, cost: Cost) {
    // A fixed, valid hash of a random password under the same cost.
    let _ = hasher(cost).map(|h| {
        let salt = SaltString::encode_b64(b"tollgate-dummy-s").ok();
        salt.map(|salt| h.hash_password(password.as_bytes(), &salt).is_ok())
    });
}

/// True when a stored hash uses other parameters than `cost` (so it should be rehashed).
pub fn needs_rehash(phc: &str, cost: Cost) -> bool {
    PasswordHash::new(phc)
        .ok()
        .and_then(|h| Params::try_from(&h).ok())
        .is_none_or(|p| p.m_cost() != cost.memory_kib || p.t_cost() != cost.iterations)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: Cost = Cost {
        memory_kib: 64,
        iterations: 1,
    };

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash("correct horse", CHEAP).unwrap();
        let b = hash("correct horse", CHEAP).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(verify("correct horse", &a));
        assert!(!verify("wrong horse", &a));
        assert!(!verify("correct horse", "not a hash"));
        assert!(!needs_rehash(&a, CHEAP));
        assert!(needs_rehash(&a, DEFAULT_COST));
        verify_dummy("x", CHEAP);
    }

    /// Hashes made by the reference implementation (tests/vectors/argon2id/phc.txt).
    #[test]
    fn hashes_from_the_reference_implementation_verify() {
        let vectors = include_str!("../tests/vectors/argon2id/phc.txt");
        let lines = vectors.lines().filter(|line| !line.starts_with('#'));
        let mut count = 0;
        for line in lines {
            let (password, phc) = line.split_once('\t').unwrap();
            let password: String = serde_json::from_str(password).unwrap();
            assert!(verify(&password, phc), "{phc}");
            assert!(!verify(&format!("{password}x"), phc), "{phc}");
            count += 1;
        }
        assert_eq!(count, 3);
    }
}
