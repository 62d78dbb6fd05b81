//! An external issuer's keys, fetched from its JWKS URL and kept per isolate.
//!
//! - When to use, refresh, fetch or wait is the core's rule (`crate::jwks_cache::decide`),
//!   shared with the npm package: fresh keys are used, stale ones while a background refresh
//!   runs, an unknown `kid` refetches at most once per `cooldownSeconds`, and a failed first
//!   fetch is not repeated within it.
//! - One fetch at a time: a request that finds one in flight waits for its result on its own
//!   timer, watching the state the fetching request writes. It never awaits that request's
//!   future: workerd refuses I/O on behalf of another request ("Cannot perform I/O on behalf
//!   of a different request"), and sharing the fetch answered 19 of 20 concurrent first
//!   requests with 500 (an outside run).
//! - Every fetch has a timeout and a size limit; a failed fetch keeps the previous keys.
//! - A cold isolate first looks in the Cache API, shared by the isolates of a location.
//! - `jku`, `x5u` and embedded `jwk` headers are never followed: the URL is configuration.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either, FutureExt};
use worker::{AbortController, Cache, Context, Date, Delay, Fetch, Headers, Response};

use crate::config::ExternalIssuer;
use crate::json::Object;
use crate::jwks::Published;
use crate::jwks_cache::{self, Action};
use crate::{KeySet, Policy, Verifier};

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// How often a waiting request looks whether the fetch in flight has finished.
const WAIT_STEP_MS: u64 = 10;

pub struct RemoteJwks {
    pub issuer: ExternalIssuer,
    policy: Policy,
    held: Rc<Held>,
}

/// What the isolate holds for one issuer, written by whichever request fetched.
struct Held {
    current: RefCell<Option<(Rc<Verifier>, f64)>>,
    last_attempt_ms: Cell<f64>,
    last_error: RefCell<String>,
    /// The start of the fetch in flight, if one is.
    fetching_since: Cell<Option<f64>>,
    /// Fetches started and finished (successful or not), for the requests that wait.
    started: Cell<u64>,
    finished: Cell<u64>,
}

/// One fetch, owning what it needs, so that a background refresh outlives its request's
/// handler (`wait_until`).
struct Fetcher {
    url: String,
    timeout_ms: u64,
    max_age: u64,
    policy: Policy,
    held: Rc<Held>,
}

impl RemoteJwks {
    pub fn new(issuer: ExternalIssuer, policy: Policy) -> Self {
        RemoteJwks {
            issuer,
            policy,
            held: Rc::new(Held {
                current: RefCell::new(None),
                last_attempt_ms: Cell::new(f64::NEG_INFINITY),
                last_error: RefCell::new("no JWKS fetch has finished yet".to_owned()),
                fetching_since: Cell::new(None),
                started: Cell::new(0),
                finished: Cell::new(0),
            }),
        }
    }

    /// A verifier for a token with this `kid`, fetching keys as the rules above allow.
    /// `Err` only when no keys were obtained.
    pub async fn verifier(
        &self,
        kid: Option<&str>,
        now_ms: f64,
        ctx: &Context,
    ) -> Result<Rc<Verifier>, String> {
        let held = &self.held;
        let cached = held.current.borrow().clone();
        let state = jwks_cache::Held {
            fetched_at: cached.as_ref().map(|(_, at)| *at),
            last_attempt: held.last_attempt_ms.get(),
            knows_kid: cached.as_ref().is_some_and(|(verifier, _)| {
                kid.is_none_or(|kid| verifier.keys().get(kid).is_some())
            }),
            fetching_since: held.fetching_since.get(),
        };
        let limits = self.limits();
        let fallback = |cached: Option<(Rc<Verifier>, f64)>| {
            cached
                .map(|(verifier, _)| verifier)
                .ok_or_else(|| held.last_error.borrow().clone())
        };
        match jwks_cache::decide(state, limits, now_ms) {
            Action::Use | Action::Unavailable => fallback(cached),
            Action::UseAndRefresh => {
                let refresh = self.fetcher().fetch(now_ms, false);
                ctx.wait_until(async move {
                    let _ = refresh.await;
                });
                fallback(cached)
            }
            // Under `wait_until` too, so that a client that goes away does not cancel the
            // fetch that other requests are waiting for (they watch its outcome, not this).
            Action::Fetch => {
                let fetch = self
                    .fetcher()
                    .fetch(now_ms, cached.is_none())
                    .boxed_local()
                    .shared();
                let background = fetch.clone();
                ctx.wait_until(async move {
                    let _ = background.await;
                });
                match fetch.await {
                    Ok(verifier) => Ok(verifier),
                    Err(_) => fallback(cached),
                }
            }
            Action::Wait => {
                self.wait_for_fetch().await;
                let current = held.current.borrow().clone();
                fallback(current.or(cached))
            }
        }
    }

    fn limits(&self) -> jwks_cache::Limits {
        jwks_cache::Limits {
            max_age: self.issuer.cache_seconds as f64 * 1000.0,
            cooldown: self.issuer.cooldown_seconds as f64 * 1000.0,
            timeout: self.issuer.timeout_ms as f64,
        }
    }

    fn fetcher(&self) -> Fetcher {
        Fetcher {
            url: self.issuer.jwks_url.clone(),
            timeout_ms: self.issuer.timeout_ms,
            max_age: self.issuer.cache_seconds,
            policy: self.policy.clone(),
            held: Rc::clone(&self.held),
        }
    }

    /// Waits, on this request's own timer, until the fetch in flight has finished or could
    /// no longer be running (`jwks_cache::wait_limit`).
    async fn wait_for_fetch(&self) {
        let awaited = self.held.started.get();
        let steps = jwks_cache::wait_limit(self.limits()) as u64 / WAIT_STEP_MS;
        for _ in 0..steps {
            if self.held.finished.get() >= awaited {
                return;
            }
            Delay::from(Duration::from_millis(WAIT_STEP_MS)).await;
        }
        let waited = "the JWKS fetch in flight did not finish".to_owned();
        *self.held.last_error.borrow_mut() = waited;
    }
}

impl Fetcher {
    /// Marks a fetch in flight (now, before the future first runs, so no other request starts
    /// one meanwhile), then fetches the keys and writes the outcome where waiting requests
    /// look.
    fn fetch(
        self,
        now_ms: f64,
        use_cache_api: bool,
    ) -> impl std::future::Future<Output = Result<Rc<Verifier>, String>> + 'static {
        let number = self.held.started.get() + 1;
        self.held.started.set(number);
        self.held.fetching_since.set(Some(now_ms));
        self.held.last_attempt_ms.set(now_ms);
        async move {
            let result = fetch_keys(
                &self.url,
                self.timeout_ms,
                self.max_age,
                &self.policy,
                use_cache_api,
            )
            .await;
            let held = &self.held;
            match &result {
                // Stamped when the keys came: a request's clock only moves at its I/O.
                Ok(verifier) => {
                    let at = Date::now().as_millis() as f64;
                    *held.current.borrow_mut() = Some((Rc::clone(verifier), at.max(now_ms)));
                }
                Err(reason) => *held.last_error.borrow_mut() = reason.clone(),
            }
            held.finished.set(held.finished.get().max(number));
            if held.started.get() == number {
                held.fetching_since.set(None);
            }
            result
        }
    }
}

async fn fetch_keys(
    url: &str,
    timeout_ms: u64,
    max_age: u64,
    policy: &Policy,
    use_cache_api: bool,
) -> Result<Rc<Verifier>, String> {
    if use_cache_api {
        if let Some(text) = from_cache_api(url).await {
            if let Ok(verifier) = parse(&text, policy, url) {
                return Ok(verifier);
            }
        }
    }
    let controller = AbortController::default();
    let signal = controller.signal();
    let download = Box::pin(download(url.to_owned(), signal));
    let timeout = Box::pin(Delay::from(Duration::from_millis(timeout_ms)));
    let text = match select(download, timeout).await {
        Either::Left((result, _)) => result?,
        Either::Right(_) => {
            controller.abort();
            return Err(format!("JWKS fetch timed out after {timeout_ms} ms"));
        }
    };
    let verifier = parse(&text, policy, url)?;
    to_cache_api(url, &text, max_age).await;
    Ok(verifier)
}

async fn download(url: String, signal: worker::AbortSignal) -> Result<String, String> {
    let request = super::subrequest(&url, "GET", None).map_err(|e| e.to_string())?;
    request
        .headers()
        .set("Accept", "application/jwk-set+json, application/json")
        .map_err(|e| e.to_string())?;
    let mut response = Fetch::Request(request)
        .send_with_signal(&signal)
        .await
        .map_err(|e| format!("JWKS fetch failed: {e}"))?;
    if response.status_code() != 200 {
        return Err(format!(
            "JWKS fetch returned HTTP {}",
            response.status_code()
        ));
    }
    let declared = response
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|len| len.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_JWKS_BYTES) {
        return Err("JWKS document is too large".to_owned());
    }
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    if bytes.len() > MAX_JWKS_BYTES {
        return Err("JWKS document is too large".to_owned());
    }
    String::from_utf8(bytes).map_err(|_| "JWKS document is not UTF-8".to_owned())
}

/// The verifier for a fetched document: the keys it cannot use are left out, each named in
/// the log (`Published`: RFC 7517 §5; a published secret or private key never verifies).
fn parse(text: &str, policy: &Policy, url: &str) -> Result<Rc<Verifier>, String> {
    let refused = |e: crate::Error| format!("JWKS document refused: {e}");
    let published = Published::from_json(text).map_err(refused)?;
    for (kid, reason) in &published.ignored {
        super::respond::log(
            Object::new()
                .with("level", "warn")
                .with("jwks", url)
                .with_some("kid", kid.as_ref())
                .with("detail", format!("key ignored: {reason}")),
        );
    }
    let keys = KeySet::from_json(&published.keys).map_err(refused)?;
    Verifier::new(keys, policy.clone())
        .map(Rc::new)
        .map_err(|e| e.to_string())
}

async fn from_cache_api(url: &str) -> Option<String> {
    let mut response = Cache::default().get(url, false).await.ok()??;
    response.text().await.ok()
}

async fn to_cache_api(url: &str, text: &str, max_age: u64) {
    let headers = Headers::new();
    let _ = headers.set("Cache-Control", &format!("max-age={max_age}"));
    let _ = headers.set("Content-Type", "application/json");
    if let Ok(response) = Response::ok(text) {
        let _ = Cache::default()
            .put(url, response.with_headers(headers))
            .await;
    }
}
