//! Operational endpoints: `/health` (the process answers), `/ready` (its
//! dependencies answer), `/metrics` (Prometheus).

use crate::metrics::Metrics;
use crate::sso::providers::ProviderRuntime;
use crate::store::{AsyncStore, Store};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the operational endpoints read.
pub struct OpsState {
    /// `None` while SSO is disabled.
    pub store: Option<AsyncStore>,
    /// Configured identity providers by name.
    pub providers: BTreeMap<String, Arc<ProviderRuntime>>,
    pub metrics: Arc<Metrics>,
}

pub async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when the token store answers and every provider's discovery document is
/// loaded; 503 naming the failing check otherwise.
pub async fn ready(State(state): State<Arc<OpsState>>) -> Response {
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
    let mut checks = serde_json::Map::new();
    checks.insert("database".into(), json!(database));
    let mut ready = true;
    for (name, provider) in &state.providers {
        let ok = provider.is_ready();
        ready &= ok;
        checks.insert(format!("provider {name}"), json!(if ok { "ok" } else { "discovery document not loaded" }));
    }
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({"status": if ready { "ready" } else { "not ready" }, "checks": checks}))).into_response()
}

pub async fn metrics(State(state): State<Arc<OpsState>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}
