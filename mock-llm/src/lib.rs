//! Mock LLM upstream: an OpenAI- and Anthropic-compatible fake model server.
//!
//! Deterministic (the reply echoes the last user message; model `mock-large`
//! answers a configurable number of bytes), streams in a configurable number of
//! chunks with an optional pause, checks the upstream credential each API
//! expects, and injects errors by model name (`mock-error-429`,
//! `mock-reset-mid-stream`) or for every request. It is the baseline of the
//! proxy benchmarks, so the hot path takes no lock (settings are atomics) and
//! the journal can be switched off.

mod admission;
mod anthropic;
pub mod config;
mod control;
pub mod errors;
mod openai;
pub mod reply;
mod responses;
mod sse;

pub use admission::Received;
pub use config::LlmConfig;
pub use errors::Faults;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use mock_server::{ConnectionControls, Journal, Server};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Largest request body accepted (agents send long conversations).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Stream shape and reply size, changeable at run time without locks.
pub(crate) struct Settings {
    chunks: AtomicUsize,
    chunk_delay_ms: AtomicU64,
    large_reply_bytes: AtomicUsize,
}

impl Settings {
    pub fn chunks(&self) -> usize {
        self.chunks.load(Ordering::Relaxed).max(1)
    }
    pub fn chunk_delay(&self) -> Duration {
        Duration::from_millis(self.chunk_delay_ms.load(Ordering::Relaxed))
    }
    pub fn large_reply_bytes(&self) -> usize {
        self.large_reply_bytes.load(Ordering::Relaxed)
    }
}

/// The control-API faults as atomics (status 0 = none, retry_after MAX = none).
pub(crate) struct FaultSwitches {
    pub status: AtomicU16,
    pub retry_after: AtomicU64,
    pub reset_mid_stream: AtomicBool,
}

pub(crate) struct App {
    pub openai_key: Option<String>,
    pub anthropic_key: Option<String>,
    pub models: Vec<String>,
    pub settings: Settings,
    pub faults: FaultSwitches,
    ids: AtomicU64,
    pub journal: Journal<Received>,
    pub connections: ConnectionControls,
}

impl App {
    pub fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    pub fn set_faults(&self, faults: &Faults) -> Result<(), String> {
        if let Some(status) = faults.status
            && !(400..=599).contains(&status)
        {
            return Err(format!("status must be 400-599, got {status}"));
        }
        self.faults.status.store(faults.status.unwrap_or(0), Ordering::Relaxed);
        self.faults.retry_after.store(faults.retry_after_seconds.unwrap_or(u64::MAX), Ordering::Relaxed);
        self.faults.reset_mid_stream.store(faults.reset_mid_stream, Ordering::Relaxed);
        Ok(())
    }

    pub fn faults(&self) -> Faults {
        let status = self.faults.status.load(Ordering::Relaxed);
        let retry = self.faults.retry_after.load(Ordering::Relaxed);
        Faults {
            status: (status != 0).then_some(status),
            retry_after_seconds: (retry != u64::MAX).then_some(retry),
            reset_mid_stream: self.faults.reset_mid_stream.load(Ordering::Relaxed),
        }
    }
}

/// Stream and size settings as seen by the control API.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSettings {
    pub stream_chunks: usize,
    pub chunk_delay_ms: u64,
    pub large_reply_bytes: usize,
}

impl StreamSettings {
    /// Bounds that keep a forgotten setting from hanging or exhausting a test run.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=100_000).contains(&self.stream_chunks) {
            return Err("stream_chunks must be 1..=100000".into());
        }
        if self.chunk_delay_ms > 60_000 {
            return Err("chunk_delay_ms must be at most 60000".into());
        }
        if self.large_reply_bytes > 1024 * 1024 * 1024 {
            return Err("large_reply_bytes must be at most 1 GiB".into());
        }
        Ok(())
    }
}

/// A running mock upstream. Dropping it stops the server.
pub struct MockLlm {
    app: Arc<App>,
    server: Server,
}

impl MockLlm {
    pub async fn spawn(config: LlmConfig) -> std::io::Result<MockLlm> {
        let settings = StreamSettings {
            stream_chunks: config.stream_chunks,
            chunk_delay_ms: config.chunk_delay_ms,
            large_reply_bytes: config.large_reply_bytes,
        };
        settings.validate().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = mock_server::bind(&config.host, config.port).await?;
        let connections = ConnectionControls::new();
        let app = Arc::new(App {
            openai_key: config.openai_api_key,
            anthropic_key: config.anthropic_api_key,
            models: config.models,
            settings: Settings {
                chunks: AtomicUsize::new(settings.stream_chunks),
                chunk_delay_ms: AtomicU64::new(settings.chunk_delay_ms),
                large_reply_bytes: AtomicUsize::new(settings.large_reply_bytes),
            },
            faults: FaultSwitches {
                status: AtomicU16::new(0),
                retry_after: AtomicU64::new(u64::MAX),
                reset_mid_stream: AtomicBool::new(false),
            },
            ids: AtomicU64::new(1),
            journal: Journal::new(config.journal_capacity),
            connections: connections.clone(),
        });
        let router = Router::new()
            .route("/v1/chat/completions", post(openai::chat_completions))
            .route("/v1/responses", post(responses::create))
            .route("/v1/models", get(openai::models))
            .route("/v1/embeddings", post(openai::embeddings))
            .route("/v1/messages", post(anthropic::messages))
            .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
            .route("/health", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
            .nest("/__control", control::router())
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(app.clone());
        let server = Server::start(listener, router, connections)?;
        Ok(MockLlm { app, server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:{port}`: the Anthropic base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// `{base}/v1`: the OpenAI base URL.
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    pub fn set_faults(&self, faults: &Faults) -> Result<(), String> {
        self.app.set_faults(faults)
    }

    pub fn clear_faults(&self) {
        let _ = self.app.set_faults(&Faults::default());
    }

    pub fn set_stream_settings(&self, settings: &StreamSettings) -> Result<(), String> {
        control::apply_settings(&self.app, settings)
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
