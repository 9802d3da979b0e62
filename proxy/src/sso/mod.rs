//! The browser half: provider selection and the OIDC code flow ([`login`]),
//! authorization by a console code ([`confirm`]) or the enterprise API, then
//! token issuance or renewal ([`grant`]); the same for a terminal that signs in
//! with RFC 8628 device authorization ([`device`]); backoff and client identity in
//! [`guard`], cookies in [`cookies`], pages from [`pages`].
//!
//! Every decision on shared sign-in state is one store statement (take once,
//! claim an attempt, insert under a cap): concurrent requests cannot both win.

pub mod confirm;
pub mod cookies;
pub mod device;
pub mod grant;
pub mod guard;
pub mod login;
pub mod pages;
pub mod providers;

use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{AsyncStore, StoreError};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use pages::Pages;
use providers::ProviderRuntime;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The largest form or query the `/auth` pages accept: a confirmation form is a
/// few dozen bytes; nothing an anonymous client sends here is buffered beyond it.
pub const MAX_FORM_BYTES: usize = 4 * 1024;

/// What the sign-in handlers share. It exists only while SSO is enabled, so the
/// store is always there.
pub struct SsoState {
    pub config: Arc<Config>,
    pub store: AsyncStore,
    pub providers: BTreeMap<String, Arc<ProviderRuntime>>,
    pub pages: Pages,
    /// For the IdPs and the authorization API; honours HTTP(S)_PROXY and NO_PROXY.
    pub http: reqwest::Client,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
}

impl SsoState {
    /// The page for a store failure (the details go to the log, not the browser).
    pub fn store_error(&self, e: &StoreError) -> Response {
        tracing::error!("token store: {e}");
        self.pages.error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "The proxy's database could not be used. Try again in a moment.",
            None,
            false,
        )
    }
}

/// `/auth/*`, with its small body limit. Without SSO every page says so.
pub fn router(state: Option<Arc<SsoState>>) -> Router {
    let routes = match state {
        Some(state) => Router::new()
            .route("/auth/login", get(login::providers_page))
            .route("/auth/login/{provider}", get(login::start))
            .route("/auth/callback", get(login::callback))
            .route("/auth/confirm", get(confirm::page).post(confirm::submit))
            .route("/auth/device", get(device::entry_page).post(device::verify))
            .route("/auth/device/code", post(device::request_code))
            .route("/auth/device/token", post(device::poll))
            .route("/auth/device/refuse", post(device::refuse))
            .route("/auth/revoke", post(device::revoke))
            .route("/auth/static/copy.js", get(pages::copy_js))
            .with_state(state),
        None => Router::new().route("/auth", get(not_enabled)).route("/auth/{*rest}", axum::routing::any(not_enabled)),
    };
    routes.layer(DefaultBodyLimit::max(MAX_FORM_BYTES)).layer(axum::middleware::from_fn(bounded_body))
}

/// Every `/auth` body is read here, up to [`MAX_FORM_BYTES`], before a handler sees it: more is a `413`,
/// whatever a handler would make of a body it cannot parse (the OAuth endpoints answer their own errors).
async fn bounded_body(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    let too_large =
        || (StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large for a sign-in form.").into_response();
    let declared = request.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    if declared.and_then(|v| v.trim().parse::<u64>().ok()).is_some_and(|n| n > MAX_FORM_BYTES as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match http_body_util::Limited::new(body, MAX_FORM_BYTES).collect().await {
        Ok(read) => next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(read.to_bytes()))).await,
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => too_large(),
        Err(_) => (StatusCode::BAD_REQUEST, "The request body could not be read.").into_response(),
    }
}

async fn not_enabled() -> Response {
    match Pages::new() {
        Ok(pages) => pages.error(
            StatusCode::NOT_FOUND,
            "SSO is not enabled",
            "This proxy runs without sign-in (sso.enabled is false).",
            None,
            false,
        ),
        Err(_) => axum::response::IntoResponse::into_response((StatusCode::NOT_FOUND, "SSO is not enabled")),
    }
}

/// 32 random bytes from the OS, URL-safe: state, nonce, verifier, ids.
pub fn random(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}
