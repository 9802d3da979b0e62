//! `/__control`: the shared control plane (journal, refuse, faults; see
//! `mock_server::control`) plus what is the upstream's own: stream settings.

use crate::{App, Faults, Received, StreamSettings};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use mock_server::control::{self, Controlled, Faulty};
use mock_server::{ConnectionControls, Journal};
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .merge(control::routes::<App>())
        .merge(control::fault_routes::<App>())
        .route("/settings", get(settings).put(set_settings))
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
        App::faults(self)
    }
    fn set_faults(&self, faults: Faults) -> Result<(), String> {
        App::set_faults(self, &faults)
    }
}

pub fn apply_settings(app: &App, settings: &StreamSettings) -> Result<(), String> {
    settings.validate()?;
    app.settings.chunks.store(settings.stream_chunks, Ordering::Relaxed);
    app.settings.chunk_delay_ms.store(settings.chunk_delay_ms, Ordering::Relaxed);
    app.settings.large_reply_bytes.store(settings.large_reply_bytes, Ordering::Relaxed);
    Ok(())
}

fn bad_request(message: &str) -> Response {
    control::error(StatusCode::BAD_REQUEST, "invalid_request", message)
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
