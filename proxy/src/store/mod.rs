//! The token store: what the proxy persists, behind a trait so that a second
//! backend (PostgreSQL) can pass the same conformance tests later.
//!
//! Implementations are synchronous; [`AsyncStore`] runs every call on a few dedicated store threads
//! so the executor's worker threads never wait on disk or locks.
//! The store knows nothing of HTTP.

pub mod sqlite;
pub mod sqlite_file;

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

/// Which step of a sign-in a pending row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingKind {
    /// Between the redirect to the IdP and the callback (keyed by `state`).
    Oidc,
    /// Between the callback and the confirmation code (single_user mode).
    Confirmation,
}

impl PendingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PendingKind::Oidc => "oidc",
            PendingKind::Confirmation => "confirmation",
        }
    }
}

/// One row of `pending_authorizations`: bounded in time, single use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
    pub kind: PendingKind,
    pub provider: Option<String>,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    pub code_hash: Option<String>,
    pub attempts: u32,
    pub renew_token_hash: Option<String>,
    pub client_ip: Option<String>,
    pub csrf_token: Option<String>,
    /// SHA-256 hex of the binding cookie of the browser that started the sign-in.
    pub browser_hash: Option<String>,
    pub expires_at: UnixSeconds,
}

/// Bounds on sign-ins in progress: per client (so one client cannot lock
/// everyone out) and for the whole store (a safety net against many clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingCaps {
    pub per_client: i64,
    pub total: i64,
}

impl Default for PendingCaps {
    fn default() -> Self {
        PendingCaps { per_client: MAX_PENDING_PER_CLIENT, total: MAX_PENDING }
    }
}

/// What happened to a sign-in step the flow asked to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Stored,
    /// This client has [`PendingCaps::per_client`] sign-ins in progress already.
    ClientCapReached,
    /// The store holds [`PendingCaps::total`] sign-ins in progress.
    TotalCapReached,
}

/// One row of `rate_limits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitRecord {
    pub identifier: String,
    pub failed_attempts: u32,
    /// As stored (may have been written or cleared by hand).
    pub blocked_until: Option<String>,
}

/// Most sign-ins in progress at once; past it new ones are refused until some expire.
pub const MAX_PENDING: i64 = 10_000;
/// Most sign-ins in progress for one client IP (or IPv6 /64).
pub const MAX_PENDING_PER_CLIENT: i64 = 20;

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

/// What every backend provides.
pub trait Store: Send + Sync + 'static {
    /// One indexed lookup by `token_hash`.
    fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    fn insert_token(&self, token: &NewToken) -> Result<i64, StoreError>;
    /// Marks the active token with this hash *and owner* authenticated again until
    /// `expires_at`, in one statement; false if there is no such token.
    fn renew_token(
        &self,
        token_hash: &str,
        user_id: &str,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> Result<bool, StoreError>;
    /// Soft delete; false if there was no such active token.
    fn revoke_token(&self, id: i64) -> Result<bool, StoreError>;
    fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// A cheap query proving the store answers (for `/ready`).
    fn ping(&self) -> Result<(), StoreError>;

    /// Stores a sign-in step unless its client or the store is at its cap: the
    /// check and the insert are one statement. Expired rows are removed first.
    fn insert_pending(&self, pending: &Pending, now: UnixSeconds, caps: PendingCaps) -> Result<Admission, StoreError>;
    /// Removes and returns an unexpired pending row (single use: of concurrent
    /// callers exactly one gets it). With `browser_hash`, only the row bound to
    /// that browser.
    fn take_pending(
        &self,
        id: &str,
        kind: PendingKind,
        browser_hash: Option<&str>,
        now: UnixSeconds,
    ) -> Result<Option<Pending>, StoreError>;
    /// Returns a pending row, expired or not, without consuming it (to choose what to say).
    fn get_pending(&self, id: &str, kind: PendingKind) -> Result<Option<Pending>, StoreError>;
    /// Claims one confirmation attempt: counts it and returns the row, in one
    /// statement that cannot go past `max` nor touch an expired row.
    fn claim_attempt(&self, id: &str, max: u32, now: UnixSeconds) -> Result<Option<Pending>, StoreError>;
    fn delete_pending(&self, id: &str) -> Result<(), StoreError>;
    /// Removes expired sign-ins, and backoff records idle since `rate_limits_before`; returns both counts.
    fn prune(&self, now: UnixSeconds, rate_limits_before: UnixSeconds) -> Result<(usize, usize), StoreError>;

    fn rate_limit(&self, identifier: &str) -> Result<Option<RateLimitRecord>, StoreError>;
    /// Records a failure and blocks the identifier for `schedule(failures)` seconds, in
    /// one transaction (concurrent failures each count); returns the failure count.
    fn record_failure(
        &self,
        identifier: &str,
        now: UnixSeconds,
        schedule: &dyn Fn(u32) -> i64,
    ) -> Result<u32, StoreError>;
    fn clear_rate_limit(&self, identifier: &str) -> Result<(), StoreError>;

    // Operator commands (`llm-sso-proxy tokens|ratelimit ...`).
    /// Soft-deletes every active token of `email`; returns how many.
    fn revoke_user_tokens(&self, email: &str) -> Result<usize, StoreError>;
    fn list_rate_limits(&self) -> Result<Vec<RateLimitRecord>, StoreError>;
    /// Removes every backoff record; returns how many.
    fn clear_all_rate_limits(&self) -> Result<usize, StoreError>;
}

/// How many threads run store calls. Each keeps its own connection busy, so the
/// SQLite pool never opens and drops connections under load, and the thread
/// count stays fixed however many requests wait.
pub const STORE_THREADS: usize = 4;

type Job = Box<dyn FnOnce(&dyn Store) + Send>;

/// The store as the async server uses it: each call runs on one of
/// [`STORE_THREADS`] dedicated threads, and the caller awaits its answer.
#[derive(Clone)]
pub struct AsyncStore {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl AsyncStore {
    pub fn new(store: Arc<dyn Store>) -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for n in 0..STORE_THREADS {
            let (store, queue) = (store.clone(), queue.clone());
            let spawned = std::thread::Builder::new().name(format!("store-{n}")).spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        Ok(job) => job(store.as_ref()),
                        Err(_) => return, // every AsyncStore is gone
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!("cannot start store thread {n}: {e}");
            }
        }
        AsyncStore { jobs }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |store| {
            let _ = tx.send(f(store));
        });
        self.jobs.send(job).map_err(|_| StoreError::Other("the store threads have stopped".into()))?;
        rx.await.map_err(|_| StoreError::Other("a store call was dropped".into()))?
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

    /// Any other store call, on a store thread.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run(f).await
    }
}
