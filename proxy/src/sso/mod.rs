//! The sign-in half of the proxy, as a one-way stack (each file uses only the
//! ones above it in this list):
//!
//! - bottom: [`random`], [`cookies`], [`pages`], [`providers`] (OIDC), [`error`]
//!   (every failed step as one [`SignInError`]), [`state`], [`oauth`] (the
//!   terminal endpoints' JSON), [`guard`] (client identity and backoff);
//! - [`flow`]: what a sign-in carries (its [`flow::Outcome`]), its lifetimes,
//!   its admission under the caps;
//! - [`grant`]: the end of an authorized sign-in (issue, renew, approve or
//!   refuse a terminal's request) and the pages that say so;
//! - [`authorize`]: the configured mode (console code, enterprise API);
//! - the handlers: [`login`] (the OIDC code flow), [`confirm`] (the console
//!   code's page), [`device`] (a terminal's sign-in, RFC 8628), [`revoke`].
//!
//! `tests/layout.rs` checks the order: no file reaches one below it back.
//! Every decision on shared sign-in state is one store statement (take once,
//! claim an attempt, insert under a cap): concurrent requests cannot both win.

pub mod authorize;
pub mod confirm;
pub mod cookies;
pub mod device;
pub mod error;
pub mod flow;
pub mod grant;
pub mod guard;
pub mod login;
pub mod oauth;
pub mod pages;
pub mod providers;
pub mod random;
pub mod revoke;
pub mod state;

pub use error::SignInError;
pub use state::SsoState;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;

/// The largest form or query the `/auth` pages accept: a confirmation form is a
/// few dozen bytes; nothing an anonymous client sends here is buffered beyond it.
pub const MAX_FORM_BYTES: usize = 4 * 1024;

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
            .route("/auth/revoke", post(revoke::revoke))
            .route("/auth/static/copy.js", get(pages::copy_js))
            .with_state(state),
        None => Router::new().route("/auth", get(not_enabled)).route("/auth/{*rest}", axum::routing::any(not_enabled)),
    };
    routes.layer(DefaultBodyLimit::max(MAX_FORM_BYTES)).layer(axum::middleware::from_fn(bounded_body))
}

/// Every `/auth` body is read here, up to [`MAX_FORM_BYTES`], before a handler sees it: more is a `413`,
/// whatever a handler would make of a body it cannot parse (the OAuth endpoints answer their own errors).
async fn bounded_body(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
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
    SignInError::NotEnabled.into_response()
}
