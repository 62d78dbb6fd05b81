//! A remote key set's caching rule, pure, so the edge worker and the npm package apply the same
//! one (each keeps only the I/O: the fetch, the timer, the single flight):
//!
//! - keys younger than the maximum age are used as they are;
//! - older keys are still used while a refresh runs in the background (stale-while-revalidate),
//!   started at most once per cooldown;
//! - an unknown `kid` triggers a fetch, at most once per cooldown, so a flood of forged tokens
//!   cannot become a flood of fetches; within the cooldown the keys held answer (and the token
//!   is refused with `ERR_JWKS_NO_MATCHING_KEY`);
//! - with no keys yet, fetch.
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
}

/// The cache's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// How long fetched keys are fresh.
    pub max_age: f64,
    /// Least time between two fetch attempts caused by staleness or an unknown `kid`.
    pub cooldown: f64,
}

/// What to do for one verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Use the keys held.
    Use,
    /// Use the keys held, and refresh them in the background.
    UseAndRefresh,
    /// Fetch (or join the fetch in flight) and use what it brings; if it fails, the keys held,
    /// if any.
    Fetch,
}

impl Action {
    /// A small number for the JS boundary: 0 use, 1 use and refresh, 2 fetch.
    pub fn as_u8(self) -> u8 {
        match self {
            Action::Use => 0,
            Action::UseAndRefresh => 1,
            Action::Fetch => 2,
        }
    }
}

/// The rule.
pub fn decide(held: Held, limits: Limits, now: f64) -> Action {
    let cooled_down = now - held.last_attempt >= limits.cooldown;
    match held.fetched_at {
        None => Action::Fetch,
        Some(fetched_at) if held.knows_kid => {
            if now - fetched_at >= limits.max_age && cooled_down {
                Action::UseAndRefresh
            } else {
                Action::Use
            }
        }
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
    };

    fn held(fetched_at: Option<f64>, last_attempt: f64, knows_kid: bool) -> Held {
        Held {
            fetched_at,
            last_attempt,
            knows_kid,
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
}
