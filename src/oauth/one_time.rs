//! One-time tokens for sensitive routes: issued for one route prefix, taken exactly once.

use super::*;

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    /// Issues a one-time token: accepted exactly once by [`OAuth::consume_one_time`].
    pub async fn issue_one_time(
        &self,
        sub: &str,
        purpose: &str,
        lifetime: u64,
        now: i64,
    ) -> Result<String, OAuthError> {
        let token = opaque::generate(Kind::OneTime).map_err(server_error)?;
        let record = OneTimeRecord {
            sub: sub.to_owned(),
            purpose: purpose.to_owned(),
            exp: now.saturating_add(i64::try_from(lifetime).unwrap_or(0)),
        };
        self.swap_once(
            &crate::schema::one_time(&self.hash(&token)),
            None,
            &record,
            lifetime,
        )
        .await?;
        Ok(token)
    }

    /// Consumes a one-time token for `purpose`: the first call returns its subject, every
    /// later one `None`.
    pub async fn consume_one_time(
        &self,
        token: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<String>, OAuthError> {
        if opaque::parse(token) != Some(Kind::OneTime) {
            return Ok(None);
        }
        let key = crate::schema::one_time(&self.hash(token));
        // Taken, not read then deleted: of two concurrent uses exactly one gets the record.
        let Some(text) = self.once.take(&key).await? else {
            return Ok(None);
        };
        let record: OneTimeRecord = parse_record(&key, &text)?;
        Ok((record.exp > now && record.purpose == purpose).then_some(record.sub))
    }
}
