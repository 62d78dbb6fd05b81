//! The header and claims readers (src/token.rs, src/claims.rs) against a reference: the same
//! checks written plainly over a fully parsed `serde_json::Value`, as the core did before it
//! read them in one borrowed pass. Any header and payload must give both the same answer and
//! the same error code, and never panic. The signature step is skipped through `hazmat` so
//! every input reaches the claims.
//!
//! Input: a selector byte (the policy), a length byte, that many bytes of header JSON, and the
//! payload JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use serde_json::Value;
use tollgate::token::UntrustedToken;
use tollgate::verify::check_claims;
use tollgate::{b64, hazmat, Algorithm, Key, Policy};

const NOW: i64 = 1_800_000_000;

fn policy(selector: u8) -> Policy {
    let mut policy = Policy::default();
    if selector & 1 != 0 {
        policy.issuers = vec!["https://i".into(), "\u{e9}".into()];
    }
    if selector & 2 != 0 {
        policy.audiences = vec!["api".into(), "x".into()];
    }
    if selector & 4 != 0 {
        policy.required_claims = vec!["sub".into(), "exp".into(), "k\u{e9}y".into()];
    }
    if selector & 8 != 0 {
        policy.leeway = 60;
    }
    if selector & 16 != 0 {
        policy.max_token_age = Some(300);
    }
    policy.require_exp = selector & 32 != 0;
    policy
}

/// RFC 7519 §2 NumericDate, the reference way, from the number's JSON text: whole seconds,
/// rounded up when `up` (a lower bound, `nbf`) and down otherwise (src/claims.rs, `Round`),
/// exactly, saturating at i64's bounds. Written apart from the core's reader: the decimal
/// point moved on the digit string, then the whole part read as a wide integer.
fn numeric_date(text: &str, up: bool) -> i64 {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => (text, "0"),
    };
    let exponent: i128 = {
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, exponent.trim_start_matches('+')),
        };
        let digits = digits.trim_start_matches('0');
        // Beyond 30 digits the exponent is larger than any digit string here: saturate.
        sign * if digits.len() > 30 { 10i128.pow(30) } else { digits.parse().unwrap_or(0) }
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = format!("{whole}{fraction}");
    let point = whole.len() as i128 + exponent;
    let (integer, rest): (String, &str) = if point <= 0 {
        (String::new(), &digits)
    } else if point >= digits.len() as i128 {
        // Enough zeros to pass i64 with any non-zero digit; more would change nothing.
        let zeros = (point - digits.len() as i128).min(100) as usize;
        (format!("{digits}{}", "0".repeat(zeros)), "")
    } else {
        (digits[..point as usize].to_owned(), &digits[point as usize..])
    };
    let has_fraction = rest.bytes().any(|b| b != b'0');
    let integer = integer.trim_start_matches('0');
    let magnitude: i128 = if integer.len() > 30 { i128::MAX / 2 } else { integer.parse().unwrap_or(0) };
    let mut value = if negative { -magnitude } else { magnitude };
    if has_fraction {
        match (up, negative) {
            (true, false) => value += 1,
            (false, true) => value -= 1,
            _ => {}
        }
    }
    value.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// The member names of a JSON object, in order, repeats included.
struct TopLevelNames(Vec<String>);

impl<'de> serde::Deserialize<'de> for TopLevelNames {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Names;
        impl<'de> serde::de::Visitor<'de> for Names {
            type Value = TopLevelNames;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    names.push(name);
                }
                Ok(TopLevelNames(names))
            }
        }
        deserializer.deserialize_map(Names)
    }
}

type Answer = Result<(), (String, Option<String>)>;

fn fail(code: &str, claim: Option<&str>) -> Answer {
    Err((code.to_owned(), claim.map(str::to_owned)))
}

/// RFC 7515 §4.1 (and RFC 7797 §3): each registered header parameter and its JSON type.
const HEADER_TYPES: [(&str, fn(&Value) -> bool); 12] = [
    ("alg", Value::is_string),
    ("jku", Value::is_string),
    ("jwk", Value::is_object),
    ("kid", Value::is_string),
    ("x5u", Value::is_string),
    ("x5c", strings),
    ("x5t", Value::is_string),
    ("x5t#S256", Value::is_string),
    ("typ", Value::is_string),
    ("cty", Value::is_string),
    ("crit", strings),
    ("b64", Value::is_boolean),
];

fn strings(value: &Value) -> bool {
    value.as_array().is_some_and(|items| items.iter().all(Value::is_string))
}

const ALGORITHMS: [&str; 14] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "ES512", "EdDSA", "Ed25519",
];

/// The reference decision on a header: one JSON object; no registered member twice; each
/// registered member of its type; a known `alg`; no `crit` and no `b64: false`.
fn reference_header(header: &[u8]) -> Answer {
    let invalid = || fail("ERR_JWS_INVALID", None);
    let Ok(Value::Object(members)) = serde_json::from_slice(header) else {
        return invalid();
    };
    let Ok(TopLevelNames(names)) = serde_json::from_slice::<TopLevelNames>(header) else {
        return invalid();
    };
    for (name, admits) in HEADER_TYPES {
        if names.iter().filter(|n| *n == name).count() > 1 {
            return invalid();
        }
        if members.get(name).is_some_and(|value| !admits(value)) {
            return invalid();
        }
    }
    match members.get("alg").and_then(Value::as_str) {
        None => return invalid(),
        Some(alg) if ALGORITHMS.contains(&alg) => {}
        Some("Ed448") => return fail("ERR_JOSE_NOT_SUPPORTED", None),
        Some(_) => return fail("ERR_JOSE_ALG_NOT_ALLOWED", None),
    }
    if let Some(crit) = members.get("crit") {
        let names = crit.as_array().filter(|names| !names.is_empty());
        let Some(names) = names else { return invalid() };
        for name in names.iter().filter_map(Value::as_str) {
            if name == "b64" {
                return fail("ERR_JOSE_NOT_SUPPORTED", None);
            }
            if HEADER_TYPES.iter().any(|(registered, _)| *registered == name) || !members.contains_key(name) {
                return invalid();
            }
        }
        return fail("ERR_JOSE_NOT_SUPPORTED", None);
    }
    if members.get("b64") == Some(&Value::Bool(false)) {
        return fail("ERR_JOSE_NOT_SUPPORTED", None);
    }
    Ok(())
}

/// The reference decision: `Ok` or the error code (and claim) the core must give.
fn reference(payload: &[u8], policy: &Policy, now: i64) -> Answer {
    let claims = match serde_json::from_slice(payload) {
        Ok(Value::Object(claims)) => claims,
        _ => return fail("ERR_JWS_INVALID", None),
    };
    // A repeated top-level name is refused (RFC 7519 §4): count the names as written.
    match serde_json::from_slice::<TopLevelNames>(payload) {
        Ok(TopLevelNames(names)) if names.len() == claims.len() => {}
        _ => return fail("ERR_JWS_INVALID", None),
    }
    let invalid = "ERR_JWT_CLAIM_VALIDATION_FAILED";
    // RFC 7519 §4.1: the registered claims' types, whatever the policy checks.
    let string = |v: &Value| v.is_string();
    let audience = |v: &Value| v.is_string() || strings(v);
    let date = |v: &Value| v.is_number();
    let types: [(&str, &dyn Fn(&Value) -> bool); 7] = [
        ("iss", &string),
        ("sub", &string),
        ("aud", &audience),
        ("exp", &date),
        ("nbf", &date),
        ("iat", &date),
        ("jti", &string),
    ];
    for (name, admits) in types {
        if claims.get(name).is_some_and(|value| !admits(value)) {
            return fail(invalid, Some(name));
        }
    }
    if !policy.issuers.is_empty() {
        let iss = claims.get("iss").and_then(Value::as_str);
        if !iss.is_some_and(|iss| policy.issuers.iter().any(|w| w == iss)) {
            return fail(invalid, Some("iss"));
        }
    }
    if !policy.audiences.is_empty() {
        let accepted = |aud: &str| policy.audiences.iter().any(|w| w == aud);
        let ok = match claims.get("aud") {
            Some(Value::String(aud)) => accepted(aud),
            Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(accepted),
            _ => false,
        };
        if !ok {
            return fail(invalid, Some("aud"));
        }
    }
    for name in &policy.required_claims {
        if !claims.contains_key(name) {
            return fail(invalid, Some(name));
        }
    }
    let leeway = policy.leeway as i64;
    let mut dates = [None; 3];
    // The numbers' texts, for exact rounding (the names are known to be unique by now).
    let texts: std::collections::BTreeMap<String, Box<RawValue>> = match serde_json::from_slice(payload) {
        Ok(texts) => texts,
        Err(_) => return fail("ERR_JWS_INVALID", None),
    };
    for (i, name) in ["iat", "nbf", "exp"].into_iter().enumerate() {
        match (claims.get(name), texts.get(name)) {
            (Some(Value::Number(_)), Some(text)) => dates[i] = Some(numeric_date(text.get(), name == "nbf")),
            (Some(_), _) => return fail(invalid, Some(name)),
            (None, _) => {}
        }
    }
    let [iat, nbf, exp] = dates;
    if iat.is_some_and(|iat| iat > now.saturating_add(leeway)) {
        return fail("ERR_JWT_NOT_YET_VALID", Some("iat"));
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return fail("ERR_JWT_NOT_YET_VALID", Some("nbf"));
    }
    match exp {
        Some(exp) if exp <= now.saturating_sub(leeway) => return fail("ERR_JWT_EXPIRED", Some("exp")),
        None if policy.require_exp => return fail(invalid, Some("exp")),
        _ => {}
    }
    if let Some(max_age) = policy.max_token_age {
        let Some(iat) = iat else { return fail(invalid, Some("iat")) };
        if now.saturating_sub(iat) > (max_age as i64).saturating_add(leeway) {
            return fail(invalid, Some("iat"));
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let [selector, header_len, rest @ ..] = data else {
        return;
    };
    let (header, payload) = rest.split_at(usize::from(*header_len).min(rest.len()));
    let policy = policy(*selector);
    let key = Key::hmac(&[7u8; 32], Algorithm::HS256, Some("k".into())).expect("key");
    let token = format!("{}.{}.AA", b64::encode(header), b64::encode(payload));
    let answer = |e: tollgate::Error| (e.code().to_owned(), e.claim().map(str::to_owned));
    let got = UntrustedToken::parse(&token, usize::MAX).map_err(answer).and_then(|untrusted| {
        check_claims(hazmat::signature_checked(untrusted, &key), &policy, NOW)
            .map(|_| ())
            .map_err(answer)
    });
    let want = reference_header(header).and_then(|()| reference(payload, &policy, NOW));
    assert_eq!(
        got,
        want,
        "header {:?} payload {:?}",
        String::from_utf8_lossy(header),
        String::from_utf8_lossy(payload)
    );
});
