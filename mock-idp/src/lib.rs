//! Mock OpenID Connect providers: a Google-like, a Microsoft-like (Entra ID v2)
//! and a generic issuer behind one HTTP server, each under its own path prefix.
//!
//! Good enough that an unmodified OIDC client library signs in against it, and
//! switchable into the failures real deployments meet (see [`faults`]). Embed it
//! in a test with [`MockIdp::spawn`], or run the `mock-idp` binary for offline work.
//!
//! ```text
//! /google/.well-known/openid-configuration            Google layout (o/oauth2/v2/auth, token, v1/userinfo, oauth2/v3/certs)
//! /microsoft/{tenant}/v2.0/.well-known/openid-configuration   Entra layout; tenant = GUID | common | organizations | consumers
//! /generic/.well-known/openid-configuration           authorize, token, userinfo, jwks
//! /__control/...                                      test control API (journal, users, keys, clock, faults)
//! ```

pub mod authorize;
pub mod config;
mod control;
pub mod faults;
mod http;
pub mod issuers;
pub mod journal;
pub mod jwt;
pub mod keys;
mod pages;
pub mod state;
pub mod token;

pub use config::{Client, IdpConfig, IssuerConfig, IssuerKind, User};
pub use faults::{Endpoint, Faults, TokenFault};
pub use journal::JournalEntry;
pub use state::NextLogin;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get};
use mock_server::{ConnectionControls, Server};
use std::net::SocketAddr;
use std::sync::Arc;

/// What every handler shares.
pub(crate) struct App {
    pub idp: state::Idp,
    pub pages: pages::Pages,
    pub journal: mock_server::Journal<JournalEntry>,
    pub connections: ConnectionControls,
}

/// Why the mock could not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("invalid configuration: {0}")]
    Config(#[from] config::ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("signing keys: {0}")]
    Keys(String),
    #[error("templates failed to load: {0}")]
    Templates(#[from] minijinja::Error),
}

/// A running mock provider. Dropping it stops the server.
pub struct MockIdp {
    app: Arc<App>,
    server: Server,
}

impl MockIdp {
    /// Binds, generates keys and starts serving. With `port: 0` an ephemeral port is used.
    pub async fn spawn(config: IdpConfig) -> Result<MockIdp, SpawnError> {
        config.check().map_err(config::ConfigError::Invalid)?;
        let bind = format!("{}:{}", config.host, config.port);
        let listener = mock_server::bind(&config.host, config.port)
            .await
            .map_err(|source| SpawnError::Bind { addr: bind.clone(), source })?;
        let addr = listener.local_addr().map_err(|source| SpawnError::Bind { addr: bind.clone(), source })?;
        let base_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        let idp = tokio::task::spawn_blocking(move || state::Idp::new(&config, base_url))
            .await
            .map_err(|e| SpawnError::Keys(e.to_string()))?
            .map_err(SpawnError::Keys)?;
        let connections = ConnectionControls::new();
        let app = Arc::new(App {
            idp,
            pages: pages::Pages::new()?,
            journal: mock_server::Journal::new(journal::CAPACITY),
            connections: connections.clone(),
        });
        let router = Router::new()
            .route("/", get(index))
            .nest("/__control", control::router())
            .route("/{issuer}/{*rest}", any(http::issuer_endpoint))
            .layer(DefaultBodyLimit::max(http::MAX_BODY_BYTES))
            .with_state(app.clone());
        let server =
            Server::start(listener, router, connections).map_err(|source| SpawnError::Bind { addr: bind, source })?;
        Ok(MockIdp { app, server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:{port}` (or the configured public URL).
    pub fn base_url(&self) -> &str {
        &self.app.idp.base_url
    }

    /// The root of an issuer's URLs; for Google-like and generic issuers, the issuer itself.
    pub fn issuer_url(&self, issuer: &str) -> String {
        self.app.idp.issuer_root(issuer)
    }

    /// The discovery URL of an issuer; `tenant` is used by Microsoft-like issuers only.
    pub fn discovery_url(&self, issuer: &str, tenant: Option<&str>) -> Option<String> {
        let kind = self.app.idp.lock().issuers.get(issuer).map(|i| i.kind)?;
        let root = self.issuer_url(issuer);
        Some(issuers::Layout { kind, root: &root }.url(Endpoint::Discovery, tenant.or(Some("common"))))
    }

    pub fn add_user(&self, user: User) {
        self.app.idp.upsert_user(user);
    }

    pub fn add_client(&self, client: Client) {
        self.app.idp.upsert_client(client);
    }

    /// Publishes a new signing key (keeping the old ones published when asked) and returns its `kid`.
    pub async fn rotate_keys(&self, issuer: &str, keep_previous: bool) -> Result<String, String> {
        let app = self.app.clone();
        let issuer = issuer.to_string();
        tokio::task::spawn_blocking(move || app.idp.rotate_keys(&issuer, keep_previous))
            .await
            .map_err(|e| e.to_string())?
    }

    pub fn set_faults(&self, issuer: &str, faults: Faults) -> Result<(), String> {
        self.app.idp.set_faults(issuer, faults)
    }

    /// The faults an issuer is switched into; `None` for an unknown issuer.
    pub fn faults(&self, issuer: &str) -> Option<Faults> {
        self.app.idp.faults(issuer)
    }

    pub fn clear_faults(&self, issuer: &str) -> Result<(), String> {
        self.app.idp.set_faults(issuer, Faults::default())
    }

    /// Shifts the provider's clock (token `iat`/`exp`, code expiry) by `seconds`.
    pub fn set_clock_offset(&self, seconds: i64) {
        self.app.idp.set_clock_offset(seconds);
    }

    /// Decides the next sign-in in advance: who signs in, or that the user denies.
    pub fn set_next_login(&self, next: NextLogin) {
        self.app.idp.set_next_login(Some(next));
    }

    pub fn journal(&self) -> Vec<JournalEntry> {
        self.app.journal.entries()
    }

    pub fn clear_journal(&self) {
        self.app.journal.clear();
    }

    /// Closes the listening socket (and open connections) until called with `false`.
    pub fn refuse_connections(&self, refuse: bool) {
        self.app.connections.refuse_connections(refuse);
    }

    /// Stops serving and waits for the accept loop to end.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// `GET /`: where everything is, for a developer poking at the mock with a browser or curl.
async fn index(axum::extract::State(app): axum::extract::State<Arc<App>>) -> axum::Json<serde_json::Value> {
    let state = app.idp.lock();
    let issuers: serde_json::Map<String, serde_json::Value> = state
        .issuers
        .iter()
        .map(|(name, issuer)| {
            let root = app.idp.issuer_root(name);
            let layout = issuers::Layout { kind: issuer.kind, root: &root };
            let discovery = layout.url(Endpoint::Discovery, Some("common"));
            (name.clone(), serde_json::json!({ "kind": issuer.kind, "discovery": discovery }))
        })
        .collect();
    let users: Vec<&str> = state.users.iter().map(|u| u.email.as_str()).collect();
    let clients: Vec<&str> = state.clients.iter().map(|c| c.client_id.as_str()).collect();
    axum::Json(serde_json::json!({ "issuers": issuers, "users": users, "clients": clients, "control": "/__control" }))
}
