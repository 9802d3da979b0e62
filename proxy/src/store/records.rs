//! What the store keeps and answers, shared by both backends: the rows
//! (tokens, sign-ins in progress, rate limits), the caps and limits a decision
//! is taken under, the errors, and the operations every backend implements
//! ([`Store`]). It depends on nothing else in the store.

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
pub(super) fn read_kind(text: &str) -> Result<PendingKind, String> {
    PendingKind::parse(text).ok_or_else(|| format!("unknown pending_authorizations.kind {text:?}"))
}

pub(super) fn read_device_status(text: Option<&str>) -> Result<Option<DeviceStatus>, String> {
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
