//! Step 3's reader: one pass over the claims set that keeps only what the policy checks
//! (`iss`, `aud`, `exp`, `nbf`, `iat` and the presence of required claims), borrowed from the
//! JSON text. Nothing else is built: the full set is parsed only when an adapter asks for it
//! ([`crate::Verified::claims`]). Duplicate names keep the last value, as `JSON.parse` and
//! `serde_json::Map` do (RFC 7519 §4 allows either that or refusal), so the value checked is
//! the value every consumer of the payload sees.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::error::Error;

/// One claim value, as far as the checks care.
#[derive(Debug)]
pub(crate) enum Claim<'a> {
    Str(Cow<'a, str>),
    /// A JSON number, floored to whole seconds (RFC 7519 §2 NumericDate).
    Number(i64),
    /// The strings of an array (other members are not strings a check could match).
    Strings(Vec<Cow<'a, str>>),
    /// Anything else: `null`, booleans, objects, a number that is not finite.
    Other,
}

/// The claims the policy looks at.
#[derive(Debug, Default)]
pub(crate) struct Claims<'a> {
    pub iss: Option<Claim<'a>>,
    pub aud: Option<Claim<'a>>,
    pub exp: Option<Claim<'a>>,
    pub nbf: Option<Claim<'a>>,
    pub iat: Option<Claim<'a>>,
    /// `present[i]` is true when `required[i]` appears.
    pub present: Vec<bool>,
}

impl<'a> Claims<'a> {
    /// Reads `payload`, which must be exactly one JSON object.
    pub(crate) fn read(payload: &'a [u8], required: &[String]) -> Result<Self, Error> {
        if payload.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(if serde_json::from_slice::<IgnoredAny>(payload).is_ok() {
                Error::malformed("claims set is not a JSON object")
            } else {
                Error::malformed("payload is not valid JSON")
            });
        }
        // JSON text is UTF-8 (RFC 8259 §8.1), including strings this pass skips unread.
        let text = std::str::from_utf8(payload)
            .map_err(|_| Error::malformed("payload is not valid JSON"))?;
        let mut de = serde_json::Deserializer::from_str(text);
        let claims = de
            .deserialize_map(ClaimsVisitor { required })
            .and_then(|claims| de.end().map(|()| claims))
            .map_err(|_| Error::malformed("payload is not valid JSON"))?;
        Ok(claims)
    }
}

struct ClaimsVisitor<'r> {
    required: &'r [String],
}

impl<'de> Visitor<'de> for ClaimsVisitor<'_> {
    type Value = Claims<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims<'de>, A::Error> {
        let mut claims = Claims {
            present: vec![false; self.required.len()],
            ..Claims::default()
        };
        while let Some(Name(name)) = map.next_key()? {
            if let Some(i) = self.required.iter().position(|r| *r == name) {
                claims.present[i] = true;
            }
            let slot = match name.as_ref() {
                "iss" => &mut claims.iss,
                "aud" => &mut claims.aud,
                "exp" => &mut claims.exp,
                "nbf" => &mut claims.nbf,
                "iat" => &mut claims.iat,
                _ => {
                    map.next_value::<Checked>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value()?);
        }
        Ok(claims)
    }
}

/// A value read in full and dropped. Unlike `IgnoredAny`, which skips without looking, this
/// refuses what a full parse refuses (a number beyond `f64`, a bad escape), so a payload that
/// passes the checks also parses as [`crate::Verified::claims`].
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Checked)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

/// A member name, borrowed unless it contains escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

impl<'de> Deserialize<'de> for Claim<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ClaimVisitor)
    }
}

struct ClaimVisitor;

impl<'de> Visitor<'de> for ClaimVisitor {
    type Value = Claim<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Claim<'de>, E> {
        Ok(Claim::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Claim<'de>, E> {
        Ok(Claim::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Claim<'de>, E> {
        Ok(Claim::Number(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Claim<'de>, E> {
        Ok(Claim::Number(i64::try_from(v).unwrap_or(i64::MAX)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Claim<'de>, E> {
        Ok(if v.is_finite() {
            // Saturating: a date past the i64 range is "never" / "always", not an error.
            Claim::Number(v.floor() as i64)
        } else {
            Claim::Other
        })
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Claim<'de>, E> {
        Ok(Claim::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Claim<'de>, E> {
        Ok(Claim::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Claim<'de>, A::Error> {
        let mut strings = Vec::new();
        while let Some(item) = seq.next_element::<Claim<'de>>()? {
            if let Claim::Str(s) = item {
                strings.push(s);
            }
        }
        Ok(Claim::Strings(strings))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claim<'de>, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Claim::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<'a>(json: &'a str, required: &[String]) -> Result<Claims<'a>, Error> {
        Claims::read(json.as_bytes(), required)
    }

    #[test]
    fn reads_the_checked_claims_and_skips_the_rest() {
        let required = vec!["sub".to_owned(), "nonce".to_owned()];
        let claims = read(
            r#" {"iss":"a\/b","aud":["x",1,"y"],"exp":1.9,"nbf":-3,"iat":18446744073709551615,
                "sub":"s","o":{"exp":1},"exp":7} "#,
            &required,
        )
        .unwrap();
        assert!(matches!(claims.iss, Some(Claim::Str(ref s)) if s == "a/b"));
        assert!(matches!(claims.aud, Some(Claim::Strings(ref v)) if v.len() == 2 && v[1] == "y"));
        assert!(
            matches!(claims.exp, Some(Claim::Number(7))),
            "the last duplicate wins"
        );
        assert!(matches!(claims.nbf, Some(Claim::Number(-3))));
        assert!(matches!(claims.iat, Some(Claim::Number(i64::MAX))));
        assert_eq!(claims.present, [true, false]);
    }

    #[test]
    fn refuses_invalid_utf8_even_in_members_it_skips() {
        // Found by fuzz/fuzz_targets/claims.rs: skipped strings were not checked.
        let err = Claims::read(b"{\"note\":\"\xff\",\"iss\":\"a\"}", &[]).unwrap_err();
        assert_eq!(err.code(), "ERR_JWS_INVALID");
        let header = crate::b64::encode(b"{\"alg\":\"HS256\",\"x\":\"\xc3\"}");
        let token = format!("{header}.e30.AA");
        let err = crate::token::UntrustedToken::parse(&token, 8192).unwrap_err();
        assert_eq!(err.code(), "ERR_JWS_INVALID");
    }

    #[test]
    fn refuses_what_a_full_parse_refuses_at_any_depth() {
        // Found by fuzz/fuzz_targets/claims.rs: skipped numbers were not range-checked.
        for bad in [
            r#"{"n":1e400}"#,
            r#"{"n":[{"m":[-1e999]}]}"#,
            r#"{"aud":[1,{"x":1e309}]}"#,
            r#"{"s":"\ud800"}"#,
            r#"{"o":{"\ud800":1}}"#,
        ] {
            assert!(read(bad, &[]).is_err(), "{bad}");
            assert!(
                serde_json::from_str::<serde_json::Value>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_one_json_object() {
        for bad in [
            "[1]",
            "\"x\"",
            "{\"a\":1} {}",
            "{\"a\":}",
            "",
            "{\"a\":1",
            "nul",
        ] {
            let err = read(bad, &[]).unwrap_err();
            assert_eq!(err.code(), "ERR_JWS_INVALID", "{bad}");
        }
    }
}
