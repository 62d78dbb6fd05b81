//! Issuance: a claims builder with safe defaults, and compact JWS signing.

use std::cell::RefCell;

use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::b64;
use crate::crypto::{CryptoProvider, RustCrypto};
use crate::error::Error;
use crate::jwk::Key;

/// Default lifetime of a token whose `exp` is not given: 15 minutes (short-lived access
/// tokens, RFC 9700 §2.2.1).
pub const DEFAULT_LIFETIME: u64 = 15 * 60;

/// Builds and signs a JWT, keeping every claim the caller wrote and filling only the absent
/// ones: `iat` = now, `exp` = now + lifetime (default [`DEFAULT_LIFETIME`]), `jti` = 128
/// random bits.
///
/// The registered claims have two sources, a claim given with [`TokenBuilder::claim`] (what
/// the caller wrote in the payload) and an option ([`TokenBuilder::issuer`],
/// [`TokenBuilder::lifetime`], ...). Both for the same claim is a conflict the builder refuses
/// with `ERR_POLICY_INVALID` naming both, as jsonwebtoken does, rather than pick one. Signing
/// refuses a registered claim of the wrong type (RFC 7519 §4.1) the same way: no verifier
/// would accept the token.
///
/// There is no cap on the lifetime here: a general-purpose signer signs what it is asked to.
/// Caps are issuance policy, kept where tokens are issued (the worker's `oauth` lifetimes) and
/// where they are accepted (the gateway's own tokens are refused past
/// [`crate::revocation::HORIZON`], the time a revocation is kept).
#[derive(Clone, Debug)]
pub struct TokenBuilder {
    now: i64,
    lifetime: Option<u64>,
    not_before: Option<i64>,
    typ: Option<String>,
    kid: Option<String>,
    /// Claims as written by the caller.
    claims: Map<String, Value>,
    /// Registered claims set by options, with the option's name.
    options: Vec<(&'static str, &'static str, Value)>,
}

impl TokenBuilder {
    /// Starts a token signed at `now` (seconds since the epoch).
    pub fn new(now: i64) -> Self {
        TokenBuilder {
            now,
            lifetime: None,
            not_before: None,
            typ: Some("JWT".to_owned()),
            kid: None,
            claims: Map::new(),
            options: Vec::new(),
        }
    }

    fn option(mut self, claim: &'static str, option: &'static str, value: Value) -> Self {
        self.options.push((claim, option, value));
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
        let mut list: Vec<Value> = audiences
            .into_iter()
            .map(|a| Value::String(a.into()))
            .collect();
        match list.len() {
            0 => self,
            1 => {
                let one = list.remove(0);
                self.option("aud", "audience", one)
            }
            _ => self.option("aud", "audience", Value::Array(list)),
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

    /// Seconds from now until `exp`, when the claims do not carry an `exp`. Must be positive.
    pub fn lifetime(mut self, seconds: u64) -> Self {
        self.lifetime = Some(seconds);
        self
    }

    /// `nbf`, as an option.
    pub fn not_before(mut self, nbf: i64) -> Self {
        self.not_before = Some(nbf);
        self
    }

    /// The `typ` header (default `JWT`; RFC 9068 access tokens use `at+jwt`).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// The `kid` header (default: the signing key's kid).
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// A claim as the caller wrote it, registered ones included: it is signed as given.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// The claims as they will be signed: the caller's, then the options, then defaults for
    /// what is still absent.
    pub fn build_claims(&self) -> Result<Map<String, Value>, Error> {
        let mut claims = self.claims.clone();
        let conflict = |claim: &str, option: &str| {
            Error::policy(format!(
                "the payload has \"{claim}\" and the {option} option sets it too: give one"
            ))
        };
        for (claim, option, value) in &self.options {
            if claims.contains_key(*claim) {
                return Err(conflict(claim, option));
            }
            claims.insert((*claim).to_owned(), value.clone());
        }
        if let Some(nbf) = self.not_before {
            if claims.contains_key("nbf") {
                return Err(conflict("nbf", "notBefore"));
            }
            claims.insert("nbf".to_owned(), nbf.into());
        }
        match (claims.contains_key("exp"), self.lifetime) {
            (true, Some(_)) => return Err(conflict("exp", "expiresIn")),
            (true, None) => {}
            (false, Some(0)) => return Err(Error::policy("the lifetime must be positive")),
            (false, lifetime) => {
                let seconds = i64::try_from(lifetime.unwrap_or(DEFAULT_LIFETIME))
                    .map_err(|_| Error::policy("exp overflows"))?;
                let exp = self
                    .now
                    .checked_add(seconds)
                    .ok_or_else(|| Error::policy("exp overflows"))?;
                claims.insert("exp".to_owned(), exp.into());
            }
        }
        if !claims.contains_key("iat") {
            claims.insert("iat".to_owned(), self.now.into());
        }
        if !claims.contains_key("jti") {
            claims.insert("jti".to_owned(), new_jti()?.into());
        }
        Ok(claims)
    }

    /// Signs with `key` under the algorithm the key is bound to.
    pub fn sign(&self, key: &Key) -> Result<String, Error> {
        self.sign_with(key, &RustCrypto)
    }

    /// Signs through a specific crypto provider.
    pub fn sign_with(&self, key: &Key, provider: &impl CryptoProvider) -> Result<String, Error> {
        let claims = self.build_claims()?;
        let mut header = Map::new();
        if let Some(typ) = &self.typ {
            header.insert("typ".to_owned(), typ.clone().into());
        }
        header.insert(
            "kid".to_owned(),
            self.kid
                .clone()
                .unwrap_or_else(|| key.kid().to_owned())
                .into(),
        );
        let claims = serde_json::to_string(&claims).map_err(|e| Error::policy(e.to_string()))?;
        // Verification's rule for the registered claims' types (RFC 7519 §4.1), so that no
        // token is signed that no verifier would accept.
        if let Err(Error::ClaimInvalid { claim, reason }) =
            crate::verify::check_registered_types(claims.as_bytes())
        {
            return Err(Error::policy(format!("claim \"{claim}\" {reason}")));
        }
        sign_jws(&header, &claims, key, provider)
    }
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
    let mut token = String::new();
    b64::encode_public_into(&mut token, &header);
    token.push('.');
    b64::encode_public_into(&mut token, payload.as_bytes());
    let signature = provider.sign(alg, key, token.as_bytes())?;
    token.push('.');
    b64::encode_public_into(&mut token, &signature);
    Ok(token)
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
