//! Client authentication (RFC 6749 §2.3), with failures counted per client and source
//! (`crate::lockout`).

use super::*;

/// How a client authenticated (RFC 6749 §2.3).
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// `client_secret_basic`.
    Basic {
        /// client id
        id: String,
        /// secret
        secret: String,
    },
    /// `client_secret_post`.
    Post {
        /// client id
        id: String,
        /// secret
        secret: String,
    },
    /// A public client naming itself (`client_id` only).
    Public {
        /// client id
        id: String,
    },
    /// No client.
    None,
}

pub(super) fn equal_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes())
        .ct_eq(&Sha256::digest(b.as_bytes()))
        .into()
}

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    /// The registered client, if any.
    pub async fn client(&self, id: &str) -> Result<Option<Client>, OAuthError> {
        if id.is_empty() || id.len() > 200 {
            return Ok(None);
        }
        self.read(&crate::schema::client(id)).await
    }

    /// Authenticates the client of a request (RFC 6749 §2.3) from `source` (the connecting
    /// address). `Ok(None)`: no client at all. Failures slow that source down for that client
    /// only ([`crate::lockout`]).
    pub async fn authenticate_client(
        &self,
        auth: &ClientAuth,
        source: Option<&str>,
        now: i64,
    ) -> Result<Option<Client>, OAuthError> {
        let (id, secret, basic) = match auth {
            ClientAuth::None => return Ok(None),
            ClientAuth::Basic { id, secret } => (id, Some(secret), true),
            ClientAuth::Post { id, secret } => (id, Some(secret), false),
            ClientAuth::Public { id } => (id, None, false),
        };
        let fail = |description: &str| OAuthError {
            basic,
            ..OAuthError::new("invalid_client", description)
        };
        let counter = lockout::client_key(id, source);
        let failures = self.failures(&counter, now, self.limits()).await?;
        if failures.wait_until(now, self.limits()).is_some() {
            return Err(fail("client authentication failed"));
        }
        let client = self.client(id).await?;
        let ok = match (&client, secret) {
            (Some(client), Some(secret)) => client
                .secret_hash
                .as_deref()
                .is_some_and(|stored| equal_secret(stored, &self.hash(secret))),
            (Some(client), None) => client.secret_hash.is_none(),
            (None, _) => false,
        };
        if !ok {
            self.count_failure(&counter, self.limits(), now).await?;
            return Err(fail("client authentication failed"));
        }
        if failures.count > 0 {
            self.once.delete(&counter).await?;
        }
        Ok(client)
    }

    pub(super) fn limits(&self) -> lockout::Limits {
        lockout::Limits {
            max_failures: self.config.max_failures,
            window: self.config.lockout_seconds,
        }
    }

    pub(super) async fn failures(
        &self,
        key: &str,
        now: i64,
        limits: lockout::Limits,
    ) -> Result<Failures, OAuthError> {
        let record = self.read_once::<Failures>(key).await?.map(|(f, _)| f);
        Ok(Failures::current(record, now, limits))
    }

    /// Counts one failure atomically: read, apply the pure rule, compare-and-swap, and again
    /// if another request counted first, so concurrent failures are all counted.
    pub(super) async fn count_failure(
        &self,
        key: &str,
        limits: lockout::Limits,
        now: i64,
    ) -> Result<(), OAuthError> {
        for _ in 0..MAX_ATTEMPTS {
            let found = self.read_once::<Failures>(key).await?;
            let version = found.as_ref().map(|(_, v)| *v);
            let next = Failures::current(found.map(|(f, _)| f), now, limits).after_failure(now);
            if self
                .swap_once(key, version, &next, self.config.lockout_seconds)
                .await?
            {
                return Ok(());
            }
        }
        Err(contended())
    }
}
