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
//! persists the [`Failures`] record.
//!
//! Under concurrency, a password attempt is admitted and counted in one step ([`ADMIT`]): it
//! counts as a failure *before* the password is checked, in the same atomic step that decides
//! whether the source may try at all, and a success takes its count back ([`SUCCEEDED`]).
//! Counting after the check let a burst of concurrent guesses all pass a counter that still
//! read zero (50 at once: every one checked); counted first, at most `maxFailures` are checked
//! before the wait, however many arrive together. The price is that one source cannot have
//! more than `maxFailures` attempts on one account in flight at once, which a person signing
//! in never has.
//!
//! Client secrets are counted after the check ([`FAILED`], one atomic step, so every failure
//! counts): a service may send many token requests at once, which admission-first would
//! refuse, and a burst of guesses at a 256-bit random secret gains nothing.

use serde::Serialize;

use crate::store::{Applied, Transition, Write};

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
    /// `last` before the latest failure was counted: where a success that takes back its
    /// admission ([`SUCCEEDED`]) puts it again. Absent: `last`.
    pub earlier: i64,
}

// Read by hand (crate::json::read): the derive's rules, which the attributes above state.
crate::json::read::read_by!(Failures, "a failure counter", |o| {
    let last = o.i64("last").unwrap_or(0);
    Failures {
        count: o.required_u32("count"),
        last,
        earlier: o.i64("earlier").unwrap_or(last),
    }
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
            earlier: self.last,
        }
    }
}

/// The input of [`ADMIT`] and [`SUCCEEDED`]: the time and the counter's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// Now, in seconds.
    pub now: i64,
    /// The counter's limit.
    pub max_failures: u32,
    /// Its window.
    pub window: u64,
}

crate::json::read::read_by!(Attempt, "a lockout attempt", |o| Attempt {
    now: o.required_i64("now"),
    max_failures: o.required_u32("max_failures"),
    window: o.required_u64("window"),
});

impl Attempt {
    fn limits(self) -> Limits {
        Limits {
            max_failures: self.max_failures,
            window: self.window,
        }
    }
}

/// One attempt on a counter, as one atomic step (the counter is the transition's first and
/// second record alike): a source that must wait is refused (answer `false`, nothing
/// written); otherwise the attempt is counted as a failure at once and admitted (`true`).
pub static ADMIT: Transition = Transition {
    name: "lockout_admit",
    apply: admit,
};

/// A success takes back the failure its [`ADMIT`] counted, its time included: an attempt that
/// succeeded starts no wait and keeps no quiet window open. (Taking back only the count left
/// the admission's time as the last failure's: at a shared address whose counter across
/// accounts had reached its limit, every sign-in made everyone there wait a minute again,
/// and the counter was never forgotten while someone signed in every 15 minutes: an outside
/// run.) A counter of the account itself is cleared instead by its caller (a success from a
/// source ends that source's wait).
pub static SUCCEEDED: Transition = Transition {
    name: "lockout_succeeded",
    apply: succeeded,
};

/// One failure counted, as one atomic step (no compare-and-swap to lose under contention).
pub static FAILED: Transition = Transition {
    name: "lockout_failed",
    apply: failed,
};

fn read_attempt(record: Option<&str>, input: &str) -> Result<(Failures, Attempt), String> {
    let attempt: Attempt = serde_json::from_str(input).map_err(|e| e.to_string())?;
    // A corrupt counter reads as none: failing closed here would lock the source for good.
    let record = record.and_then(|text| serde_json::from_str::<Failures>(text).ok());
    Ok((
        Failures::current(record, attempt.now, attempt.limits()),
        attempt,
    ))
}

fn record_text(failures: &Failures) -> Result<String, String> {
    serde_json::to_string(failures).map_err(|e| e.to_string())
}

fn admit(record: Option<&str>, _: Option<&str>, input: &str) -> Result<Applied, String> {
    let (current, attempt) = read_attempt(record, input)?;
    if current.wait_until(attempt.now, attempt.limits()).is_some() {
        return Ok(Applied::one(Write::Keep, "false"));
    }
    let counted = current.after_failure(attempt.now);
    Ok(Applied::one(
        Write::Put(record_text(&counted)?, Some(attempt.window)),
        "true",
    ))
}

fn failed(record: Option<&str>, _: Option<&str>, input: &str) -> Result<Applied, String> {
    let (current, attempt) = read_attempt(record, input)?;
    Ok(Applied::one(
        Write::Put(
            record_text(&current.after_failure(attempt.now))?,
            Some(attempt.window),
        ),
        "true",
    ))
}

fn succeeded(record: Option<&str>, _: Option<&str>, input: &str) -> Result<Applied, String> {
    let (current, attempt) = read_attempt(record, input)?;
    let first = match current.count {
        0 | 1 => Write::Delete,
        count => Write::Put(
            record_text(&Failures {
                count: count - 1,
                last: current.earlier,
                ..current
            })?,
            Some(attempt.window),
        ),
    };
    Ok(Applied::one(first, "true"))
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
        let failures = Failures {
            count: 3,
            last: -2,
            earlier: -5,
        };
        let text = serde_json::to_string(&failures).unwrap();
        assert_eq!(serde_json::from_str::<Failures>(&text).unwrap(), failures);
        let bare: Failures = serde_json::from_str(r#"{"count":1}"#).unwrap();
        assert_eq!(
            bare,
            Failures {
                count: 1,
                last: 0,
                earlier: 0
            }
        );
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
            earlier: 990,
        };
        assert_eq!(Failures::current(Some(busy), 1_899, LIMITS), busy);
        assert_eq!(
            Failures::current(Some(busy), 1_900, LIMITS),
            Failures::default()
        );
        assert_eq!(Failures::current(None, 0, LIMITS), Failures::default());
    }

    /// The outside concurrency audit's burst: 50 attempts at once on a fresh counter. Each is
    /// admitted and counted in one step, so five are checked and the rest wait, whichever
    /// order they arrive in; a success takes back its own count only.
    #[test]
    fn admission_counts_first_so_a_burst_gets_no_more_checks_than_the_limit() {
        let input = serde_json::to_string(&Attempt {
            now: 100,
            max_failures: 5,
            window: 900,
        })
        .unwrap();
        let mut record: Option<String> = None;
        let mut admitted = 0;
        for _ in 0..50 {
            let applied = admit(record.as_deref(), None, &input).unwrap();
            assert_eq!(applied.second, Write::Keep);
            if applied.answer == "true" {
                admitted += 1;
            }
            if let Write::Put(text, ttl) = applied.first {
                assert_eq!(ttl, Some(900));
                record = Some(text);
            }
        }
        assert_eq!(admitted, 5);
        let counter: Failures = serde_json::from_str(record.as_deref().unwrap()).unwrap();
        assert_eq!(
            counter,
            Failures {
                count: 5,
                last: 100,
                earlier: 100
            }
        );
        let back = succeeded(record.as_deref(), None, &input).unwrap();
        let Write::Put(text, _) = back.first else {
            panic!("{back:?}")
        };
        assert_eq!(
            serde_json::from_str::<Failures>(&text).unwrap(),
            Failures {
                count: 4,
                last: 100,
                earlier: 100
            }
        );
        let one = serde_json::to_string(&Failures {
            count: 1,
            last: 100,
            earlier: 100,
        })
        .unwrap();
        assert_eq!(
            succeeded(Some(&one), None, &input).unwrap().first,
            Write::Delete
        );
        assert_eq!(succeeded(None, None, &input).unwrap().first, Write::Delete);
        // After the check: 60 failures at once are 60 failures.
        let mut record: Option<String> = None;
        for _ in 0..60 {
            if let Write::Put(text, _) = failed(record.as_deref(), None, &input).unwrap().first {
                record = Some(text);
            }
        }
        assert_eq!(
            serde_json::from_str::<Failures>(record.as_deref().unwrap()).unwrap(),
            Failures {
                count: 60,
                last: 100,
                earlier: 100
            }
        );
        // A corrupt counter counts as none rather than locking the source for good.
        assert_eq!(admit(Some("{"), None, &input).unwrap().answer, "true");
    }

    /// A shared address (an office, a school) whose counter across accounts reached its limit
    /// waits once; then its users' sign-ins, each admitted and taken back, leave the counter
    /// as it was: the next one is admitted at once, and the counter is forgotten a window after
    /// the last failure, however many sign-ins came since.
    #[test]
    fn a_success_taken_back_starts_no_wait_and_keeps_no_window_open() {
        let limits = LIMITS.scaled(4);
        let at = |now: i64| {
            serde_json::to_string(&Attempt {
                now,
                max_failures: limits.max_failures,
                window: limits.window,
            })
            .unwrap()
        };
        let apply = |rule: &Transition, record: &mut Option<String>, now: i64| {
            let applied = (rule.apply)(record.as_deref(), None, &at(now)).unwrap();
            match applied.first {
                Write::Put(text, _) => *record = Some(text),
                Write::Delete => *record = None,
                _ => {}
            }
            applied.answer
        };
        let mut record = None;
        for t in 0..20 {
            assert_eq!(apply(&ADMIT, &mut record, 100 + t), "true", "failure {t}");
        }
        assert_eq!(apply(&ADMIT, &mut record, 150), "false", "the limit's wait");
        for t in [180, 185, 190, 400, 800, 1_000] {
            assert_eq!(apply(&ADMIT, &mut record, t), "true", "a sign-in at {t}");
            assert_eq!(apply(&SUCCEEDED, &mut record, t), "true");
        }
        let counter: Failures = serde_json::from_str(record.as_deref().unwrap()).unwrap();
        assert_eq!((counter.count, counter.last), (20, 119));
        assert_eq!(
            Failures::current(Some(counter), 119 + 900, limits),
            Failures::default(),
            "forgotten a window after the last failure"
        );
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
