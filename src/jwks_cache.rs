//! A remote key set's caching rule, pure, so the edge worker and the npm package apply the same
//! one (each keeps only the I/O: the fetch, the timer, the waiting):
//!
//! - keys younger than the maximum age are used as they are;
//! - older keys are still used while a refresh runs in the background (stale-while-revalidate),
//!   started at most once per cooldown;
//! - an unknown `kid` triggers a fetch, at most once per cooldown, so a flood of forged tokens
//!   cannot become a flood of fetches; within the cooldown the keys held answer (and the token
//!   is refused with `ERR_JWKS_NO_MATCHING_KEY`);
//! - with no keys yet, fetch; but after a failed attempt, not again within the cooldown (the
//!   set is unavailable meanwhile): an issuer that is down or answers garbage must not turn
//!   each forged token into a fetch (an outside run counted one per request);
//! - a fetch already in flight is waited for, never doubled.
//!
//! Times are milliseconds on the caller's clock.

/// What the cache holds and remembers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Held {
    /// When the keys held were fetched; `None` when there are none.
    pub fetched_at: Option<f64>,
    /// When the last fetch (successful or not) started.
    pub last_attempt: f64,
    /// Whether the keys held contain the token's `kid` (true when the token names none).
    pub knows_kid: bool,
    /// When the fetch in flight started, if one is. One older than [`wait_limit`] no longer
    /// counts: its request may have been cancelled, and it would never finish.
    pub fetching_since: Option<f64>,
}

/// The cache's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// How long fetched keys are fresh.
    pub max_age: f64,
    /// Least time between two fetch attempts caused by staleness, an unknown `kid` or a
    /// failure.
    pub cooldown: f64,
    /// How long a fetch may take before it is abandoned.
    pub timeout: f64,
}

/// How long a request waits for the fetch in flight, and how long a fetch counts as in flight:
/// its timeout and a second.
pub fn wait_limit(limits: Limits) -> f64 {
    limits.timeout + 1000.0
}

/// What to do for one verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Use the keys held.
    Use,
    /// Use the keys held, and refresh them in the background.
    UseAndRefresh,
    /// Fetch and use what it brings; if it fails, the keys held, if any.
    Fetch,
    /// Wait for the fetch in flight and use what it brings; if it fails, the keys held, if any.
    Wait,
    /// No keys, and the last attempt to get them failed within the cooldown.
    Unavailable,
}

impl Action {
    /// A small number for the JS boundary: 0 use, 1 use and refresh, 2 fetch, 3 wait, 4
    /// unavailable.
    pub fn as_u8(self) -> u8 {
        match self {
            Action::Use => 0,
            Action::UseAndRefresh => 1,
            Action::Fetch => 2,
            Action::Wait => 3,
            Action::Unavailable => 4,
        }
    }
}

/// The rule.
pub fn decide(held: Held, limits: Limits, now: f64) -> Action {
    let cooled_down = now - held.last_attempt >= limits.cooldown;
    let fetching = held
        .fetching_since
        .is_some_and(|since| now - since < wait_limit(limits));
    match held.fetched_at {
        None if fetching => Action::Wait,
        None if cooled_down => Action::Fetch,
        None => Action::Unavailable,
        Some(fetched_at) if held.knows_kid => {
            let stale = now - fetched_at >= limits.max_age;
            if stale && cooled_down && !fetching {
                Action::UseAndRefresh
            } else {
                Action::Use
            }
        }
        Some(_) if fetching => Action::Wait,
        Some(_) if cooled_down => Action::Fetch,
        Some(_) => Action::Use,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_age: 600_000.0,
        cooldown: 30_000.0,
        timeout: 3_000.0,
    };

    fn held(fetched_at: Option<f64>, last_attempt: f64, knows_kid: bool) -> Held {
        Held {
            fetched_at,
            last_attempt,
            knows_kid,
            fetching_since: None,
        }
    }

    fn in_flight(held: Held) -> Held {
        Held {
            fetching_since: Some(0.0),
            ..held
        }
    }

    #[test]
    fn the_rule() {
        assert_eq!(
            decide(held(None, f64::NEG_INFINITY, false), LIMITS, 0.0),
            Action::Fetch
        );
        assert_eq!(
            decide(held(Some(0.0), 0.0, true), LIMITS, 1_000.0),
            Action::Use
        );
        assert_eq!(
            decide(held(Some(0.0), 0.0, true), LIMITS, 600_000.0),
            Action::UseAndRefresh,
            "stale: used while refreshed"
        );
        assert_eq!(
            decide(held(Some(0.0), 590_000.0, true), LIMITS, 600_000.0),
            Action::Use,
            "stale, but a refresh started within the cooldown"
        );
        assert_eq!(
            decide(held(Some(0.0), 0.0, false), LIMITS, 10_000.0),
            Action::Use,
            "unknown kid within the cooldown: no fetch"
        );
        assert_eq!(
            decide(held(Some(0.0), 0.0, false), LIMITS, 30_000.0),
            Action::Fetch
        );
    }

    #[test]
    fn a_failed_first_fetch_is_not_repeated_within_the_cooldown() {
        assert_eq!(
            decide(held(None, 0.0, false), LIMITS, 29_999.0),
            Action::Unavailable
        );
        assert_eq!(
            decide(held(None, 0.0, false), LIMITS, 30_000.0),
            Action::Fetch
        );
    }

    #[test]
    fn a_fetch_in_flight_is_waited_for_never_doubled() {
        assert_eq!(
            decide(in_flight(held(None, 0.0, false)), LIMITS, 10.0),
            Action::Wait
        );
        assert_eq!(
            decide(in_flight(held(Some(0.0), 0.0, false)), LIMITS, 3_000.0),
            Action::Wait,
            "an unknown kid while a fetch runs"
        );
        assert_eq!(
            decide(in_flight(held(Some(0.0), 0.0, true)), LIMITS, 3_999.0),
            Action::Use,
            "keys while their refresh runs"
        );
        // A fetch older than its timeout and a second was abandoned (its request cancelled):
        // not waited for, and the cooldown since its start applies.
        assert_eq!(
            decide(in_flight(held(None, 0.0, false)), LIMITS, 4_000.0),
            Action::Unavailable
        );
        assert_eq!(
            decide(in_flight(held(None, 0.0, false)), LIMITS, 30_000.0),
            Action::Fetch
        );
    }
}
