//! What every API request passes before a handler builds its reply: the
//! journal, the credential check, JSON parsing and the injected faults.

use crate::App;
use crate::errors::{self, Api, ModelFault, Rejection};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// One request as the journal keeps it: everything, so tests can prove which
/// credential the proxy sent upstream (these are mock keys, not secrets).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Received {
    pub received_at_ms: i64,
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// A request that may be answered normally.
pub struct Admitted {
    pub body: Value,
    pub model: String,
    /// The stream must break halfway.
    pub reset_mid_stream: bool,
}

pub fn record(app: &App, method: &str, path: &str, headers: &HeaderMap, body: &[u8]) {
    if !app.journal.is_enabled() {
        return;
    }
    let received_at_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    app.journal.record(Received {
        received_at_ms,
        method: method.to_string(),
        path: path.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: String::from_utf8_lossy(body).into_owned(),
    });
}

/// Checks the upstream credential the real API expects.
pub fn check_credentials(app: &App, api: Api, headers: &HeaderMap) -> Result<(), Rejection> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bearer = header("authorization").and_then(|h| h.strip_prefix("Bearer "));
    let (expected, presented) = match api {
        Api::OpenAi => (app.openai_key.as_deref(), bearer),
        Api::Anthropic => (app.anthropic_key.as_deref(), header("x-api-key").or(bearer)),
    };
    let Some(expected) = expected else { return Ok(()) };
    match presented {
        Some(key) if key == expected => Ok(()),
        Some(_) => Err(Rejection::new(401, "Incorrect API key provided.")),
        None => Err(Rejection::new(401, "Missing API key: send it in the Authorization header.")),
    }
}

/// Parses a JSON object body with a string `model`, then applies control and model faults.
pub fn admit(app: &App, api: Api, headers: &HeaderMap, raw: &[u8]) -> Result<Admitted, Rejection> {
    check_credentials(app, api, headers)?;
    if api == Api::Anthropic && !headers.contains_key("anthropic-version") {
        return Err(Rejection::new(400, "anthropic-version: header is required"));
    }
    let body: Value = serde_json::from_slice(raw)
        .map_err(|e| Rejection::new(400, format!("We could not parse the JSON body of your request: {e}")))?;
    let Some(model) = body.get("model").and_then(Value::as_str).map(str::to_string) else {
        return Err(Rejection::new(400, "model: field required (a string)"));
    };
    let retry_after = match app.faults.retry_after.load(Ordering::Relaxed) {
        u64::MAX => None,
        seconds => Some(seconds),
    };
    let injected = |status: u16| Rejection {
        status,
        message: errors::injected_message(status).to_string(),
        retry_after: retry_after.or(Some(1)),
    };
    let forced = app.faults.status.load(Ordering::Relaxed);
    if forced != 0 {
        return Err(injected(forced));
    }
    let mut reset_mid_stream = app.faults.reset_mid_stream.load(Ordering::Relaxed);
    match errors::model_fault(&model) {
        ModelFault::Status(status) => return Err(injected(status)),
        ModelFault::ResetMidStream => reset_mid_stream = true,
        ModelFault::Trickle | ModelFault::None => {}
    }
    Ok(Admitted { body, model, reset_mid_stream })
}
