//! Opaque tokens: API keys, refresh tokens, session ids, authorization codes, one-time tokens.
//!
//! Format: a kind prefix (`tgk_`, `tgr_`, `tgs_`, `tgc_`, `tgo_`), 32 base62 characters of
//! randomness (190 bits), and a 6-character base62 CRC-32 of everything before it. The first
//! two body characters double as a routing slot ([`slot`]): a refresh family's tokens share
//! them, so those tokens keep 30 characters (178 bits) of their own. The prefix
//! and checksum let secret scanners recognise a leaked Tollgate token with no false positives
//! and without a database; the server stores only an HMAC-SHA-256 of the token under a pepper
//! kept in a Worker secret, so a leaked store does not leak usable tokens.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::b64;
use crate::error::Error;

/// What an opaque token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A long-lived API token owned by a user or service.
    ApiKey,
    /// A refresh token (rotated on every use).
    Refresh,
    /// A browser session id (in a cookie).
    Session,
    /// An authorization code (single use, short-lived).
    Code,
    /// A one-time token (accepted exactly once).
    OneTime,
}

impl Kind {
    /// The recognisable prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::ApiKey => "tgk_",
            Kind::Refresh => "tgr_",
            Kind::Session => "tgs_",
            Kind::Code => "tgc_",
            Kind::OneTime => "tgo_",
        }
    }

    /// The RFC 7662 / RFC 7009 style name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            Kind::ApiKey => "api_key",
            Kind::Refresh => "refresh_token",
            Kind::Session => "session",
            Kind::Code => "authorization_code",
            Kind::OneTime => "one_time_token",
        }
    }

    const ALL: [Kind; 5] = [
        Kind::ApiKey,
        Kind::Refresh,
        Kind::Session,
        Kind::Code,
        Kind::OneTime,
    ];
}

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_LEN: usize = 32;
const CHECK_LEN: usize = 6;
/// Length of every opaque token.
pub const TOKEN_LEN: usize = 4 + BODY_LEN + CHECK_LEN;

/// A fresh token of `kind`.
pub fn generate(kind: Kind) -> Result<String, Error> {
    build(kind, |_| {
        let mut bytes = [0u8; 48];
        getrandom::getrandom(&mut bytes).map_err(Error::no_randomness)?;
        Ok(bytes.to_vec())
    })
}

/// A token of `kind` derived from `input` under the pepper: the same input always gives the
/// same token, and nobody without the pepper can compute it. Used for a refresh token's
/// successor, so that every concurrent or retried rotation hands out the same one.
pub fn derive(kind: Kind, pepper: &[u8], purpose: &str, input: &str) -> String {
    let block = |counter: u32| -> Result<Vec<u8>, Error> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(pepper)
            .map_err(|_| Error::policy("unusable pepper"))?;
        mac.update(format!("tollgate-derive:{purpose}:{counter}:{input}").as_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    };
    // HMAC accepts keys of any length, so `block` cannot fail.
    build(kind, block).unwrap_or_default()
}

/// The token of `kind` whose body is sampled from the bytes `next` yields (call `n` gives the
/// `n`-th chunk).
fn build(kind: Kind, mut next: impl FnMut(u32) -> Result<Vec<u8>, Error>) -> Result<String, Error> {
    let mut token = String::with_capacity(TOKEN_LEN);
    token.push_str(kind.prefix());
    // Rejection sampling keeps every character uniform over the 62-letter alphabet.
    let mut filled = 0;
    let mut counter = 0;
    while filled < BODY_LEN {
        let bytes = next(counter)?;
        counter += 1;
        for byte in bytes {
            if filled == BODY_LEN {
                break;
            }
            if byte < 248 {
                token.push(char::from(ALPHABET[usize::from(byte % 62)]));
                filled += 1;
            }
        }
    }
    let check = crc32(token.as_bytes());
    token.push_str(&base62_fixed(check));
    Ok(token)
}

/// The routing slot a token carries: the value of its first two body characters (0 to 3,843).
/// Tokens of one refresh family share it (successors keep their predecessor's, a code's first
/// refresh token takes the code's), so the coordinator keeps a family in one object.
pub fn slot(token: &str) -> u32 {
    let digit = |b: u8| ALPHABET.iter().position(|a| *a == b).unwrap_or(0) as u32;
    match token.as_bytes().get(4..6) {
        Some([high, low]) => digit(*high) * 62 + digit(*low),
        _ => 0,
    }
}

/// `token` with its first two body characters replaced by `like`'s (its slot), and the
/// checksum recomputed.
pub fn in_slot_of(token: &str, like: &str) -> String {
    let (Some(head), Some(slot), Some(rest)) = (
        token.get(..4),
        like.get(4..6),
        token.get(6..TOKEN_LEN - CHECK_LEN),
    ) else {
        return token.to_owned();
    };
    let body = format!("{head}{slot}{rest}");
    let check = crc32(body.as_bytes());
    format!("{body}{}", base62_fixed(check))
}

/// The kind of a well-formed token (prefix, length, alphabet and checksum all right).
pub fn parse(token: &str) -> Option<Kind> {
    if token.len() != TOKEN_LEN || !token.is_ascii() {
        return None;
    }
    let kind = Kind::ALL
        .into_iter()
        .find(|k| token.starts_with(k.prefix()))?;
    let (body, check) = token.split_at(TOKEN_LEN - CHECK_LEN);
    if !body[4..].bytes().all(|b| ALPHABET.contains(&b)) {
        return None;
    }
    (base62_fixed(crc32(body.as_bytes())) == check).then_some(kind)
}

/// HMAC-SHA-256 of the token under the pepper, base64url: the only form that is stored.
pub fn keyed_hash(pepper: &[u8], token: &str) -> String {
    match <Hmac<Sha256> as Mac>::new_from_slice(pepper) {
        Ok(mut mac) => {
            mac.update(token.as_bytes());
            b64::encode(&mac.finalize().into_bytes())
        }
        // HMAC accepts keys of any length; this arm cannot run, and hashing without the pepper
        // would be wrong, so it yields a value no stored key can equal.
        Err(_) => String::from("!"),
    }
}

fn base62_fixed(mut value: u32) -> String {
    let mut out = [b'0'; CHECK_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// CRC-32 (IEEE 802.3, as zlib), bitwise: small and fast enough for 36 bytes.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_tokens_are_well_formed_stable_and_keyed() {
        let a = derive(
            Kind::Refresh,
            b"pepper-one-0123456789abcdef012345",
            "next",
            "tgr_x",
        );
        assert_eq!(parse(&a), Some(Kind::Refresh));
        assert_eq!(
            a,
            derive(
                Kind::Refresh,
                b"pepper-one-0123456789abcdef012345",
                "next",
                "tgr_x"
            )
        );
        assert_ne!(
            a,
            derive(
                Kind::Refresh,
                b"pepper-two-0123456789abcdef012345",
                "next",
                "tgr_x"
            )
        );
        assert_ne!(
            a,
            derive(
                Kind::Refresh,
                b"pepper-one-0123456789abcdef012345",
                "next",
                "tgr_y"
            )
        );
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn tokens_round_trip_and_checksums_catch_typos() {
        for kind in Kind::ALL {
            let token = generate(kind).unwrap();
            assert_eq!(token.len(), TOKEN_LEN);
            assert_eq!(parse(&token), Some(kind));
            let mut typo = token.clone().into_bytes();
            typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
            assert_eq!(parse(&String::from_utf8(typo).unwrap()), None);
        }
        assert_ne!(
            generate(Kind::ApiKey).unwrap(),
            generate(Kind::ApiKey).unwrap()
        );
        assert_eq!(parse("tgk_short"), None);
        assert_eq!(parse(&"x".repeat(TOKEN_LEN)), None);
    }

    #[test]
    fn keyed_hash_depends_on_the_pepper() {
        let token = generate(Kind::ApiKey).unwrap();
        assert_ne!(
            keyed_hash(b"pepper-one", &token),
            keyed_hash(b"pepper-two", &token)
        );
        assert_eq!(keyed_hash(b"p", &token).len(), 43);
    }
}
