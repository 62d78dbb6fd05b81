//! API keys: lookup (with the subject cut-off) and creation.

use super::*;

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    /// The record of a valid, unexpired API key.
    pub async fn lookup_api_key(
        &self,
        presented: &str,
        now: i64,
    ) -> Result<Option<ApiKey>, OAuthError> {
        if opaque::parse(presented) != Some(Kind::ApiKey) {
            return Ok(None);
        }
        let hashed = self.hash(presented);
        let key: Option<ApiKey> = self.read(&crate::schema::api_key(&hashed)).await?;
        let Some(mut key) = key.filter(|k| k.exp.is_none_or(|exp| exp > now)) else {
            return Ok(None);
        };
        // The id as keys are made now, whatever the record says: a key made before held a
        // slice of itself there, which would go on reaching logs and the origin.
        key.id = records::api_key_id(&hashed);
        let revoked = revocation::subject_revoked(
            self.store,
            self.issuer,
            &key.owner,
            key.created,
            key.created_ms,
        );
        if revoked.await? {
            return Ok(None);
        }
        Ok(Some(key))
    }

    /// Creates an API key; returns the key (shown once) and its record.
    pub async fn create_api_key(
        &self,
        owner: &str,
        scopes: Vec<String>,
        lifetime: Option<u64>,
        now: revocation::Millis,
    ) -> Result<(String, ApiKey), OAuthError> {
        let (token, key, record) =
            new_api_key(self.pepper, owner, scopes, lifetime, now).map_err(|err| match err {
                Error::InvalidPolicy { .. } => {
                    OAuthError::new(OAuthErrorCode::InvalidRequest, err.to_string())
                }
                err => server_error(err),
            })?;
        self.write(&key, &record, lifetime).await?;
        Ok((token, record))
    }
}
