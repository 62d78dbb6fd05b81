//! DPoP at the issuer and the gateway (RFC 9449): a proof checked by the core's rules
//! ([`crate::dpop`]) and then recorded, so that its `jti` is accepted once (§11.1).

use sha2::{Digest, Sha256};

use super::OAuthError;
use crate::crypto::AsyncCrypto;
use crate::dpop::{self, Proof, Request};
use crate::error::Error;
use crate::store::AtomicStore;

/// A proof as an adapter received it, with the request it came with.
#[derive(Clone, Copy, Debug)]
pub struct Presented<'a> {
    /// The `DPoP` header's value.
    pub header: &'a str,
    /// The request's method, as received.
    pub method: &'a str,
    /// The request's URL, as received.
    pub url: &'a str,
    /// The access token presented with it, if any (its hash must be `ath`).
    pub access_token: Option<&'a str>,
    /// The key the presented token is bound to (`cnf.jkt`), if any.
    pub bound: Option<&'a str>,
}

/// Checks a presented DPoP proof at `now` and records its `jti` in `once`: the proof, or why it
/// is refused (a replay is `ERR_DPOP_PROOF_INVALID` naming `jti`; another key than the bound
/// one, `DpopKeyMismatch`). With `nonce_key` (the pepper), the proof must carry a current
/// server nonce (§8). Nothing is recorded for a refused proof. The outer error is a store that
/// cannot be written: the request cannot be judged.
///
/// It needs no issuer state, so a gateway that only checks an external issuer's DPoP-bound
/// tokens uses it with just its strongly consistent store. `crypto` checks the signature.
pub async fn accept_proof<C: AtomicStore>(
    once: &C,
    crypto: &(impl AsyncCrypto + ?Sized),
    presented: &Presented<'_>,
    nonce_key: Option<&[u8]>,
    now: i64,
) -> Result<Result<Proof, Error>, OAuthError> {
    let proof = match dpop::single_proof(presented.header) {
        Ok(proof) => proof,
        Err(err) => return Ok(Err(err)),
    };
    let accepted = match nonce_key {
        Some(key) => dpop::accepted_nonces(key, now).to_vec(),
        None => Vec::new(),
    };
    let nonces: Vec<&str> = accepted.iter().map(String::as_str).collect();
    let request = Request {
        method: presented.method,
        url: presented.url,
        access_token: presented.access_token,
        nonces: &nonces,
    };
    let policy = dpop::Policy::default();
    let checked = match dpop::verify_proof_async(proof, &request, &policy, now, crypto).await {
        Ok(checked) => checked,
        Err(err) => return Ok(Err(err)),
    };
    if presented.bound.is_some_and(|jkt| jkt != checked.jkt) {
        return Ok(Err(Error::DpopKeyMismatch));
    }
    match first_use(once, &checked.jkt, &checked.jti, policy.replay_window()).await? {
        true => Ok(Ok(checked)),
        false => Ok(Err(Error::DpopInvalid {
            member: "jti",
            reason: "was already used: a proof is accepted once (replay)",
        })),
    }
}

/// Records a DPoP proof as used (RFC 9449 §11.1): `true` the first time its `jti` is seen for
/// its key, `false` for a replay. Written only if absent, so of two concurrent uses exactly one
/// wins. The key is a plain SHA-256 of public values: hashing only bounds its length.
async fn first_use<C: AtomicStore>(
    once: &C,
    jkt: &str,
    jti: &str,
    ttl: u64,
) -> Result<bool, OAuthError> {
    let digest = Sha256::digest(format!("{jkt}.{jti}").as_bytes());
    let key = crate::schema::dpop_proof(&crate::b64::encode(&digest));
    Ok(once
        .compare_and_swap(&key, None, "1", super::ttl(ttl))
        .await?)
}
