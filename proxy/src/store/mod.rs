//! The token store: what the proxy persists, behind a trait so that a second
//! backend (PostgreSQL) can pass the same conformance tests later.
//!
//! Implementations are synchronous; [`AsyncStore`] runs every call on tokio's
//! blocking pool so the executor's worker threads never wait on disk or locks.
//! The store knows nothing of HTTP.

pub mod sqlite;

use crate::clock::UnixSeconds;
use std::sync::Arc;

/// One row of `agent_tokens` (never the token itself: only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    pub token_hash: String,
    pub user_id: String,
    pub user_email: String,
    pub provider: String,
    pub is_authenticated: bool,
    pub is_active: bool,
    pub created_at: String,
    pub last_authenticated_at: Option<String>,
    /// As stored (`YYYY-MM-DD HH:MM:SS` UTC); may have been written by hand.
    pub auth_expires_at: Option<String>,
}

/// A token to insert, already authenticated until `expires_at`.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub token_hash: String,
    pub user_id: String,
    pub user_email: String,
    pub provider: String,
    pub now: UnixSeconds,
    pub expires_at: UnixSeconds,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Another process holds a lock longer than the busy timeout.
    #[error("database is locked (busy for longer than the busy timeout): {0}")]
    Busy(String),
    /// The file is damaged or not a database.
    #[error("{0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Other(String),
}

/// What every backend provides.
pub trait Store: Send + Sync + 'static {
    /// One indexed lookup by `token_hash`.
    fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    fn insert_token(&self, token: &NewToken) -> Result<i64, StoreError>;
    /// Marks a token authenticated again until `expires_at`; false if no active token has that hash.
    fn renew_token(&self, token_hash: &str, now: UnixSeconds, expires_at: UnixSeconds) -> Result<bool, StoreError>;
    /// Soft delete; false if there was no such active token.
    fn revoke_token(&self, id: i64) -> Result<bool, StoreError>;
    fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// A cheap query proving the store answers (for `/ready`).
    fn ping(&self) -> Result<(), StoreError>;
}

/// The store as the async server uses it: each call on the blocking pool.
#[derive(Clone)]
pub struct AsyncStore {
    inner: Arc<dyn Store>,
}

impl AsyncStore {
    pub fn new(store: Arc<dyn Store>) -> Self {
        AsyncStore { inner: store }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(inner.as_ref()))
            .await
            .map_err(|e| StoreError::Other(format!("store task failed: {e}")))?
    }

    pub async fn find_token(&self, token_hash: String) -> Result<Option<TokenRecord>, StoreError> {
        self.run(move |s| s.find_token(&token_hash)).await
    }

    pub async fn insert_token(&self, token: NewToken) -> Result<i64, StoreError> {
        self.run(move |s| s.insert_token(&token)).await
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|s| s.ping()).await
    }
}
