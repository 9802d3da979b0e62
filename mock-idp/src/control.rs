//! The control API under `/__control`, off the OIDC paths: what a test or a
//! developer uses to change the world while the server runs. Each route is a
//! thin JSON wrapper over the same operations the library handle offers.

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
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Longest a refuse-connections window may last through the HTTP API.
const MAX_REFUSE_MS: u64 = 600_000;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/journal", get(journal).delete(clear_journal))
        .route("/users", post(add_user))
        .route("/clients", post(add_client))
        .route("/keys/rotate", post(rotate))
        .route("/clock", get(clock).post(set_clock))
        .route("/next-login", put(next_login).delete(clear_next_login))
        .route("/faults/{issuer}", get(faults).put(set_faults).delete(clear_faults))
        .route("/refuse", post(refuse))
}

async fn journal(State(app): State<Arc<App>>) -> Response {
    Json(app.journal.entries()).into_response()
}

async fn clear_journal(State(app): State<Arc<App>>) -> StatusCode {
    app.journal.clear();
    StatusCode::NO_CONTENT
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Clock {
    offset_seconds: i64,
}

async fn clock(State(app): State<Arc<App>>) -> Response {
    Json(json!({ "offset_seconds": app.idp.clock_offset(), "now": app.idp.now() })).into_response()
}

async fn set_clock(State(app): State<Arc<App>>, Json(req): Json<Clock>) -> Response {
    // Ten years either way is plenty to expire anything and keeps arithmetic far from overflow.
    if req.offset_seconds.abs() > 10 * 365 * 86_400 {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request", "offset_seconds out of range");
    }
    app.idp.set_clock_offset(req.offset_seconds);
    StatusCode::NO_CONTENT.into_response()
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Refuse {
    for_ms: u64,
}

/// Stops listening for `for_ms`. It starts 50 ms after this reply, so the reply
/// itself is delivered; the connection it came on is closed with the others.
async fn refuse(State(app): State<Arc<App>>, Json(req): Json<Refuse>) -> Response {
    if req.for_ms == 0 || req.for_ms > MAX_REFUSE_MS {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request", "for_ms must be 1..=600000");
    }
    app.connections.refuse_for(Duration::from_millis(50), Duration::from_millis(req.for_ms));
    StatusCode::ACCEPTED.into_response()
}
