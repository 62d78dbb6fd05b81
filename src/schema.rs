//! The storage schema in one place: one key function per row of README's KV table. Nothing
//! else in the crate (the CLI included) spells a key; `tests/one_place.rs` holds that.
//!
//! `hashed` arguments are keyed hashes under the pepper (`opaque::keyed_hash`) or, for the
//! revocation list, SHA-256 of (issuer, value): a store never holds a usable token.

/// `user:<lower-case username>`: a user record.
pub fn user(username: &str) -> String {
    user_folded(&username.trim().to_lowercase())
}

/// [`user`] of a name already folded: a session keeps its user's, so that the guard, which
/// checks a session's user, carries no Unicode case tables (12 KB of its gzip).
pub fn user_folded(folded: &str) -> String {
    format!("user:{folded}")
}

/// `subject:<sub>`: the username of a subject, so that `/userinfo` and ID tokens find the user
/// record from a token's `sub`.
pub fn subject(sub: &str) -> String {
    format!("subject:{sub}")
}

/// `consent:<sub>:<client_id>`: the scopes a user approved for a third-party client, so that
/// the next login through it skips the consent page (OpenID Connect Core §3.1.2.4).
pub fn consent(sub: &str, client_id: &str) -> String {
    format!("consent:{sub}:{client_id}")
}

/// `client:<client_id>`: a client record.
pub fn client(client_id: &str) -> String {
    format!("client:{client_id}")
}

/// `apikey:<H(key)>`: an API key record.
pub fn api_key(hashed: &str) -> String {
    format!("apikey:{hashed}")
}

/// `code:<H(code)>`: an authorization code (coordinator).
pub fn code(hashed: &str) -> String {
    format!("code:{hashed}")
}

/// `refresh:<H(token)>`: a refresh token (coordinator).
pub fn refresh(hashed: &str) -> String {
    format!("refresh:{hashed}")
}

/// `session:<H(id)>`: a browser session.
pub fn session(hashed: &str) -> String {
    format!("session:{hashed}")
}

/// `grants:<sid>`: the refresh families granted in a browser session (coordinator), revoked
/// when the session is signed out.
pub fn session_grants(sid: &str) -> String {
    format!("grants:{sid}")
}

/// `onetime:<H(token)>`: a one-time token (coordinator).
pub fn one_time(hashed: &str) -> String {
    format!("onetime:{hashed}")
}

/// `dpop:<keyed hash of jkt and jti>`: a DPoP proof already accepted (RFC 9449 §11.1).
pub fn dpop_proof(hashed: &str) -> String {
    format!("dpop:{hashed}")
}

/// `family:<id>`: a revoked refresh family.
pub fn family(id: &str) -> String {
    format!("family:{id}")
}

/// `revoked:jti:<b64url>` and `revoked:sub:<b64url>`: revocation-list entries.
pub fn revoked(kind: &str, digest_b64: &str) -> String {
    format!("revoked:{kind}:{digest_b64}")
}

/// Whether a key holds a revocation (`revoked:…` or `family:…`).
pub fn is_revocation(key: &str) -> bool {
    key.starts_with("revoked:") || key.starts_with("family:")
}

/// `fail:<user:name|client:id>@<source>`: a failure counter per account and source
/// (coordinator).
pub fn failures(account_kind: &str, account: &str, source: Option<&str>) -> String {
    format!(
        "fail:{account_kind}:{account}@{}",
        source.unwrap_or("unknown")
    )
}

/// `fail:ip:<source>`: a failure counter per source across accounts (coordinator).
pub fn source_failures(source: &str) -> String {
    format!("fail:ip:{source}")
}

/// `key#<slot>`: a key that names the coordinator object it lives in. Records that a rule
/// must change together (a code and its family's refresh tokens) share a slot, taken from the
/// tokens themselves ([`crate::opaque::slot`]), so one object holds them all. Workers KV ignores
/// the suffix ([`unrouted`]), so KV keys stay as README's table spells them.
pub fn routed(key: &str, slot: u32) -> String {
    format!("{key}#{slot}")
}

/// A key without its routing slot, and the slot if it has one. Only the rows that are routed
/// (codes and refresh tokens, whose hashed part is base64url) can carry one: a `#` in a user
/// name or a client id is part of the name, never a slot.
pub fn unrouted(key: &str) -> (&str, Option<u32>) {
    if !(key.starts_with("code:") || key.starts_with("refresh:")) {
        return (key, None);
    }
    match key.rsplit_once('#') {
        Some((base, slot)) => match slot.parse() {
            Ok(slot) => (base, Some(slot)),
            Err(_) => (key, None),
        },
        None => (key, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_codes_and_refresh_tokens_are_routed() {
        assert_eq!(
            unrouted(&routed(&refresh("abc"), 12)),
            ("refresh:abc", Some(12))
        );
        assert_eq!(
            unrouted(&routed(&code("x-y_z"), 3843)),
            ("code:x-y_z", Some(3843))
        );
        assert_eq!(unrouted("refresh:abc"), ("refresh:abc", None));
        // A name with a `#` is a name: `bob#7` is not `bob` (or a lockout counter could be
        // dodged by suffixes, and one user's record read for another name).
        for key in [
            user("bob#7"),
            client("svc#3"),
            failures("user", "bob#7", Some("192.0.2.1")),
        ] {
            assert_eq!(unrouted(&key), (key.as_str(), None), "{key}");
        }
    }
}
