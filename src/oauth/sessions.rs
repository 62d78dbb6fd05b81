//! Passwords (Argon2id, throttled per account and source) and browser sessions (idle and
//! absolute expiry, ended by logout or a subject revocation).

use super::*;

/// Why a login failed. Every failure reads the same to the user.
#[derive(Debug)]
pub enum LoginError {
    /// Wrong name or password, disabled, or locked out.
    Invalid,
    /// The store is down.
    Store(OAuthError),
}

impl From<OAuthError> for LoginError {
    fn from(err: OAuthError) -> Self {
        LoginError::Store(err)
    }
}

impl From<StoreError> for LoginError {
    fn from(err: StoreError) -> Self {
        LoginError::Store(err.into())
    }
}

/// A session that ended (a sign-out, an operator's revocation, another user's sign-in in the
/// same browser): whom to tell (OpenID Connect Back-Channel Logout 1.0, through
/// [`OAuth::backchannel_logouts`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ended {
    /// The session's user.
    pub sub: String,
    /// The session's `sid`, as its ID tokens carried it.
    pub sid: String,
    /// The relying parties an ID token of the session went to.
    pub clients: Vec<String>,
}

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    /// Checks a username and password with throttling per account and per IP; unknown users
    /// cost the same time as known ones, and every failure reads the same.
    pub async fn check_password(
        &self,
        username: &str,
        password: &str,
        source: Option<&str>,
        count_spraying: bool,
        now: i64,
    ) -> Result<User, LoginError> {
        let name = username.trim().to_lowercase();
        let limits = self.limits();
        let spray_limits = limits.scaled(4);
        let user_key = lockout::user_key(&name, source);
        let source_key = source.filter(|_| count_spraying).map(lockout::source_key);
        let cost = Cost {
            memory_kib: self.config.password_memory_kib,
            iterations: self.config.password_iterations,
        };
        // Each attempt is counted as a failure in the step that admits it (crate::lockout), so
        // a burst of concurrent guesses gets no more checks than one guesser would.
        // The source's count across accounts first, then the account's: an attempt one of
        // them refuses is checked by neither, so the other takes back what it counted.
        let admitted = match &source_key {
            Some(key) => {
                self.admit(key, spray_limits, now).await?
                    && (self.admit(&user_key, limits, now).await?
                        || self
                            .succeeded(key, spray_limits, now)
                            .await
                            .map(|()| false)?)
            }
            None => self.admit(&user_key, limits, now).await?,
        };
        // Refused before any check (throttled, or a name or password no account can have):
        // no hash. The answer reads the same, and its timing tells only that the attempt was
        // refused unchecked, which the throttle's wait tells anyway; hashing spent the
        // server's CPU on the guesser, about 40 ms per refused attempt (an outside run).
        if !admitted
            || name.is_empty()
            || name.len() > MAX_USERNAME_BYTES
            || password.len() > MAX_PASSWORD_BYTES
        {
            return Err(LoginError::Invalid);
        }
        let user: Option<User> = self.read(&crate::schema::user(&name)).await?;
        let ok = match &user {
            Some(user) if !user.disabled => password::verify(password, &user.password),
            _ => {
                password::verify_dummy(password, cost);
                false
            }
        };
        match (ok, user) {
            (true, Some(mut user)) => {
                // A success clears this source's counter for the account, and takes back its
                // attempt from the count across accounts.
                let spray = async {
                    match &source_key {
                        Some(key) => self.succeeded(key, spray_limits, now).await,
                        None => Ok(()),
                    }
                };
                let (cleared, spray) =
                    futures_util::future::join(self.once.delete(&user_key), spray).await;
                cleared?;
                spray?;
                // The configured cost changed since this hash was made: store a new hash now
                // that the password is known. Best effort: a failed write retries next login.
                if password::needs_rehash(&user.password, cost) {
                    if let Ok(rehashed) = password::hash(password, cost) {
                        user.password = rehashed;
                        let _ = self.write(&crate::schema::user(&name), &user, None).await;
                    }
                }
                Ok(user)
            }
            // Counted already, by the admission.
            _ => Err(LoginError::Invalid),
        }
    }

    /// Starts a session for a user; returns the session id for the cookie, and the session.
    pub async fn create_session(
        &self,
        user: &User,
        now: i64,
    ) -> Result<(String, Session), OAuthError> {
        self.new_session(user, None, now, now).await
    }

    /// The session of a sign-in in a browser that may hold one already (`previous`, its
    /// cookie). The previous id never serves again, whoever signs in (OWASP session
    /// management: a new id at every authentication). The same user signing in again keeps the
    /// session's `sid`, so that a later sign-out still revokes what was granted before; another
    /// user's sign-in ends the previous session with its grants. (Before, the old session
    /// lived on, and a sign-out ended only the new one: an outside browser run.) A sid that
    /// granted [`MAX_SESSION_GRANTS`] codes is ended too: kept, it would refuse every code of
    /// the new session, and that refusal tells the user to sign in again.
    pub async fn sign_in(
        &self,
        user: &User,
        previous: Option<&str>,
        now: i64,
    ) -> Result<(String, Session), OAuthError> {
        let old = match previous {
            Some(id) => self.session(id, now).await?.map(|session| (id, session)),
            None => None,
        };
        match old {
            Some((id, session)) if session.sub == user.sub && !session.sid.is_empty() => {
                // Marked before the old id is deleted, as a sign-out closes the grants first:
                // a location that reads the old id from its cache and refreshes it finds it
                // replaced. A sid whose grants a sign-out already closed (another tab, a retry)
                // would refuse every code: the new session then starts its own.
                match self.replace_sessions(&session).await? {
                    Sid::Open => {
                        self.store
                            .delete(&crate::schema::session(&self.hash(id)))
                            .await?;
                        // Later than every session it replaces, whatever the clocks say.
                        let created = now.max(session.created.saturating_add(1));
                        return self
                            .new_session(user, Some(session.sid), created, now)
                            .await;
                    }
                    // Ended as a sign-out ends it: again, if a sign-out already closed it
                    // (its step answers the families again, so one that failed half-way is
                    // finished here).
                    Sid::Ended | Sid::Full => self.end_session(id, now).await?,
                }
            }
            Some((id, _)) => self.end_session(id, now).await?,
            None => {}
        }
        self.new_session(user, None, now, now).await
    }

    /// A session for `user`, signed in at `now`, in `sid` or a new one; `created` (the sid's
    /// order) is `now` but for a sign-in that replaces a session of the same second.
    async fn new_session(
        &self,
        user: &User,
        sid: Option<String>,
        created: i64,
        now: i64,
    ) -> Result<(String, Session), OAuthError> {
        let id = opaque::generate(Kind::Session).map_err(server_error)?;
        let sid = match sid {
            Some(sid) => sid,
            None => crate::issue::new_jti().map_err(server_error)?,
        };
        let session = Session {
            sid,
            sub: user.sub.clone(),
            username: user.username.clone(),
            account: user.username.trim().to_lowercase(),
            created,
            signed_in: now,
            last_seen: now,
            absolute_exp: now + i64::try_from(self.config.session_absolute_seconds).unwrap_or(0),
            scopes: user.scopes.clone(),
        };
        self.write(
            &crate::schema::session(&self.hash(&id)),
            &session,
            Some(self.config.session_idle_seconds),
        )
        .await?;
        Ok((id, session))
    }

    /// The live session for an id, refreshing its idle expiry (at most once a minute).
    pub async fn session(&self, id: &str, now: i64) -> Result<Option<Session>, OAuthError> {
        if opaque::parse(id) != Some(Kind::Session) {
            return Ok(None);
        }
        let key = crate::schema::session(&self.hash(id));
        let Some(mut session) = self.read::<Session>(&key).await? else {
            return Ok(None);
        };
        let idle = i64::try_from(self.config.session_idle_seconds).unwrap_or(0);
        let revoked = revocation::subject_revoked(
            self.store,
            self.issuer,
            &session.sub,
            session.signed_in,
            None,
        )
        .await?;
        if revoked || now >= session.absolute_exp || now - session.last_seen >= idle {
            self.store.delete(&key).await?;
            return Ok(None);
        }
        if now - session.last_seen >= 60 {
            // A user deleted or disabled since signing in is signed out here, at most a minute
            // after (checked with the refresh, not on every request; before, the session
            // served to its absolute end, an outside run).
            if !self.user_active(&session).await? {
                self.store.delete(&key).await?;
                return Ok(None);
            }
            session.last_seen = now;
            let ttl = u64::try_from((session.absolute_exp - now).min(idle)).unwrap_or(60);
            let text = record_text(&session)?;
            match self.store.put(&key, &text, super::ttl(ttl)).await {
                // A page's parallel requests all refresh the session in the same second, and
                // Workers KV takes one write a second per key: the one that landed is enough.
                Err(e) if e.is_write_rate_limited() => return Ok(Some(session)),
                written => written?,
            }
            // KV serves a cached read for up to a minute after a sign-out elsewhere, and the
            // write above would bring such a stale copy back for the session's whole life.
            // Sign-out closes the session's grants in the coordinator before it deletes the
            // session (and a new sign-in of its user marks it replaced), so a closed record
            // means this write came after the delete: undone here.
            if self.session_closed(&session).await? {
                self.store.delete(&key).await?;
                return Ok(None);
            }
        }
        Ok(Some(session))
    }

    /// Whether the session's user still exists, the same one, and is not disabled (a session
    /// from before the account was kept is taken as it is: it ends within its absolute life).
    pub(super) async fn user_active(&self, session: &Session) -> Result<bool, OAuthError> {
        if session.account.is_empty() {
            return Ok(true);
        }
        Ok(self
            .read::<User>(&crate::schema::user_folded(&session.account))
            .await?
            .is_some_and(|user| user.sub == session.sub && !user.disabled))
    }

    /// Whether the session was signed out ([`END_GRANTS`] closed its grants) or replaced by
    /// its user's new sign-in ([`REPLACE_SESSIONS`]).
    async fn session_closed(&self, session: &Session) -> Result<bool, OAuthError> {
        if session.sid.is_empty() {
            return Ok(false);
        }
        let grants = crate::schema::session_grants(&session.sid);
        Ok(self
            .read_once::<SessionGrants>(&grants)
            .await?
            .is_some_and(|(grants, _)| grants.ended || session.created <= grants.replaced_upto))
    }

    /// Marks `session` and the other sessions of its sid created no later replaced, in one
    /// step unless a sign-out closed the sid or it is full; answers which. The record then
    /// lives as long as the new session may.
    async fn replace_sessions(&self, session: &Session) -> Result<Sid, OAuthError> {
        let key = crate::schema::session_grants(&session.sid);
        let input = record_text(&ReplaceInput {
            upto: session.created,
            ttl: self.config.session_absolute_seconds.max(60),
        })?;
        let answer = self
            .once
            .apply(&REPLACE_SESSIONS, &key, &key, &input)
            .await?;
        Ok(match answer.as_str() {
            ENDED => Sid::Ended,
            FULL => Sid::Full,
            _ => Sid::Open,
        })
    }

    /// Ends a session (logout) and revokes every refresh family granted in it, and with them
    /// their access tokens: signing out of one client signs the user out of every client that
    /// logged in through this session, at its next use of a token (OpenID Connect
    /// RP-Initiated Logout 1.0 §2: the OP logs the user out).
    ///
    /// The session's grants are closed and read in one coordinator step ([`END_GRANTS`]), and
    /// a code is tracked in one step that refuses a closed session ([`TRACK_GRANT`]): a code
    /// granted concurrently with the sign-out is either among the families revoked here or
    /// never handed out. (Read, revoke, then delete lost every grant tracked in between: an
    /// outside run kept 14 to 39 of 40 concurrent grants alive after sign-out.)
    ///
    /// The session that ended goes to [`OAuth::ended`], with the relying parties to tell.
    pub async fn end_session(&self, id: &str, now: i64) -> Result<(), OAuthError> {
        if opaque::parse(id) != Some(Kind::Session) {
            return Ok(());
        }
        let key = crate::schema::session(&self.hash(id));
        if let Some(session) = self.read::<Session>(&key).await? {
            let mut clients = Vec::new();
            if !session.sid.is_empty() {
                let grants_key = crate::schema::session_grants(&session.sid);
                let input = record_text(&GrantsInput {
                    family: String::new(),
                    client: String::new(),
                    ttl: grants_ttl(&session, now),
                })?;
                let answer = self
                    .once
                    .apply(&END_GRANTS, &grants_key, &grants_key, &input)
                    .await?;
                let families: Vec<String> = parse_record(&grants_key, &answer)?;
                // One write each, some at a time: a full session's sign-out stays within the
                // operations one request may make ([`MAX_SESSION_GRANTS`]) and is not a
                // thousand round trips in a row.
                for some in families.chunks(REVOKED_AT_ONCE) {
                    futures_util::future::try_join_all(
                        some.iter().map(|family| self.revoke_family(family, now)),
                    )
                    .await?;
                }
                // The closed record keeps the relying parties (the step's answer stays the
                // families, as a worker of the version before reads it during a deploy).
                if let Some((grants, _)) = self.read_once::<SessionGrants>(&grants_key).await? {
                    clients = grants.clients;
                }
            }
            if let Some(ended) = self.ended {
                ended.borrow_mut().push(Ended {
                    sub: session.sub,
                    sid: session.sid,
                    clients,
                });
            }
        }
        self.store.delete(&key).await?;
        Ok(())
    }

    /// Records that a refresh family is granted in `session`, before its code is handed out,
    /// so that a sign-out racing the redemption still finds it; a session signed out
    /// meanwhile grants nothing (`login_required`).
    /// `relying_party`: the client, when the grant gives it an ID token (it is then logged in
    /// through this session, and told when it ends).
    pub(super) async fn track_grant(
        &self,
        session: &Session,
        family: &str,
        relying_party: Option<&str>,
        now: i64,
    ) -> Result<(), OAuthError> {
        if session.sid.is_empty() {
            return Ok(());
        }
        let key = crate::schema::session_grants(&session.sid);
        let input = record_text(&GrantsInput {
            family: family.to_owned(),
            client: relying_party.unwrap_or_default().to_owned(),
            ttl: grants_ttl(session, now),
        })?;
        match self
            .once
            .apply(&TRACK_GRANT, &key, &key, &input)
            .await?
            .as_str()
        {
            TRACKED => Ok(()),
            // Signing in again ends it and starts a session that grants ([`OAuth::sign_in`]).
            FULL => Err(OAuthError::new(
                OAuthErrorCode::LoginRequired,
                "this session has granted too many codes; sign in again",
            )),
            _ => Err(OAuthError::new(
                OAuthErrorCode::LoginRequired,
                "the session has ended; sign in again",
            )),
        }
    }
}

/// What [`REPLACE_SESSIONS`] found of the sid a new sign-in of its user would keep.
enum Sid {
    /// Kept: the new session continues it.
    Open,
    /// Signed out already: the new session starts its own.
    Ended,
    /// It granted [`MAX_SESSION_GRANTS`] codes: ended, and the new session starts its own.
    Full,
}

/// How long a session's grants are kept: as long as the session may live (a closed record
/// must outlast any request still holding the session).
fn grants_ttl(session: &Session, now: i64) -> u64 {
    u64::try_from(session.absolute_exp.saturating_sub(now))
        .unwrap_or(0)
        .max(60)
}

/// The most codes one browser session may grant (each is remembered until the session ends,
/// and revoked then by one store write). A request may make 1,000 operations on Cloudflare's
/// services, KV and Durable Objects alike (<https://developers.cloudflare.com/kv/platform/limits/>):
/// at 1,000 grants a sign-out went past it before deleting the session, and so did every
/// retry. 500 is a grant every 90 seconds through the default 12-hour session, more than
/// silent renewals of several relying parties take.
const MAX_SESSION_GRANTS: usize = 500;

/// How many of a signed-out session's families are revoked at once.
const REVOKED_AT_ONCE: usize = 50;

/// The input of [`TRACK_GRANT`] and [`END_GRANTS`].
#[derive(Serialize)]
pub(super) struct GrantsInput {
    family: String,
    /// The relying party the grant logs in, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    client: String,
    ttl: u64,
}

crate::json::read::read_by!(GrantsInput, "a grants step", |o| GrantsInput {
    family: o.string("family").unwrap_or_default(),
    client: o.string("client").unwrap_or_default(),
    ttl: o.required_u64("ttl"),
});

const TRACKED: &str = "\"tracked\"";
const FULL: &str = "\"full\"";
const ENDED: &str = "\"ended\"";
const OPEN: &str = "\"open\"";

/// The input of [`REPLACE_SESSIONS`].
#[derive(Serialize)]
pub(super) struct ReplaceInput {
    upto: i64,
    ttl: u64,
}

crate::json::read::read_by!(ReplaceInput, "a replacing step", |o| ReplaceInput {
    upto: o.required_i64("upto"),
    ttl: o.required_u64("ttl"),
});

/// Marks a sid's sessions created up to a time replaced by a new sign-in of their user, in
/// one step, unless the sid was signed out.
pub static REPLACE_SESSIONS: Transition = Transition {
    name: "replace_sessions",
    apply: replace_sessions,
};

/// Adds a family to a session's grants in one step, unless the session was signed out.
pub static TRACK_GRANT: Transition = Transition {
    name: "track_grant",
    apply: track_grant,
};

/// Closes a session's grants in one step and answers the families to revoke.
pub static END_GRANTS: Transition = Transition {
    name: "end_grants",
    apply: end_grants,
};

fn read_grants<I: for<'de> Deserialize<'de>>(
    record: Option<&str>,
    input: &str,
) -> Result<(SessionGrants, I), String> {
    let input: I = serde_json::from_str(input).map_err(|e| e.to_string())?;
    let grants = match record {
        None => SessionGrants::default(),
        Some(text) => serde_json::from_str(text).map_err(|e| e.to_string())?,
    };
    Ok((grants, input))
}

fn track_grant(record: Option<&str>, _: Option<&str>, input: &str) -> Result<Applied, String> {
    let (mut grants, input) = read_grants::<GrantsInput>(record, input)?;
    let answer = if grants.ended {
        ENDED
    } else if grants.families.len() >= MAX_SESSION_GRANTS {
        FULL
    } else {
        grants.families.push(input.family);
        if !input.client.is_empty() && !grants.clients.contains(&input.client) {
            grants.clients.push(input.client);
        }
        let text = serde_json::to_string(&grants).map_err(|e| e.to_string())?;
        return Ok(Applied::one(Write::Put(text, Some(input.ttl)), TRACKED));
    };
    Ok(Applied::one(Write::Keep, answer))
}

fn replace_sessions(record: Option<&str>, _: Option<&str>, input: &str) -> Result<Applied, String> {
    let (mut grants, input) = read_grants::<ReplaceInput>(record, input)?;
    if grants.ended {
        return Ok(Applied::one(Write::Keep, ENDED));
    }
    // Marked replaced even when full: a worker of the version before reads FULL as open and
    // keeps the sid, and the mark is what keeps a stale copy of the old session from coming
    // back (the new version ends the sid instead).
    grants.replaced_upto = grants.replaced_upto.max(input.upto);
    let text = serde_json::to_string(&grants).map_err(|e| e.to_string())?;
    let answer = if grants.families.len() >= MAX_SESSION_GRANTS {
        FULL
    } else {
        OPEN
    };
    Ok(Applied::one(Write::Put(text, Some(input.ttl)), answer))
}

fn end_grants(record: Option<&str>, _: Option<&str>, input: &str) -> Result<Applied, String> {
    let (mut closed, input) = read_grants::<GrantsInput>(record, input)?;
    // The families stay in the closed record and are answered again by a retried sign-out:
    // revoking is idempotent, and one that failed half-way must not report the rest as done.
    let families = serde_json::to_string(&closed.families).map_err(|e| e.to_string())?;
    closed.ended = true;
    Ok(Applied::one(
        Write::Put(
            serde_json::to_string(&closed).map_err(|e| e.to_string())?,
            Some(input.ttl),
        ),
        families,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(rule: &Transition, record: &mut Option<String>, family: &str) -> String {
        let input = serde_json::to_string(&GrantsInput {
            family: family.to_owned(),
            client: String::new(),
            ttl: 600,
        })
        .unwrap();
        let applied = (rule.apply)(record.as_deref(), None, &input).unwrap();
        assert_eq!(applied.second, Write::Keep);
        if let Write::Put(text, ttl) = applied.first {
            assert_eq!(ttl, Some(600));
            *record = Some(text);
        }
        applied.answer
    }

    /// A sign-out and the grants racing it are ordered by the coordinator: what was tracked
    /// before is answered for revocation, what comes after is refused, nothing falls between.
    #[test]
    fn a_session_closed_by_sign_out_grants_nothing_more() {
        let mut record = None;
        assert_eq!(step(&TRACK_GRANT, &mut record, "f1"), TRACKED);
        assert_eq!(step(&TRACK_GRANT, &mut record, "f2"), TRACKED);
        assert_eq!(step(&END_GRANTS, &mut record, ""), r#"["f1","f2"]"#);
        assert_eq!(step(&TRACK_GRANT, &mut record, "f3"), ENDED);
        assert_eq!(
            step(&END_GRANTS, &mut record, ""),
            r#"["f1","f2"]"#,
            "a retried sign-out revokes them all again (one may have failed half-way)"
        );
        let mut fresh = None;
        assert_eq!(step(&END_GRANTS, &mut fresh, ""), "[]");
        assert_eq!(step(&TRACK_GRANT, &mut fresh, "f1"), ENDED);
        let mut full = Some(
            serde_json::to_string(&SessionGrants {
                families: vec!["f".to_owned(); MAX_SESSION_GRANTS],
                ended: false,
                clients: Vec::new(),
                replaced_upto: 0,
            })
            .unwrap(),
        );
        assert_eq!(step(&TRACK_GRANT, &mut full, "g"), FULL);
        let input = r#"{"upto":100,"ttl":600}"#;
        let applied = replace_sessions(full.as_deref(), None, input).unwrap();
        assert_eq!(
            applied.answer, FULL,
            "a full sid is not kept by a new sign-in (it is ended instead)"
        );
        let Write::Put(text, _) = applied.first else {
            panic!("{applied:?}")
        };
        let marked: SessionGrants = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (marked.families.len(), marked.replaced_upto),
            (MAX_SESSION_GRANTS, 100),
            "and marked replaced, for a worker of the version before that keeps it"
        );
    }

    /// A new sign-in of the same user marks the sid's older sessions replaced, keeps what was
    /// granted, never moves the mark back, and changes nothing once the sid is signed out.
    #[test]
    fn a_sign_in_replaces_older_sessions_of_an_open_sid_only() {
        let replace = |record: &mut Option<String>, upto: i64| {
            let input = format!(r#"{{"upto":{upto},"ttl":600}}"#);
            let applied = replace_sessions(record.as_deref(), None, &input).unwrap();
            if let Write::Put(text, ttl) = applied.first {
                assert_eq!(ttl, Some(600));
                *record = Some(text);
            }
            applied.answer
        };
        let mut record = None;
        assert_eq!(step(&TRACK_GRANT, &mut record, "f1"), TRACKED);
        assert_eq!(replace(&mut record, 100), OPEN);
        assert_eq!(replace(&mut record, 50), OPEN);
        let grants: SessionGrants = serde_json::from_str(record.as_deref().unwrap()).unwrap();
        assert_eq!(
            (grants.families, grants.replaced_upto),
            (vec!["f1".to_owned()], 100)
        );
        assert_eq!(step(&END_GRANTS, &mut record, ""), r#"["f1"]"#);
        let closed = record.clone();
        assert_eq!(replace(&mut record, 200), ENDED);
        assert_eq!(record, closed);
    }
}
