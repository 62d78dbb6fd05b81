//! Byte scans eight bytes at a time ("SIMD within a register"). The token path scans every
//! byte of a token and of its claims; wasm32's `memchr` works four bytes at a time behind a
//! call, and there is no SIMD in the builds we ship.

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// `byte` in every byte of a word.
pub(crate) const fn splat(byte: u8) -> u64 {
    ONES * byte as u64
}

/// A high bit in each byte of `x` below `n` (n <= 128); bytes >= 0x80 never count, so UTF-8
/// passes. A borrow can also mark a byte above a true one, never below it: the lowest mark
/// is exact, and a word with no true byte has no mark.
pub(crate) const fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(splat(n)) & !x & HIGH
}

/// A high bit in each zero byte of `x` (with [`below`]'s rule for the bytes above one).
pub(crate) const fn zero(x: u64) -> u64 {
    below(x, 1)
}

/// The eight bytes at `at`, little-endian, if there are eight.
pub(crate) fn word(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk = bytes.get(at..at.checked_add(8)?)?;
    chunk.try_into().ok().map(u64::from_le_bytes)
}

/// The bytes at `at`, little-endian, up to eight, padded with zero bytes past the end.
pub(crate) fn word_padded(bytes: &[u8], at: usize) -> u64 {
    if let Some(x) = word(bytes, at) {
        return x;
    }
    let mut padded = [0; 8];
    let rest = bytes.get(at..).unwrap_or_default();
    for (out, byte) in padded.iter_mut().zip(rest) {
        *out = *byte;
    }
    u64::from_le_bytes(padded)
}

/// The first `byte` at or after `from`.
pub(crate) fn find(bytes: &[u8], mut from: usize, byte: u8) -> Option<usize> {
    while let Some(x) = word(bytes, from) {
        let hit = zero(x ^ splat(byte));
        if hit != 0 {
            return Some(from + hit.trailing_zeros() as usize / 8);
        }
        from += 8;
    }
    Some(from + bytes.get(from..)?.iter().position(|&b| b == byte)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_byte_at_every_offset() {
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'a'; len];
                bytes[at] = b'.';
                if at + 1 < len {
                    bytes[len - 1] = b'.';
                }
                for from in 0..=len {
                    let expected = bytes
                        .iter()
                        .skip(from)
                        .position(|&b| b == b'.')
                        .map(|i| i + from);
                    assert_eq!(find(&bytes, from, b'.'), expected, "{len} {at} {from}");
                }
            }
        }
        // A byte one above the target (a borrow's false mark) is not a match.
        assert_eq!(
            find(b"\x2f\x2e\x2f\x2f\x2f\x2f\x2f\x2f\x2e", 0, b'.'),
            Some(1)
        );
        assert_eq!(find(b"abc", 9, b'.'), None);
    }
}
