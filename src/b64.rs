//! Strict base64url (RFC 7515 §2, RFC 4648 §5): the URL-safe alphabet, no padding, no
//! whitespace, and canonical trailing bits, so one token has exactly one spelling (Wycheproof
//! tests the lax decoders that accept more).

use base64ct::{Base64UrlUnpadded, Encoding};

/// Decodes strictly; `None` on any deviation from canonical unpadded base64url.
pub fn decode(input: &str) -> Option<Vec<u8>> {
    // base64ct rejects padding, characters outside the alphabet and non-zero trailing bits.
    Base64UrlUnpadded::decode_vec(input).ok()
}

/// Decodes public data (the parts of a token) with the same strictness, faster: a table
/// lookup instead of base64ct's constant-time arithmetic. Never use it for key material.
pub fn decode_public(input: &str) -> Option<Vec<u8>> {
    const INVALID: u8 = 0xFF;
    const TABLE: [u8; 256] = {
        let mut table = [INVALID; 256];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut i = 0;
        while i < 64 {
            table[alphabet[i] as usize] = i as u8;
            i += 1;
        }
        table
    };
    let bytes = input.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3 + 2);
    let mut chunks = bytes.chunks_exact(4);
    for chunk in &mut chunks {
        let mut n = 0u32;
        for &b in chunk {
            let v = TABLE[usize::from(b)];
            if v == INVALID {
                return None;
            }
            n = n << 6 | u32::from(v);
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut n = 0u32;
        for &b in rest {
            let v = TABLE[usize::from(b)];
            if v == INVALID {
                return None;
            }
            n = n << 6 | u32::from(v);
        }
        // Canonical: the bits below the last whole byte must be zero.
        match rest.len() {
            2 if n & 0xF == 0 => out.push((n >> 4) as u8),
            3 if n & 0x3 == 0 => out.extend_from_slice(&[(n >> 10) as u8, (n >> 2) as u8]),
            _ => return None,
        }
    }
    Some(out)
}

/// Encodes without padding.
pub fn encode(input: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length() {
        for len in 0..70 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(decode(&encode(&bytes)).as_deref(), Some(&bytes[..]));
        }
    }

    #[test]
    fn the_public_decoder_agrees_with_the_constant_time_one() {
        for len in 0..70 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 91 + 7) as u8).collect();
            assert_eq!(decode_public(&encode(&bytes)).as_deref(), Some(&bytes[..]));
        }
        for text in [
            "YQ", "YQ==", "YR", "Y Q", "YQ\n", "Y+Q", "Y/Q", "Y", "YQ=", "\u{e9}", "AAAB", "AAE",
            "AAF", "-_-_",
        ] {
            assert_eq!(decode_public(text), decode(text), "{text:?}");
        }
    }

    #[test]
    fn refuses_lax_spellings() {
        assert_eq!(decode("YQ").as_deref(), Some(&b"a"[..]));
        for bad in [
            "YQ==", "YR", "Y Q", "YQ\n", "Y+Q", "Y/Q", "Y", "YQ=", "\u{e9}",
        ] {
            assert_eq!(decode(bad), None, "{bad:?} must be refused");
        }
    }
}
