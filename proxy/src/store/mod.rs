//! The token store: what the proxy persists. [`AsyncStore`] is the contract
//! every caller goes through (the proxy, the operator commands, the doctor),
//! with two backends: SQLite ([`sqlite`], the embedded default, a blocking
//! [`Store`] run on dedicated threads) and PostgreSQL ([`postgres`], async,
//! for several replicas). `proxy/tests/store_contract.rs` runs one suite
//! against both. The store knows nothing of HTTP.

pub mod postgres;
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
    /// A terminal's sign-in request (RFC 8628), keyed by the SHA-256 of its device code.
    Device,
}

impl PendingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PendingKind::Oidc => "oidc",
            PendingKind::Confirmation => "confirmation",
            PendingKind::Device => "device",
        }
    }

    /// The kind of a stored row; an unknown kind is an error, never a guess.
    pub fn parse(text: &str) -> Option<PendingKind> {
        match text {
            "oidc" => Some(PendingKind::Oidc),
            "confirmation" => Some(PendingKind::Confirmation),
            "device" => Some(PendingKind::Device),
            _ => None,
        }
    }
}

/// A stored row's `kind` and `device_status`, read strictly for both backends: an unknown value
/// is an error naming the column, never a guess at what the row is for.
fn read_kind(text: &str) -> Result<PendingKind, String> {
    PendingKind::parse(text).ok_or_else(|| format!("unknown pending_authorizations.kind {text:?}"))
}

fn read_device_status(text: Option<&str>) -> Result<Option<DeviceStatus>, String> {
    text.map(|t| DeviceStatus::parse(t).ok_or_else(|| format!("unknown pending_authorizations.device_status {t:?}")))
        .transpose()
}

/// Where a terminal's sign-in request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Nobody has answered it yet: the terminal hears `authorization_pending`.
    Pending,
    /// A user signed in and was authorized; the identity is on the row until the terminal collects it.
    Approved,
    /// The user refused it, or the authorization failed.
    Denied,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<DeviceStatus> {
        match text {
            "pending" => Some(DeviceStatus::Pending),
            "approved" => Some(DeviceStatus::Approved),
            "denied" => Some(DeviceStatus::Denied),
            _ => None,
        }
    }
}

/// What a terminal's poll found, decided by one statement each (see [`AsyncStore::poll_device`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePoll {
    /// No such request: never made, or already collected.
    Unknown,
    Expired,
    /// Polled before the interval passed; the interval grows by 5 seconds.
    SlowDown,
    Pending,
    Denied,
    /// Approved, and now taken: of concurrent polls exactly one sees this.
    Approved(Box<Pending>),
}

/// A decision on a terminal's request, made once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceDecision {
    Approve { user_id: String, user_email: String, provider: String },
    Deny,
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
    /// Device rows: where the request stands.
    pub device_status: Option<DeviceStatus>,
    /// Device rows: the `User-Agent` of the terminal that asked (shown on the verification page).
    pub user_agent: Option<String>,
    /// OIDC and confirmation rows of a browser approving a terminal: that terminal's request.
    pub device_id: Option<String>,
    /// When the row was stored (set by the store from `now`).
    pub created_at: UnixSeconds,
    pub expires_at: UnixSeconds,
}

impl Pending {
    /// A row of `kind` with every optional column empty.
    pub fn new(id: String, kind: PendingKind, created_at: UnixSeconds, expires_at: UnixSeconds) -> Pending {
        Pending {
            id,
            kind,
            provider: None,
            user_id: None,
            user_email: None,
            nonce: None,
            pkce_verifier: None,
            code_hash: None,
            attempts: 0,
            renew_token_hash: None,
            client_ip: None,
            csrf_token: None,
            browser_hash: None,
            device_status: None,
            user_agent: None,
            device_id: None,
            created_at,
            expires_at,
        }
    }
}

/// Bounds on sign-ins in progress: per client and per network (so one client, or one host with many
/// addresses, cannot lock everyone out) and for the whole store (a safety net against many networks).
/// Anonymous work stops at [`MAX_PENDING`]; a step of someone who has proven an identity (back from the
/// IdP, or holding a token) has room up to [`MAX_PENDING_IDENTIFIED`], so strangers filling the table
/// never refuse them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingCaps {
    pub per_client: i64,
    pub per_network: i64,
    pub total: i64,
}

impl Default for PendingCaps {
    fn default() -> Self {
        PendingCaps::anonymous()
    }
}

impl PendingCaps {
    /// For a step nobody has vouched for yet (a sign-in start, a terminal's first request).
    pub fn anonymous() -> PendingCaps {
        PendingCaps { per_client: MAX_PENDING_PER_CLIENT, per_network: MAX_PENDING_PER_NETWORK, total: MAX_PENDING }
    }

    /// For a step of someone who has proven an identity: neither strangers on their network nor strangers
    /// filling the table refuse it (their own address keeps its cap).
    pub fn identified() -> PendingCaps {
        PendingCaps {
            per_client: MAX_PENDING_PER_CLIENT,
            per_network: MAX_PENDING_IDENTIFIED,
            total: MAX_PENDING_IDENTIFIED,
        }
    }
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

/// What happened to a sign-in step the flow asked to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Stored,
    /// This client has [`PendingCaps::per_client`] sign-ins in progress already.
    ClientCapReached,
    /// This client's network (IPv4 /24, IPv6 /48) has [`PendingCaps::per_network`] in progress.
    NetworkCapReached,
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
/// Most sign-ins in progress for one network (IPv4 /24, IPv6 /48).
pub const MAX_PENDING_PER_NETWORK: i64 = 100;
/// The global cap for steps of people who have proven an identity (anonymous ones stop at [`MAX_PENDING`]).
pub const MAX_PENDING_IDENTIFIED: i64 = 2 * MAX_PENDING;

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
    /// The same lookup on the caller's thread when it can answer without waiting
    /// (a free connection, no lock); `None` sends the call to a store thread.
    fn try_find_token_now(&self, _token_hash: &str) -> Option<Result<Option<TokenRecord>, StoreError>> {
        None
    }
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
    /// `network` is the client's network (IPv4 /24, IPv6 /48), counted for [`PendingCaps::per_network`].
    fn insert_pending(
        &self,
        pending: &Pending,
        network: &str,
        now: UnixSeconds,
        caps: PendingCaps,
    ) -> Result<Admission, StoreError>;
    /// Takes one request from the token bucket `bucket` (created full), refilled for the time passed: one
    /// statement, so concurrent takers never get more than the bucket holds. False when it is empty.
    fn take_request(&self, bucket: &str, limit: RequestLimit, now: UnixSeconds) -> Result<bool, StoreError>;
    /// Returns one request to the bucket (never past its capacity): a take that turned out not to count.
    fn give_back_request(&self, bucket: &str, limit: RequestLimit) -> Result<(), StoreError>;
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
    /// The unexpired, unanswered terminal request whose user code has this hash.
    fn find_device(&self, user_code_hash: &str, now: UnixSeconds) -> Result<Option<Pending>, StoreError>;
    /// A terminal's poll: counts it against the interval (`interval` seconds, plus 5
    /// per earlier slow_down) and, when the request is approved, takes it (single use).
    fn poll_device(&self, id: &str, now: UnixSeconds, interval: u32) -> Result<DevicePoll, StoreError>;
    /// Binds an unexpired pending request to the first browser that enters its user code (the SHA-256 of its
    /// binding cookie), once: only that browser can sign in for it or refuse it. False if the request is over
    /// or another browser holds it.
    fn bind_device(&self, id: &str, browser_hash: &str, now: UnixSeconds) -> Result<bool, StoreError>;
    /// Answers an unexpired pending request; false if it was answered already or expired.
    fn decide_device(&self, id: &str, decision: &DeviceDecision, now: UnixSeconds) -> Result<bool, StoreError>;
    /// Soft-deletes the active token with this hash (its holder logging out); false if none.
    fn revoke_token_hash(&self, token_hash: &str) -> Result<bool, StoreError>;
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
