//! Errors in each API's own shape, and the injected failures: by model name
//! (`mock-error-429`, `mock-reset-mid-stream`, ...) or for every request via the
//! control API.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Which API a route belongs to: it decides the error shape and the credential header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAi,
    Anthropic,
}

/// Failures switched on for every request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Answer with this status in the API's error shape (401, 403, 429, 500, 529, ...).
    pub status: Option<u16>,
    /// `retry-after` seconds sent with a 429 or 529.
    pub retry_after_seconds: Option<u64>,
    /// Streams stop halfway with the connection reset.
    pub reset_mid_stream: bool,
}

/// What the model name asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFault {
    None,
    Status(u16),
    ResetMidStream,
    /// A non-streamed reply whose JSON trickles in a byte at a time, never idle for long but never done in time.
    Trickle,
}

/// `mock-error-NNN` answers status NNN; `mock-reset-mid-stream` breaks its stream; `mock-trickle` sends its
/// non-streamed JSON one byte every 200 ms.
pub fn model_fault(model: &str) -> ModelFault {
    if model == "mock-reset-mid-stream" {
        return ModelFault::ResetMidStream;
    }
    if model == "mock-trickle" {
        return ModelFault::Trickle;
    }
    match model.strip_prefix("mock-error-").and_then(|s| s.parse::<u16>().ok()) {
        Some(status) if (400..=599).contains(&status) => ModelFault::Status(status),
        _ => ModelFault::None,
    }
}

/// A request turned away before a reply is built; rendered in the API's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub status: u16,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl Rejection {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Rejection { status, message: message.into(), retry_after: None }
    }

    pub fn into_response(self, api: Api) -> Response {
        error(api, self.status, &self.message, self.retry_after)
    }
}

/// An error response as the real API sends it.
pub fn error(api: Api, status: u16, message: &str, retry_after: Option<u64>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match api {
        Api::OpenAi => {
            let (kind, code_name) = match status {
                401 => ("invalid_request_error", json!("invalid_api_key")),
                403 => ("invalid_request_error", json!("permission_denied")),
                404 => ("invalid_request_error", json!("model_not_found")),
                429 => ("requests", json!("rate_limit_exceeded")),
                400..=499 => ("invalid_request_error", json!(null)),
                _ => ("server_error", json!(null)),
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": code_name}})
        }
        Api::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
    };
    let mut response = (code, Json(body)).into_response();
    if let Some(seconds) = retry_after.filter(|_| matches!(status, 429 | 503 | 529)) {
        response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
    }
    if api == Api::Anthropic {
        response.headers_mut().insert("request-id", HeaderValue::from_static("req_mock_error"));
    }
    response
}

/// The message a real API would give for an injected status.
pub fn injected_message(status: u16) -> &'static str {
    match status {
        401 => "Incorrect API key provided (injected fault).",
        403 => "Permission denied (injected fault).",
        429 => "Rate limit reached (injected fault). Please retry after the indicated time.",
        529 => "Overloaded (injected fault).",
        500..=599 => "The server had an error while processing your request (injected fault).",
        _ => "Request failed (injected fault).",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_select_faults() {
        assert_eq!(model_fault("mock-error-429"), ModelFault::Status(429));
        assert_eq!(model_fault("mock-error-200"), ModelFault::None);
        assert_eq!(model_fault("mock-error-x"), ModelFault::None);
        assert_eq!(model_fault("mock-reset-mid-stream"), ModelFault::ResetMidStream);
        assert_eq!(model_fault("gpt-4o"), ModelFault::None);
    }
}
