//! `/__control`: the shared control plane (journal, refuse, faults, clock; see
//! `mock_server::control`) plus what is this API's own: the policy and the secret.

use crate::{App, Faults, Policy, Received};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use mock_server::control::{self, Clocked, Controlled, Faulty};
use mock_server::{ConnectionControls, Journal};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .merge(control::routes::<App>())
        .merge(control::fault_routes::<App>())
        .merge(control::clock_routes::<App>())
        .route("/policy", get(policy).put(set_policy))
        .route("/secret", put(set_secret))
}

impl Controlled for App {
    type Entry = Received;
    fn journal(&self) -> &Journal<Received> {
        &self.journal
    }
    fn connections(&self) -> &ConnectionControls {
        &self.connections
    }
}

impl Faulty for App {
    type Faults = Faults;
    fn faults(&self) -> Faults {
        self.faults.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn set_faults(&self, faults: Faults) -> Result<(), String> {
        App::set_faults(self, faults)
    }
}

impl Clocked for App {
    fn clock_offset(&self) -> i64 {
        self.clock_offset.load(Ordering::Relaxed)
    }
    fn set_clock_offset(&self, seconds: i64) {
        self.clock_offset.store(seconds, Ordering::Relaxed);
    }
    fn now(&self) -> i64 {
        crate::http::now_ms() / 1000 + self.clock_offset()
    }
}

async fn policy(State(app): State<Arc<App>>) -> Json<Policy> {
    Json(app.policy.read().unwrap_or_else(|p| p.into_inner()).clone())
}

async fn set_policy(State(app): State<Arc<App>>, Json(policy): Json<Policy>) -> Response {
    match app.set_policy(policy) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => control::error(StatusCode::BAD_REQUEST, "invalid_request", &e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Secret {
    secret: Option<String>,
}

async fn set_secret(State(app): State<Arc<App>>, Json(req): Json<Secret>) -> StatusCode {
    *app.secret.write().unwrap_or_else(|p| p.into_inner()) = req.secret;
    StatusCode::NO_CONTENT
}
