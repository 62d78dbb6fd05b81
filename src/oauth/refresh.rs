//! Refresh tokens (RFC 6749 §6, RFC 9700 §4.14.2): families, rotation to a derived successor,
//! the grace window for retries, and reuse detection that revokes the family.

use super::*;
use crate::json::read::read_by;
use records::refresh_record;

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

/// The input of [`ROTATE_REFRESH`].
#[derive(Serialize)]
pub(super) struct RotationInput {
    client_id: String,
    scope: Option<String>,
    now: i64,
    grace: u64,
    /// The refresh-token lifetime. Unused since a successor keeps its family's end; still
    /// sent, since a Durable Object of the version before requires it during a deploy.
    lifetime: u64,
    /// The key of this request's DPoP proof, if it had one.
    #[serde(default)]
    jkt: Option<String>,
    /// The `resource` the request names, if any (RFC 8707), and the deployment's audience,
    /// which a grant without a resource is for ([`target_matches`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<String>,
    #[serde(default)]
    audience: String,
}

/// What [`ROTATE_REFRESH`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum RotationStep {
    /// Rotated now.
    Rotate,
    /// Rotated within the grace window: answered with the same successor.
    Retry,
    /// Rotated before the window: theft.
    Reuse,
    /// Unknown, expired, or another client's.
    Invalid,
    /// The requested scope exceeds the grant (nothing was rotated).
    InvalidScope,
    /// The requested resource is not the grant's (nothing was rotated).
    InvalidTarget,
    /// The token is bound to a DPoP key and this request has no proof by it (nothing was
    /// rotated: a thief without the key cannot spend the token, RFC 9449 §5).
    WrongKey,
}

#[derive(Serialize)]
pub(super) struct RotationAnswer {
    step: RotationStep,
    /// The presented token's record (its family, subject, scope, issue time).
    record: Option<RefreshRecord>,
}

// Read by hand (crate::json::read): the derive's rules, which the attributes above state.
read_by!(RotationInput, "a rotation", |o| RotationInput {
    client_id: o.required("client_id"),
    scope: o.nullable("scope").string("scope"),
    now: o.required_i64("now"),
    grace: o.required_u64("grace"),
    lifetime: o.u64("lifetime").unwrap_or(0),
    jkt: o.nullable("jkt").string("jkt"),
    resource: o.nullable("resource").string("resource"),
    audience: o.string("audience").unwrap_or_default(),
});

read_by!(RotationAnswer, "a rotation's answer", |o| RotationAnswer {
    step: {
        o.need("step");
        o.word("step", ROTATION_STEPS)
            .unwrap_or(RotationStep::Invalid)
    },
    record: o.nullable("record").object("record", refresh_record),
});

const ROTATION_STEPS: &[(&str, RotationStep)] = &[
    ("rotate", RotationStep::Rotate),
    ("retry", RotationStep::Retry),
    ("reuse", RotationStep::Reuse),
    ("invalid", RotationStep::Invalid),
    ("invalid_scope", RotationStep::InvalidScope),
    ("invalid_target", RotationStep::InvalidTarget),
    ("wrong_key", RotationStep::WrongKey),
];

/// Rotation as one atomic step over the old record and its successor's (same object): the
/// refresh rule ([`refresh_step`]) applied by the store.
pub static ROTATE_REFRESH: Transition = Transition {
    name: "rotate_refresh",
    apply: rotate_refresh,
};

fn rotate_refresh(
    old: Option<&str>,
    successor: Option<&str>,
    input: &str,
) -> Result<Applied, String> {
    let input: RotationInput = serde_json::from_str(input).map_err(|e| e.to_string())?;
    let answer = |step, record: Option<&RefreshRecord>| {
        serde_json::to_string(&RotationAnswer {
            step,
            record: record.cloned(),
        })
        .map_err(|e| e.to_string())
    };
    let keep = |answer: String| Applied {
        first: Write::Keep,
        second: Write::Keep,
        answer,
    };
    let Some(record) = old.and_then(|text| serde_json::from_str::<RefreshRecord>(text).ok()) else {
        return Ok(keep(answer(RotationStep::Invalid, None)?));
    };
    if record.client_id != input.client_id || record.exp <= input.now {
        return Ok(keep(answer(RotationStep::Invalid, None)?));
    }
    if record.jkt.is_some() && record.jkt != input.jkt {
        return Ok(keep(answer(RotationStep::WrongKey, None)?));
    }
    let allowed: Vec<String> = scopes(&record.scope)
        .into_iter()
        .map(str::to_owned)
        .collect();
    if grant_scope(input.scope.as_deref(), &allowed).is_err() {
        return Ok(keep(answer(RotationStep::InvalidScope, None)?));
    }
    if !target_matches(
        input.resource.as_deref(),
        record.resource.as_deref(),
        &input.audience,
    ) {
        return Ok(keep(answer(RotationStep::InvalidTarget, None)?));
    }
    match refresh_step(&record, input.now, input.grace) {
        RefreshStep::Reuse => Ok(keep(answer(RotationStep::Reuse, Some(&record))?)),
        RefreshStep::Retry => Ok(keep(answer(RotationStep::Retry, Some(&record))?)),
        RefreshStep::Rotate => {
            // RFC 6749 §6: the successor keeps the scope originally granted, and the family
            // its end: rotation does not extend `exp`, so a family lives at most
            // `refreshTokenLifetime` from its grant and the user signs in again at least that
            // often (RFC 9700 §4.14.2; a sliding end let a client that refreshed once a month
            // keep a grant forever, found by an outside run).
            // The successor keeps the grant's time too: a subject revocation compares it, and
            // a rotation where the revocation had not propagated yet, stamped `now`, made a
            // family no revocation before it could end (an outside run).
            let next = RefreshRecord {
                rotated_at: None,
                ..record.clone()
            };
            let rotated = RefreshRecord {
                rotated_at: Some(input.now),
                ..record.clone()
            };
            let remaining = u64::try_from(record.exp.saturating_sub(input.now)).unwrap_or(0);
            let text = |r: &RefreshRecord| serde_json::to_string(r).map_err(|e| e.to_string());
            Ok(Applied {
                first: Write::Put(text(&rotated)?, ttl(remaining)),
                // Only if absent: a late racer must not reset a successor that rotated since.
                second: match successor {
                    None => Write::Put(text(&next)?, ttl(remaining)),
                    Some(_) => Write::Keep,
                },
                answer: answer(RotationStep::Rotate, Some(&record))?,
            })
        }
    }
}

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    /// An access token with `scope` for `resource`, and a new refresh family of the same.
    pub(super) async fn issue_pair(
        &self,
        client: &Client,
        sub: &str,
        scope: &str,
        resource: Option<String>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let family = crate::issue::new_jti().map_err(server_error)?;
        let refresh = opaque::generate(Kind::Refresh).map_err(server_error)?;
        let record = RefreshRecord {
            family,
            client_id: client.client_id.clone(),
            sub: sub.to_owned(),
            scope: scope.to_owned(),
            exp: now.saturating_add(
                i64::try_from(self.config.refresh_token_lifetime).unwrap_or(i64::MAX),
            ),
            iat: now,
            rotated_at: None,
            jkt: self.refresh_binding(client.is_public()),
            login: None,
            resource,
        };
        self.swap_once(
            &self.refresh_key(&refresh),
            None,
            &record,
            self.config.refresh_token_lifetime,
        )
        .await?;
        self.refresh_response(&record, Some(refresh), scope, None, now)
            .await
    }

    /// The token response for a refresh token of `record`: a freshly signed access token with
    /// `scope` (at most the record's) and the refresh token itself; and, for a family that an
    /// OpenID Connect login started, while `scope` keeps `openid`, an ID token (Core §3.1.3.3,
    /// §12.2; `nonce` only on the code's redemption).
    pub(super) async fn refresh_response(
        &self,
        record: &RefreshRecord,
        refresh: Option<String>,
        scope: &str,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let access = self
            .access_token(
                &record.client_id,
                &record.sub,
                scope,
                Some(&record.family),
                record.resource.as_deref(),
                now,
            )
            .await?;
        let id_token = match &record.login {
            Some(login) if oidc::is_openid(scope) => {
                let of = oidc::IdTokenFor {
                    client_id: &record.client_id,
                    sub: &record.sub,
                    login: Some(login),
                    nonce,
                    access_token: &access,
                    scope,
                };
                Some(self.id_token(&of, now).await?)
            }
            _ => None,
        };
        Ok(TokenResponse {
            id_token,
            ..self.response(access, refresh, scope.to_owned())
        })
    }

    pub(super) async fn refresh_grant(
        &self,
        client: &Client,
        presented: Option<&str>,
        scope: Option<&str>,
        resource: Option<&str>,
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
        // The successor is derived from the presented token (keeping its routing slot), so
        // the first rotation and every retry inside the grace window hand out the same one:
        // the family never forks, however many requests race.
        let successor = opaque::in_slot_of(
            &opaque::derive(Kind::Refresh, self.pepper, "refresh-successor", presented),
            presented,
        );
        let input = RotationInput {
            client_id: client.client_id.clone(),
            scope: scope.map(str::to_owned),
            now,
            grace: self.config.refresh_grace_seconds,
            lifetime: self.config.refresh_token_lifetime,
            jkt: self.dpop_jkt.map(str::to_owned),
            resource: resource.map(str::to_owned),
            audience: self.audience.to_owned(),
        };
        // One step in the coordinator: read, decide, mark the old token rotated and store
        // its successor (the two share an object).
        let answer = self
            .once
            .apply(
                &ROTATE_REFRESH,
                &self.refresh_key(presented),
                &self.refresh_key(&successor),
                &record_text(&input)?,
            )
            .await?;
        let answer: RotationAnswer = parse_record("rotation", &answer)?;
        let (step, record) = match (answer.step, answer.record) {
            (RotationStep::InvalidScope, _) => {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    "a requested scope was not granted",
                ))
            }
            (RotationStep::InvalidTarget, _) => {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidTarget,
                    "resource must be the one the grant is for",
                ))
            }
            (RotationStep::WrongKey, _) => {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidGrant,
                    "the refresh token is bound to a DPoP key: send a DPoP proof by that key",
                ))
            }
            (step, Some(record)) if step != RotationStep::Invalid => (step, record),
            _ => return Err(invalid()),
        };
        if step == RotationStep::Reuse {
            // A rotated token presented after the window: someone holds a stolen copy. End
            // the family, every branch's access tokens with it (RFC 9700 §4.14.2).
            self.revoke_family(&record.family, now).await?;
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                "refresh token reuse detected: the session is revoked",
            ));
        }
        if self.grant_revoked(&record).await? {
            return Err(invalid());
        }
        let allowed: Vec<String> = scopes(&record.scope)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let scope = grant_scope(scope, &allowed)?;
        self.grant_still_allowed(client, &record, &scope).await?;
        self.refresh_response(&record, Some(successor), &scope, None, now)
            .await
    }

    /// Whether a family's grant was ended: the family revoked (sign-out, reuse, revocation)
    /// or its subject revoked after the record was issued.
    pub(super) async fn grant_revoked(&self, record: &RefreshRecord) -> Result<bool, OAuthError> {
        let (family_revoked, subject_revoked) = futures_util::future::join(
            revocation::family_revoked(self.store, &record.family),
            revocation::subject_revoked(self.store, self.issuer, &record.sub, record.iat, None),
        )
        .await;
        Ok(family_revoked? || subject_revoked?)
    }

    /// A refresh gives only what the user and the client may still have: a user deleted or
    /// disabled since the grant, or a scope the operator has since taken from either, ends
    /// the grant's refreshes (RFC 9700 §4.14: a refresh token is bound to a grant that is
    /// still valid; RFC 6749 §10.4). The client signs the user in again.
    async fn grant_still_allowed(
        &self,
        client: &Client,
        record: &RefreshRecord,
        scope: &str,
    ) -> Result<(), OAuthError> {
        // The resource too: one taken from the client since, or a family from before the
        // client had resources (its tokens were for the deployment's audience), ends here.
        let resource_allowed = match &record.resource {
            Some(resource) => client.resources.contains(resource),
            None => client.resources.is_empty(),
        };
        if !resource_allowed {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                "the resource of this grant is no longer allowed for this client: sign in again",
            ));
        }
        let user = self.user_by_subject(&record.sub).await?;
        let Some(user) = user.filter(|user| !user.disabled) else {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                "the user of this grant no longer exists or is disabled",
            ));
        };
        // What an authorization request and a login would grant today (the code grant adds
        // the OpenID Connect scopes to a code client's and a user's own).
        let login_scope = |s: &str| oidc::OIDC_SCOPES.contains(&s);
        let by_client = |s: &str| {
            client.scopes.iter().any(|c| c == s)
                || (login_scope(s) && client.allows(Grant::AuthorizationCode))
        };
        let by_user = |s: &str| user.scopes.iter().any(|u| u == s) || login_scope(s);
        match scopes(scope)
            .into_iter()
            .find(|s| !(by_client(s) && by_user(s)))
        {
            Some(gone) => Err(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                format!(
                    "scope '{gone}' is no longer allowed for this user or client: sign in again"
                ),
            )),
            None => Ok(()),
        }
    }

    /// The DPoP key a new refresh token is bound to: this request's, for a public client
    /// (RFC 9449 §5; a confidential client's refresh tokens are bound by its authentication).
    pub(super) fn refresh_binding(&self, client_public: bool) -> Option<String> {
        self.dpop_jkt.filter(|_| client_public).map(str::to_owned)
    }

    /// The coordinator key of a refresh token, routed to its family's object.
    pub(super) fn refresh_key(&self, token: &str) -> String {
        crate::schema::routed(
            &crate::schema::refresh(&self.hash(token)),
            opaque::slot(token),
        )
    }

    pub(super) async fn revoke_family(&self, family: &str, now: i64) -> Result<(), OAuthError> {
        let ttl = revocation::family_ttl(
            self.config.refresh_token_lifetime,
            self.config.access_token_lifetime,
        );
        revocation::revoke_family(self.store, family, now, ttl).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_input_and_answer_read_back_what_was_written() {
        for some in [true, false] {
            let input = RotationInput {
                client_id: "c".into(),
                scope: some.then(|| "read".to_owned()),
                now: 1,
                grace: 10,
                lifetime: 60,
                jkt: some.then(|| "j".to_owned()),
                resource: some.then(|| "https://r/".to_owned()),
                audience: "api".into(),
            };
            let written = serde_json::to_string(&input).unwrap();
            let read: RotationInput = serde_json::from_str(&written).unwrap();
            assert_eq!(serde_json::to_string(&read).unwrap(), written);
        }
        for step in [
            RotationStep::Rotate,
            RotationStep::WrongKey,
            RotationStep::InvalidScope,
        ] {
            let answer = RotationAnswer { step, record: None };
            let written = serde_json::to_string(&answer).unwrap();
            let read: RotationAnswer = serde_json::from_str(&written).unwrap();
            assert_eq!((read.step, read.record.is_none()), (step, true));
        }
        let unknown = serde_json::from_str::<RotationAnswer>(r#"{"step":"rotated"}"#);
        assert!(unknown.is_err());
    }

    fn bound_record(jkt: Option<&str>) -> String {
        serde_json::to_string(&RefreshRecord {
            family: "f".into(),
            client_id: "spa".into(),
            sub: "usr_1".into(),
            scope: "read".into(),
            exp: 2_000,
            iat: 1_000,
            rotated_at: None,
            jkt: jkt.map(str::to_owned),
            login: None,
            resource: None,
        })
        .unwrap()
    }

    fn rotate(record: &str, jkt: Option<&str>) -> (RotationStep, bool) {
        let input = RotationInput {
            client_id: "spa".into(),
            scope: None,
            now: 1_500,
            grace: 30,
            lifetime: 600,
            jkt: jkt.map(str::to_owned),
            resource: None,
            audience: "api".into(),
        };
        let applied =
            rotate_refresh(Some(record), None, &serde_json::to_string(&input).unwrap()).unwrap();
        let answer: RotationAnswer = serde_json::from_str(&applied.answer).unwrap();
        let wrote = !matches!(
            (&applied.first, &applied.second),
            (Write::Keep, Write::Keep)
        );
        (answer.step, wrote)
    }

    /// The successor keeps the family's end: rotating never extends a grant (RFC 9700
    /// §4.14.2), so a client that refreshes before every expiry still ends with the family.
    #[test]
    fn a_rotation_keeps_the_family_end() {
        let input = r#"{"client_id":"spa","scope":null,"now":1500,"grace":30,"jkt":null}"#;
        let applied = rotate_refresh(Some(&bound_record(None)), None, input).unwrap();
        let Write::Put(text, ttl) = &applied.second else {
            panic!("no successor written");
        };
        let next: RefreshRecord = serde_json::from_str(text).unwrap();
        assert_eq!(
            (next.iat, next.exp, *ttl),
            (1_000, 2_000, Some(500)),
            "the grant's time and end"
        );
    }

    /// RFC 9449 §5: a public client's bound refresh token is spent only with a proof by its
    /// key; without one (or with another key) nothing is rotated.
    #[test]
    fn a_bound_refresh_token_rotates_only_with_its_key() {
        let bound = bound_record(Some("key-a"));
        assert_eq!(rotate(&bound, None), (RotationStep::WrongKey, false));
        assert_eq!(
            rotate(&bound, Some("key-b")),
            (RotationStep::WrongKey, false)
        );
        assert_eq!(rotate(&bound, Some("key-a")), (RotationStep::Rotate, true));
        // An unbound token does not care whether the request has a proof.
        let unbound = bound_record(None);
        assert_eq!(
            rotate(&unbound, Some("key-a")),
            (RotationStep::Rotate, true)
        );
        assert_eq!(rotate(&unbound, None), (RotationStep::Rotate, true));
    }
}
