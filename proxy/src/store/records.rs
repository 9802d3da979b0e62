//! What the store keeps and answers besides sign-ins in progress (those are in
//! [`pending`](super::pending)): tokens, rate limits, the request limits a
//! decision is taken under, and the errors. Shared by both backends; it depends
//! on nothing else in the store.

use crate::clock::UnixSeconds;

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
    /// The policy's claims at the last sign-in, as the proxy wrote them (JSON; the store does not read it).
    pub claims: Option<String>,
}

/// A token to insert, already authenticated until `expires_at`.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub token_hash: String,
    pub user_id: String,
    pub user_email: String,
    pub provider: String,
    /// The policy's claims, as [`TokenRecord::claims`].
    pub claims: Option<String>,
    pub now: UnixSeconds,
    pub expires_at: UnixSeconds,
}

/// A token bucket: at most `capacity` requests at once, refilled by `capacity` every `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestLimit {
    pub capacity: f64,
    pub window_seconds: f64,
}

impl RequestLimit {
    pub fn per_second(&self) -> f64 {
        if self.window_seconds > 0.0 { self.capacity / self.window_seconds } else { self.capacity }
    }
}

/// One row of `rate_limits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitRecord {
    pub identifier: String,
    pub failed_attempts: u32,
    /// As stored (may have been written or cleared by hand).
    pub blocked_until: Option<String>,
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
    /// A bounded table is full.
    #[error("{0}")]
    Full(String),
}

/// The backoff schedule `record_failure` applies: seconds blocked after `n` failures.
pub type Schedule = std::sync::Arc<dyn Fn(u32) -> i64 + Send + Sync>;
