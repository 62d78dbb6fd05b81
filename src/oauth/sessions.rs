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
        let admitted = match &source_key {
            Some(key) => {
                let (user, source) = futures_util::future::join(
                    self.admit(&user_key, limits, now),
                    self.admit(key, spray_limits, now),
                )
                .await;
                user? & source?
            }
            None => self.admit(&user_key, limits, now).await?,
        };
        if !admitted || name.is_empty() || name.len() > 200 || password.len() > 1024 {
            password::verify_dummy(password, cost);
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
        let id = opaque::generate(Kind::Session).map_err(server_error)?;
        let session = Session {
            sid: crate::issue::new_jti().map_err(server_error)?,
            sub: user.sub.clone(),
            username: user.username.clone(),
            created: now,
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
        let revoked =
            revocation::subject_revoked(self.store, self.issuer, &session.sub, session.created)
                .await?;
        if revoked || now >= session.absolute_exp || now - session.last_seen >= idle {
            self.store.delete(&key).await?;
            return Ok(None);
        }
        if now - session.last_seen >= 60 {
            session.last_seen = now;
            let ttl = u64::try_from((session.absolute_exp - now).min(idle)).unwrap_or(60);
            self.write(&key, &session, Some(ttl)).await?;
        }
        Ok(Some(session))
    }

    /// Ends a session (logout) and revokes every refresh family granted in it, and with them
    /// their access tokens: signing out of one client signs the user out of every client that
    /// logged in through this session, at its next use of a token (OpenID Connect
    /// RP-Initiated Logout 1.0 §2: the OP logs the user out).
    pub async fn end_session(&self, id: &str, now: i64) -> Result<(), OAuthError> {
        if opaque::parse(id) != Some(Kind::Session) {
            return Ok(());
        }
        let key = crate::schema::session(&self.hash(id));
        if let Some(session) = self.read::<Session>(&key).await? {
            if !session.sid.is_empty() {
                let grants_key = crate::schema::session_grants(&session.sid);
                if let Some((grants, _)) = self.read_once::<SessionGrants>(&grants_key).await? {
                    for family in &grants.families {
                        self.revoke_family(family, now).await?;
                    }
                    self.once.delete(&grants_key).await?;
                }
            }
        }
        self.store.delete(&key).await?;
        Ok(())
    }

    /// Records that a refresh family is granted in `session`, before its code is handed out,
    /// so that a sign-out racing the redemption still finds it.
    pub(super) async fn track_grant(
        &self,
        session: &Session,
        family: &str,
        now: i64,
    ) -> Result<(), OAuthError> {
        if session.sid.is_empty() {
            return Ok(());
        }
        let key = crate::schema::session_grants(&session.sid);
        let ttl = u64::try_from(session.absolute_exp.saturating_sub(now)).unwrap_or(0);
        for _ in 0..MAX_ATTEMPTS {
            let (mut grants, version) = match self.read_once::<SessionGrants>(&key).await? {
                Some((grants, version)) => (grants, Some(version)),
                None => (SessionGrants::default(), None),
            };
            if grants.families.len() >= MAX_SESSION_GRANTS {
                return Err(OAuthError::new(
                    OAuthErrorCode::AccessDenied,
                    "this session has granted too many codes; sign in again",
                ));
            }
            grants.families.push(family.to_owned());
            if self.swap_once(&key, version, &grants, ttl.max(60)).await? {
                return Ok(());
            }
        }
        Err(contended())
    }
}

/// The most codes one browser session may grant (each is remembered until the session ends).
const MAX_SESSION_GRANTS: usize = 1000;
