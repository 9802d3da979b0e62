//! Operational endpoints: `/health` (the process answers), `/ready` (its
//! dependencies answer), `/metrics` (Prometheus).

use crate::server::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

pub async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when the token store answers (and, once issue 5 lands, every provider's
/// discovery document is usable); 503 naming the failing check otherwise.
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let database = match &state.store {
        None => "not used (SSO disabled)".to_string(),
        Some(store) => match store.ping().await {
            Ok(()) => "ok".to_string(),
            Err(e) => {
                let body = json!({"status": "not ready", "checks": {"database": e.to_string()}});
                return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
            }
        },
    };
    Json(json!({"status": "ready", "checks": {"database": database}})).into_response()
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}
