//! Strict base64url (RFC 7515 §2, RFC 4648 §5): the URL-safe alphabet, no padding, no
//! whitespace, and canonical trailing bits, so one token has exactly one spelling (Wycheproof
//! tests the lax decoders that accept more).

use base64ct::{Base64UrlUnpadded, Encoding};

/// Decodes strictly; `None` on any deviation from canonical unpadded base64url.
pub fn decode(input: &str) -> Option<Vec<u8>> {
    // base64ct rejects padding, characters outside the alphabet and non-zero trailing bits.
    Base64UrlUnpadded::decode_vec(input).ok()
}

/// What [`decode_public`] adds for any byte outside the alphabet: above every valid group.
const OUTSIDE: u32 = 0x01ff_ffff;

/// `SEXTETS[i][byte]`: the six bits of `byte` as the `i`-th character of a group of four,
/// already placed where they land in the group's three bytes when it is stored little-endian
/// (first byte lowest), or [`OUTSIDE`]. A group is then four lookups joined by `|` and one
/// store, with no shifts and no separate validity test (the Chromium/modp decoder's layout).
const SEXTETS: [[u32; 256]; 4] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut tables = [[OUTSIDE; 256]; 4];
    let mut i = 0;
    while i < 64 {
        let (byte, v) = (alphabet[i] as usize, i as u32);
        tables[0][byte] = v << 2;
        tables[1][byte] = v >> 4 | (v & 0xf) << 12;
        tables[2][byte] = (v >> 2) << 8 | (v & 0x3) << 22;
        tables[3][byte] = v << 16;
        i += 1;
    }
    tables
};

/// Decodes public data (the parts of a token) with the same strictness, faster: table
/// lookups instead of base64ct's constant-time arithmetic. Never use it for key material.
pub fn decode_public(input: &str) -> Option<Vec<u8>> {
    let sextet = |i: usize, b: u8| SEXTETS[i][usize::from(b)];
    let bytes = input.as_bytes();
    let (whole, rest) = (bytes.len() / 4, bytes.len() % 4);
    if rest == 1 {
        return None;
    }
    // One spare byte: each group is stored as four bytes, the fourth overwritten by the next.
    let mut out = vec![0; whole * 3 + 1];
    // Bytes outside the alphabet are collected in one value and judged once, after the loop.
    let mut invalid = 0;
    for (i, quad) in bytes.chunks_exact(4).enumerate() {
        let group =
            sextet(0, quad[0]) | sextet(1, quad[1]) | sextet(2, quad[2]) | sextet(3, quad[3]);
        invalid |= group;
        if let Some(slot) = out.get_mut(i * 3..i * 3 + 4) {
            slot.copy_from_slice(&group.to_le_bytes());
        }
    }
    out.truncate(whole * 3);
    let tail = bytes.get(whole * 4..).unwrap_or_default();
    let last = tail
        .iter()
        .enumerate()
        .fold(0, |last, (i, &b)| last | sextet(i, b));
    invalid |= last;
    if invalid > 0x00ff_ffff {
        return None;
    }
    // Canonical: the bits below the last whole byte must be zero, so the byte after the last
    // one kept must be zero.
    let [x, y, z, _] = last.to_le_bytes();
    match rest {
        0 => {}
        2 if y == 0 => out.push(x),
        3 if z == 0 => out.extend_from_slice(&[x, y]),
        _ => return None,
    }
    Some(out)
}

/// Whether two public byte strings are equal, eight bytes at a time: slice `==` becomes a
/// byte-by-byte `memcmp` call in wasm, and the verify path compares header texts and key ids
/// on every token. Not constant-time: never use it for secrets.
pub(crate) fn same_public(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    let word = |chunk: &[u8]| chunk.try_into().map(u64::from_ne_bytes).unwrap_or_default();
    x.by_ref().zip(y.by_ref()).all(|(p, q)| word(p) == word(q))
        && x.remainder().iter().zip(y.remainder()).all(|(p, q)| p == q)
}

/// Encodes without padding.
pub fn encode(input: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(input)
}

/// Appends the unpadded encoding of public data (the parts of a token being signed) to `out`:
/// a table lookup instead of base64ct's constant-time arithmetic. Never use it for key material.
pub fn encode_public_into(out: &mut String, input: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let at = |n: u32| ALPHABET[(n & 63) as usize];
    let mut bytes = std::mem::take(out).into_bytes();
    let start = bytes.len();
    bytes.resize(start + input.len().div_ceil(3) * 4, 0);
    let (body, tail) = bytes[start..].split_at_mut(input.len() / 3 * 4);
    let mut triples = input.chunks_exact(3);
    for (triple, quad) in (&mut triples).zip(body.chunks_exact_mut(4)) {
        let n = u32::from(triple[0]) << 16 | u32::from(triple[1]) << 8 | u32::from(triple[2]);
        quad[0] = at(n >> 18);
        quad[1] = at(n >> 12);
        quad[2] = at(n >> 6);
        quad[3] = at(n);
    }
    let written = match (triples.remainder(), tail) {
        (&[a], [x, y, ..]) => {
            [*x, *y] = [at(u32::from(a) >> 2), at(u32::from(a) << 4)];
            2
        }
        (&[a, b], [x, y, z, ..]) => {
            let n = u32::from(a) << 8 | u32::from(b);
            [*x, *y, *z] = [at(n >> 10), at(n >> 4), at(n << 2)];
            3
        }
        _ => 0,
    };
    bytes.truncate(start + input.len() / 3 * 4 + written);
    // Only ASCII from the alphabet was added to valid UTF-8, so the first arm always runs;
    // the second keeps every byte rather than lose the text.
    *out = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    };
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
    fn the_public_encoder_agrees_with_the_constant_time_one() {
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 151 + len * 7) as u8).collect();
            let mut out = String::from("x.");
            encode_public_into(&mut out, &bytes);
            assert_eq!(out, format!("x.{}", encode(&bytes)), "{len}");
        }
    }

    #[test]
    fn public_equality_is_equality() {
        let text = b"eyJhbGciOiJIUzI1NiIsImtpZCI6InRodW1icHJpbnQifQ";
        for len in 0..text.len() {
            let a = &text[..len];
            assert!(same_public(a, a));
            for i in 0..len {
                let mut b = a.to_vec();
                b[i] ^= 1;
                assert!(!same_public(a, &b), "{len} {i}");
            }
            assert!(!same_public(a, &text[..len + 1]));
        }
    }

    #[test]
    fn the_public_decoder_agrees_on_near_misses() {
        // Every string of up to 9 characters drawn (pseudo-randomly) from the alphabet and
        // the characters lax decoders accept: both decoders give the same answer.
        let chars: Vec<char> =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ \n.\u{e9}\0"
                .chars()
                .collect();
        let mut state = 0x2545_f491_u32;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let len = state as usize % 10;
            let text: String = (0..len)
                .map(|i| chars[(state.rotate_left(i as u32 * 3) as usize) % chars.len()])
                .collect();
            assert_eq!(decode_public(&text), decode(&text), "{text:?}");
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
