//! The JSON answers of the endpoints a terminal talks to (RFC 6749 section
//! 5.1 and 5.2, RFC 8628 section 3.5): never cached, errors as `error` and
//! `error_description`.

use crate::store::StoreError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A JSON answer of the token endpoints, never cached (RFC 6749 section 5.1).
pub fn oauth(status: StatusCode, body: serde_json::Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    oauth(status, json!({ "error": error, "error_description": description }))
}

pub fn unavailable(e: &StoreError) -> Response {
    tracing::error!("token store: {e}");
    oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "The proxy's database could not be used.")
}
