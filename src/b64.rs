//! Strict base64url (RFC 7515 §2, RFC 4648 §5): the URL-safe alphabet, no padding, no
//! whitespace, and canonical trailing bits, so one token has exactly one spelling (Wycheproof
//! tests the lax decoders that accept more).

use base64ct::{Base64UrlUnpadded, Encoding};

/// Decodes strictly; `None` on any deviation from canonical unpadded base64url.
pub fn decode(input: &str) -> Option<Vec<u8>> {
    // base64ct rejects padding, characters outside the alphabet and non-zero trailing bits.
    Base64UrlUnpadded::decode_vec(input).ok()
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
    fn refuses_lax_spellings() {
        assert_eq!(decode("YQ").as_deref(), Some(&b"a"[..]));
        for bad in [
            "YQ==", "YR", "Y Q", "YQ\n", "Y+Q", "Y/Q", "Y", "YQ=", "\u{e9}",
        ] {
            assert_eq!(decode(bad), None, "{bad:?} must be refused");
        }
    }
}
