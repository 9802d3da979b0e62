//! Router assembly: state passed explicitly, HTTP concerns as layers around
//! plain handlers. From the outside in:
//!
//! 1. path screening: dot segments and hidden slashes are refused (API-shaped
//!    400), repeated slashes collapsed, before routing;
//! 2. `/health`, `/ready`, `/metrics`, exempt from the request cap;
//! 3. admission: at most `server.max_concurrent_requests` requests in progress
//!    (a streamed reply holds its slot until it ends), past it a 503 with
//!    `Retry-After`;
//! 4. `/v1/*` behind the one auth layer, `/auth/*` with its own small body
//!    limit, and a 404 that names the right base URL.
//!
//! Connection-level limits (count, header timeout) live in [`crate::connections`].

use crate::agent::auth::{self, Verdict};
use crate::agent::errors;
use crate::agent::forward::Forwarder;
use crate::agent::routes::{self, Api};
use crate::clock::Clock;
use crate::config::Config;
use crate::links::Links;
use crate::metrics::Metrics;
use crate::ops;
use crate::sso::SsoState;
use crate::sso::providers::ProviderRuntime;
use crate::store::AsyncStore;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What the agent-facing handlers and the operational endpoints share.
pub struct AppState {
    pub config: Arc<Config>,
    /// `None` while SSO is disabled.
    pub store: Option<AsyncStore>,
    pub links: Links,
    pub forwarder: Forwarder,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    /// Configured identity providers by (case-sensitive) name (for `/ready`).
    pub providers: BTreeMap<String, Arc<ProviderRuntime>>,
}

/// The whole HTTP surface.
pub fn app(state: Arc<AppState>, sso: Option<Arc<SsoState>>) -> Router {
    let gate = Arc::new(Semaphore::new(state.config.server.max_concurrent_requests.max(1)));
    let agent = Router::new()
        .route("/v1/{*rest}", any(forward))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::layer))
        // The auth layer enforces server.max_body_bytes while reading, with an API-shaped 413.
        .layer(DefaultBodyLimit::disable());
    let admitted = Router::new()
        .merge(agent)
        .fallback(not_found)
        .with_state(state.clone())
        .merge(crate::sso::router(sso))
        .layer(middleware::from_fn_with_state((gate, state.metrics.clone()), admit));
    let inner = Router::new()
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .with_state(state)
        .fallback_service(admitted);
    // Outside the router, so the screened path is the one that gets routed.
    Router::new().fallback_service(inner).layer(middleware::from_fn(screen_path))
}

/// Refuses paths that could climb out of the upstream's base; normalizes the rest
/// (`/v1//chat/completions/` -> `/v1/chat/completions`).
async fn screen_path(mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if routes::escapes_base(path) {
        let api = if path.contains("messages") { Api::Anthropic } else { Api::OpenAi };
        return errors::response(api, 400, "Path segments '.' and '..' (also percent-encoded) are not allowed.");
    }
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
    next.run(request).await
}

/// At most `server.max_concurrent_requests` in progress; the slot is held until
/// the response body (a stream, maybe) has been sent.
async fn admit(
    State((gate, metrics)): State<(Arc<Semaphore>, Arc<Metrics>)>,
    request: Request,
    next: Next,
) -> Response {
    let Ok(slot) = gate.try_acquire_owned() else {
        metrics.event("overloaded");
        let path = request.uri().path();
        let api = if path.contains("messages") { Api::Anthropic } else { Api::OpenAi };
        let mut response =
            errors::response(api, 503, "The proxy is handling as many requests as it may; retry in a moment.");
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    next.run(request).await.map(|body| Body::new(Held { body, _slot: slot }))
}

/// A response body that keeps its admission slot until it is done or dropped.
struct Held {
    body: Body,
    _slot: OwnedSemaphorePermit,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
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
