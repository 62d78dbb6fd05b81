//! An external issuer's keys, fetched from its JWKS URL and kept per isolate.
//!
//! - When to use, refresh or fetch is the core's rule (`crate::jwks_cache::decide`), shared
//!   with the npm package: fresh keys are used, stale ones while a background refresh runs, an
//!   unknown `kid` refetches at most once per `cooldownSeconds`.
//! - Concurrent requests share one fetch (single flight); every fetch has a timeout and a size
//!   limit; a failed fetch keeps the previous keys.
//! - A cold isolate first looks in the Cache API, shared by the isolates of a location.
//! - `jku`, `x5u` and embedded `jwk` headers are never followed: the URL is configuration.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either, FutureExt, LocalBoxFuture, Shared};
use worker::{AbortController, Cache, Context, Delay, Fetch, Headers, Response};

use crate::config::ExternalIssuer;
use crate::json::Object;
use crate::jwks::Published;
use crate::jwks_cache::{self, Action};
use crate::{KeySet, Policy, Verifier};

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 64 * 1024;

type Fetching = Shared<LocalBoxFuture<'static, Result<Rc<Verifier>, String>>>;

pub struct RemoteJwks {
    pub issuer: ExternalIssuer,
    policy: Policy,
    current: RefCell<Option<(Rc<Verifier>, f64)>>,
    last_attempt_ms: Cell<f64>,
    inflight: RefCell<Option<Fetching>>,
}

impl RemoteJwks {
    pub fn new(issuer: ExternalIssuer, policy: Policy) -> Self {
        RemoteJwks {
            issuer,
            policy,
            current: RefCell::new(None),
            last_attempt_ms: Cell::new(f64::NEG_INFINITY),
            inflight: RefCell::new(None),
        }
    }

    /// A verifier for a token with this `kid`, fetching keys as the rules above allow.
    /// `Err` only when no keys were ever obtained.
    pub async fn verifier(
        &self,
        kid: Option<&str>,
        now_ms: f64,
        ctx: &Context,
    ) -> Result<Rc<Verifier>, String> {
        self.adopt_finished_refresh();
        let cached = self.current.borrow().clone();
        let held = jwks_cache::Held {
            fetched_at: cached.as_ref().map(|(_, at)| *at),
            last_attempt: self.last_attempt_ms.get(),
            knows_kid: cached.as_ref().is_some_and(|(verifier, _)| {
                kid.is_none_or(|kid| verifier.keys().get(kid).is_some())
            }),
        };
        let limits = jwks_cache::Limits {
            max_age: self.issuer.cache_seconds as f64 * 1000.0,
            cooldown: self.issuer.cooldown_seconds as f64 * 1000.0,
        };
        match (jwks_cache::decide(held, limits, now_ms), cached.clone()) {
            (Action::UseAndRefresh, Some((verifier, _))) => {
                let refresh = self.start_fetch(now_ms, false);
                ctx.wait_until(async move {
                    let _ = refresh.await;
                });
                return Ok(verifier);
            }
            // An unknown kid within the cooldown: the caller reports ERR_JWKS_NO_MATCHING_KEY.
            (Action::Use, Some((verifier, _))) => return Ok(verifier),
            _ => {}
        }
        let use_cache_api = cached.is_none();
        match self.start_fetch(now_ms, use_cache_api).await {
            Ok(verifier) => {
                *self.current.borrow_mut() = Some((Rc::clone(&verifier), now_ms));
                Ok(verifier)
            }
            Err(reason) => cached.map(|(verifier, _)| verifier).ok_or(reason),
        }
    }

    /// Joins the fetch in flight, or starts one.
    fn start_fetch(&self, now_ms: f64, use_cache_api: bool) -> Fetching {
        if let Some(inflight) = self.inflight.borrow().as_ref() {
            if inflight.peek().is_none() {
                return inflight.clone();
            }
        }
        self.last_attempt_ms.set(now_ms);
        let future = fetch_keys(
            self.issuer.jwks_url.clone(),
            self.issuer.timeout_ms,
            self.issuer.cache_seconds,
            self.policy.clone(),
            use_cache_api,
        )
        .boxed_local()
        .shared();
        *self.inflight.borrow_mut() = Some(future.clone());
        future
    }

    /// Takes the keys a finished background refresh brought (a failed one changes nothing).
    fn adopt_finished_refresh(&self) {
        let finished = match self.inflight.borrow().as_ref().and_then(|f| f.peek()) {
            Some(Ok(verifier)) => Some(Rc::clone(verifier)),
            _ => None,
        };
        if let Some(verifier) = finished {
            *self.current.borrow_mut() = Some((verifier, self.last_attempt_ms.get()));
            *self.inflight.borrow_mut() = None;
        }
    }
}

async fn fetch_keys(
    url: String,
    timeout_ms: u64,
    max_age: u64,
    policy: Policy,
    use_cache_api: bool,
) -> Result<Rc<Verifier>, String> {
    if use_cache_api {
        if let Some(text) = from_cache_api(&url).await {
            if let Ok(verifier) = parse(&text, &policy, &url) {
                return Ok(verifier);
            }
        }
    }
    let controller = AbortController::default();
    let signal = controller.signal();
    let download = Box::pin(download(url.clone(), signal));
    let timeout = Box::pin(Delay::from(Duration::from_millis(timeout_ms)));
    let text = match select(download, timeout).await {
        Either::Left((result, _)) => result?,
        Either::Right(_) => {
            controller.abort();
            return Err(format!("JWKS fetch timed out after {timeout_ms} ms"));
        }
    };
    let verifier = parse(&text, &policy, &url)?;
    to_cache_api(&url, &text, max_age).await;
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
