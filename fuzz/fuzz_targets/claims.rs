//! The claims reader (src/claims.rs) against a reference: the same checks written plainly over
//! a fully parsed `serde_json::Value`, as the core did before it read claims in one borrowed
//! pass. Any payload must give both the same answer and the same error code, and never panic.
//! The signature step is skipped through `hazmat` so every input reaches the claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
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

/// RFC 7519 §2 NumericDate, the reference way.
fn numeric_date(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.floor().clamp(i64::MIN as f64, i64::MAX as f64) as i64)
        }),
        _ => None,
    }
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

/// The reference decision: `Ok` or the error code (and claim) the core must give.
fn reference(payload: &[u8], policy: &Policy, now: i64) -> Result<(), (String, Option<String>)> {
    let fail = |code: &str, claim: Option<&str>| Err((code.to_owned(), claim.map(str::to_owned)));
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
    for (i, name) in ["iat", "nbf", "exp"].into_iter().enumerate() {
        if let Some(value) = claims.get(name) {
            match numeric_date(value) {
                Some(at) => dates[i] = Some(at),
                None => return fail(invalid, Some(name)),
            }
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
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let policy = policy(selector);
    let key = Key::hmac(&[7u8; 32], Algorithm::HS256, Some("k".into())).expect("key");
    let token = format!("{}.{}.AA", b64::encode(br#"{"alg":"HS256"}"#), b64::encode(payload));
    let Ok(untrusted) = UntrustedToken::parse(&token, usize::MAX) else {
        return;
    };
    let got = check_claims(hazmat::signature_checked(untrusted, &key), &policy, NOW)
        .map(|_| ())
        .map_err(|e| (e.code().to_owned(), e.claim().map(str::to_owned)));
    let want = reference(payload, &policy, NOW);
    assert_eq!(got, want, "payload {:?}", String::from_utf8_lossy(payload));
});
