//! The store contract: every operation on persistent state, as one trait that
//! both backends implement and [`AsyncStore`](super::AsyncStore) dispatches. The
//! compiler keeps the backends in step: an operation missing on one of them, or
//! with another signature, does not build. `proxy/tests/store_contract.rs` holds
//! them to the same behaviour.
//!
//! Arguments are owned, so a backend may move them to another thread (SQLite
//! does). Every decision on shared state is one statement or one transaction.

use super::pending::PendingRow;
use super::pending::{Admission, Confirmation, DeviceDecision, DevicePoll, DeviceRequest, Pending, PendingCaps};
use super::records::{NewToken, RateLimitRecord, RequestLimit, Schedule, StoreError, TokenRecord};
use crate::clock::UnixSeconds;
use std::future::Future;

/// The answer of a store operation.
pub type Answer<T> = Result<T, StoreError>;

/// What every backend provides.
pub trait Store: Send + Sync + 'static {
    // Tokens.
    /// One indexed lookup by `token_hash`: the agent request path.
    fn find_token(&self, token_hash: String) -> impl Future<Output = Answer<Option<TokenRecord>>> + Send;
    fn insert_token(&self, token: NewToken) -> impl Future<Output = Answer<i64>> + Send;
    /// Marks the active token with this hash *and owner* authenticated again until `expires_at`, with the
    /// claims of this sign-in, in one statement; false if there is no such token.
    fn renew_token(
        &self,
        token_hash: String,
        user_id: String,
        claims: Option<String>,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> impl Future<Output = Answer<bool>> + Send;
    /// Soft delete; false if there was no such active token.
    fn revoke_token(&self, id: i64) -> impl Future<Output = Answer<bool>> + Send;
    /// Soft-deletes the active token with this hash (its holder logging out); false if none.
    fn revoke_token_hash(&self, token_hash: String) -> impl Future<Output = Answer<bool>> + Send;
    /// Soft-deletes every active token of `email`; returns how many.
    fn revoke_user_tokens(&self, email: String) -> impl Future<Output = Answer<usize>> + Send;
    fn list_tokens(&self) -> impl Future<Output = Answer<Vec<TokenRecord>>> + Send;
    /// A cheap query proving the store answers (for `/ready`).
    fn ping(&self) -> impl Future<Output = Answer<()>> + Send;

    // Sign-ins in progress.
    /// Stores a sign-in step unless its client, its network (`network`: IPv4 /24, IPv6 /48) or the store
    /// is at its cap: the check and the insert are atomic. Expired rows are removed first.
    fn insert_pending(
        &self,
        pending: Pending,
        network: String,
        now: UnixSeconds,
        caps: PendingCaps,
    ) -> impl Future<Output = Answer<Admission>> + Send;
    /// Removes and returns an unexpired row of kind `R` (single use: of concurrent callers exactly one gets
    /// it). With `browser_hash`, only the row bound to that browser.
    fn take_pending<R: PendingRow>(
        &self,
        id: String,
        browser_hash: Option<String>,
        now: UnixSeconds,
    ) -> impl Future<Output = Answer<Option<R>>> + Send;
    /// A row of kind `R`, expired or not, without consuming it (to choose what to say).
    fn get_pending<R: PendingRow>(&self, id: String) -> impl Future<Output = Answer<Option<R>>> + Send;
    /// Counts one confirmation attempt and returns the row, in one statement that cannot go past `max` nor
    /// touch an expired row.
    fn claim_attempt(
        &self,
        id: String,
        max: u32,
        now: UnixSeconds,
    ) -> impl Future<Output = Answer<Option<Confirmation>>> + Send;
    fn delete_pending(&self, id: String) -> impl Future<Output = Answer<()>> + Send;
    /// The unexpired, unanswered terminal request whose user code has this hash.
    fn find_device(
        &self,
        user_code_hash: String,
        now: UnixSeconds,
    ) -> impl Future<Output = Answer<Option<DeviceRequest>>> + Send;
    /// A terminal's poll: counts it against the interval (`interval` seconds, plus 5 per earlier
    /// slow_down) and, when the request is approved, takes it (single use).
    fn poll_device(
        &self,
        id: String,
        now: UnixSeconds,
        interval: u32,
    ) -> impl Future<Output = Answer<DevicePoll>> + Send;
    /// Binds an unexpired pending request to the first browser that enters its user code (the SHA-256 of
    /// its binding cookie), once: only that browser can sign in for it or refuse it. False if the request
    /// is over or another browser holds it.
    fn bind_device(
        &self,
        id: String,
        browser_hash: String,
        now: UnixSeconds,
    ) -> impl Future<Output = Answer<bool>> + Send;
    /// Answers an unexpired pending request once; false if it was answered already or expired.
    fn decide_device(
        &self,
        id: String,
        decision: DeviceDecision,
        now: UnixSeconds,
    ) -> impl Future<Output = Answer<bool>> + Send;
    /// Removes expired sign-ins, and backoff records idle since `rate_limits_before`; returns both counts.
    fn prune(
        &self,
        now: UnixSeconds,
        rate_limits_before: UnixSeconds,
    ) -> impl Future<Output = Answer<(usize, usize)>> + Send;

    // Limits.
    /// Takes one request from the token bucket `bucket` (created full), refilled for the time passed: one
    /// statement, so concurrent takers never get more than the bucket holds. False when it is empty.
    fn take_request(
        &self,
        bucket: String,
        limit: RequestLimit,
        now: UnixSeconds,
    ) -> impl Future<Output = Answer<bool>> + Send;
    /// Returns one request to the bucket (never past its capacity): a take that turned out not to count.
    fn give_back_request(&self, bucket: String, limit: RequestLimit) -> impl Future<Output = Answer<()>> + Send;
    fn rate_limit(&self, identifier: String) -> impl Future<Output = Answer<Option<RateLimitRecord>>> + Send;
    /// Counts a failure and blocks the identifier for `schedule(failures)` seconds, in one transaction
    /// (concurrent failures each count); returns the failure count.
    fn record_failure(
        &self,
        identifier: String,
        now: UnixSeconds,
        schedule: Schedule,
    ) -> impl Future<Output = Answer<u32>> + Send;
    fn clear_rate_limit(&self, identifier: String) -> impl Future<Output = Answer<()>> + Send;
    fn list_rate_limits(&self) -> impl Future<Output = Answer<Vec<RateLimitRecord>>> + Send;
    /// Removes every backoff record; returns how many.
    fn clear_all_rate_limits(&self) -> impl Future<Output = Answer<usize>> + Send;
}
