//! The token store: what the proxy persists, on SQLite ([`sqlite`], embedded,
//! the default) or PostgreSQL ([`postgres`], for several replicas). Every
//! caller (the proxy, the operator commands, the doctor) holds an
//! [`AsyncStore`] and calls the [`Store`] contract on it. The store knows
//! nothing of HTTP.
//!
//! Inside, calls go one way: [`records`] and [`pending`] (the rows) ←
//! [`contract`] (the trait) ← the two backends ← this file (the dispatch).
//!
//! To add an operation:
//! 1. declare it in [`contract::Store`], with its doc (what it decides, and that it is atomic);
//! 2. implement it in `sqlite.rs` (inside `self.run`, on a store thread) and in `postgres.rs`;
//! 3. dispatch it in `impl Store for AsyncStore` below (one `match`);
//! 4. give it a case in `proxy/tests/store_contract.rs`, which runs on both backends.
//!
//! The compiler refuses a build that misses step 1, 2 or 3 for either backend.

pub mod contract;
pub mod pending;
pub mod postgres;
pub mod records;
pub mod sqlite;
pub mod sqlite_file;

pub use contract::{Answer, Store};
pub use pending::*;
pub use records::*;

use crate::clock::UnixSeconds;
use postgres::PgStore;
use sqlite::SqliteStore;
use std::sync::Arc;

/// The store as every caller holds it: one of the two backends. An enum, not a trait object: one match per
/// call, no boxed futures.
#[derive(Clone)]
pub struct AsyncStore {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PgStore>),
}

impl AsyncStore {
    pub fn sqlite(store: SqliteStore) -> Self {
        AsyncStore { backend: Backend::Sqlite(Arc::new(store)) }
    }

    pub fn postgres(store: PgStore) -> Self {
        AsyncStore { backend: Backend::Postgres(Arc::new(store)) }
    }

    /// `sqlite` or `postgres`, for logs and `doctor`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The PostgreSQL store, when that is the backend (for `doctor`).
    pub fn as_postgres(&self) -> Option<&PgStore> {
        match &self.backend {
            Backend::Postgres(p) => Some(p),
            Backend::Sqlite(_) => None,
        }
    }
}

/// Longest wait for one PostgreSQL operation (connection from the pool, query, answer):
/// a database that hangs fails closed like one that is down, instead of holding requests.
pub const POSTGRES_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn bounded<T>(operation: impl std::future::Future<Output = Answer<T>>) -> Answer<T> {
    match tokio::time::timeout(POSTGRES_TIMEOUT, operation).await {
        Ok(answer) => answer,
        Err(_) => Err(StoreError::Other(format!("PostgreSQL did not answer within {} s", POSTGRES_TIMEOUT.as_secs()))),
    }
}

impl Store for AsyncStore {
    async fn find_token(&self, token_hash: String) -> Answer<Option<TokenRecord>> {
        match &self.backend {
            Backend::Sqlite(s) => s.find_token(token_hash).await,
            Backend::Postgres(p) => bounded(p.find_token(token_hash)).await,
        }
    }

    async fn insert_token(&self, token: NewToken) -> Answer<i64> {
        match &self.backend {
            Backend::Sqlite(s) => s.insert_token(token).await,
            Backend::Postgres(p) => bounded(p.insert_token(token)).await,
        }
    }

    async fn renew_token(
        &self,
        token_hash: String,
        user_id: String,
        claims: Option<String>,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> Answer<bool> {
        match &self.backend {
            Backend::Sqlite(s) => s.renew_token(token_hash, user_id, claims, now, expires_at).await,
            Backend::Postgres(p) => bounded(p.renew_token(token_hash, user_id, claims, now, expires_at)).await,
        }
    }

    async fn revoke_token(&self, id: i64) -> Answer<bool> {
        match &self.backend {
            Backend::Sqlite(s) => s.revoke_token(id).await,
            Backend::Postgres(p) => bounded(p.revoke_token(id)).await,
        }
    }

    async fn revoke_token_hash(&self, token_hash: String) -> Answer<bool> {
        match &self.backend {
            Backend::Sqlite(s) => s.revoke_token_hash(token_hash).await,
            Backend::Postgres(p) => bounded(p.revoke_token_hash(token_hash)).await,
        }
    }

    async fn revoke_user_tokens(&self, email: String) -> Answer<usize> {
        match &self.backend {
            Backend::Sqlite(s) => s.revoke_user_tokens(email).await,
            Backend::Postgres(p) => bounded(p.revoke_user_tokens(email)).await,
        }
    }

    async fn list_tokens(&self) -> Answer<Vec<TokenRecord>> {
        match &self.backend {
            Backend::Sqlite(s) => s.list_tokens().await,
            Backend::Postgres(p) => bounded(p.list_tokens()).await,
        }
    }

    async fn ping(&self) -> Answer<()> {
        match &self.backend {
            Backend::Sqlite(s) => s.ping().await,
            Backend::Postgres(p) => bounded(p.ping()).await,
        }
    }

    async fn insert_pending(
        &self,
        pending: Pending,
        network: String,
        now: UnixSeconds,
        caps: PendingCaps,
    ) -> Answer<Admission> {
        match &self.backend {
            Backend::Sqlite(s) => s.insert_pending(pending, network, now, caps).await,
            Backend::Postgres(p) => bounded(p.insert_pending(pending, network, now, caps)).await,
        }
    }

    async fn take_pending<R: PendingRow>(
        &self,
        id: String,
        browser_hash: Option<String>,
        now: UnixSeconds,
    ) -> Answer<Option<R>> {
        match &self.backend {
            Backend::Sqlite(s) => s.take_pending(id, browser_hash, now).await,
            Backend::Postgres(p) => bounded(p.take_pending(id, browser_hash, now)).await,
        }
    }

    async fn get_pending<R: PendingRow>(&self, id: String) -> Answer<Option<R>> {
        match &self.backend {
            Backend::Sqlite(s) => s.get_pending(id).await,
            Backend::Postgres(p) => bounded(p.get_pending(id)).await,
        }
    }

    async fn claim_attempt(&self, id: String, max: u32, now: UnixSeconds) -> Answer<Option<Confirmation>> {
        match &self.backend {
            Backend::Sqlite(s) => s.claim_attempt(id, max, now).await,
            Backend::Postgres(p) => bounded(p.claim_attempt(id, max, now)).await,
        }
    }

    async fn delete_pending(&self, id: String) -> Answer<()> {
        match &self.backend {
            Backend::Sqlite(s) => s.delete_pending(id).await,
            Backend::Postgres(p) => bounded(p.delete_pending(id)).await,
        }
    }

    async fn find_device(&self, user_code_hash: String, now: UnixSeconds) -> Answer<Option<DeviceRequest>> {
        match &self.backend {
            Backend::Sqlite(s) => s.find_device(user_code_hash, now).await,
            Backend::Postgres(p) => bounded(p.find_device(user_code_hash, now)).await,
        }
    }

    async fn poll_device(&self, id: String, now: UnixSeconds, interval: u32) -> Answer<DevicePoll> {
        match &self.backend {
            Backend::Sqlite(s) => s.poll_device(id, now, interval).await,
            Backend::Postgres(p) => bounded(p.poll_device(id, now, interval)).await,
        }
    }

    async fn bind_device(&self, id: String, browser_hash: String, now: UnixSeconds) -> Answer<bool> {
        match &self.backend {
            Backend::Sqlite(s) => s.bind_device(id, browser_hash, now).await,
            Backend::Postgres(p) => bounded(p.bind_device(id, browser_hash, now)).await,
        }
    }

    async fn decide_device(&self, id: String, decision: DeviceDecision, now: UnixSeconds) -> Answer<bool> {
        match &self.backend {
            Backend::Sqlite(s) => s.decide_device(id, decision, now).await,
            Backend::Postgres(p) => bounded(p.decide_device(id, decision, now)).await,
        }
    }

    async fn prune(&self, now: UnixSeconds, rate_limits_before: UnixSeconds) -> Answer<(usize, usize)> {
        match &self.backend {
            Backend::Sqlite(s) => s.prune(now, rate_limits_before).await,
            Backend::Postgres(p) => bounded(p.prune(now, rate_limits_before)).await,
        }
    }

    async fn take_request(&self, bucket: String, limit: RequestLimit, now: UnixSeconds) -> Answer<bool> {
        match &self.backend {
            Backend::Sqlite(s) => s.take_request(bucket, limit, now).await,
            Backend::Postgres(p) => bounded(p.take_request(bucket, limit, now)).await,
        }
    }

    async fn give_back_request(&self, bucket: String, limit: RequestLimit) -> Answer<()> {
        match &self.backend {
            Backend::Sqlite(s) => s.give_back_request(bucket, limit).await,
            Backend::Postgres(p) => bounded(p.give_back_request(bucket, limit)).await,
        }
    }

    async fn rate_limit(&self, identifier: String) -> Answer<Option<RateLimitRecord>> {
        match &self.backend {
            Backend::Sqlite(s) => s.rate_limit(identifier).await,
            Backend::Postgres(p) => bounded(p.rate_limit(identifier)).await,
        }
    }

    async fn record_failure(&self, identifier: String, now: UnixSeconds, schedule: Schedule) -> Answer<u32> {
        match &self.backend {
            Backend::Sqlite(s) => s.record_failure(identifier, now, schedule).await,
            Backend::Postgres(p) => bounded(p.record_failure(identifier, now, schedule)).await,
        }
    }

    async fn clear_rate_limit(&self, identifier: String) -> Answer<()> {
        match &self.backend {
            Backend::Sqlite(s) => s.clear_rate_limit(identifier).await,
            Backend::Postgres(p) => bounded(p.clear_rate_limit(identifier)).await,
        }
    }

    async fn list_rate_limits(&self) -> Answer<Vec<RateLimitRecord>> {
        match &self.backend {
            Backend::Sqlite(s) => s.list_rate_limits().await,
            Backend::Postgres(p) => bounded(p.list_rate_limits()).await,
        }
    }

    async fn clear_all_rate_limits(&self) -> Answer<usize> {
        match &self.backend {
            Backend::Sqlite(s) => s.clear_all_rate_limits().await,
            Backend::Postgres(p) => bounded(p.clear_all_rate_limits()).await,
        }
    }
}
