//! Failure counting that slows a guesser without handing anyone a lock on somebody else.
//!
//! The policy (docs/SECURITY.md, "Lockouts"):
//! - Failures are counted **per account and source** (the connecting address): a user's or a
//!   confidential client's own attempts are never refused because a stranger elsewhere failed.
//!   A counter that reached `maxFailures` makes that source wait before its next attempt on
//!   that account, and every further failure doubles the wait: 1, 2, 4, 8 minutes … up to
//!   `lockoutSeconds`. A wait ends by itself; a success from the source clears its counter.
//! - On the login page, failures are also counted **per source across accounts** (password
//!   spraying), with the same growing wait from four times `maxFailures`.
//! - There is deliberately no counter per account alone: that is the counter an anonymous
//!   party can fill to lock the owner out everywhere. The price is that an attacker with many
//!   addresses gets `maxFailures` guesses per address per window; client secrets are 256-bit
//!   random, so for them this costs nothing, and for passwords it is the standard trade-off
//!   (OWASP Authentication Cheat Sheet), to be paired with strong passwords and edge rate
//!   limiting.
//!
//! The rules are pure: `(record, now) -> decision / new record`. Storage only loads and
//! persists the [`Failures`] record, so the same rule can move to an atomic counter unchanged.

use serde::Serialize;

/// The first wait, once a counter reaches its limit.
pub const FIRST_WAIT_SECONDS: u64 = 60;

/// One counter: failures in the current window and when the last one happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Failures {
    /// Failures since the window began.
    pub count: u32,
    /// Time of the last failure.
    #[serde(default)]
    pub last: i64,
}

// Read by hand (crate::json::read): the derive's rules, which the attributes above state.
crate::json::read::read_by!(Failures, "a failure counter", |o| Failures {
    count: o.required_u32("count"),
    last: o.i64("last").unwrap_or(0),
});

/// The counting rule's settings (`oauth.maxFailures`, `oauth.lockoutSeconds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Failures before the first wait.
    pub max_failures: u32,
    /// The longest wait, and how long a quiet counter is remembered.
    pub window: u64,
}

impl Limits {
    /// The same rule with a limit `factor` times higher (the per-source spraying counter).
    pub fn scaled(self, factor: u32) -> Limits {
        Limits {
            max_failures: self.max_failures.saturating_mul(factor),
            ..self
        }
    }

    /// The wait after `count` failures: none below the limit, then doubling up to the window.
    pub fn wait(self, count: u32) -> u64 {
        let Some(over) = count.checked_sub(self.max_failures) else {
            return 0;
        };
        let doubled = FIRST_WAIT_SECONDS.saturating_mul(1 << over.min(20));
        doubled.min(self.window)
    }
}

impl Failures {
    /// The counter as it stands at `now`: a record quiet for a whole window is forgotten
    /// (storage may expire it too, but the rule does not depend on that).
    pub fn current(record: Option<Failures>, now: i64, limits: Limits) -> Failures {
        let window = i64::try_from(limits.window).unwrap_or(i64::MAX);
        match record {
            Some(record) if now.saturating_sub(record.last) < window => record,
            _ => Failures::default(),
        }
    }

    /// Until when this source must wait, if it must.
    pub fn wait_until(&self, now: i64, limits: Limits) -> Option<i64> {
        let wait = i64::try_from(limits.wait(self.count)).unwrap_or(i64::MAX);
        let until = self.last.saturating_add(wait);
        (wait > 0 && now < until).then_some(until)
    }

    /// The counter after one more failure at `now`.
    pub fn after_failure(self, now: i64) -> Failures {
        Failures {
            count: self.count.saturating_add(1),
            last: now,
        }
    }
}

/// Store key of a user's counter from `source`.
pub fn user_key(username: &str, source: Option<&str>) -> String {
    crate::schema::failures("user", username, source)
}

/// Store key of a client's counter from `source`.
pub fn client_key(client_id: &str, source: Option<&str>) -> String {
    crate::schema::failures("client", client_id, source)
}

/// Store key of the per-source counter across accounts.
pub fn source_key(source: &str) -> String {
    crate::schema::source_failures(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_reads_back_what_was_written() {
        let failures = Failures { count: 3, last: -2 };
        let text = serde_json::to_string(&failures).unwrap();
        assert_eq!(serde_json::from_str::<Failures>(&text).unwrap(), failures);
        let bare: Failures = serde_json::from_str(r#"{"count":1}"#).unwrap();
        assert_eq!(bare, Failures { count: 1, last: 0 });
        for bad in [
            r#"{"last":1}"#,
            r#"{"count":4294967296}"#,
            r#"{"count":-1}"#,
        ] {
            assert!(serde_json::from_str::<Failures>(bad).is_err(), "{bad}");
        }
    }

    const LIMITS: Limits = Limits {
        max_failures: 5,
        window: 900,
    };

    #[test]
    fn the_wait_starts_at_the_limit_and_doubles_up_to_the_window() {
        let waits: Vec<u64> = (0..12).map(|n| LIMITS.wait(n)).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(LIMITS.wait(u32::MAX), 900);
    }

    #[test]
    fn a_source_waits_after_its_limit_and_the_wait_ends_by_itself() {
        let mut failures = Failures::default();
        for t in 0..5 {
            assert_eq!(failures.wait_until(100 + t, LIMITS), None);
            failures = failures.after_failure(100 + t);
        }
        assert_eq!(failures.wait_until(105, LIMITS), Some(164));
        assert_eq!(failures.wait_until(164, LIMITS), None);
        failures = failures.after_failure(170);
        assert_eq!(failures.wait_until(171, LIMITS), Some(290));
    }

    #[test]
    fn a_quiet_window_forgets_the_counter() {
        let busy = Failures {
            count: 9,
            last: 1_000,
        };
        assert_eq!(Failures::current(Some(busy), 1_899, LIMITS), busy);
        assert_eq!(
            Failures::current(Some(busy), 1_900, LIMITS),
            Failures::default()
        );
        assert_eq!(Failures::current(None, 0, LIMITS), Failures::default());
    }

    #[test]
    fn keys_name_the_account_and_the_source() {
        assert_eq!(
            user_key("alice", Some("192.0.2.1")),
            "fail:user:alice@192.0.2.1"
        );
        assert_eq!(client_key("svc", None), "fail:client:svc@unknown");
        assert_eq!(source_key("192.0.2.1"), "fail:ip:192.0.2.1");
        assert_eq!(LIMITS.scaled(4).max_failures, 20);
    }
}
