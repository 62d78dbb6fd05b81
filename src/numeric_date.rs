//! RFC 7519 §2 NumericDate: a JSON number of seconds, which may have a fraction, brought to
//! the whole seconds the checks compare with `now`. Exactly, from the number's text: an f64
//! cannot tell `1799999999.99999999999999999` from `1800000000`, and which second a bound
//! falls in decides whether a token is accepted.

/// Which way a fractional NumericDate becomes the whole seconds that the checks compare with
/// `now` (whole seconds too). A bound rounds to its safe side, so that no token is accepted
/// outside the interval its exact values give:
///
/// - `nbf` is a lower bound: a token "MUST NOT be accepted for processing" before it
///   (RFC 7519 §4.1.5), so a fraction rounds up. Then `nbf > now + leeway` holds on whole
///   seconds exactly when it holds for the exact value: `nbf = N + 0.5` is refused at
///   `now = N` and accepted from `N + 1`.
/// - `exp` is an upper bound: a token MUST NOT be accepted "on or after" it (§4.1.4), so a
///   fraction rounds down: `exp = N + 0.5` is refused from `N`, half a second early, never
///   late.
/// - `iat` rounds down. It is a lower bound to the not-in-the-future check, and the start of
///   two upper bounds: `maxTokenAge` and a DPoP proof's window (RFC 9449 §11.1). One whole
///   number cannot be exact for both sides; rounded down, the upper bounds are exact (a
///   token is never accepted too old) and the future check, which RFC 7519 does not require
///   (§4.1.6 gives `iat` no acceptance rule), lets an `iat` less than a second ahead pass.
///
/// Rounding is exact, from the number's decimal text, not from its nearest f64: `N + 1e-30`
/// rounds up to `N + 1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Round {
    /// Towards negative infinity.
    Down,
    /// Towards positive infinity.
    Up,
}

/// The whole seconds of a JSON number's `text` (already known to be one), rounded `round`
/// exactly and saturating at `i64`'s bounds. For the rare spellings: fractions, exponents,
/// integers beyond 64 bits.
pub(crate) fn whole_seconds(text: &[u8], round: Round) -> i64 {
    let (negative, text) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    let end = text
        .iter()
        .position(|b| matches!(b, b'e' | b'E'))
        .unwrap_or(text.len());
    let (mantissa, exponent) = text.split_at(end);
    let mut shift: i64 = 0;
    let mut exponent_negative = false;
    for &byte in exponent.get(1..).unwrap_or_default() {
        match byte {
            b'-' => exponent_negative = true,
            b'0'..=b'9' => {
                shift = shift
                    .saturating_mul(10)
                    .saturating_add(i64::from(byte - b'0'))
            }
            _ => {}
        }
    }
    if exponent_negative {
        shift = -shift;
    }
    let before_point = mantissa
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(mantissa.len());
    // The digits that stand before the point once the exponent has moved it.
    let point = i64::try_from(before_point)
        .unwrap_or(i64::MAX)
        .saturating_add(shift);
    let mut whole = 0u64;
    let mut fraction = false;
    let mut at = 0i64;
    for &byte in mantissa.iter().filter(|b| b.is_ascii_digit()) {
        let digit = byte - b'0';
        if at < point {
            whole = whole.saturating_mul(10).saturating_add(u64::from(digit));
        } else {
            fraction |= digit != 0;
        }
        at += 1;
    }
    // Zeros the exponent appends past the last digit.
    if whole != 0 && at < point {
        whole = u32::try_from(point - at)
            .ok()
            .and_then(|zeros| 10u64.checked_pow(zeros))
            .and_then(|scale| whole.checked_mul(scale))
            .unwrap_or(u64::MAX);
    }
    let whole = match negative {
        false => i64::try_from(whole).unwrap_or(i64::MAX),
        true => 0i64.checked_sub_unsigned(whole).unwrap_or(i64::MIN),
    };
    match (round, negative) {
        (Round::Up, false) if fraction => whole.saturating_add(1),
        (Round::Down, true) if fraction => whole.saturating_sub(1),
        _ => whole,
    }
}
