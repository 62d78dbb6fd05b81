//! Responses and log lines: the security headers every response carries, the rendering of a
//! refusal, and the one structured log line per decision.

use serde_json::{json, Value};
use worker::{Env, Headers, Response, Result};

use super::bindings;
use crate::config::LogDecisions;
use crate::gateway::Rendered;

/// Headers on every response the worker writes itself (no sniffing). HSTS is added to every
/// response served over https, in one place (`edge::fetch`).
pub fn base_headers() -> Result<Headers> {
    let headers = Headers::new();
    headers.set("X-Content-Type-Options", "nosniff")?;
    Ok(headers)
}

/// A JSON response.
pub fn json(status: u16, body: &Value) -> Result<Response> {
    let headers = base_headers()?;
    headers.set("Content-Type", "application/json")?;
    headers.set("Cache-Control", "no-store")?;
    Ok(Response::ok(body.to_string())?
        .with_status(status)
        .with_headers(headers))
}

/// A refusal, rendered by the core's single mapping.
pub fn denial(rendered: &Rendered) -> Result<Response> {
    let mut response = json(rendered.status, &rendered.body)?;
    if let Some(challenge) = &rendered.www_authenticate {
        response.headers_mut().set("WWW-Authenticate", challenge)?;
    }
    Ok(response)
}

/// A broken deployment: the detail goes to the log, only the code to the client.
pub fn server_error(status: u16, code: &str, detail: &str) -> Result<Response> {
    log(json!({ "level": "error", "code": code, "detail": detail }));
    json(status, &json!({ "error": "server_error", "code": code }))
}

/// One auth decision, as logged and counted.
pub struct Decision<'a> {
    pub route: &'a str,
    pub outcome: &'a str,
    pub code: Option<&'a str>,
    pub token_type: Option<&'a str>,
    pub sub: Option<&'a str>,
    pub jti: Option<&'a str>,
    pub issuer: Option<&'a str>,
    pub cached: bool,
    pub latency_ms: f64,
}

/// Logs a decision as one JSON line and counts it in Analytics Engine when bound. The line
/// carries identifiers (sub, jti, iss), never a token, key, secret or password.
pub fn record(env: &Env, decision: &Decision<'_>, logging: LogDecisions) {
    if logging.logs(decision.outcome) {
        log(json!({
        "level": "info",
        "event": "auth",
        "route": decision.route,
        "outcome": decision.outcome,
        "code": decision.code,
        "tokenType": decision.token_type,
        "sub": decision.sub,
        "jti": decision.jti,
        "iss": decision.issuer,
        "cached": decision.cached,
        "latencyMs": (decision.latency_ms * 1000.0).round() / 1000.0,
        }));
    }
    if let Ok(dataset) = env.analytics_engine(bindings::ANALYTICS) {
        let point = worker::AnalyticsEngineDataPointBuilder::new()
            .indexes([decision.outcome])
            .blobs([
                decision.outcome,
                decision.code.unwrap_or(""),
                decision.route,
                decision.issuer.unwrap_or(""),
            ])
            .doubles([decision.latency_ms, f64::from(u8::from(decision.cached))]);
        let _ = point.write_to(&dataset);
    }
}

pub fn log(line: Value) {
    worker::console_log!("{line}");
}
