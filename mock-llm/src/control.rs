//! `/__control`: faults, stream settings, journal, refuse connections.

use crate::{App, Faults, Received, StreamSettings};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/journal", get(journal).delete(clear_journal))
        .route("/faults", get(faults).put(set_faults).delete(clear_faults))
        .route("/settings", get(settings).put(set_settings))
        .route("/refuse", post(refuse))
}

pub fn apply_settings(app: &App, settings: &StreamSettings) -> Result<(), String> {
    settings.validate()?;
    app.settings.chunks.store(settings.stream_chunks, Ordering::Relaxed);
    app.settings.chunk_delay_ms.store(settings.chunk_delay_ms, Ordering::Relaxed);
    app.settings.large_reply_bytes.store(settings.large_reply_bytes, Ordering::Relaxed);
    Ok(())
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

async fn journal(State(app): State<Arc<App>>) -> Json<Vec<Received>> {
    Json(app.journal.entries())
}

async fn clear_journal(State(app): State<Arc<App>>) -> StatusCode {
    app.journal.clear();
    StatusCode::NO_CONTENT
}

async fn faults(State(app): State<Arc<App>>) -> Json<Faults> {
    Json(app.faults())
}

async fn set_faults(State(app): State<Arc<App>>, Json(faults): Json<Faults>) -> Response {
    match app.set_faults(&faults) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => bad_request(&e),
    }
}

async fn clear_faults(State(app): State<Arc<App>>) -> StatusCode {
    let _ = app.set_faults(&Faults::default());
    StatusCode::NO_CONTENT
}

async fn settings(State(app): State<Arc<App>>) -> Json<StreamSettings> {
    Json(StreamSettings {
        stream_chunks: app.settings.chunks(),
        chunk_delay_ms: app.settings.chunk_delay_ms.load(Ordering::Relaxed),
        large_reply_bytes: app.settings.large_reply_bytes(),
    })
}

async fn set_settings(State(app): State<Arc<App>>, Json(settings): Json<StreamSettings>) -> Response {
    match apply_settings(&app, &settings) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => bad_request(&e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Refuse {
    for_ms: u64,
}

async fn refuse(State(app): State<Arc<App>>, Json(req): Json<Refuse>) -> Response {
    if req.for_ms == 0 || req.for_ms > 600_000 {
        return bad_request("for_ms must be 1..=600000");
    }
    app.connections.refuse_for(Duration::from_millis(50), Duration::from_millis(req.for_ms));
    StatusCode::ACCEPTED.into_response()
}
