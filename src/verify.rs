//! The token engine's verification: structure (pure) → signature (provider) → claims (pure).
//!
//! [`Verifier`] holds a validated key set and policy; build it once and reuse it. Each step is
//! also exposed on its own for adapters whose signature check is asynchronous (WebCrypto):
//! [`Verifier::prepare`] returns the untrusted token and its candidate keys, and
//! [`crate::hazmat::signature_checked`] marks it as checked once the host says so.

use std::cell::OnceCell;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::claims::{Claim, Claims};

use crate::crypto::{AsyncCrypto, CryptoProvider, DefaultCrypto};
use crate::error::{truncated, Error};
use crate::jwk::Key;
use crate::jwks::KeySet;
use crate::policy::{media_type, Policy};
use crate::token::{Header, HeaderMemo, UntrustedToken};

/// A token whose signature has verified but whose claims are not checked yet.
#[derive(Debug)]
pub struct SignatureChecked<'a> {
    pub(crate) token: UntrustedToken<'a>,
    pub(crate) kid: Arc<str>,
}

impl SignatureChecked<'_> {
    /// The payload, whose signature is good but whose claims (e.g. `exp`) are unchecked. For
    /// revocation, which must accept tokens the claims checks would refuse.
    pub fn payload(&self) -> &[u8] {
        self.token.payload()
    }
}

/// A verified JWS: signature good, header and payload as sent. Its payload may be any bytes.
#[derive(Clone, Debug)]
pub struct VerifiedJws {
    /// The protected header.
    pub header: Header,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The `kid` of the key that verified it.
    pub kid: Arc<str>,
}

/// A verified JWT: signature and every claim the policy asks for are good.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The protected header.
    pub header: Header,
    /// The claims set, parsed on first use: the checks above read only what they need.
    claims: OnceCell<Map<String, Value>>,
    /// The claims set exactly as signed (JSON text), for adapters that pass it on unchanged.
    pub raw_claims: Vec<u8>,
    /// The `kid` of the key that verified it.
    pub kid: Arc<str>,
    /// `exp` in whole seconds as the checks read it (a fraction rounded down, exactly): a
    /// cache that keeps the token until then never keeps it past what a fresh check accepts.
    exp: Option<i64>,
}

impl Verified {
    /// The claims set (a JSON object), parsed from [`Verified::raw_claims`] on first use.
    pub fn claims(&self) -> &Map<String, Value> {
        // Already read as one JSON object by the checks, so this parse succeeds.
        self.claims
            .get_or_init(|| serde_json::from_slice(&self.raw_claims).unwrap_or_default())
    }

    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims().get(name).and_then(Value::as_str)
    }

    /// `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.claim_str("sub")
    }

    /// `jti`.
    pub fn jti(&self) -> Option<&str> {
        self.claim_str("jti")
    }

    /// `exp`, if present, in whole seconds as the checks read it.
    pub fn expires_at(&self) -> Option<i64> {
        self.exp
    }

    /// The space-separated `scope` claim (RFC 8693 §4.2), split.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.claim_str("scope")
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    /// `aud` as a list: one string or an array of them (RFC 7519 §4.1.3); none when absent.
    pub fn audiences(&self) -> Vec<&str> {
        match self.claims().get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// Verifies tokens against one key set under one policy.
#[derive(Clone, Debug)]
pub struct Verifier<P = DefaultCrypto> {
    keys: KeySet,
    policy: Policy,
    provider: P,
    headers: HeaderMemo,
}

impl Verifier<DefaultCrypto> {
    /// A verifier using the build's own provider ([`DefaultCrypto`]).
    pub fn new(keys: KeySet, policy: Policy) -> Result<Self, Error> {
        Self::with_provider(keys, policy, DefaultCrypto::default())
    }
}

impl<P: CryptoProvider> Verifier<P> {
    /// A verifier using `provider` for the signature step.
    pub fn with_provider(keys: KeySet, policy: Policy, provider: P) -> Result<Self, Error> {
        policy.validate()?;
        Ok(Verifier {
            keys,
            policy,
            provider,
            headers: HeaderMemo::default(),
        })
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The keys.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Verifies a JWT: structure, signature, then claims at time `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, now: i64) -> Result<Verified, Error> {
        self.verify_untrusted(self.parse(token)?, now)
    }

    /// Verifies a token the caller has already parsed (for instance to route it by `iss`),
    /// so it is not parsed twice.
    pub fn verify_untrusted(
        &self,
        untrusted: UntrustedToken<'_>,
        now: i64,
    ) -> Result<Verified, Error> {
        check_claims(self.check_signature(untrusted)?, &self.policy, now)
    }

    /// [`Verifier::verify`] with a provider whose answers come later (the worker's WebCrypto).
    pub async fn verify_async(
        &self,
        token: &str,
        now: i64,
        crypto: &(impl AsyncCrypto + ?Sized),
    ) -> Result<Verified, Error> {
        let checked = self
            .check_signature_with(self.parse(token)?, crypto)
            .await?;
        check_claims(checked, &self.policy, now)
    }

    /// [`Verifier::verify_signature`] with a provider whose answers come later.
    pub async fn verify_signature_async<'t>(
        &self,
        token: &'t str,
        crypto: &(impl AsyncCrypto + ?Sized),
    ) -> Result<SignatureChecked<'t>, Error> {
        self.check_signature_with(self.parse(token)?, crypto).await
    }

    /// Whether a token whose signature verified is of the kind this verifier takes: the
    /// policy's `typ`, if it names one. For revocation, which takes expired tokens (no claim
    /// checks) but must not take another JWT signed by the same key for an access token: an
    /// origin assertion carries its access token's `jti`, and revoked it (RFC 8725 §3.11; an
    /// outside run).
    pub fn is_its_kind(&self, checked: &SignatureChecked<'_>) -> bool {
        check_typ(checked.token.header(), &self.policy).is_ok()
    }

    /// Verifies a JWS whose payload need not be a JWT (no claim checks, and no `exp` needed).
    pub fn verify_jws(&self, token: &str) -> Result<VerifiedJws, Error> {
        let checked = self.verify_signature(token)?;
        let (header, payload) = checked.token.into_parts();
        Ok(VerifiedJws {
            header,
            payload,
            kid: checked.kid,
        })
    }

    /// Steps 1 and 2.
    pub fn verify_signature<'t>(&self, token: &'t str) -> Result<SignatureChecked<'t>, Error> {
        self.check_signature(self.parse(token)?)
    }

    /// Step 2 on a parsed token: the first candidate key whose signature verifies. The
    /// synchronous twin of [`Verifier::check_signature_with`], kept apart so that the package's
    /// hot path neither allocates nor polls a future; the two must make the same checks.
    pub fn check_signature<'t>(
        &self,
        untrusted: UntrustedToken<'t>,
    ) -> Result<SignatureChecked<'t>, Error> {
        // A shared handle (no copy), so the keys can borrow it while the token moves out.
        let header = untrusted.header().clone();
        let alg = header.alg();
        for key in self.candidate_keys(&header)? {
            let signature = untrusted.signature();
            if crate::crypto::is_well_formed(alg, key, signature)
                && self
                    .provider
                    .verify(alg, key, untrusted.signing_input(), signature)
            {
                return Ok(SignatureChecked {
                    token: untrusted,
                    kid: key.shared_kid(),
                });
            }
        }
        Err(Error::BadSignature)
    }

    /// [`Verifier::check_signature`] with a provider whose answers come later (WebCrypto):
    /// the same candidates, in the same order, with the same checks before the provider's.
    pub async fn check_signature_with<'t>(
        &self,
        untrusted: UntrustedToken<'t>,
        crypto: &(impl AsyncCrypto + ?Sized),
    ) -> Result<SignatureChecked<'t>, Error> {
        let header = untrusted.header().clone();
        let alg = header.alg();
        for key in self.candidate_keys(&header)? {
            let signature = untrusted.signature();
            if crate::crypto::is_well_formed(alg, key, signature)
                && crypto
                    .verify(alg, key, untrusted.signing_input(), signature)
                    .await
            {
                return Ok(SignatureChecked {
                    token: untrusted,
                    kid: key.shared_kid(),
                });
            }
        }
        Err(Error::BadSignature)
    }

    /// Step 1: parses the token and finds the keys that may verify it. Fails with
    /// `ERR_JOSE_ALG_NOT_ALLOWED` or `ERR_JWKS_NO_MATCHING_KEY` before any signature work.
    pub fn prepare<'s, 't>(
        &'s self,
        token: &'t str,
    ) -> Result<(UntrustedToken<'t>, Vec<&'s Key>), Error> {
        let untrusted = self.parse(token)?;
        let candidates = self.candidates(&untrusted)?;
        Ok((untrusted, candidates))
    }

    /// Structure, under this policy's size limit. The last header seen is remembered
    /// ([`HeaderMemo`]).
    pub fn parse<'t>(&self, token: &'t str) -> Result<UntrustedToken<'t>, Error> {
        UntrustedToken::parse_memo(token, self.policy.max_token_bytes, &self.headers)
    }

    /// The keys that may verify a parsed token: its `alg` must be allowed by the policy and by
    /// the key. For adapters that run the signature step themselves (see [`crate::hazmat`]).
    pub fn candidates(&self, untrusted: &UntrustedToken<'_>) -> Result<Vec<&Key>, Error> {
        self.candidate_keys(untrusted.header())
            .map(Iterator::collect)
    }

    /// [`Verifier::candidates`] without collecting them (one key is the usual case).
    fn candidate_keys<'s, 'h>(
        &'s self,
        header: &'h Header,
    ) -> Result<std::iter::Peekable<impl Iterator<Item = &'s Key> + use<'s, 'h, P>>, Error> {
        let alg = header.alg();
        if !self.policy.algorithms.contains(&alg) {
            return Err(Error::AlgNotAllowed {
                alg: alg.name().to_owned(),
            });
        }
        let kid = header.kid();
        let mut candidates = self.keys.candidates(kid, alg).peekable();
        if candidates.peek().is_none() {
            return Err(Error::NoMatchingKey {
                kid: kid.map(truncated),
            });
        }
        Ok(candidates)
    }
}

/// Step 3: the claims, against the policy, at `now`. Pure; shared by every provider.
pub fn check_claims(
    checked: SignatureChecked<'_>,
    policy: &Policy,
    now: i64,
) -> Result<Verified, Error> {
    let SignatureChecked { token, kid } = checked;
    let (header, payload) = token.into_parts();
    let claims = Claims::read(&payload, &policy.required_claims)?;
    check_claim_values(&claims, &header, policy, now)?;
    let exp = match claims.exp {
        Some(Claim::Number(exp)) => Some(exp),
        _ => None,
    };
    Ok(Verified {
        header,
        claims: OnceCell::new(),
        raw_claims: payload,
        kid,
        exp,
    })
}

fn check_claim_values(
    claims: &Claims<'_>,
    header: &Header,
    policy: &Policy,
    now: i64,
) -> Result<(), Error> {
    check_types(claims)?;
    check_typ(header, policy)?;
    check_issuer(claims, policy)?;
    check_audience(claims, policy)?;
    if let Some(i) = claims.present.iter().position(|present| !present) {
        let name = policy.required_claims.get(i).map_or("", String::as_str);
        return Err(Error::claim_invalid(name, "is missing"));
    }
    check_times(claims, policy, now)
}

/// RFC 7519 §4.1: each registered claim that is present has its registered type, whatever
/// the policy checks. `iss`, `sub` and `jti` are strings; `aud` a string or an array of
/// strings; `exp`, `nbf` and `iat` NumericDates (JSON numbers, §2). `null` is no exception:
/// a claim sent as `null` is present with the wrong type, not absent.
#[inline]
pub(crate) fn check_types(claims: &Claims<'_>) -> Result<(), Error> {
    let string = |claim: &Option<Claim<'_>>| matches!(claim, None | Some(Claim::Str(_)));
    let date = |claim: &Option<Claim<'_>>| matches!(claim, None | Some(Claim::Number(_)));
    let refuse = |name, reason| Err(Error::claim_invalid(name, reason));
    if !string(&claims.iss) {
        return refuse("iss", "is not a string");
    }
    if !string(&claims.sub) {
        return refuse("sub", "is not a string");
    }
    if !matches!(claims.aud, None | Some(Claim::Str(_) | Claim::Strings(_))) {
        return refuse("aud", "is not a string or an array of strings");
    }
    for (name, claim) in [
        ("exp", &claims.exp),
        ("nbf", &claims.nbf),
        ("iat", &claims.iat),
    ] {
        if !date(claim) {
            return refuse(name, "is not a NumericDate");
        }
    }
    if !string(&claims.jti) {
        return refuse("jti", "is not a string");
    }
    Ok(())
}

/// RFC 7515 §4.1.9 / RFC 8725 §3.11: the header's media type, when the policy names one.
#[inline]
fn check_typ(header: &Header, policy: &Policy) -> Result<(), Error> {
    let Some(expected) = &policy.typ else {
        return Ok(());
    };
    if header
        .typ()
        .is_some_and(|typ| media_type(typ) == media_type(expected))
    {
        return Ok(());
    }
    Err(Error::claim_invalid(
        "typ",
        "header does not have the expected value",
    ))
}

/// RFC 7519 §4.1.1: exactly one of the accepted issuers.
#[inline]
fn check_issuer(claims: &Claims<'_>, policy: &Policy) -> Result<(), Error> {
    if policy.issuers.is_empty() {
        return Ok(());
    }
    match &claims.iss {
        Some(Claim::Str(iss)) if policy.issuers.iter().any(|want| want == iss) => Ok(()),
        _ => Err(Error::claim_invalid(
            "iss",
            "does not have an accepted value",
        )),
    }
}

/// RFC 7519 §4.1.3: a string or an array of strings, one of them accepted.
#[inline]
fn check_audience(claims: &Claims<'_>, policy: &Policy) -> Result<(), Error> {
    if policy.audiences.is_empty() {
        return Ok(());
    }
    let accepted = |aud: &str| policy.audiences.iter().any(|want| want == aud);
    let ok = match &claims.aud {
        Some(Claim::Str(aud)) => accepted(aud),
        Some(Claim::Strings(auds)) => auds.iter().any(|aud| accepted(aud)),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(Error::claim_invalid(
        "aud",
        "does not contain an accepted audience",
    ))
}

/// RFC 7519 §4.1.4–4.1.6: `iat` and `nbf` not in the future, `exp` not passed, with the
/// leeway; and the policy's maximum age.
#[inline]
fn check_times(claims: &Claims<'_>, policy: &Policy, now: i64) -> Result<(), Error> {
    let leeway = i64::try_from(policy.leeway).unwrap_or(i64::MAX);
    let date = |name: &'static str, claim: &Option<Claim<'_>>| -> Result<Option<i64>, Error> {
        match claim {
            None => Ok(None),
            Some(Claim::Number(at)) => Ok(Some(*at)),
            Some(_) => Err(Error::claim_invalid(name, "is not a NumericDate")),
        }
    };
    let iat = date("iat", &claims.iat)?;
    let nbf = date("nbf", &claims.nbf)?;
    let exp = date("exp", &claims.exp)?;
    for (claim, at) in [("iat", iat), ("nbf", nbf)] {
        if let Some(at) = at.filter(|at| *at > now.saturating_add(leeway)) {
            return Err(Error::NotYetValid { claim, at, now });
        }
    }
    match exp {
        // RFC 7519 §4.1.4: the current time MUST be before exp.
        Some(exp) if exp <= now.saturating_sub(leeway) => return Err(Error::Expired { exp, now }),
        None if policy.require_exp => return Err(Error::claim_invalid("exp", "is missing")),
        _ => {}
    }
    if let Some(max_age) = policy.max_token_age {
        let iat =
            iat.ok_or_else(|| Error::claim_invalid("iat", "is missing (maxTokenAge needs it)"))?;
        let max_age = i64::try_from(max_age).unwrap_or(i64::MAX);
        if now.saturating_sub(iat) > max_age.saturating_add(leeway) {
            return Err(Error::claim_invalid("iat", "is older than maxTokenAge"));
        }
    }
    Ok(())
}
