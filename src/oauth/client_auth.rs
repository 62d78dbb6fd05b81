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

impl ClientAuth {
    /// The one parser of client credentials (RFC 6749 §2.3.1), for `/token`, `/introspect` and
    /// `/revoke` alike: `Authorization: Basic` or `client_id` + `client_secret` in the form, or
    /// a public client's `client_id` alone. Two methods at once, or a form `client_id` that
    /// contradicts the Basic credentials, is `invalid_request`.
    pub fn from_parts(basic: Option<&(String, String)>, params: &Form) -> Result<Self, OAuthError> {
        let form = |name: &str| params.get(name).filter(|v| !v.is_empty());
        // JWT client authentication (RFC 7523 §2.2) is not offered (nor advertised): a client
        // that sends an assertion is refused, not authenticated by some other part of the
        // request while its assertion is ignored.
        if form("client_assertion").is_some() || form("client_assertion_type").is_some() {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "client_assertion is not supported: authenticate with client_secret_basic or client_secret_post, or as a public client with client_id",
            ));
        }
        match (basic, form("client_id"), form("client_secret")) {
            (Some(_), _, Some(_)) => Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "use one client authentication method, not two",
            )),
            (Some((id, _)), Some(form_id), None) if form_id != id => Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "client_id does not match the credentials",
            )),
            (Some((id, secret)), _, None) => Ok(ClientAuth::Basic {
                id: id.clone(),
                secret: secret.clone(),
            }),
            (None, Some(id), Some(secret)) => Ok(ClientAuth::Post {
                id: id.clone(),
                secret: secret.clone(),
            }),
            (None, Some(id), None) => Ok(ClientAuth::Public { id: id.clone() }),
            (None, None, _) => Ok(ClientAuth::None),
        }
    }
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
        let (id, secret) = match auth {
            ClientAuth::None => return Ok(None),
            ClientAuth::Basic { id, secret } | ClientAuth::Post { id, secret } => {
                (id, Some(secret))
            }
            ClientAuth::Public { id } => (id, None),
        };
        let fail = |description: &str| OAuthError::new(OAuthErrorCode::InvalidClient, description);
        let Some(secret) = secret else {
            // A public client names itself: there is no secret to guess, so nothing to count.
            return match self.client(id).await? {
                Some(client) if client.secret_hash.is_none() => Ok(Some(client)),
                _ => Err(fail("client authentication failed")),
            };
        };
        let counter = lockout::client_key(id, source);
        // Counted after the check (crate::lockout: a service may authenticate many times at
        // once); the counter (coordinator) and the client (KV) are read together.
        let (failures, client) = futures_util::future::join(
            self.failures(&counter, now, self.limits()),
            self.client(id),
        )
        .await;
        let (failures, client) = (failures?, client?);
        if failures.wait_until(now, self.limits()).is_some() {
            return Err(fail("client authentication failed"));
        }
        let ok = match (&client, Some(secret)) {
            (Some(client), Some(secret)) => client
                .secret_hash
                .as_deref()
                .is_some_and(|stored| equal_secret(stored, &self.hash(secret))),
            (Some(client), None) => client.secret_hash.is_none(),
            (None, _) => false,
        };
        if !ok {
            self.once
                .apply(
                    &lockout::FAILED,
                    &counter,
                    &counter,
                    &attempt(self.limits(), now)?,
                )
                .await?;
            return Err(fail("client authentication failed"));
        }
        // A success from the source clears its counter (crate::lockout).
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
    ) -> Result<lockout::Failures, OAuthError> {
        let record = self
            .read_once::<lockout::Failures>(key)
            .await?
            .map(|(f, _)| f);
        Ok(lockout::Failures::current(record, now, limits))
    }

    /// One attempt on the failure counter `key`, counted as a failure at once, in the step
    /// that decides it ([`lockout::ADMIT`]): `false` when the source must wait.
    pub(super) async fn admit(
        &self,
        key: &str,
        limits: lockout::Limits,
        now: i64,
    ) -> Result<bool, OAuthError> {
        let answer = self
            .once
            .apply(&lockout::ADMIT, key, key, &attempt(limits, now)?)
            .await?;
        Ok(answer == "true")
    }

    /// Takes back the failure an admitted attempt counted, once it succeeded.
    pub(super) async fn succeeded(
        &self,
        key: &str,
        limits: lockout::Limits,
        now: i64,
    ) -> Result<(), OAuthError> {
        self.once
            .apply(&lockout::SUCCEEDED, key, key, &attempt(limits, now)?)
            .await?;
        Ok(())
    }
}

fn attempt(limits: lockout::Limits, now: i64) -> Result<String, OAuthError> {
    record_text(&lockout::Attempt {
        now,
        max_failures: limits.max_failures,
        window: limits.window,
    })
}
