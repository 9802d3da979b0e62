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
//!
//! [`Server`] is the library's way to run a proxy: `Server::build(config)` opens
//! the store, binds and assembles everything; `run(shutdown)` serves until the
//! shutdown future completes. The command line, the kit and embedding programs
//! all go through it.

use crate::agent::forward::Forwarder;
use crate::agent::routes::{self, Api};
use crate::agent::{self, AgentState, auth, errors};
use crate::authz::policy::EmailFiles;
use crate::clock::Clock;
use crate::config::Config;
use crate::connections::{self, Limits};
use crate::links::Links;
use crate::metrics::Metrics;
use crate::ops::{self, OpsState};
use crate::sso::SsoState;
use crate::sso::providers::ProviderRuntime;
use crate::store::{AsyncStore, Store, postgres::PgStore, sqlite::SqliteStore};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A proxy ready to serve: the store open, the port bound, the router built.
pub struct Server {
    config: Arc<Config>,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::rustls::ServerConfig>,
    app: Router,
    limits: Limits,
}

/// Why a server could not be built; `Display` is what the operator reads.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database {0}")]
    Database(String),
    #[error("cannot build the upstream client: {0}")]
    UpstreamClient(String),
    #[error("{0}")]
    Tls(String),
    #[error(
        "cannot listen on {host}:{port}: {error}\n  hint: another process (maybe an earlier proxy) holds the port: \
         find it with `lsof -i :{port}`, or choose another with --port"
    )]
    Listen { host: String, port: u16, error: std::io::Error },
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    #[error("templates: {0}")]
    Templates(String),
}

impl StartError {
    /// 1 for what the operator can fix (database, TLS files, port), 1 otherwise too, but distinct in kind.
    pub fn is_configuration(&self) -> bool {
        matches!(self, StartError::Database(_) | StartError::Tls(_) | StartError::Listen { .. })
    }
}

impl Server {
    /// Opens the store, builds the clients, binds the listen address and assembles the router.
    /// Starts the background work (provider discovery, pruning) on the current runtime.
    pub async fn build(config: Config) -> Result<Server, StartError> {
        let store = if config.sso.enabled && config.sso.database_url.is_some() {
            let url = config.sso.database_url.as_ref().map(|u| u.expose().to_string()).unwrap_or_default();
            match PgStore::open(&url, config.sso.database_pool_size).await {
                Ok(store) => Some(AsyncStore::postgres(store)),
                Err(e) => return Err(StartError::Database(format!("(PostgreSQL): {e}"))),
            }
        } else if config.sso.enabled {
            let path = config.sso.database_path.clone();
            match tokio::task::spawn_blocking(move || SqliteStore::open(&path)).await {
                Ok(Ok(store)) => Some(AsyncStore::sqlite(store)),
                Ok(Err(e)) => return Err(StartError::Database(e.to_string())),
                Err(e) => return Err(StartError::Database(format!(": {e}"))),
            }
        } else {
            tracing::warn!("SSO is disabled: requests are forwarded WITHOUT authentication (loopback only)");
            None
        };
        for (name, upstream) in [("openai", &config.upstreams.openai), ("anthropic", &config.upstreams.anthropic)] {
            if upstream.api_key.is_none() {
                tracing::warn!(
                    "upstreams.{name}.api_key is not set: requests to {} carry no API key",
                    upstream.base_url
                );
            }
        }
        let forwarder = Forwarder::new(&config.upstreams).map_err(StartError::UpstreamClient)?;
        let tls = config.server.tls.as_ref().map(crate::tls::load).transpose().map_err(StartError::Tls)?;
        let (host, port) = (config.server.host.clone(), config.server.port);
        let listener = tokio::net::TcpListener::bind((host.as_str(), port))
            .await
            .map_err(|error| StartError::Listen { host: host.clone(), port, error })?;
        let http =
            crate::outbound::client(crate::outbound::TIMEOUT).map_err(|e| StartError::HttpClient(e.to_string()))?;
        crate::sso::pages::check().map_err(StartError::Templates)?;
        let config = Arc::new(config);
        let metrics = Arc::new(Metrics::default());
        let mut providers = BTreeMap::new();
        if config.sso.enabled {
            for (name, p) in &config.sso.providers {
                let runtime = Arc::new(ProviderRuntime::new(name, p.clone(), &config.redirect_uri(), http.clone()));
                let warming = runtime.clone();
                tokio::spawn(async move { warming.warm_up().await });
                providers.insert(name.clone(), runtime);
            }
        }
        let email_files = Arc::new(EmailFiles::default());
        let sso = store.clone().map(|store| {
            tokio::spawn(prune_forever(store.clone(), config.clone()));
            Arc::new(SsoState {
                config: config.clone(),
                store,
                providers: providers.clone(),
                http,
                clock: Clock,
                metrics: metrics.clone(),
                email_files: email_files.clone(),
            })
        });
        let ops = Arc::new(OpsState { store: store.clone(), providers, metrics: metrics.clone() });
        let agent = Arc::new(AgentState {
            links: Links::new(&config.base_url()),
            config: config.clone(),
            store,
            forwarder,
            metrics,
            clock: Clock,
            email_files,
        });
        let limits = Limits {
            max_connections: connections::fit_connections(config.server.max_connections),
            header_timeout: Duration::from_secs(config.server.header_timeout_seconds),
            shutdown_timeout: Duration::from_secs(config.server.shutdown_timeout_seconds),
        };
        let app = app(agent, ops, sso);
        Ok(Server { config, listener, tls, app, limits })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `http(s)://host:port` as bound (the real port when 0 was asked for).
    pub fn listen_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let addr = self
            .listener
            .local_addr()
            .map_or_else(|_| format!("{}:{}", self.config.server.host, self.config.server.port), |a| a.to_string());
        format!("{scheme}://{addr}")
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish within the shutdown deadline.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let Server { listener, tls, app, limits, .. } = self;
        match tls {
            None => {
                // Nagle off: small SSE writes leave at once instead of waiting for delayed ACKs.
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                connections::serve(listener, app, limits, shutdown).await;
            }
            Some(tls) => {
                let listener = crate::tls::TlsListener::new(listener, tls)?;
                connections::serve(listener, app, limits, shutdown).await;
            }
        }
        Ok(())
    }
}

/// Removes expired sign-ins and idle backoff records every minute, so the tables
/// that anonymous clients can grow stay small.
async fn prune_forever(store: AsyncStore, config: Arc<Config>) {
    const EVERY: Duration = Duration::from_secs(60);
    let keep = i64::from(config.sso.authorization.rate_limit.max_backoff_seconds).max(24 * 3600);
    loop {
        tokio::time::sleep(EVERY).await;
        let now = Clock.now();
        match store.prune(now, now - keep).await {
            Ok((0, 0)) => {}
            Ok((pending, limits)) => {
                tracing::debug!("pruned {pending} expired sign-in(s) and {limits} idle backoff record(s)")
            }
            Err(e) => tracing::warn!("pruning the database failed: {e}"),
        }
    }
}

/// The whole HTTP surface.
pub fn app(agent: Arc<AgentState>, ops: Arc<OpsState>, sso: Option<Arc<SsoState>>) -> Router {
    let gate = Arc::new(Semaphore::new(agent.config.server.max_concurrent_requests.max(1)));
    let api = Router::new()
        .route("/v1/{*rest}", any(agent::forward))
        .route_layer(middleware::from_fn_with_state(agent.clone(), auth::layer))
        // The auth layer enforces server.max_body_bytes while reading, with an API-shaped 413.
        .layer(DefaultBodyLimit::disable());
    let admitted = Router::new()
        .merge(api)
        .fallback(agent::not_found)
        .with_state(agent.clone())
        .merge(crate::sso::router(sso))
        .layer(middleware::from_fn_with_state((gate, agent.metrics.clone()), admit));
    let inner = Router::new()
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .with_state(ops)
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
