//! Introspection (RFC 7662) and revocation (RFC 7009) of every token type.

use super::*;
use crate::json::Object;

/// Whether `caller` may see a token issued to `client_id` for `audiences` (RFC 7662 §4: only
/// protected resources allowed to): its own tokens, and tokens for an audience it is
/// registered to check as a resource server (`introspects`). Being allowed to obtain tokens
/// for a service is not being that service, so nothing else (an outside run found any client
/// reading any token; a review, that "tokens for what it may reach" still let every client of
/// a single-service deployment read every token).
pub fn may_introspect(caller: &Client, client_id: Option<&str>, audiences: &[&str]) -> bool {
    client_id == Some(caller.client_id.as_str())
        || audiences
            .iter()
            .any(|aud| caller.introspects.iter().any(|checked| checked == aud))
}

/// Who asks for a revocation.
#[derive(Clone, Copy, Debug)]
pub enum Revoker<'a> {
    /// An authenticated client: only its own tokens.
    Client(&'a Client),
    /// The operator (the admin token): any token.
    Operator,
}

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    /// RFC 7662 introspection of any token type: the response body (§2.2) as JSON text. A
    /// member the token does not have is left out (an API key without expiry has no `exp`),
    /// never written as `null`: §2.2 types each member, and `null` is none of them.
    /// `verifier` checks JWT access tokens.
    ///
    /// `caller` sees a token as active only if it may ([`may_introspect`]); otherwise the
    /// answer is `active: false`, as for an unknown token (§2.2: "the protected resource is
    /// not allowed to introspect this particular token"; §4).
    pub async fn introspect(
        &self,
        token: &str,
        caller: &Client,
        verifier: &Verifier,
        now: i64,
    ) -> Result<String, OAuthError> {
        let inactive = || Object::new().with("active", false).finish();
        let may = |client_id: Option<&str>, audiences: &[&str]| {
            may_introspect(caller, client_id, audiences)
        };
        let active = |token_type: &str| {
            Object::new()
                .with("active", true)
                .with("token_type", token_type)
        };
        match opaque::parse(token) {
            Some(Kind::ApiKey) => Ok(match self.lookup_api_key(token, now).await? {
                Some(key)
                    if may(
                        Some(&key.client_id()),
                        &[key.resource.as_deref().unwrap_or(self.audience)],
                    ) =>
                {
                    let info = active("api_key")
                        .with("sub", &key.owner)
                        .with("scope", key.scopes.join(" "));
                    let info = match key.exp {
                        Some(exp) => info.with("exp", exp),
                        None => info,
                    };
                    info.with("iat", key.created)
                        .with("iss", self.issuer)
                        .finish()
                }
                _ => inactive(),
            }),
            Some(Kind::Refresh) => {
                let record = self
                    .read_once::<RefreshRecord>(&self.refresh_key(token))
                    .await?
                    .map(|(record, _)| record);
                // A refresh token is for the authorization server alone: only its client sees it.
                let Some(record) = record.filter(|r| {
                    r.exp > now && r.rotated_at.is_none() && may(Some(&r.client_id), &[])
                }) else {
                    return Ok(inactive());
                };
                if revocation::family_revoked(self.store, &record.family).await?
                    || revocation::subject_revoked(
                        self.store,
                        self.issuer,
                        &record.sub,
                        record.iat,
                        None,
                    )
                    .await?
                {
                    return Ok(inactive());
                }
                Ok(active("refresh_token")
                    .with("sub", &record.sub)
                    .with("client_id", &record.client_id)
                    .with("scope", &record.scope)
                    .with("exp", record.exp)
                    .with("iat", record.iat)
                    .with("iss", self.issuer)
                    .finish())
            }
            // A browser session names no client or audience: the operator's own (first-party)
            // clients only, since it shows the user's name.
            Some(Kind::Session) if !caller.first_party => Ok(inactive()),
            Some(Kind::Session) => Ok(match self.session(token, now).await? {
                Some(s) => active("session")
                    .with("sub", &s.sub)
                    .with("username", &s.username)
                    .with("iat", s.signed_in)
                    .with("exp", s.absolute_exp)
                    .with("iss", self.issuer)
                    .finish(),
                None => inactive(),
            }),
            Some(_) => Ok(inactive()),
            None => {
                let Ok(verified) = verifier.verify_async(token, now, self.crypto).await else {
                    return Ok(inactive());
                };
                let claims = verified.claims();
                if !may(verified.claim_str("client_id"), &verified.audiences()) {
                    return Ok(inactive());
                }
                if revocation::check(self.store, &verified, self.issuer).await? {
                    return Ok(inactive());
                }
                // RFC 7662 §2.2: an access token's type as RFC 6749 §5.1 names it, `Bearer`;
                // RFC 9449 §6.2: a DPoP-bound token says `DPoP`, and shows its binding (`cnf`).
                // (The opaque kinds above say what they are: none is an access token.)
                let bound = claims
                    .get("cnf")
                    .is_some_and(|cnf| cnf.get("jkt").is_some());
                let mut info = active(if bound { "DPoP" } else { "Bearer" });
                for claim in [
                    "sub",
                    "scope",
                    "client_id",
                    "exp",
                    "iat",
                    "nbf",
                    "iss",
                    "aud",
                    "jti",
                    "cnf",
                ] {
                    if let Some(value) = claims.get(claim) {
                        info = info.with(claim, value);
                    }
                }
                Ok(info.finish())
            }
        }
    }

    /// RFC 7009 revocation of any token type. A client may revoke only what was issued to it
    /// (§2.1: another's token is refused with `unauthorized_client`); the operator may revoke
    /// anything. Unknown or invalid tokens succeed silently (§2.2). Revoking a refresh token
    /// revokes its family, and so every access token issued from the grant.
    pub async fn revoke(
        &self,
        token: &str,
        by: Revoker<'_>,
        verifier: &Verifier,
        now: i64,
    ) -> Result<(), OAuthError> {
        let issued_to_caller = |client_id: &str| match by {
            Revoker::Operator => true,
            Revoker::Client(client) => client.client_id == client_id,
        };
        let not_yours = || {
            OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "the token was not issued to this client",
            )
        };
        match opaque::parse(token) {
            Some(Kind::Refresh) => {
                let key = self.refresh_key(token);
                if let Some((record, _)) = self.read_once::<RefreshRecord>(&key).await? {
                    if !issued_to_caller(&record.client_id) {
                        return Err(not_yours());
                    }
                    self.revoke_family(&record.family, now).await?;
                }
            }
            // API keys and sessions belong to users, not to clients: only the operator (or
            // the user, by logging out) ends them.
            // With the key, the access tokens exchanged for it (their family is the key's
            // `client_id`; they lived out their 15 minutes before, an outside run).
            Some(Kind::ApiKey) => {
                let hashed = self.hash(token);
                let key = crate::schema::api_key(&hashed);
                if self.read::<ApiKey>(&key).await?.is_some() {
                    if !matches!(by, Revoker::Operator) {
                        return Err(not_yours());
                    }
                    self.store.delete(&key).await?;
                    let family = ApiKey::client_id_of(&records::api_key_id(&hashed));
                    self.revoke_family(&family, now).await?;
                }
            }
            // Ended as a sign-out ends it, with every grant made in it: an operator who
            // revokes a stolen session cookie revokes what the thief obtained with it too
            // (deleting the record alone left those tokens working; an outside run).
            Some(Kind::Session) => {
                let key = crate::schema::session(&self.hash(token));
                if self.read::<Session>(&key).await?.is_some() {
                    if !matches!(by, Revoker::Operator) {
                        return Err(not_yours());
                    }
                    self.end_session(token, now).await?;
                }
            }
            Some(_) => {}
            None => {
                // RFC 7009 §2.2: what is not this deployment's access token (an ID token, an
                // origin assertion) is answered as an unknown token is, and revokes nothing.
                let Ok(checked) = verifier.verify_signature_async(token, self.crypto).await else {
                    return Ok(());
                };
                if !verifier.is_its_kind(&checked) {
                    return Ok(());
                }
                let claims: Value = serde_json::from_slice(checked.payload()).unwrap_or_default();
                let client_id = claims["client_id"].as_str().unwrap_or("");
                if !issued_to_caller(client_id) {
                    return Err(not_yours());
                }
                if let Some(jti) = claims["jti"].as_str() {
                    revocation::revoke_jti(
                        self.store,
                        self.issuer,
                        jti,
                        claims["exp"].as_i64(),
                        now,
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}
