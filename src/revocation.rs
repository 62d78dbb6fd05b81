//! The revocation list (blacklist): what is stored, under which key, for how long, and how a
//! verified token is checked against it. Every reader and writer goes through this module over
//! the [`Store`] trait (Workers KV at the edge).
//!
//! Three kinds of entry:
//! - a token, by its `jti`, kept until the token would have expired anyway;
//! - a subject, "every token issued to `sub` at or before time T", kept for good (an API key
//!   may outlive every token). It ends the subject's access tokens, sessions, refresh
//!   families and API keys alike (each compares its issue time with T);
//! - a refresh family (one grant and all its rotations): revoking it by request, by reuse
//!   detection or by authorization-code reuse (RFC 7009 §2.1, RFC 9700 §4.14.2, RFC 6749
//!   §4.1.2) ends the refresh tokens and every access token issued from the grant, since this
//!   deployment's access tokens carry their family id in the [`FAMILY_CLAIM`] claim.
//!
//! Keys are hashes of (issuer, value), so attacker-chosen `jti`s cannot collide across issuers,
//! overflow KV's 512-byte key limit, or inject key separators.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::b64;
use crate::store::{Store, StoreError};
use crate::verify::Verified;

/// The claim in this deployment's access tokens naming the refresh family (the grant) they
/// were issued from.
pub const FAMILY_CLAIM: &str = "family";

/// A revoked refresh family, stored under [`family_key`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FamilyRevocation {
    /// When it was revoked.
    pub revoked_at: i64,
}

/// The store key of a family revocation. Family ids are this deployment's own random ids.
pub fn family_key(family: &str) -> String {
    crate::schema::family(family)
}

/// Whether a store key holds a revocation (the edge remembers such writes at once).
pub fn is_revocation_key(key: &str) -> bool {
    crate::schema::is_revocation(key)
}

/// Workers KV refuses an `expirationTtl` below 60 seconds.
pub const MIN_TTL: u64 = 60;

/// The longest a token of this deployment lives, and so the longest a token revocation is
/// kept: 30 days. The OAuth lifetimes are bounded by it, and the gateway refuses its own
/// tokens once they are older (`maxTokenAge` of [`crate::config::Config::policy`]), so a
/// token the package or the CLI signed for longer cannot outlive the revocation that cut it
/// off. (Subject revocations are kept for good: [`revoke_subject`].)
pub const HORIZON: u64 = 30 * 24 * 3600;

/// A token revocation, stored under [`jti_key`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenRevocation {
    /// When it was revoked.
    pub at: i64,
}

/// A time in milliseconds since the epoch, where seconds cannot order two events: a subject
/// revocation and an API key made in the same second ([`SubjectRevocation::cuts_off`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Millis(pub i64);

impl Millis {
    /// The whole second it falls in.
    pub fn seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }
}

/// A subject revocation, stored under [`subject_key`]: tokens with `iat <= before` are revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubjectRevocation {
    /// Tokens issued at or before this time are revoked.
    pub before: i64,
    /// The same time in milliseconds, for what records its making as precisely (API keys): a
    /// key an operator's script makes right after revoking its owner, in the same second, is
    /// not revoked with the keys before it. Absent in entries written before session 21.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_ms: Option<i64>,
}

impl SubjectRevocation {
    /// Whether something made at `at` (seconds), and `at_ms` where known, is cut off: by the
    /// millisecond when both sides know it, else by the second (the same second included,
    /// since which came first is unknown).
    pub fn cuts_off(&self, at: i64, at_ms: Option<i64>) -> bool {
        match (self.before_ms, at_ms) {
            (Some(before), Some(at)) => at <= before,
            _ => at <= self.before,
        }
    }
}

// Read by hand (crate::json::read): one required integer each.
crate::json::read::read_by!(FamilyRevocation, "a family revocation", |o| {
    FamilyRevocation {
        revoked_at: o.required_i64("revoked_at"),
    }
});
crate::json::read::read_by!(TokenRevocation, "a token revocation", |o| TokenRevocation {
    at: o.required_i64("at"),
});
crate::json::read::read_by!(SubjectRevocation, "a subject revocation", |o| {
    SubjectRevocation {
        before: o.required_i64("before"),
        before_ms: o.i64("before_ms"),
    }
});

fn hashed(kind: &str, issuer: &str, value: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(issuer.as_bytes());
    hash.update([0]);
    hash.update(value.as_bytes());
    crate::schema::revoked(kind, &b64::encode(&hash.finalize()))
}

/// The store key of a token revocation.
pub fn jti_key(issuer: &str, jti: &str) -> String {
    hashed("jti", issuer, jti)
}

/// The store key of a subject revocation.
pub fn subject_key(issuer: &str, sub: &str) -> String {
    hashed("sub", issuer, sub)
}

/// How long a family revocation must be kept: until the family's last refresh token and the
/// last access token issued from it are past accepting, the latter by a verifier with the
/// largest clock tolerance, as [`token_ttl`]. The refresh lifetime alone fell short where
/// access tokens outlive it (a refresh lifetime of a minute beside hour-long access tokens: a
/// revoked API key's exchanged token came back in a new isolate, an outside run).
pub fn family_ttl(refresh_lifetime: u64, access_lifetime: u64) -> u64 {
    let last_access = access_lifetime.saturating_add(crate::policy::MAX_LEEWAY);
    refresh_lifetime.max(last_access)
}

/// How long a token revocation must be kept: as long as any verifier may still accept the
/// token, that is until its `exp` plus the largest clock tolerance a policy may allow (a
/// verifier with `leeway` accepts it that long after `exp`; an entry gone at `exp` let a
/// revoked token through again, found by an outside run), at least [`MIN_TTL`]. A token
/// without `exp` (accepted only by a lax policy) is kept for the longest lifetime.
pub fn token_ttl(exp: Option<i64>, now: i64) -> u64 {
    let leeway = i64::try_from(crate::policy::MAX_LEEWAY).unwrap_or(i64::MAX);
    let remaining = exp.map_or(HORIZON, |exp| {
        u64::try_from(exp.saturating_add(leeway).saturating_sub(now)).unwrap_or(0)
    });
    remaining.max(MIN_TTL)
}

/// Where the revocation check looks for a verified token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lookup {
    /// Key of the token entry, if the token has a `jti`.
    pub jti: Option<String>,
    /// Key of the subject entry, if the token has a `sub`.
    pub subject: Option<String>,
    /// Key of its family's entry, if it is one of this deployment's tokens with a family.
    pub family: Option<String>,
}

impl Lookup {
    /// Every key to read.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        [&self.jti, &self.subject, &self.family]
            .into_iter()
            .flatten()
    }
}

/// What the store holds under a [`Lookup`]'s keys.
#[derive(Clone, Debug, Default)]
pub struct Entries {
    /// Under `jti`.
    pub jti: Option<String>,
    /// Under `subject`.
    pub subject: Option<String>,
    /// Under `family`.
    pub family: Option<String>,
}

/// The keys to read for a verified token. The family claim is read only in tokens of
/// `own_issuer` (another issuer's claims name nothing of ours).
pub fn lookup(token: &Verified, own_issuer: &str) -> Lookup {
    let issuer = token.claim_str("iss").unwrap_or("");
    let family = token
        .claim_str(FAMILY_CLAIM)
        .filter(|_| issuer == own_issuer);
    Lookup {
        jti: token.jti().map(|jti| jti_key(issuer, jti)),
        subject: token.subject().map(|sub| subject_key(issuer, sub)),
        family: family.map(family_key),
    }
}

/// Decides from what the store returned. A subject entry revokes tokens issued at or before
/// its time, and tokens with no `iat` at all (their age is unknown).
pub fn is_revoked(token: &Verified, entries: &Entries) -> bool {
    if entries.jti.is_some() || entries.family.is_some() {
        return true;
    }
    let Some(cutoff) = entries.subject.as_deref().map(subject_cutoff_of) else {
        return false;
    };
    match token
        .claims()
        .get("iat")
        .and_then(serde_json::Value::as_i64)
    {
        Some(iat) => cutoff.cuts_off(iat, None),
        None => true,
    }
}

/// The cut-off in a subject entry; an unreadable entry revokes everything (fail closed).
fn subject_cutoff_of(entry: &str) -> SubjectRevocation {
    serde_json::from_str::<SubjectRevocation>(entry).unwrap_or(SubjectRevocation {
        before: i64::MAX,
        before_ms: None,
    })
}

/// Reads a lookup's entries, in one store read where the store allows ([`Store::get_many`]).
pub async fn read<S: Store>(store: &S, lookup: &Lookup) -> Result<Entries, StoreError> {
    let keys: Vec<&str> = lookup.keys().map(String::as_str).collect();
    let found = store.get_many(&keys).await?;
    if found.len() != keys.len() {
        return Err(StoreError(format!(
            "{} values read for {} revocation keys",
            found.len(),
            keys.len()
        )));
    }
    // `found` follows `keys`, which follow the lookup's members in this order.
    let mut found = found.into_iter();
    let mut entry = |key: &Option<String>| key.as_ref().and_then(|_| found.next().flatten());
    Ok(Entries {
        jti: entry(&lookup.jti),
        subject: entry(&lookup.subject),
        family: entry(&lookup.family),
    })
}

/// Whether a verified token is revoked, read from the store.
pub async fn check<S: Store>(
    store: &S,
    token: &Verified,
    own_issuer: &str,
) -> Result<bool, StoreError> {
    let entries = read(store, &lookup(token, own_issuer)).await?;
    Ok(is_revoked(token, &entries))
}

/// "Everything issued to `sub` by `issuer` at or before this time is revoked", if so.
pub async fn subject_cutoff<S: Store>(
    store: &S,
    issuer: &str,
    sub: &str,
) -> Result<Option<SubjectRevocation>, StoreError> {
    Ok(store
        .get(&subject_key(issuer, sub))
        .await?
        .as_deref()
        .map(subject_cutoff_of))
}

/// Whether something issued to `sub` at `issued_at` (and `issued_at_ms`, where its record
/// knows it) is ended by a subject revocation ([`SubjectRevocation::cuts_off`]).
pub async fn subject_revoked<S: Store>(
    store: &S,
    issuer: &str,
    sub: &str,
    issued_at: i64,
    issued_at_ms: Option<i64>,
) -> Result<bool, StoreError> {
    Ok(subject_cutoff(store, issuer, sub)
        .await?
        .is_some_and(|cutoff| cutoff.cuts_off(issued_at, issued_at_ms)))
}

fn json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError(e.to_string()))
}

/// Revokes one token by `jti`, kept until the token would have expired.
pub async fn revoke_jti<S: Store>(
    store: &S,
    issuer: &str,
    jti: &str,
    exp: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    let value = json(&TokenRevocation { at: now })?;
    store
        .put(&jti_key(issuer, jti), &value, Some(token_ttl(exp, now)))
        .await
}

/// Revokes everything issued to `sub` by `issuer` up to `now`. The entry is kept for good:
/// tokens live at most [`HORIZON`], but an API key lives as long as its record says, with no
/// expiry unless one was asked for, and an entry kept for the horizon let the subject's keys
/// made before the cut-off back in once it expired (an outside run). One entry per revoked
/// subject, written by the operator only.
pub async fn revoke_subject<S: Store>(
    store: &S,
    issuer: &str,
    sub: &str,
    now: Millis,
) -> Result<(), StoreError> {
    let value = json(&SubjectRevocation {
        before: now.seconds(),
        before_ms: Some(now.0),
    })?;
    store.put(&subject_key(issuer, sub), &value, None).await
}

/// Revokes a refresh family: its refresh tokens and every access token issued from it. Kept
/// for `ttl` seconds ([`family_ttl`]).
pub async fn revoke_family<S: Store>(
    store: &S,
    family: &str,
    now: i64,
    ttl: u64,
) -> Result<(), StoreError> {
    let value = json(&FamilyRevocation { revoked_at: now })?;
    store
        .put(&family_key(family), &value, Some(ttl.max(MIN_TTL)))
        .await
}

/// Whether a family is revoked.
pub async fn family_revoked<S: Store>(store: &S, family: &str) -> Result<bool, StoreError> {
    Ok(store.get(&family_key(family)).await?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_what_was_written() {
        let family = FamilyRevocation { revoked_at: 5 };
        let token = TokenRevocation { at: 6 };
        let subject = SubjectRevocation {
            before: -7,
            before_ms: Some(-6_500),
        };
        let family_text = serde_json::to_string(&family).unwrap();
        let family_read: FamilyRevocation = serde_json::from_str(&family_text).unwrap();
        assert_eq!(family_read, family);
        let token_text = serde_json::to_string(&token).unwrap();
        assert_eq!(
            serde_json::from_str::<TokenRevocation>(&token_text).unwrap(),
            token
        );
        let subject_text = serde_json::to_string(&subject).unwrap();
        assert_eq!(subject_cutoff_of(&subject_text), subject);
        // An unreadable subject entry revokes everything (fail closed).
        for unreadable in [r#"{"before":"x"}"#, "{}", r#"{"before":1,"before_ms":"x"}"#] {
            assert!(subject_cutoff_of(unreadable).cuts_off(i64::MAX - 1, Some(i64::MAX - 1)));
        }
    }

    /// By the millisecond where both sides know it (an API key made right after its owner's
    /// revocation, in the same second, lives), else by the second, which cuts the whole
    /// second off (an entry or a record from before session 21).
    #[test]
    fn a_subject_cut_off_is_exact_to_the_millisecond_where_both_sides_know_it() {
        let cutoff = SubjectRevocation {
            before: 100,
            before_ms: Some(100_400),
        };
        assert!(cutoff.cuts_off(100, Some(100_400)));
        assert!(cutoff.cuts_off(100, Some(100_399)));
        assert!(!cutoff.cuts_off(100, Some(100_401)));
        assert!(cutoff.cuts_off(100, None), "a record without milliseconds");
        assert!(!cutoff.cuts_off(101, None));
        let seconds_only = SubjectRevocation {
            before: 100,
            before_ms: None,
        };
        assert!(seconds_only.cuts_off(100, Some(100_999)));
        assert!(!seconds_only.cuts_off(101, Some(101_000)));
    }

    #[test]
    fn a_family_revocation_outlives_every_token_of_the_family() {
        let day = crate::policy::MAX_LEEWAY;
        assert_eq!(family_ttl(60, 3600), 3600 + day);
        assert_eq!(family_ttl(HORIZON, 900), HORIZON);
        assert_eq!(family_ttl(0, 0), day);
    }

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
        let leeway = crate::policy::MAX_LEEWAY;
        assert_eq!(token_ttl(Some(1_000), 990), 10 + leeway);
        assert_eq!(token_ttl(Some(1_000), 2_000), leeway - 1_000);
        assert_eq!(token_ttl(Some(0), 2 * leeway as i64), MIN_TTL);
        assert_eq!(token_ttl(Some(10_000), 1_000), 9_000 + leeway);
        assert_eq!(token_ttl(None, 0), HORIZON);
    }
}
