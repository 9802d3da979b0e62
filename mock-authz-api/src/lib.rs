//! Mock enterprise authorization API: the decision endpoint the proxy calls in
//! enterprise mode, switchable into every failure a real one meets.
//!
//! `POST /api/authorize` with `{"user_id", "user_email", "provider", "client_ip",
//! "timestamp"}` answers `200 {"authorized": true}` or `200 {"authorized": false,
//! "reason": "..."}` from a [`Policy`]; verifies `X-Signature` when a secret is
//! set; and can be switched into every failure the proxy must survive
//! ([`Faults`]). Embed it with [`MockAuthzApi::spawn`] or run the binary.

pub mod config;
mod control;
pub mod faults;
mod http;
pub mod policy;
pub mod signature;

pub use config::AuthzConfig;
pub use faults::Faults;
pub use http::Received;
pub use policy::{Policy, TimeWindow};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use mock_server::{ConnectionControls, Journal, Server};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, RwLock};

pub(crate) struct App {
    pub secret: RwLock<Option<String>>,
    pub policy: RwLock<Policy>,
    pub faults: RwLock<Faults>,
    pub calls: AtomicU64,
    pub clock_offset: AtomicI64,
    pub journal: Journal<Received>,
    pub connections: ConnectionControls,
}

impl App {
    fn set_policy(&self, policy: Policy) -> Result<(), String> {
        policy.validate()?;
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = policy;
        Ok(())
    }

    fn set_faults(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        *self.faults.write().unwrap_or_else(|p| p.into_inner()) = faults;
        Ok(())
    }
}

/// A running mock authorization API. Dropping it stops the server.
pub struct MockAuthzApi {
    app: Arc<App>,
    server: Server,
}

impl MockAuthzApi {
    pub async fn spawn(config: AuthzConfig) -> std::io::Result<MockAuthzApi> {
        config.policy.validate().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = mock_server::bind(&config.host, config.port).await?;
        let connections = ConnectionControls::new();
        let app = Arc::new(App {
            secret: RwLock::new(config.secret),
            policy: RwLock::new(config.policy),
            faults: RwLock::new(Faults::default()),
            calls: AtomicU64::new(0),
            clock_offset: AtomicI64::new(0),
            journal: Journal::new(config.journal_capacity),
            connections: connections.clone(),
        });
        let router = Router::new()
            .route("/api/authorize", post(http::authorize))
            .route("/health", get(http::health))
            .nest("/__control", control::router())
            .layer(DefaultBodyLimit::max(http::MAX_BODY_BYTES))
            .with_state(app.clone());
        let server = Server::start(listener, router, connections)?;
        Ok(MockAuthzApi { app, server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// What the proxy's `api_url` should be.
    pub fn authorize_url(&self) -> String {
        format!("{}/api/authorize", self.base_url())
    }

    pub fn set_policy(&self, policy: Policy) -> Result<(), String> {
        self.app.set_policy(policy)
    }

    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        self.app.set_faults(faults)
    }

    pub fn clear_faults(&self) {
        let _ = self.app.set_faults(Faults::default());
    }

    pub fn set_secret(&self, secret: Option<String>) {
        *self.app.secret.write().unwrap_or_else(|p| p.into_inner()) = secret;
    }

    /// Shifts the clock the time window is judged by.
    pub fn set_clock_offset(&self, seconds: i64) {
        mock_server::control::Clocked::set_clock_offset(&*self.app, seconds);
    }

    /// Calls to `/api/authorize` since start.
    pub fn calls(&self) -> u64 {
        self.app.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn journal(&self) -> Vec<Received> {
        self.app.journal.entries()
    }

    pub fn clear_journal(&self) {
        self.app.journal.clear();
    }

    pub fn refuse_connections(&self, refuse: bool) {
        self.app.connections.refuse_connections(refuse);
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
