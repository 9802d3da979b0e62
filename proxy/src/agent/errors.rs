//! Error bodies in each API's own shape, so SDKs raise their usual exceptions
//! (an `openai.APIStatusError`, an `anthropic.APIStatusError`) with our message.

use super::routes::Api;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub fn body(api: Api, status: u16, message: &str) -> Value {
    match api {
        Api::OpenAi => {
            let (kind, code) = match status {
                401 => ("invalid_request_error", json!("invalid_api_key")),
                403 => ("invalid_request_error", json!("model_not_allowed")),
                404 => ("invalid_request_error", json!("not_found")),
                413 => ("invalid_request_error", json!("request_too_large")),
                400..=499 => ("invalid_request_error", Value::Null),
                502 | 504 => ("server_error", json!("upstream_unavailable")),
                _ => ("server_error", Value::Null),
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
        Api::Anthropic => {
            let kind = match status {
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                400..=499 => "invalid_request_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
    }
}

pub fn response(api: Api, status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (code, body(api, status, message).to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
