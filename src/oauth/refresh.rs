//! Refresh tokens (RFC 6749 §6, RFC 9700 §4.14.2): families, rotation to a derived successor,
//! the grace window for retries, and reuse detection that revokes the family.

use super::*;

/// What presenting a refresh token does (RFC 6749 §6, RFC 9700 §4.14.2).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RefreshStep {
    /// Not rotated yet: rotate it.
    Rotate,
    /// Rotated less than the grace window ago: a client's concurrent retry, answered with the
    /// same successor.
    Retry,
    /// Rotated longer ago: theft.
    Reuse,
}

/// The pure refresh rule. The window is strict: `grace` 0 allows no retry.
pub(super) fn refresh_step(record: &RefreshRecord, now: i64, grace: u64) -> RefreshStep {
    let Some(rotated_at) = record.rotated_at else {
        return RefreshStep::Rotate;
    };
    let grace = i64::try_from(grace).unwrap_or(i64::MAX);
    if now.saturating_sub(rotated_at) < grace {
        RefreshStep::Retry
    } else {
        RefreshStep::Reuse
    }
}

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    /// An access token with `scope` and a new refresh family (its id given, or a fresh one)
    /// whose first refresh token carries `grant_scope`.
    pub(super) async fn issue_pair(
        &self,
        client_id: &str,
        sub: &str,
        scope: &str,
        grant_scope: &str,
        family: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let family = match family {
            Some(family) => family.to_owned(),
            None => crate::issue::new_jti().map_err(server_error)?,
        };
        let refresh = opaque::generate(Kind::Refresh).map_err(server_error)?;
        let record = RefreshRecord {
            family,
            client_id: client_id.to_owned(),
            sub: sub.to_owned(),
            scope: grant_scope.to_owned(),
            exp: now.saturating_add(
                i64::try_from(self.config.refresh_token_lifetime).unwrap_or(i64::MAX),
            ),
            iat: now,
            rotated_at: None,
        };
        self.swap_once(
            &crate::schema::refresh(&self.hash(&refresh)),
            None,
            &record,
            self.config.refresh_token_lifetime,
        )
        .await?;
        self.refresh_response(&record, refresh, scope, now)
    }

    /// The token response for a refresh token of `record`: a freshly signed access token with
    /// `scope` (at most the record's) and the refresh token itself.
    pub(super) fn refresh_response(
        &self,
        record: &RefreshRecord,
        refresh: String,
        scope: &str,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let access = self.access_token(
            &record.client_id,
            &record.sub,
            scope,
            Some(&record.family),
            now,
        )?;
        Ok(self.response(access, Some(refresh), scope.to_owned()))
    }

    pub(super) async fn refresh_grant(
        &self,
        client: &Client,
        presented: Option<&str>,
        scope: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = presented.ok_or_else(|| {
            OAuthError::new(OAuthErrorCode::InvalidRequest, "refresh_token is required")
        })?;
        let invalid = || {
            OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                "the refresh token is invalid, expired or revoked",
            )
        };
        if opaque::parse(presented) != Some(Kind::Refresh) {
            return Err(invalid());
        }
        let key = crate::schema::refresh(&self.hash(presented));
        for _ in 0..MAX_ATTEMPTS {
            let Some((record, version)) = self.read_once::<RefreshRecord>(&key).await? else {
                return Err(invalid());
            };
            if record.client_id != client.client_id || record.exp <= now {
                return Err(invalid());
            }
            let (family_revoked, subject_revoked) = futures_util::future::join(
                revocation::family_revoked(self.store, &record.family),
                revocation::subject_revoked(self.store, self.issuer, &record.sub, record.iat),
            )
            .await;
            if family_revoked? || subject_revoked? {
                return Err(invalid());
            }
            let allowed: Vec<String> = scopes(&record.scope)
                .into_iter()
                .map(str::to_owned)
                .collect();
            let scope = grant_scope(scope, &allowed)?;
            // The successor is derived from the presented token, so the first rotation and
            // every retry inside the grace window hand out the same one: the family never
            // forks, however many requests race.
            let successor =
                opaque::derive(Kind::Refresh, self.pepper, "refresh-successor", presented);
            match refresh_step(&record, now, self.config.refresh_grace_seconds) {
                RefreshStep::Reuse => {
                    // A rotated token presented after the window: someone holds a stolen copy.
                    // End the family, every branch's access tokens with it (RFC 9700 §4.14.2).
                    self.revoke_family(&record.family, now).await?;
                    return Err(OAuthError::new(
                        OAuthErrorCode::InvalidGrant,
                        "refresh token reuse detected: the session is revoked",
                    ));
                }
                RefreshStep::Retry => {
                    return self.refresh_response(&record, successor, &scope, now);
                }
                RefreshStep::Rotate => {
                    // The successor's record first (only if absent: a late racer must not
                    // reset a successor that has itself rotated), then the old one is marked.
                    let next = RefreshRecord {
                        iat: now,
                        exp: now.saturating_add(
                            i64::try_from(self.config.refresh_token_lifetime).unwrap_or(i64::MAX),
                        ),
                        rotated_at: None,
                        ..record.clone()
                    };
                    self.swap_once(
                        &crate::schema::refresh(&self.hash(&successor)),
                        None,
                        &next,
                        self.config.refresh_token_lifetime,
                    )
                    .await?;
                    let rotated = RefreshRecord {
                        rotated_at: Some(now),
                        ..record.clone()
                    };
                    let remaining = u64::try_from(record.exp.saturating_sub(now)).unwrap_or(0);
                    if self
                        .swap_once(&key, Some(version), &rotated, remaining)
                        .await?
                    {
                        return self.refresh_response(&next, successor, &scope, now);
                    }
                    // Another request rotated it first: read again, and answer as its retry.
                }
            }
        }
        Err(contended())
    }

    pub(super) async fn revoke_family(&self, family: &str, now: i64) -> Result<(), OAuthError> {
        revocation::revoke_family(self.store, family, now, self.config.refresh_token_lifetime)
            .await?;
        Ok(())
    }
}
