//! The one error type of the core, with a stable `code()` that every adapter reports.
//!
//! Codes reuse the strings of the `jose` npm library where the meaning is the same, so a user
//! who knows jose recognises them. Details (which claim, which values) live in fields and in
//! `Display`; the wire formats (RFC 6750 header, JS `Error.code`, CLI exit message) are mapped
//! from this type in exactly one place per adapter.

use crate::codes::Code;
use core::fmt;

/// Why a token, a key or a policy was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The token is not a well-formed compact JWS: segment count, base64url, or JSON.
    Malformed {
        /// What exactly is wrong.
        reason: &'static str,
    },
    /// The token is longer than the policy's `max_token_bytes`.
    TooLarge {
        /// The token's length in bytes.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The header names an algorithm the policy (or the key) does not allow, `none` included.
    AlgNotAllowed {
        /// The `alg` header value as received (truncated to 32 characters).
        alg: String,
    },
    /// No key in the set fits the token's `kid` and algorithm.
    NoMatchingKey {
        /// The token's `kid`, if it had one.
        kid: Option<String>,
    },
    /// The signature does not verify with any candidate key.
    BadSignature,
    /// The token has expired (`exp` <= now - leeway).
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// The token is not valid yet: `nbf` in the future, or `iat` in the future.
    NotYetValid {
        /// `nbf` or `iat`.
        claim: &'static str,
        /// The claim's value.
        at: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// A claim failed the policy: `iss`, `aud`, `typ`, a required claim, or the maximum age.
    ClaimInvalid {
        /// The claim (or header parameter, for `typ`) that failed.
        claim: String,
        /// Why it failed.
        reason: &'static str,
    },
    /// The token uses a JOSE feature this implementation refuses: unknown `crit`, `b64: false`.
    NotSupported {
        /// What is not supported.
        what: String,
    },
    /// A key does not parse, does not fit its declared algorithm, or is too weak.
    InvalidKey {
        /// What is wrong with the key.
        reason: String,
    },
    /// The token was revoked (its `jti` or its subject is on the revocation list).
    Revoked,
    /// A verification policy or issuance request is not usable (e.g. no algorithm allowed).
    InvalidPolicy {
        /// What is wrong with it.
        reason: String,
    },
    /// A DPoP proof (RFC 9449 §4.3) was refused; `member` names what failed (`typ`, `alg`,
    /// `jwk`, `signature`, `jti`, `htm`, `htu`, `iat`, `ath`, or the proof as a whole).
    DpopInvalid {
        /// The header parameter or claim at fault.
        member: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A DPoP proof signed by another key than the one the presented token is bound to
    /// (`cnf.jkt`, RFC 9449 §7.1).
    DpopKeyMismatch,
    /// A DPoP proof without the server's current nonce (RFC 9449 §8): the client should
    /// retry with the nonce from the `DPoP-Nonce` header.
    DpopNonce {
        /// Missing, or stale.
        reason: &'static str,
    },
    /// The operating system's random source failed: nothing that needs a secret or an id can
    /// be made (the request may be retried; it is not the caller's fault).
    RandomUnavailable {
        /// What the random source said.
        reason: String,
    },
}

impl Error {
    /// The stable, documented code of this error. Adapters report exactly this string.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed { .. } => Code::JwsInvalid.as_str(),
            Error::TooLarge { .. } => Code::JwtTooLarge.as_str(),
            Error::AlgNotAllowed { .. } => Code::JoseAlgNotAllowed.as_str(),
            Error::NoMatchingKey { .. } => Code::JwksNoMatchingKey.as_str(),
            Error::BadSignature => Code::JwsSignatureVerificationFailed.as_str(),
            Error::Expired { .. } => Code::JwtExpired.as_str(),
            Error::NotYetValid { .. } => Code::JwtNotYetValid.as_str(),
            Error::ClaimInvalid { .. } => Code::JwtClaimValidationFailed.as_str(),
            Error::NotSupported { .. } => Code::JoseNotSupported.as_str(),
            Error::InvalidKey { .. } => Code::JwkInvalid.as_str(),
            Error::Revoked => Code::JwtRevoked.as_str(),
            Error::InvalidPolicy { .. } => Code::PolicyInvalid.as_str(),
            Error::RandomUnavailable { .. } => Code::RandomUnavailable.as_str(),
            Error::DpopInvalid { .. } => Code::DpopProofInvalid.as_str(),
            Error::DpopNonce { .. } => Code::DpopNonceRequired.as_str(),
            Error::DpopKeyMismatch => Code::DpopBindingMismatch.as_str(),
        }
    }

    /// The claim a claim-level failure is about (`exp`, `nbf`, `iat`, `iss`, `aud`, `typ`, …).
    pub fn claim(&self) -> Option<&str> {
        match self {
            Error::Expired { .. } => Some("exp"),
            Error::NotYetValid { claim, .. } => Some(claim),
            Error::ClaimInvalid { claim, .. } => Some(claim),
            Error::DpopInvalid { member, .. } => Some(member),
            Error::DpopNonce { .. } => Some("nonce"),
            _ => None,
        }
    }

    /// True when the token itself was fine but has expired: the caller should send the user back
    /// to log in rather than report an attack.
    pub fn is_expired(&self) -> bool {
        matches!(self, Error::Expired { .. })
    }

    pub(crate) fn malformed(reason: &'static str) -> Self {
        Error::Malformed { reason }
    }

    pub(crate) fn key(reason: impl Into<String>) -> Self {
        Error::InvalidKey {
            reason: reason.into(),
        }
    }

    pub(crate) fn claim_invalid(claim: &str, reason: &'static str) -> Self {
        Error::ClaimInvalid {
            claim: claim.to_owned(),
            reason,
        }
    }

    pub(crate) fn no_randomness(err: impl core::fmt::Display) -> Self {
        Error::RandomUnavailable {
            reason: err.to_string(),
        }
    }

    pub(crate) fn policy(reason: impl Into<String>) -> Self {
        Error::InvalidPolicy {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed { reason } => write!(f, "malformed token: {reason}"),
            Error::TooLarge { len, max } => {
                write!(f, "token is {len} bytes, more than the maximum of {max}")
            }
            Error::AlgNotAllowed { alg } => write!(f, "algorithm {alg:?} is not allowed"),
            Error::NoMatchingKey { kid: Some(kid) } => {
                write!(f, "no key matches kid {kid:?} and the token's algorithm")
            }
            Error::NoMatchingKey { kid: None } => {
                write!(f, "no key matches the token's algorithm")
            }
            Error::BadSignature => f.write_str("signature verification failed"),
            Error::Expired { exp, now } => write!(f, "token expired at {exp} (now {now})"),
            Error::NotYetValid { claim, at, now } => {
                write!(f, "token not valid yet: {claim} is {at} (now {now})")
            }
            Error::ClaimInvalid { claim, reason } => write!(f, "claim {claim:?} {reason}"),
            Error::NotSupported { what } => write!(f, "not supported: {what}"),
            Error::InvalidKey { reason } => write!(f, "invalid key: {reason}"),
            Error::Revoked => f.write_str("token has been revoked"),
            Error::InvalidPolicy { reason } => write!(f, "invalid policy: {reason}"),
            Error::RandomUnavailable { reason } => write!(f, "no randomness: {reason}"),
            Error::DpopInvalid { member, reason } => {
                write!(f, "invalid DPoP proof: {member} {reason}")
            }
            Error::DpopKeyMismatch => f.write_str(
                "the DPoP proof is signed by another key than the one the token is bound to",
            ),
            Error::DpopNonce { reason } => {
                write!(
                    f,
                    "the DPoP proof's nonce {reason}: use the server's DPoP-Nonce"
                )
            }
        }
    }
}

impl std::error::Error for Error {}

/// Shortens attacker-controlled text before it is stored in an error (and so in logs).
pub(crate) fn truncated(s: &str) -> String {
    const MAX: usize = 32;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}
