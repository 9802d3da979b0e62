//! The token store: what the proxy persists. [`AsyncStore`] is the contract
//! every caller goes through (the proxy, the operator commands, the doctor),
//! with two backends: SQLite ([`sqlite`], the embedded default, a blocking
//! [`Store`] run on dedicated threads) and PostgreSQL ([`postgres`], async,
//! for several replicas). `proxy/tests/store_contract.rs` runs one suite
//! against both. The store knows nothing of HTTP.

pub mod postgres;
pub mod records;
pub mod sqlite;
pub mod sqlite_file;

pub use records::*;

use crate::clock::UnixSeconds;
use std::sync::Arc;

/// How many threads run SQLite calls. Each keeps its own connection busy, so the
/// SQLite pool never opens and drops connections under load, and the thread
/// count stays fixed however many requests wait.
pub const STORE_THREADS: usize = 4;

type Job = Box<dyn FnOnce(&dyn Store) + Send>;

/// The store contract as the proxy uses it: every operation on persistent
/// state, async, on either backend. SQLite's blocking calls run on
/// [`STORE_THREADS`] dedicated threads; PostgreSQL's are async natively. An
/// enum, not a trait object: one match per call, no boxed futures.
#[derive(Clone)]
pub struct AsyncStore {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(std::sync::mpsc::Sender<Job>, Arc<dyn Store>),
    Postgres(Arc<postgres::PgStore>),
}

/// The backoff schedule `record_failure` applies: seconds blocked after `n` failures.
pub type Schedule = Arc<dyn Fn(u32) -> i64 + Send + Sync>;

impl AsyncStore {
    /// SQLite (or any blocking [`Store`]) on the store threads.
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
        AsyncStore { backend: Backend::Sqlite(jobs, store) }
    }

    pub fn postgres(store: postgres::PgStore) -> Self {
        AsyncStore { backend: Backend::Postgres(Arc::new(store)) }
    }

    /// `sqlite` or `postgres`, for logs and `doctor`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(..) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The PostgreSQL store, when that is the backend (for `doctor`).
    pub fn as_postgres(&self) -> Option<&postgres::PgStore> {
        match &self.backend {
            Backend::Postgres(p) => Some(p),
            Backend::Sqlite(..) => None,
        }
    }
}

async fn on_thread<T: Send + 'static>(
    jobs: &std::sync::mpsc::Sender<Job>,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move |store| {
        let _ = tx.send(f(store));
    });
    jobs.send(job).map_err(|_| StoreError::Other("the store threads have stopped".into()))?;
    rx.await.map_err(|_| StoreError::Other("a store call was dropped".into()))?
}

/// Longest wait for one PostgreSQL operation (connection from the pool, query, answer):
/// a database that hangs fails closed like one that is down, instead of holding requests.
pub const POSTGRES_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn bounded<T>(operation: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    match tokio::time::timeout(POSTGRES_TIMEOUT, operation).await {
        Ok(answer) => answer,
        Err(_) => Err(StoreError::Other(format!("PostgreSQL did not answer within {} s", POSTGRES_TIMEOUT.as_secs()))),
    }
}

/// One contract operation: the same call on the store threads (SQLite) or natively (PostgreSQL).
macro_rules! operation {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) -> $out:ty, |$s:ident| $sync:expr, |$p:ident| $pg:expr) => {
        $(#[$doc])*
        pub async fn $name(&self, $($arg: $ty),*) -> Result<$out, StoreError> {
            match &self.backend {
                Backend::Sqlite(jobs, _) => on_thread(jobs, move |$s| $sync).await,
                Backend::Postgres($p) => bounded($pg).await,
            }
        }
    };
}

impl AsyncStore {
    /// One indexed lookup by `token_hash`: the agent request path. On SQLite it
    /// runs on the caller's thread when that needs no waiting (an indexed read of
    /// a cached page, microseconds), and on a store thread otherwise.
    pub async fn find_token(&self, token_hash: String) -> Result<Option<TokenRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(jobs, store) => match store.try_find_token_now(&token_hash) {
                Some(answer) => answer,
                None => on_thread(jobs, move |s| s.find_token(&token_hash)).await,
            },
            Backend::Postgres(p) => bounded(p.find_token(&token_hash)).await,
        }
    }
    operation!(insert_token(token: NewToken) -> i64, |s| s.insert_token(&token), |p| p.insert_token(&token));
    operation!(
        /// Authenticated again until `expires_at`, only for the token's owner; false if no such active token.
        renew_token(token_hash: String, user_id: String, now: UnixSeconds, expires_at: UnixSeconds) -> bool,
        |s| s.renew_token(&token_hash, &user_id, now, expires_at),
        |p| p.renew_token(&token_hash, &user_id, now, expires_at));
    operation!(revoke_token(id: i64) -> bool, |s| s.revoke_token(id), |p| p.revoke_token(id));
    operation!(list_tokens() -> Vec<TokenRecord>, |s| s.list_tokens(), |p| p.list_tokens());
    operation!(
        /// A cheap query proving the store answers (for `/ready`).
        ping() -> (), |s| s.ping(), |p| p.ping());
    operation!(
        /// Stores a sign-in step unless its client, its network or the store is at its cap (check and insert
        /// are atomic).
        insert_pending(pending: Pending, network: String, now: UnixSeconds, caps: PendingCaps) -> Admission,
        |s| s.insert_pending(&pending, &network, now, caps), |p| p.insert_pending(&pending, &network, now, caps));
    operation!(
        /// Takes one request from a token bucket; false when it is empty (atomic).
        take_request(bucket: String, limit: RequestLimit, now: UnixSeconds) -> bool,
        |s| s.take_request(&bucket, limit, now), |p| p.take_request(&bucket, limit, now));
    operation!(
        /// Returns one request to a token bucket.
        give_back_request(bucket: String, limit: RequestLimit) -> (),
        |s| s.give_back_request(&bucket, limit), |p| p.give_back_request(&bucket, limit));
    operation!(
        /// Removes and returns an unexpired pending row: of concurrent callers exactly one gets it.
        take_pending(id: String, kind: PendingKind, browser_hash: Option<String>, now: UnixSeconds) -> Option<Pending>,
        |s| s.take_pending(&id, kind, browser_hash.as_deref(), now),
        |p| p.take_pending(&id, kind, browser_hash.as_deref(), now));
    operation!(
        get_pending(id: String, kind: PendingKind) -> Option<Pending>,
        |s| s.get_pending(&id, kind), |p| p.get_pending(&id, kind));
    operation!(
        /// Counts one confirmation attempt and returns the row; never past `max`, never on an expired row.
        claim_attempt(id: String, max: u32, now: UnixSeconds) -> Option<Pending>,
        |s| s.claim_attempt(&id, max, now), |p| p.claim_attempt(&id, max, now));
    operation!(delete_pending(id: String) -> (), |s| s.delete_pending(&id), |p| p.delete_pending(&id));
    operation!(
        /// The unexpired, unanswered terminal request with this user code hash.
        find_device(user_code_hash: String, now: UnixSeconds) -> Option<Pending>,
        |s| s.find_device(&user_code_hash, now), |p| p.find_device(&user_code_hash, now));
    operation!(
        /// A terminal's poll: slow_down before the interval; an approved request is taken once.
        poll_device(id: String, now: UnixSeconds, interval: u32) -> DevicePoll,
        |s| s.poll_device(&id, now, interval), |p| p.poll_device(&id, now, interval));
    operation!(
        /// Binds a pending terminal request to the first browser that enters its user code (never another).
        bind_device(id: String, browser_hash: String, now: UnixSeconds) -> bool,
        |s| s.bind_device(&id, &browser_hash, now), |p| p.bind_device(&id, &browser_hash, now));
    operation!(
        /// Answers a pending terminal request once; false if answered already or expired.
        decide_device(id: String, decision: DeviceDecision, now: UnixSeconds) -> bool,
        |s| s.decide_device(&id, &decision, now), |p| p.decide_device(&id, &decision, now));
    operation!(
        /// The holder's own revocation (logout): soft delete by hash.
        revoke_token_hash(token_hash: String) -> bool,
        |s| s.revoke_token_hash(&token_hash), |p| p.revoke_token_hash(&token_hash));
    operation!(
        /// Removes expired sign-ins and backoff records idle since `rate_limits_before`.
        prune(now: UnixSeconds, rate_limits_before: UnixSeconds) -> (usize, usize),
        |s| s.prune(now, rate_limits_before), |p| p.prune(now, rate_limits_before));
    operation!(
        rate_limit(identifier: String) -> Option<RateLimitRecord>,
        |s| s.rate_limit(&identifier), |p| p.rate_limit(&identifier));
    operation!(
        /// Counts a failure and blocks for `schedule(failures)` seconds, atomically; returns the count.
        record_failure(identifier: String, now: UnixSeconds, schedule: Schedule) -> u32,
        |s| s.record_failure(&identifier, now, &*schedule),
        |p| p.record_failure(&identifier, now, &*schedule));
    operation!(
        clear_rate_limit(identifier: String) -> (),
        |s| s.clear_rate_limit(&identifier), |p| p.clear_rate_limit(&identifier));
    operation!(
        revoke_user_tokens(email: String) -> usize,
        |s| s.revoke_user_tokens(&email), |p| p.revoke_user_tokens(&email));
    operation!(list_rate_limits() -> Vec<RateLimitRecord>, |s| s.list_rate_limits(), |p| p.list_rate_limits());
    operation!(clear_all_rate_limits() -> usize, |s| s.clear_all_rate_limits(), |p| p.clear_all_rate_limits());
}
