//! Password hashing with Argon2id (RFC 9106), stored as PHC strings:
//! `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`, salt and hash in the PHC
//! format's B64 (standard base64 alphabet, no padding).
//!
//! Parameters are a trade between attack cost and the Worker's CPU budget per request; they
//! are stored in each hash, so they can be raised later without invalidating old hashes (a
//! login rehashes when they differ). The default was chosen by measurement (README: "Password
//! hashing cost").
//!
//! The string is read and written here, with the `argon2` crate doing only the hashing: the
//! `password-hash` crate's general PHC machinery (any algorithm, any parameter, its own
//! base64 and error types) was 14 KB of the worker's code for one fixed shape
//! (BENCHMARKS.md §4, session 14). What is read is exactly what Argon2id's PHC form writes
//! (tests/vectors/argon2id: hashes made by the reference implementation).

use argon2::{Algorithm as Variant, Argon2, Block, Params, Version};
use base64ct::{Base64Unpadded, Encoding};
use subtle::ConstantTimeEq;

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

/// The length of the hashes this module makes.
const OUTPUT_LEN: usize = 32;

/// A stored hash, read from its PHC string.
struct Phc {
    memory_kib: u32,
    iterations: u32,
    lanes: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl Phc {
    /// Reads `$argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<hash>`: the parameters in that order,
    /// as decimal numbers without leading zeros, salt and hash in unpadded B64 (the PHC string
    /// format). Anything else (another variant or version, extra parameters) is `None`.
    fn parse(phc: &str) -> Option<Phc> {
        let mut fields = phc.split('$');
        let head = [fields.next()?, fields.next()?, fields.next()?];
        if head != ["", "argon2id", "v=19"] {
            return None;
        }
        let mut params = fields.next()?.split(',');
        let memory_kib = decimal(params.next()?.strip_prefix("m=")?)?;
        let iterations = decimal(params.next()?.strip_prefix("t=")?)?;
        let lanes = decimal(params.next()?.strip_prefix("p=")?)?;
        let salt = Base64Unpadded::decode_vec(fields.next()?).ok()?;
        let hash = Base64Unpadded::decode_vec(fields.next()?).ok()?;
        if params.next().is_some() || fields.next().is_some() {
            return None;
        }
        Some(Phc {
            memory_kib,
            iterations,
            lanes,
            salt,
            hash,
        })
    }

    fn to_phc(&self) -> String {
        format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            self.memory_kib,
            self.iterations,
            self.lanes,
            Base64Unpadded::encode_string(&self.salt),
            Base64Unpadded::encode_string(&self.hash)
        )
    }
}

/// A PHC decimal: digits only, no sign, no leading zero.
fn decimal(text: &str) -> Option<u32> {
    let canonical = text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    canonical.then(|| text.parse().ok()).flatten()
}

/// Argon2id over `password` and `salt` into `out` (whose length is the output length).
/// Errors are the parameters' or the salt's (RFC 9106 §3.1 bounds, checked by the crate).
fn argon2id(
    password: &[u8],
    salt: &[u8],
    cost: Cost,
    lanes: u32,
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let params = Params::new(cost.memory_kib, cost.iterations, lanes, Some(out.len()))?;
    let mut memory = vec![Block::default(); params.block_count()];
    Argon2::new(Variant::Argon2id, Version::V0x13, params).hash_password_into_with_memory(
        password,
        salt,
        out,
        &mut memory,
    )
}

/// Hashes a password with a fresh 128-bit salt.
pub fn hash(password: &str, cost: Cost) -> Result<String, Error> {
    let mut salt = vec![0u8; 16];
    getrandom::getrandom(&mut salt).map_err(Error::no_randomness)?;
    let mut hash = vec![0u8; OUTPUT_LEN];
    argon2id(password.as_bytes(), &salt, cost, 1, &mut hash)
        .map_err(|e| Error::policy(format!("argon2 parameters: {e}")))?;
    let phc = Phc {
        memory_kib: cost.memory_kib,
        iterations: cost.iterations,
        lanes: 1,
        salt,
        hash,
    };
    Ok(phc.to_phc())
}

/// Checks a password against a stored PHC hash, comparing in constant time. A malformed hash
/// never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    let Some(stored) = Phc::parse(phc) else {
        return false;
    };
    let cost = Cost {
        memory_kib: stored.memory_kib,
        iterations: stored.iterations,
    };
    let mut computed = vec![0u8; stored.hash.len()];
    argon2id(
        password.as_bytes(),
        &stored.salt,
        cost,
        stored.lanes,
        &mut computed,
    )
    .is_ok()
        && bool::from(computed.ct_eq(&stored.hash))
}

/// Spends the same work as a real check, for unknown users: the response time must not tell
/// whether a username exists.
pub fn verify_dummy(password: &str, cost: Cost) {
    let mut out = [0u8; OUTPUT_LEN];
    let _ = argon2id(password.as_bytes(), b"tollgate-dummy-s", cost, 1, &mut out);
}

/// True when a stored hash uses other parameters than `cost` (so it should be rehashed).
pub fn needs_rehash(phc: &str, cost: Cost) -> bool {
    Phc::parse(phc)
        .is_none_or(|h| h.memory_kib != cost.memory_kib || h.iterations != cost.iterations)
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

    #[test]
    fn only_argon2id_v19_phc_strings_are_read() {
        let good = hash("pw", CHEAP).unwrap();
        let parsed = Phc::parse(&good).unwrap();
        assert_eq!(
            (parsed.memory_kib, parsed.iterations, parsed.lanes),
            (64, 1, 1)
        );
        assert_eq!((parsed.salt.len(), parsed.hash.len()), (16, OUTPUT_LEN));
        assert_eq!(parsed.to_phc(), good);
        let (head, tail) = good.split_at(good.find("$m=").unwrap());
        let params_end = tail.find(",t=").unwrap();
        let rest = &tail[params_end..];
        for bad in [
            good.replace("argon2id", "argon2i"),
            good.replace("$v=19", "$v=16"),
            good.replace("$v=19", ""),
            format!("{head}$m=064{rest}"),
            format!("{head}$m=+64{rest}"),
            good.replace(",p=1", ",p=1,keyid=a"),
            good.replace(",t=1,p=1", ",p=1,t=1"),
            format!("{good}="),
            format!("{good}$"),
            good.replacen('$', "", 1),
        ] {
            assert!(Phc::parse(&bad).is_none(), "{bad}");
            assert!(!verify("pw", &bad), "{bad}");
        }
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
