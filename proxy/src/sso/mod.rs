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
    routes.layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
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
