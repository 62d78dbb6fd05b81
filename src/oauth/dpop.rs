//! DPoP at the issuer and the gateway (RFC 9449): a proof checked by the core's rules
//! ([`crate::dpop`]) and then recorded, so that its `jti` is accepted once (§11.1).

use super::{OAuth, OAuthError};
use crate::dpop::{self, Proof, Request};
use crate::error::Error;
use crate::store::{AtomicStore, Store};

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

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    /// Checks a presented DPoP proof at `now` (with this deployment's server nonces when
    /// `require_nonce`, §8), signed by the bound key when there is one, and records its `jti`:
    /// the proof, or why it is refused (a replay is `ERR_DPOP_PROOF_INVALID` naming `jti`;
    /// another key, `DpopKeyMismatch`). Nothing is recorded for a refused proof. The outer
    /// error is a store that cannot be written: the request cannot be judged.
    pub async fn accept_dpop_proof(
        &self,
        presented: &Presented<'_>,
        require_nonce: bool,
        now: i64,
    ) -> Result<Result<Proof, Error>, OAuthError> {
        let proof = match dpop::single_proof(presented.header) {
            Ok(proof) => proof,
            Err(err) => return Ok(Err(err)),
        };
        let accepted = match require_nonce {
            true => dpop::accepted_nonces(self.pepper, now).to_vec(),
            false => Vec::new(),
        };
        let nonces: Vec<&str> = accepted.iter().map(String::as_str).collect();
        let request = Request {
            method: presented.method,
            url: presented.url,
            access_token: presented.access_token,
            nonces: &nonces,
        };
        let policy = dpop::Policy::default();
        let checked = match dpop::verify_proof(proof, &request, &policy, now) {
            Ok(checked) => checked,
            Err(err) => return Ok(Err(err)),
        };
        if presented.bound.is_some_and(|jkt| jkt != checked.jkt) {
            return Ok(Err(Error::DpopKeyMismatch));
        }
        match self
            .first_use_of_dpop_proof(&checked.jkt, &checked.jti, policy.replay_window())
            .await?
        {
            true => Ok(Ok(checked)),
            false => Ok(Err(Error::DpopInvalid {
                member: "jti",
                reason: "was already used: a proof is accepted once (replay)",
            })),
        }
    }

    /// Records a DPoP proof as used (RFC 9449 §11.1): `true` the first time its `jti` is seen
    /// for its key, `false` for a replay. Written only if absent, so of two concurrent uses
    /// exactly one wins.
    async fn first_use_of_dpop_proof(
        &self,
        jkt: &str,
        jti: &str,
        ttl: u64,
    ) -> Result<bool, OAuthError> {
        let key = crate::schema::dpop_proof(&self.hash(&format!("{jkt}.{jti}")));
        Ok(self
            .once
            .compare_and_swap(&key, None, "1", super::ttl(ttl))
            .await?)
    }
}
