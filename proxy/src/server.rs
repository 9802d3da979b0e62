//! Router assembly and the server's life: state passed explicitly, HTTP
//! concerns as layers (path normalization, auth) around plain handlers, and a
//! graceful shutdown that lets in-flight streams finish.

use crate::agent::auth::{self, Verdict};
use crate::agent::errors;
use crate::agent::forward::Forwarder;
use crate::agent::routes::{self, Api};
use crate::clock::Clock;
use crate::config::Config;
use crate::links::Links;
use crate::metrics::Metrics;
use crate::ops;
use crate::sso::pages::Pages;
use crate::sso::providers::ProviderRuntime;
use crate::store::AsyncStore;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::Uri;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{any, get};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Everything handlers share. Built once at startup.
pub struct AppState {
    pub config: Arc<Config>,
    /// `None` while SSO is disabled.
    pub store: Option<AsyncStore>,
    pub links: Links,
    pub forwarder: Forwarder,
    pub metrics: Metrics,
    pub clock: Clock,
    /// Configured identity providers by (case-sensitive) name.
    pub providers: BTreeMap<String, Arc<ProviderRuntime>>,
    pub pages: Pages,
    /// For the IdPs and the authorization API; honours HTTP(S)_PROXY and NO_PROXY.
    pub http: reqwest::Client,
}

/// The whole HTTP surface, with path normalization applied before routing.
pub fn app(state: Arc<AppState>) -> axum::routing::RouterIntoService<axum::body::Body> {
    let agent = Router::new()
        .route("/v1/{*rest}", any(forward))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::layer));
    Router::new()
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .merge(agent)
        .merge(crate::sso::flow::router())
        .fallback(not_found)
        // The auth layer enforces server.max_body_bytes itself, with an API-shaped 413.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
        .into_service()
}

/// `/v1//chat/completions/` -> `/v1/chat/completions`, before routing.
pub fn normalize_path(mut request: Request) -> Request {
    let path = request.uri().path();
    let normalized = routes::normalize(path);
    if normalized != path {
        let rebuilt = match request.uri().query() {
            Some(q) => format!("{normalized}?{q}"),
            None => normalized,
        };
        if let Ok(uri) = rebuilt.parse::<Uri>() {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// Forwards an agent request that the auth layer let through.
async fn forward(
    State(state): State<Arc<AppState>>,
    verdict: Option<axum::Extension<Verdict>>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let Some(route) = routes::classify(parts.uri.path()) else {
        return not_found_response(&state, parts.uri.path());
    };
    // Defence in depth: only a verdict from the auth layer lets a request through.
    match verdict.map(|v| v.0) {
        Some(Verdict::Authenticated(_) | Verdict::Open) => {}
        _ => return errors::response(route.api(), 401, "Not authenticated."),
    }
    state.forwarder.send(route, &parts, body, &state.metrics).await
}

async fn not_found(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    not_found_response(&state, uri.path())
}

/// 404 that says what the base URL should be (the guide's "missing /v1" mistake).
fn not_found_response(state: &AppState, path: &str) -> Response {
    let base = state.links.base_url();
    let message = format!(
        "Unknown path {path}. Point OpenAI-compatible agents at the base URL {base}/v1 \
         (not {base} and not {base}/v1/), and Anthropic clients at {base}."
    );
    let api = if path.contains("messages") { Api::Anthropic } else { Api::OpenAi };
    errors::response(api, 404, &message)
}
