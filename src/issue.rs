//! Issuance: a claims builder with safe defaults, and compact JWS signing.

use std::cell::RefCell;

use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::b64;
use crate::claims::Claims;
use crate::crypto::{AsyncCrypto, CryptoProvider, DefaultCrypto};
use crate::error::Error;
use crate::jwk::Key;
use crate::verify::check_types;

/// Default lifetime of a token whose `exp` is not given: 15 minutes (short-lived access
/// tokens, RFC 9700 §2.2.1).
pub const DEFAULT_LIFETIME: u64 = 15 * 60;

/// What options add to a claims set, the one rule every signer applies (package, CLI, worker):
/// the claims the caller wrote are kept as written; an option fills its claim only when the
/// claims lack it; `iat` = now, `exp` = now + lifetime (default [`DEFAULT_LIFETIME`]) and
/// `jti` = 128 random bits fill what is still absent.
///
/// A claim both written and set by an option is a conflict, refused with
/// `ERR_POLICY_INVALID` naming both (as jsonwebtoken does) rather than resolved by picking one.
/// So is a registered claim of the wrong type (RFC 7519 §4.1, verification's own rule): no
/// verifier would accept the token.
///
/// There is no cap on the lifetime here: a general-purpose signer signs what it is asked to.
/// Caps are issuance policy, kept where tokens are issued (the worker's `oauth` lifetimes) and
/// where they are accepted (the gateway's own tokens are refused past
/// [`crate::revocation::HORIZON`], the time a revocation is kept).
#[derive(Clone, Debug, Default)]
pub struct Fill {
    /// Claims set by options: the claim, the option's name, the value as JSON text.
    options: Vec<(&'static str, &'static str, String)>,
    /// The claims of `options`, in order: the names the reader reports the presence of.
    names: Vec<String>,
    lifetime: Option<u64>,
}

impl Fill {
    /// Sets `claim` (named `option` in messages) to `value`.
    pub fn set(&mut self, claim: &'static str, option: &'static str, value: &Value) {
        self.options.retain(|(name, ..)| *name != claim);
        self.options.push((claim, option, crate::json::text(value)));
        self.names = self
            .options
            .iter()
            .map(|(name, ..)| (*name).to_owned())
            .collect();
    }

    /// Seconds from now until `exp`, when the claims have no `exp`.
    pub fn set_lifetime(&mut self, seconds: u64) {
        self.lifetime = Some(seconds);
    }

    /// `payload` (a JSON object's text) with the absent claims filled in, its own members
    /// unchanged and in their order.
    pub fn complete(&self, payload: &str, now: i64) -> Result<String, Error> {
        let claims = Claims::read(payload.as_bytes(), &self.names).map_err(|err| match err {
            Error::Malformed { reason } => Error::policy(reason),
            other => other,
        })?;
        match check_types(&claims) {
            Ok(()) => {}
            Err(Error::ClaimInvalid { claim, reason }) => {
                return Err(Error::policy(format!("claim \"{claim}\" {reason}")))
            }
            Err(other) => return Err(other),
        }
        let conflict = |claim: &str, option: &str| {
            Error::policy(format!(
                "the payload has \"{claim}\" and the {option} option sets it too: give one"
            ))
        };
        // A JSON object's text ends with `}` (Claims::read checked it).
        let body = payload.trim_end().strip_suffix('}').unwrap_or_default();
        let mut out = String::with_capacity(payload.len() + 96);
        out.push_str(body.trim_end());
        let mut first = out.ends_with('{');
        let mut member = |out: &mut String, name: &str, json: &str| {
            if !std::mem::take(&mut first) {
                out.push(',');
            }
            out.push('"');
            out.push_str(name);
            out.push_str("\":");
            out.push_str(json);
        };
        for ((claim, option, json), present) in self.options.iter().zip(&claims.present) {
            if *present {
                return Err(conflict(claim, option));
            }
            member(&mut out, claim, json);
        }
        // Written, or set by an option: either way not a default's to fill.
        let given = |name: &str| claims.has(name) || self.options.iter().any(|(c, ..)| *c == name);
        match (given("exp"), self.lifetime) {
            (true, Some(_)) => return Err(conflict("exp", "expiresIn")),
            (true, None) => {}
            (false, Some(0)) => return Err(Error::policy("the lifetime must be positive")),
            (false, lifetime) => {
                let exp = i64::try_from(lifetime.unwrap_or(DEFAULT_LIFETIME))
                    .ok()
                    .and_then(|seconds| now.checked_add(seconds))
                    .ok_or_else(|| Error::policy("exp overflows"))?;
                member(&mut out, "exp", &exp.to_string());
            }
        }
        if !given("iat") {
            member(&mut out, "iat", &now.to_string());
        }
        if !given("jti") {
            // 22 base64url characters: nothing to escape.
            member(&mut out, "jti", &format!("\"{}\"", new_jti()?));
        }
        out.push('}');
        Ok(out)
    }
}

/// Builds and signs a JWT under the rule of [`Fill`]: [`TokenBuilder::claim`] is what the
/// caller wrote, the other claim setters are options.
#[derive(Clone, Debug)]
pub struct TokenBuilder {
    now: i64,
    typ: Option<String>,
    kid: Option<String>,
    /// Claims as written by the caller.
    claims: Map<String, Value>,
    fill: Fill,
}

impl TokenBuilder {
    /// Starts a token signed at `now` (seconds since the epoch).
    pub fn new(now: i64) -> Self {
        TokenBuilder {
            now,
            typ: Some("JWT".to_owned()),
            kid: None,
            claims: Map::new(),
            fill: Fill::default(),
        }
    }

    fn option(mut self, claim: &'static str, option: &'static str, value: Value) -> Self {
        self.fill.set(claim, option, &value);
        self
    }

    /// `iss`, as an option.
    pub fn issuer(self, iss: impl Into<String>) -> Self {
        self.option("iss", "issuer", Value::String(iss.into()))
    }

    /// `sub`, as an option.
    pub fn subject(self, sub: impl Into<String>) -> Self {
        self.option("sub", "subject", Value::String(sub.into()))
    }

    /// `aud`, as an option: one audience is written as a string, several as an array
    /// (RFC 7519 §4.1.3), none leaves the claim absent.
    pub fn audience<S: Into<String>>(self, audiences: impl IntoIterator<Item = S>) -> Self {
        match audience_value(audiences) {
            Some(aud) => self.option("aud", "audience", aud),
            None => self,
        }
    }

    /// `jti`, as an option (e.g. to tie a token to a stored record).
    pub fn jti(self, jti: impl Into<String>) -> Self {
        self.option("jti", "jti", Value::String(jti.into()))
    }

    /// `scope`, space-separated (RFC 8693 §4.2), as an option.
    pub fn scope(self, scope: impl Into<String>) -> Self {
        self.option("scope", "scope", Value::String(scope.into()))
    }

    /// Seconds from now until `exp`, when the claims carry no `exp`. Must be positive.
    pub fn lifetime(mut self, seconds: u64) -> Self {
        self.fill.set_lifetime(seconds);
        self
    }

    /// `nbf`, as an option.
    pub fn not_before(self, nbf: i64) -> Self {
        self.option("nbf", "notBefore", Value::from(nbf))
    }

    /// The `typ` header (default `JWT`; RFC 9068 access tokens use `at+jwt`).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// The `kid` header: the signing key's, which this may only repeat ([`header_kid`]).
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// A claim as the caller wrote it, registered ones included: it is signed as given.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// The claims set as it will be signed (JSON text).
    pub fn payload(&self) -> Result<String, Error> {
        let written =
            serde_json::to_string(&self.claims).map_err(|e| Error::policy(e.to_string()))?;
        self.fill.complete(&written, self.now)
    }

    /// Signs with `key` under the algorithm the key is bound to.
    pub fn sign(&self, key: &Key) -> Result<String, Error> {
        self.sign_with(key, &DefaultCrypto::default())
    }

    /// Signs through a specific crypto provider.
    pub fn sign_with(&self, key: &Key, provider: &impl CryptoProvider) -> Result<String, Error> {
        let alg = key.signing_algorithm()?;
        let header = self.header(alg, key)?;
        sign_segments(&header, &self.payload()?, alg, key, provider)
    }

    /// The algorithm and JWS signing input (`header.payload`) for a host that signs
    /// asynchronously (WebCrypto in the worker); [`with_signature`] completes the token.
    pub fn signing_input(&self, key: &Key) -> Result<(Algorithm, String), Error> {
        self.input_for(key)
    }

    /// Signs through a provider whose answers come later (the worker's WebCrypto).
    pub async fn sign_async(
        &self,
        key: &Key,
        crypto: &(impl AsyncCrypto + ?Sized),
    ) -> Result<String, Error> {
        let (alg, input) = self.input_for(key)?;
        let signature = crypto.sign(alg, key, input.as_bytes()).await?;
        Ok(with_signature(input, &signature))
    }

    fn input_for(&self, key: &Key) -> Result<(Algorithm, String), Error> {
        let alg = key.signing_algorithm()?;
        let header = self.header(alg, key)?;
        Ok((alg, jws_input(&header, &self.payload()?)))
    }

    fn header(&self, alg: Algorithm, key: &Key) -> Result<String, Error> {
        let kid = header_kid(self.kid.as_deref(), key)?;
        Ok(header_segment(alg, kid, header_typ(self.typ.as_deref())?))
    }
}

/// The `kid` a token names: its key's (RFC 7515 §4.1.4: the hint to the key that verifies it).
/// A caller's `kid` may repeat it; another is refused, since a token naming it would not
/// verify with this same key (an outside audit: it was written over the key's). A key gets
/// another kid in its JWK.
pub fn header_kid<'k>(asked: Option<&'k str>, key: &'k Key) -> Result<&'k str, Error> {
    match asked {
        Some(kid) if kid != key.kid() => Err(Error::policy(format!(
            "the key's kid is {:?}; a token naming kid {kid:?} would not verify with it (give the key that kid in its JWK instead)",
            key.kid()
        ))),
        _ => Ok(key.kid()),
    }
}

/// A `typ` header as given: an empty one is refused, as a verifier refuses it (RFC 7515
/// §4.1.9 names a media type).
pub fn header_typ(typ: Option<&str>) -> Result<Option<&str>, Error> {
    match typ {
        Some("") => Err(Error::policy("typ may not be empty")),
        typ => Ok(typ),
    }
}

/// A claims set written as JSON text (the CLI's `--claims`), held to the rules a verifier
/// holds it to before it is signed: one object, no name twice (a verifier refuses a repeated
/// name, RFC 7519 §4, so signing the last copy would make a token nobody accepts), nesting
/// below 128.
pub fn claims_from_json(text: &str) -> Result<Map<String, Value>, Error> {
    Claims::read(text.as_bytes(), &[])?;
    match serde_json::from_str(text) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(Error::malformed("claims set is not a JSON object")),
    }
}

/// A signing input and its signature, as a compact JWS.
pub fn with_signature(mut input: String, signature: &[u8]) -> String {
    input.push('.');
    b64::encode_public_into(&mut input, signature);
    input
}

/// `aud` for a list of audiences: a string for one, an array for several (RFC 7519 §4.1.3).
pub fn audience_value<S: Into<String>>(audiences: impl IntoIterator<Item = S>) -> Option<Value> {
    let mut list: Vec<Value> = audiences
        .into_iter()
        .map(|a| Value::String(a.into()))
        .collect();
    match list.len() {
        0 => None,
        1 => Some(list.remove(0)),
        _ => Some(Value::Array(list)),
    }
}

/// The base64url protected header `{"alg", "kid", "typ"}` that [`TokenBuilder`] writes: the
/// same for every token of one key and typ, so a signer may keep it.
pub fn header_segment(alg: Algorithm, kid: &str, typ: Option<&str>) -> String {
    let header = crate::json::Object::new()
        .with("alg", alg.name())
        .with("kid", kid)
        .with_some("typ", typ)
        .finish();
    b64::encode(header.as_bytes())
}

/// `header.BASE64URL(payload).BASE64URL(signature)`, signed with `key` under `alg`.
pub fn sign_segments(
    header: &str,
    payload: &str,
    alg: Algorithm,
    key: &Key,
    provider: &impl CryptoProvider,
) -> Result<String, Error> {
    let input = jws_input(header, payload);
    let signature = provider.sign(alg, key, input.as_bytes())?;
    Ok(with_signature(input, &signature))
}

/// The JWS signing input `header.BASE64URL(payload)` (RFC 7515 §5.1 step 6), with room for
/// the signature; [`with_signature`] completes the token (apart, for hosts that sign later).
pub fn jws_input(header: &str, payload: &str) -> String {
    let mut input = String::with_capacity(header.len() + payload.len() * 4 / 3 + 700);
    input.push_str(header);
    input.push('.');
    b64::encode_public_into(&mut input, payload.as_bytes());
    input
}

/// Signs any payload as a compact JWS with `key`'s algorithm; `alg` is added to `header`.
pub fn sign_jws(
    header: &Map<String, Value>,
    payload: &str,
    key: &Key,
    provider: &impl CryptoProvider,
) -> Result<String, Error> {
    let alg: Algorithm = key.signing_algorithm()?;
    let mut header = header.clone();
    header.insert("alg".to_owned(), alg.name().into());
    let header = serde_json::to_vec(&header).map_err(|e| Error::policy(e.to_string()))?;
    sign_segments(&b64::encode(&header), payload, alg, key, provider)
}

/// A fresh token id: 128 random bits, base64url (RFC 7519 §4.1.7 asks for negligible collision).
pub fn new_jti() -> Result<String, Error> {
    Ok(b64::encode(&random_id()?))
}

/// 16 bytes of the operating system's randomness, taken from a buffer refilled 1 KiB at a
/// time. In wasm every getrandom call crosses to the host's `getRandomValues`, which costs
/// microseconds (half of an HS256 sign in Node, measured); buffered, one call serves 64 ids.
/// Only token ids come from here: they are unique, not secret. Secrets (keys, opaque tokens,
/// salts) call getrandom directly. Bytes handed out are wiped from the buffer.
fn random_id() -> Result<[u8; 16], Error> {
    const POOL: usize = 1024;
    thread_local! {
        static RANDOM: RefCell<(Box<[u8; POOL]>, usize)> = RefCell::new((Box::new([0; POOL]), POOL));
    }
    RANDOM.with_borrow_mut(|(pool, used)| {
        if *used + 16 > POOL {
            getrandom::getrandom(&mut pool[..]).map_err(Error::no_randomness)?;
            *used = 0;
        }
        let mut id = [0u8; 16];
        for (out, byte) in id.iter_mut().zip(pool.iter_mut().skip(*used)) {
            *out = std::mem::take(byte);
        }
        *used += 16;
        Ok(id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_defaults_never_write_a_claim_twice() {
        let builder = TokenBuilder::new(100)
            .claim("client_id", "c")
            .issuer("i")
            .subject("s")
            .audience(["a", "b"])
            .scope("x")
            .jti("j")
            .not_before(90)
            .lifetime(60);
        let payload = builder.payload().unwrap();
        // The claims reader refuses a repeated name.
        Claims::read(payload.as_bytes(), &[]).unwrap();
        let claims: Map<String, Value> = serde_json::from_str(&payload).unwrap();
        assert_eq!(claims["jti"], "j");
        assert_eq!(claims["exp"], 160);
        assert_eq!(claims["iat"], 100);
        assert_eq!(claims["aud"], serde_json::json!(["a", "b"]));
        assert_eq!(claims.len(), 9);
        let mut fill = Fill::default();
        fill.set("exp", "exp", &Value::from(5));
        fill.set("iat", "iat", &Value::from(4));
        let payload = fill.complete("{}", 100).unwrap();
        Claims::read(payload.as_bytes(), &[]).unwrap();
    }

    #[test]
    fn token_ids_are_distinct_across_refills_of_the_buffer() {
        let ids: Vec<String> = (0..200).map(|_| new_jti().unwrap()).collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            let bytes = b64::decode(id).unwrap();
            assert_eq!(bytes.len(), 16);
            assert_ne!(bytes, [0; 16]);
        }
    }
}
