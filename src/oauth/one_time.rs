//! One-time tokens for sensitive routes: issued for one route prefix, taken exactly once.

use super::*;

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    /// Issues a one-time token for the subject `sub` of `issuer` (this deployment's or an
    /// external issuer's): accepted exactly once by [`OAuth::consume_one_time`].
    pub async fn issue_one_time(
        &self,
        issuer: &str,
        sub: &str,
        purpose: &str,
        lifetime: u64,
        now: i64,
    ) -> Result<String, OAuthError> {
        let token = opaque::generate(Kind::OneTime).map_err(server_error)?;
        let record = OneTimeRecord {
            sub: sub.to_owned(),
            iss: self.foreign(issuer),
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

    /// Consumes a one-time token for `purpose` by the subject `sub` of `issuer`: `true` the
    /// first time, for the subject it was issued to, and never again. Checked and taken in one step
    /// ([`CONSUME_ONE_TIME`]): of two concurrent uses exactly one gets it, and a use by another
    /// subject or for another route takes nothing (taking first, then comparing, let anyone
    /// who saw a token burn it for its owner).
    pub async fn consume_one_time(
        &self,
        token: &str,
        purpose: &str,
        issuer: &str,
        sub: &str,
        now: i64,
    ) -> Result<bool, OAuthError> {
        if opaque::parse(token) != Some(Kind::OneTime) {
            return Ok(false);
        }
        let key = crate::schema::one_time(&self.hash(token));
        let input = record_text(&ConsumeInput {
            sub: sub.to_owned(),
            iss: self.foreign(issuer),
            purpose: purpose.to_owned(),
            now,
        })?;
        let answer = self
            .once
            .apply(&CONSUME_ONE_TIME, &key, &key, &input)
            .await?;
        Ok(answer == "true")
    }

    /// A subject's issuer as one-time records name it: none for this deployment (as records
    /// made before external subjects were told apart), else the external issuer. A subject is
    /// unique only within its issuer (RFC 7519 §4.1.2): an external issuer's `alice` is not
    /// this deployment's (an outside run spent one's one-time token with the other's token).
    fn foreign(&self, issuer: &str) -> Option<String> {
        (issuer != self.issuer).then(|| issuer.to_owned())
    }
}

/// The input of [`CONSUME_ONE_TIME`]: who presents the token, for which route, when.
#[derive(Serialize)]
pub(super) struct ConsumeInput {
    sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    purpose: String,
    now: i64,
}

crate::json::read::read_by!(ConsumeInput, "a one-time use", |o| ConsumeInput {
    sub: o.required("sub"),
    iss: o.string("iss"),
    purpose: o.required("purpose"),
    now: o.required_i64("now"),
});

/// A one-time token's use, as one step: taken (deleted) when it is live and presented by its
/// subject for its route; an expired one is dropped; any other use leaves it as it was.
pub static CONSUME_ONE_TIME: Transition = Transition {
    name: "consume_one_time",
    apply: consume,
};

fn consume(record: Option<&str>, _: Option<&str>, input: &str) -> Result<Applied, String> {
    let input: ConsumeInput = serde_json::from_str(input).map_err(|e| e.to_string())?;
    let record = record.and_then(|text| serde_json::from_str::<OneTimeRecord>(text).ok());
    let (first, taken) = match record {
        None => (Write::Keep, false),
        Some(record) if record.exp <= input.now => (Write::Delete, false),
        Some(record)
            if record.sub == input.sub
                && record.iss == input.iss
                && record.purpose == input.purpose =>
        {
            (Write::Delete, true)
        }
        Some(_) => (Write::Keep, false),
    };
    Ok(Applied::one(first, taken.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sub: &str, purpose: &str, exp: i64) -> String {
        serde_json::to_string(&OneTimeRecord {
            sub: sub.into(),
            iss: None,
            purpose: purpose.into(),
            exp,
        })
        .unwrap()
    }

    fn input(sub: &str, purpose: &str, now: i64) -> String {
        serde_json::to_string(&ConsumeInput {
            sub: sub.into(),
            iss: None,
            purpose: purpose.into(),
            now,
        })
        .unwrap()
    }

    /// Only its subject, for its route, takes a live token; nobody else's use spends it.
    #[test]
    fn a_one_time_token_is_taken_by_its_subject_only() {
        let live = record("alice", "/pay", 100);
        let use_by =
            |sub, purpose, now| consume(Some(&live), None, &input(sub, purpose, now)).unwrap();
        let taken = use_by("alice", "/pay", 50);
        assert_eq!(
            (taken.first, taken.answer.as_str()),
            (Write::Delete, "true")
        );
        for (sub, purpose) in [("bob", "/pay"), ("alice", "/other"), ("", "/pay")] {
            let refused = use_by(sub, purpose, 50);
            assert_eq!(
                (refused.first, refused.answer.as_str()),
                (Write::Keep, "false"),
                "{sub} {purpose}"
            );
        }
        let expired = use_by("alice", "/pay", 100);
        assert_eq!(
            (expired.first, expired.answer.as_str()),
            (Write::Delete, "false")
        );
        let gone = consume(None, None, &input("alice", "/pay", 50)).unwrap();
        assert_eq!((gone.first, gone.answer.as_str()), (Write::Keep, "false"));
    }
}
