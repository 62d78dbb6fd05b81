//! Back-channel logout's delivery (OpenID Connect Back-Channel Logout 1.0 §2.5): each logout
//! token POSTed as the form's `logout_token` to its relying party's `backchannel_logout_uri`,
//! after the user's answer. The tokens and the rule of who is told are the core's
//! (`OAuth::backchannel_logouts`); this is the I/O.

use std::time::Duration;

use futures_util::future::{join_all, select, Either};
use worker::{web_sys, AbortController, Delay, Fetch, Request};

use super::respond;
use crate::json::Object;
use crate::oauth::oidc::LogoutDelivery;

/// How long a relying party has to answer: the logout is one POST, and a slow one must not
/// hold the isolate's `wait_until` open.
const TIMEOUT_MS: u64 = 5_000;

/// Posts every delivery at once, and logs each outcome (the relying party and the status,
/// never the token).
pub async fn deliver(deliveries: Vec<LogoutDelivery>) {
    join_all(deliveries.into_iter().map(post)).await;
}

async fn post(delivery: LogoutDelivery) {
    let outcome = match send(&delivery).await {
        Ok(status) => Object::new()
            .with(
                "level",
                if (200..300).contains(&status) {
                    "info"
                } else {
                    "warn"
                },
            )
            .with("status", i64::from(status)),
        Err(error) => Object::new().with("level", "warn").with("error", error),
    };
    respond::log(
        outcome
            .with("event", "backchannel_logout")
            .with("client", delivery.client_id.as_str()),
    );
}

/// The relying party's status (§2.8: 200 or 204 when it took the logout, 400 when not).
async fn send(delivery: &LogoutDelivery) -> Result<u16, String> {
    let body = format!(
        "logout_token={}",
        crate::oauth::wire::form_encode(&delivery.logout_token)
    );
    let controller = AbortController::default();
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&wasm_bindgen::JsValue::from_str(&body));
    // The token is for the registered URI, not for wherever an answer points.
    init.set_redirect(web_sys::RequestRedirect::Manual);
    let request: Request = web_sys::Request::new_with_str_and_init(&delivery.uri, &init)
        .map_err(|e| format!("{e:?}"))?
        .into();
    request
        .headers()
        .set("Content-Type", "application/x-www-form-urlencoded")
        .map_err(|e| e.to_string())?;
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let sent = Box::pin(fetch.send_with_signal(&signal));
    let timeout = Box::pin(Delay::from(Duration::from_millis(TIMEOUT_MS)));
    let answered = match select(sent, timeout).await {
        Either::Left((Ok(response), _)) => Ok(response.status_code()),
        Either::Left((Err(error), _)) => Err(format!("the post failed: {error}")),
        Either::Right(_) => {
            controller.abort();
            Err(format!("no answer within {TIMEOUT_MS} ms"))
        }
    };
    answered
}
