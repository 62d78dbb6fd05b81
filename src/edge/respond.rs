//! Responses and log lines: the security headers every response carries, the rendering of a
//! refusal, and the one structured log line per decision.

use worker::{Env, Headers, Response, Result};

use super::bindings;
use crate::codes::Code;
use crate::config::LogDecisions;
use crate::gateway::{Decision, Rendered};
use crate::json::Object;

/// Headers on every response the worker writes itself (no sniffing). HSTS is added to every
/// response served over https, in one place (`edge::fetch`).
pub fn base_headers() -> Result<Headers> {
    let headers = Headers::new();
    headers.set("X-Content-Type-Options", "nosniff")?;
    Ok(headers)
}

/// A JSON response, its body already written (a [`crate::json::Object`], a serialised value).
pub fn json(status: u16, body: String) -> Result<Response> {
    let headers = base_headers()?;
    headers.set("Content-Type", "application/json")?;
    headers.set("Cache-Control", "no-store")?;
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(headers))
}

/// A refusal the worker itself makes (not an RFC 6750 token refusal, not an RFC 6749 error):
/// its HTTP status comes from the code table (`Code::status`), so code and status cannot drift.
pub fn refuse(code: Code, error: &str, description: &str) -> Result<Response> {
    let body = Object::new()
        .with("error", error)
        .with("error_description", description)
        .with("code", code.as_str());
    json(code.status(), body.finish())
}

/// A refusal, rendered by the core's single mapping.
pub fn denial(rendered: &Rendered) -> Result<Response> {
    let mut response = json(rendered.status, crate::json::text(&rendered.body))?;
    if let Some(challenge) = &rendered.www_authenticate {
        response.headers_mut().set("WWW-Authenticate", challenge)?;
    }
    Ok(response)
}

/// A broken deployment: the detail goes to the log, only the code to the client.
pub fn server_error(status: u16, code: &str, detail: &str) -> Result<Response> {
    log(Object::new()
        .with("level", "error")
        .with("code", code)
        .with("detail", detail));
    json(
        status,
        Object::new()
            .with("error", "server_error")
            .with("code", code)
            .finish(),
    )
}

/// Logs a decision as one JSON line and counts it in Analytics Engine when bound. The line
/// carries identifiers (sub, jti, iss), never a token, key, secret or password.
pub fn record(env: &Env, decision: &Decision<'_>, logging: LogDecisions) {
    let identity = decision.identity;
    let outcome = decision.outcome.as_str();
    if logging.logs(decision.outcome) {
        log(Object::new()
            .with("level", "info")
            .with("event", "auth")
            .with("route", decision.route)
            .with("outcome", outcome)
            .with("code", decision.code)
            .with("tokenType", identity.map(|i| i.token_type.as_str()))
            .with("sub", identity.and_then(|i| i.sub.as_deref()))
            .with("jti", identity.and_then(|i| i.jti.as_deref()))
            .with("iss", identity.and_then(|i| i.issuer.as_deref()))
            .with("cached", decision.cached)
            .with("latencyMs", (decision.latency_ms * 1000.0).round() / 1000.0));
    }
    if let Ok(dataset) = env.analytics_engine(bindings::ANALYTICS) {
        let issuer = identity.and_then(|i| i.issuer.as_deref()).unwrap_or("");
        let point = worker::AnalyticsEngineDataPointBuilder::new()
            .indexes([outcome])
            .blobs([outcome, decision.code.unwrap_or(""), decision.route, issuer])
            .doubles([decision.latency_ms, f64::from(u8::from(decision.cached))]);
        let _ = point.write_to(&dataset);
    }
}

/// Writes one log line.
pub fn log(line: Object) {
    worker::console_log!("{}", line.finish());
}
