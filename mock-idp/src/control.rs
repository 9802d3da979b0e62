//! The control API under `/__control`, off the OIDC paths: what a test or a
//! developer uses to change the world while the server runs. The journal,
//! refuse and clock routes are the shared control plane (`mock_server::control`);
//! users, clients, keys, the next login and per-issuer faults are the IdP's own.
//! Each route is a thin JSON wrapper over the same operations the library handle offers.

use crate::App;
use crate::config::{Client, User};
use crate::faults::Faults;
use crate::http::json_error;
use crate::state::NextLogin;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use mock_server::control::{self, Clocked, Controlled};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .merge(control::routes::<App>())
        .merge(control::clock_routes::<App>())
        .route("/users", post(add_user))
        .route("/clients", post(add_client))
        .route("/keys/rotate", post(rotate))
        .route("/next-login", put(next_login).delete(clear_next_login))
        .route("/faults/{issuer}", get(faults).put(set_faults).delete(clear_faults))
}

impl Controlled for App {
    type Entry = crate::journal::JournalEntry;
    fn journal(&self) -> &mock_server::Journal<Self::Entry> {
        &self.journal
    }
    fn connections(&self) -> &mock_server::ConnectionControls {
        &self.connections
    }
}

impl Clocked for App {
    fn clock_offset(&self) -> i64 {
        self.idp.clock_offset()
    }
    fn set_clock_offset(&self, seconds: i64) {
        self.idp.set_clock_offset(seconds);
    }
    fn now(&self) -> i64 {
        self.idp.now()
    }
}

async fn add_user(State(app): State<Arc<App>>, Json(user): Json<User>) -> StatusCode {
    app.idp.upsert_user(user);
    StatusCode::NO_CONTENT
}

async fn add_client(State(app): State<Arc<App>>, Json(client): Json<Client>) -> StatusCode {
    app.idp.upsert_client(client);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rotate {
    issuer: String,
    #[serde(default = "keep")]
    keep_previous: bool,
}

fn keep() -> bool {
    true
}

async fn rotate(State(app): State<Arc<App>>, Json(req): Json<Rotate>) -> Response {
    let result = tokio::task::spawn_blocking(move || app.idp.rotate_keys(&req.issuer, req.keep_previous)).await;
    match result {
        Ok(Ok(kid)) => Json(json!({ "kid": kid })).into_response(),
        Ok(Err(message)) => json_error(StatusCode::BAD_REQUEST, "invalid_request", &message),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e.to_string()),
    }
}

async fn next_login(State(app): State<Arc<App>>, Json(next): Json<NextLogin>) -> Response {
    if next.email.is_none() && !next.deny {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request", "give an email, or deny: true");
    }
    app.idp.set_next_login(Some(next));
    StatusCode::NO_CONTENT.into_response()
}

async fn clear_next_login(State(app): State<Arc<App>>) -> StatusCode {
    app.idp.set_next_login(None);
    StatusCode::NO_CONTENT
}

async fn faults(State(app): State<Arc<App>>, Path(issuer): Path<String>) -> Response {
    match app.idp.faults(&issuer) {
        Some(f) => Json(f).into_response(),
        None => json_error(StatusCode::NOT_FOUND, "not_found", &format!("unknown issuer {issuer:?}")),
    }
}

async fn set_faults(State(app): State<Arc<App>>, Path(issuer): Path<String>, Json(faults): Json<Faults>) -> Response {
    match app.idp.set_faults(&issuer, faults) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => json_error(StatusCode::BAD_REQUEST, "invalid_request", &message),
    }
}

async fn clear_faults(State(app): State<Arc<App>>, Path(issuer): Path<String>) -> Response {
    match app.idp.set_faults(&issuer, Faults::default()) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => json_error(StatusCode::NOT_FOUND, "not_found", &message),
    }
}
