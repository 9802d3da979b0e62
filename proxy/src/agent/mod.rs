//! The agent-facing API: credentials in, a verdict from the one auth layer,
//! then a sandbox reply or the upstream's answer.

pub mod access;
pub mod auth;
pub mod credentials;
pub mod errors;
pub mod forward;
pub mod routes;
pub mod sandbox;
pub mod shape;
pub mod state;
pub mod upstream_client;

pub use state::AgentState;

use auth::Verdict;
use axum::extract::{Request, State};
use axum::http::Uri;
use axum::response::Response;
use routes::Api;
use std::sync::Arc;

/// Forwards an agent request that the auth layer let through. The request is
/// taken whole (no copy of its headers), and its body is the one the auth layer
/// already buffered.
pub async fn forward(State(state): State<Arc<AgentState>>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let Some(route) = routes::classify(parts.uri.path()) else {
        return not_found_response(&state, parts.uri.path());
    };
    // Defence in depth: only a verdict from the auth layer lets a request through.
    match parts.extensions.remove::<Verdict>() {
        Some(Verdict::Authenticated { .. } | Verdict::Open) => {}
        _ => return errors::response(route.api(), 401, "Not authenticated."),
    }
    let limit = state.config.server.max_body_bytes;
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        return errors::response(route.api(), 413, "Request body too large.");
    };
    state.forwarder.send(route, parts, body, &state.metrics).await
}

pub async fn not_found(State(state): State<Arc<AgentState>>, uri: Uri) -> Response {
    not_found_response(&state, uri.path())
}

/// 404 that says what the base URL should be (the guide's "missing /v1" mistake).
fn not_found_response(state: &AgentState, path: &str) -> Response {
    let base = state.links.base_url();
    let message = format!(
        "Unknown path {path}. Point OpenAI-compatible agents at the base URL {base}/v1 \
         (not {base} and not {base}/v1/), and Anthropic clients at {base}."
    );
    let api = if path.contains("messages") { Api::Anthropic } else { Api::OpenAi };
    errors::response(api, 404, &message)
}
