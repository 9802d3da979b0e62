//! `POST /api/authorize` and `GET /health`.

use crate::App;
use crate::faults::Faults;
use crate::policy::{Decision, Subject};
use crate::signature;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mock_server::DropConnection;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Largest request body read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One request as the journal keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Received {
    /// Milliseconds since the epoch (real time) when the request arrived.
    pub received_at_ms: i64,
    /// 1 for the first call since start.
    pub call: u64,
    pub headers: BTreeMap<String, String>,
    /// The raw body, as text (lossy for non-UTF-8).
    pub body: String,
    /// Status answered; 0 when the connection was dropped on purpose.
    pub status: u16,
    /// `allowed`, `denied: <reason>`, or the fault / error that answered instead.
    pub outcome: String,
}

/// The request body, as documented. Only `user_email` is required: the
/// troubleshooting guide's own `curl` test sends just `user_email` and `client_ip`.
#[derive(Deserialize)]
struct AuthorizeRequest {
    user_email: String,
    #[serde(default)]
    client_ip: Option<String>,
}

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn authorize(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let call = app.calls.fetch_add(1, Ordering::Relaxed) + 1;
    let received_at_ms = now_ms();
    let faults = app.faults.read().unwrap_or_else(|p| p.into_inner()).clone();
    if faults.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
    }
    let (response, outcome) = answer(&app, &faults, call, &headers, &body);
    let status = if response.extensions().get::<DropConnection>().is_some() { 0 } else { response.status().as_u16() };
    app.journal.record(Received {
        received_at_ms,
        call,
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        status,
        outcome,
    });
    response
}

/// Decides the reply: faults first (they stand for a broken API), then the
/// signature, then the request's shape, then the policy.
fn answer(app: &App, faults: &Faults, call: u64, headers: &HeaderMap, body: &[u8]) -> (Response, String) {
    if faults.drop_connection {
        return (DropConnection::response(), "fault: connection dropped".into());
    }
    let failing_call = faults.fail_every_nth > 0 && call.is_multiple_of(faults.fail_every_nth);
    if let Some(status) = faults.status.or(failing_call.then_some(500)) {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // The shape of the guide's own error handler.
        let body = json!({"authorized": false, "reason": "Internal error", "error": format!("injected HTTP {status}")});
        return ((code, Json(body)).into_response(), format!("fault: HTTP {status}"));
    }
    if let Some(secret) = app.secret.read().unwrap_or_else(|p| p.into_inner()).as_deref() {
        let sent = headers.get("x-signature").and_then(|v| v.to_str().ok());
        if !signature::verify(secret.as_bytes(), body, sent) {
            let why = if sent.is_none() { "missing X-Signature header" } else { "invalid X-Signature" };
            return (error(StatusCode::UNAUTHORIZED, why), format!("rejected: {why}"));
        }
    }
    let request: AuthorizeRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            let why = format!("invalid request body: {e}");
            return (error(StatusCode::BAD_REQUEST, &why), format!("rejected: {why}"));
        }
    };
    let subject = Subject { email: &request.user_email, client_ip: request.client_ip.as_deref() };
    let now = now_ms() / 1000 + app.clock_offset.load(Ordering::Relaxed);
    let decision = app.policy.read().unwrap_or_else(|p| p.into_inner()).decide(&subject, now);
    let (authorized, reason) = match &decision {
        Decision::Allow => (true, None),
        Decision::Deny(reason) => (false, Some(reason.clone())),
    };
    let outcome = reason.as_ref().map_or("allowed".to_string(), |r| format!("denied: {r}"));
    if faults.malformed_json {
        let broken = ([(header::CONTENT_TYPE, "application/json")], "{\"authorized\": tru").into_response();
        return (broken, format!("{outcome} (fault: malformed JSON sent)"));
    }
    let mut reply = if faults.authorized_as_string {
        json!({"authorized": authorized.to_string()})
    } else {
        json!({"authorized": authorized})
    };
    if let Some(reason) = reason {
        reply["reason"] = json!(reason);
    }
    let suffix = if faults.authorized_as_string { " (fault: authorized sent as a string)" } else { "" };
    (Json(reply).into_response(), format!("{outcome}{suffix}"))
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
