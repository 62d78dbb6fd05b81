//! DPoP at the issuer and the gateway (RFC 9449): a proof checked by the core's rules
//! ([`crate::dpop`]) and then recorded, so that its `jti` is accepted once (§11.1).

use super::{OAuth, OAuthError};
use crate::dpop::{self, Proof, Request};
use crate::error::Error;
use crate::store::{AtomicStore, Store};

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    /// Checks a DPoP proof for `request` at `now`, signed by the key `bound` names when the
    /// presented token is bound to one, and records its `jti`: the proof, or why it is refused
    /// (a replay is `ERR_DPOP_PROOF_INVALID` naming `jti`; another key, `DpopKeyMismatch`).
    /// Nothing is recorded for a refused proof. The outer error is a store that cannot be
    /// written: the request cannot be judged.
    pub async fn accept_dpop_proof(
        &self,
        proof: &str,
        request: &Request<'_>,
        bound: Option<&str>,
        now: i64,
    ) -> Result<Result<Proof, Error>, OAuthError> {
        let policy = dpop::Policy::default();
        let checked = match dpop::verify_proof(proof, request, &policy, now) {
            Ok(checked) => checked,
            Err(err) => return Ok(Err(err)),
        };
        if bound.is_some_and(|jkt| jkt != checked.jkt) {
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
