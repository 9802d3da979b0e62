//! The PostgreSQL backend: the same tables and columns as SQLite (native
//! types: BIGSERIAL, BOOLEAN, TIMESTAMP in UTC), for several proxies sharing
//! one database. Async throughout (tokio-postgres) with a small pool of
//! connections; TLS to the server with rustls, and `sslmode=require` never
//! falls back to plain text.
//!
//! Every decision on shared state is one statement or one transaction:
//! `take_pending` and `claim_attempt` rely on row locks (a concurrent second
//! caller re-reads the row after the first commits), the sign-in caps are
//! checked and inserted under a transaction-scoped advisory lock, and a
//! failure's count and block are written in one transaction. Migrations run
//! under an advisory lock, so replicas that start together apply each once.

use super::contract::{Answer, Store};
use super::pending::{
    Admission, Columns, Confirmation, DeviceDecision, DevicePoll, DeviceRequest, DeviceStatus, Pending, PendingCaps,
    PendingRow,
};
use super::records::{NewToken, RateLimitRecord, RequestLimit, Schedule, StoreError, TokenRecord};
use crate::clock::UnixSeconds;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

/// The migrations, in order; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/postgres/0001_initial.sql"),
    include_str!("migrations/postgres/0002_pending_csrf.sql"),
    include_str!("migrations/postgres/0003_browser_binding.sql"),
    include_str!("migrations/postgres/0004_device_authorization.sql"),
    include_str!("migrations/postgres/0005_network_limits.sql"),
    include_str!("migrations/postgres/0006_token_claims.sql"),
];

/// The advisory lock key that serializes migrations across replicas ("llm-sso" in ASCII).
const MIGRATION_LOCK: i64 = 0x006c_6c6d_2d73_736f;
/// The advisory lock key that serializes the sign-in caps' check-and-insert.
const PENDING_CAPS_LOCK: i64 = 0x006c_6c6d_2d73_7370;

/// How many migrations this proxy knows (the schema version it writes).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Connections kept open at most, by default.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// Timestamps come back in the SQLite form the rest of the proxy reads.
const TS: &str = "'YYYY-MM-DD HH24:MI:SS'";

fn token_columns() -> String {
    format!(
        "id, token_hash, user_id, user_email, provider, is_authenticated, is_active, to_char(created_at, {TS}), \
         to_char(last_authenticated_at, {TS}), to_char(auth_expires_at, {TS}), claims"
    )
}

/// A pooled connection and the statement the hot path runs on it.
struct Conn {
    client: Client,
    find_token: Statement,
}

pub struct PgStore {
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    idle: Mutex<Vec<Conn>>,
    slots: Semaphore,
    pool_size: usize,
}

/// Why the database could not be reached or used at startup.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("sso.database_url is not a PostgreSQL URL: {0}")]
    Url(String),
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    #[error("the database has schema version {found}, newer than this proxy knows ({known})")]
    Newer { found: i64, known: i64 },
    #[error("migration failed: {0}")]
    Migrate(String),
}

fn other(e: &tokio_postgres::Error) -> StoreError {
    // The server's own message (e.g. "relation ... does not exist") when there is one.
    let detail = e.as_db_error().map_or_else(|| crate::logging::chain(e), |db| db.message().to_string());
    StoreError::Other(detail)
}

fn time(t: UnixSeconds) -> SystemTime {
    if t >= 0 { UNIX_EPOCH + Duration::from_secs(t as u64) } else { UNIX_EPOCH - Duration::from_secs(t.unsigned_abs()) }
}

fn token_row(row: &Row) -> Result<TokenRecord, tokio_postgres::Error> {
    Ok(TokenRecord {
        id: row.try_get(0)?,
        token_hash: row.try_get(1)?,
        user_id: row.try_get(2)?,
        user_email: row.try_get(3)?,
        provider: row.try_get(4)?,
        is_authenticated: row.try_get(5)?,
        is_active: row.try_get(6)?,
        created_at: row.try_get(7)?,
        last_authenticated_at: row.try_get(8)?,
        auth_expires_at: row.try_get(9)?,
        claims: row.try_get(10)?,
    })
}

/// A `pending_authorizations` row, every column read by name (`SELECT *` or `RETURNING *`).
fn columns(row: &Row) -> Result<Columns, tokio_postgres::Error> {
    let attempts: i32 = row.try_get("attempts")?;
    Ok(Columns {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        provider: row.try_get("provider")?,
        user_id: row.try_get("user_id")?,
        user_email: row.try_get("user_email")?,
        nonce: row.try_get("nonce")?,
        pkce_verifier: row.try_get("pkce_verifier")?,
        code_hash: row.try_get("code_hash")?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        renew_token_hash: row.try_get("renew_token_hash")?,
        client_ip: row.try_get("client_ip")?,
        csrf_token: row.try_get("csrf_token")?,
        browser_hash: row.try_get("browser_hash")?,
        device_status: row.try_get("device_status")?,
        user_agent: row.try_get("user_agent")?,
        device_id: row.try_get("device_id")?,
        claims: row.try_get("claims")?,
        created_at: seconds(row.try_get("created_at")?),
        expires_at: seconds(row.try_get("expires_at")?),
    })
}

/// A typed row of kind `R`; a row no proxy writes is an error, never a guess.
fn typed<R: PendingRow>(row: &Row) -> Answer<R> {
    R::from_columns(columns(row).map_err(|e| other(&e))?).map_err(StoreError::Other)
}

fn seconds(t: SystemTime) -> UnixSeconds {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn rate_row(row: &Row) -> Result<RateLimitRecord, tokio_postgres::Error> {
    let failures: i32 = row.try_get(1)?;
    Ok(RateLimitRecord {
        identifier: row.try_get(0)?,
        failed_attempts: u32::try_from(failures).unwrap_or(0),
        blocked_until: row.try_get(2)?,
    })
}

/// A connection on loan from the pool; it goes back unless it broke.
struct Loan<'a> {
    store: &'a PgStore,
    conn: Option<Conn>,
    _slot: tokio::sync::SemaphorePermit<'a>,
}

impl std::ops::Deref for Loan<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        // Present from creation until drop.
        self.conn.as_ref().unwrap_or_else(|| unreachable!("a loan holds its connection until dropped"))
    }
}

impl std::ops::DerefMut for Loan<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().unwrap_or_else(|| unreachable!("a loan holds its connection until dropped"))
    }
}

impl Drop for Loan<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take().filter(|c| !c.client.is_closed()) {
            self.store.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        }
    }
}

impl PgStore {
    /// Connects, migrates (under an advisory lock) and checks the schema.
    pub async fn open(url: &str, pool_size: usize) -> Result<PgStore, OpenError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| OpenError::Url(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let roots = tokio_rustls::rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let tls_config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| OpenError::Connect(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let store = PgStore {
            config,
            tls: tokio_postgres_rustls::MakeRustlsConnect::new(tls_config),
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(pool_size.max(1)),
            pool_size: pool_size.max(1),
        };
        let mut client = store.raw_connect().await.map_err(|e| OpenError::Connect(e.to_string()))?;
        migrate(&mut client).await?;
        Ok(store)
    }

    pub fn pool_size(&self) -> usize {
        self.pool_size
    }

    async fn raw_connect(&self) -> Result<Client, StoreError> {
        let (client, connection) =
            self.config.connect(self.tls.clone()).await.map_err(|e| StoreError::Other(crate::logging::chain(&e)))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!("PostgreSQL connection closed: {e}");
            }
        });
        Ok(client)
    }

    /// A pooled connection: the hot path's statement is prepared once per connection.
    async fn connect(&self) -> Result<Conn, StoreError> {
        let client = self.raw_connect().await?;
        let sql = format!("SELECT {} FROM agent_tokens WHERE token_hash = $1", token_columns());
        let find_token = client.prepare(&sql).await.map_err(|e| other(&e))?;
        Ok(Conn { client, find_token })
    }

    async fn loan(&self) -> Result<Loan<'_>, StoreError> {
        let slot = self.slots.acquire().await.map_err(|_| StoreError::Other("the pool is closed".into()))?;
        let pooled = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                match idle.pop() {
                    Some(c) if c.client.is_closed() => continue,
                    found => break found,
                }
            }
        };
        let conn = match pooled {
            Some(c) => c,
            None => self.connect().await?,
        };
        Ok(Loan { store: self, conn: Some(conn), _slot: slot })
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        let loan = self.loan().await?;
        loan.client.execute(sql, params).await.map_err(|e| other(&e))
    }

    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        let loan = self.loan().await?;
        loan.client.query(sql, params).await.map_err(|e| other(&e))
    }

    async fn query_opt(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, StoreError> {
        let loan = self.loan().await?;
        loan.client.query_opt(sql, params).await.map_err(|e| other(&e))
    }

    /// Copies one token row as it is (`db copy`); false when its hash is there already.
    pub async fn import_token(&self, t: &TokenRecord) -> Result<bool, StoreError> {
        let sql = "INSERT INTO agent_tokens (token_hash, user_id, user_email, provider, is_authenticated, is_active, \
                   created_at, last_authenticated_at, auth_expires_at, claims) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7::TEXT::TIMESTAMP, $8::TEXT::TIMESTAMP, $9::TEXT::TIMESTAMP, $10) \
                   ON CONFLICT (token_hash) DO NOTHING";
        let inserted = self
            .execute(
                sql,
                &[
                    &t.token_hash,
                    &t.user_id,
                    &t.user_email,
                    &t.provider,
                    &t.is_authenticated,
                    &t.is_active,
                    &t.created_at,
                    &t.last_authenticated_at,
                    &t.auth_expires_at,
                    &t.claims,
                ],
            )
            .await?;
        Ok(inserted == 1)
    }

    /// The server's version string and the schema version, for `doctor`.
    pub async fn describe(&self) -> Result<(String, i64), StoreError> {
        let row = self
            .query_opt(
                "SELECT current_setting('server_version'), (SELECT COALESCE(MAX(version), 0) FROM schema_version)",
                &[],
            )
            .await?
            .ok_or_else(|| StoreError::Other("no answer".into()))?;
        let version: String = row.try_get(0).map_err(|e| other(&e))?;
        let schema: i32 = row.try_get(1).map_err(|e| other(&e))?;
        Ok((version, i64::from(schema)))
    }
}

impl Store for PgStore {
    async fn find_token(&self, token_hash: String) -> Answer<Option<TokenRecord>> {
        let loan = self.loan().await?;
        let row = loan.client.query_opt(&loan.find_token, &[&token_hash]).await.map_err(|e| other(&e))?;
        row.map(|r| token_row(&r)).transpose().map_err(|e| other(&e))
    }

    async fn insert_token(&self, t: NewToken) -> Answer<i64> {
        let sql = "INSERT INTO agent_tokens (token_hash, user_id, user_email, provider, is_authenticated, is_active, \
                   created_at, last_authenticated_at, auth_expires_at, claims) \
                   VALUES ($1, $2, $3, $4, TRUE, TRUE, $5, $5, $6, $7) RETURNING id";
        let params: [&(dyn ToSql + Sync); 7] =
            [&t.token_hash, &t.user_id, &t.user_email, &t.provider, &time(t.now), &time(t.expires_at), &t.claims];
        let row = self.query_opt(sql, &params).await?;
        let row = row.ok_or_else(|| StoreError::Other("INSERT returned no id".into()))?;
        row.try_get(0).map_err(|e| other(&e))
    }

    async fn renew_token(
        &self,
        token_hash: String,
        user_id: String,
        claims: Option<String>,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> Answer<bool> {
        let sql = "UPDATE agent_tokens SET is_authenticated = TRUE, last_authenticated_at = $2, auth_expires_at = $3, \
                   claims = $5 WHERE token_hash = $1 AND is_active AND user_id = $4";
        Ok(self.execute(sql, &[&token_hash, &time(now), &time(expires_at), &user_id, &claims]).await? == 1)
    }

    async fn revoke_token(&self, id: i64) -> Answer<bool> {
        let sql = "UPDATE agent_tokens SET is_active = FALSE WHERE id = $1 AND is_active";
        Ok(self.execute(sql, &[&id]).await? == 1)
    }

    async fn list_tokens(&self) -> Answer<Vec<TokenRecord>> {
        let rows = self.query(&format!("SELECT {} FROM agent_tokens ORDER BY id", token_columns()), &[]).await?;
        rows.iter().map(token_row).collect::<Result<_, _>>().map_err(|e| other(&e))
    }

    async fn ping(&self) -> Answer<()> {
        self.execute("SELECT 1", &[]).await.map(|_| ())
    }

    async fn insert_pending(
        &self,
        pending: Pending,
        network: String,
        now: UnixSeconds,
        caps: PendingCaps,
    ) -> Answer<Admission> {
        let p = pending.columns();
        let mut loan = self.loan().await?;
        let tx = loan.client.transaction().await.map_err(|e| other(&e))?;
        // One writer at a time decides on the caps: the count and the insert cannot interleave.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PENDING_CAPS_LOCK]).await.map_err(|e| other(&e))?;
        tx.execute("DELETE FROM pending_authorizations WHERE expires_at <= $1", &[&time(now)])
            .await
            .map_err(|e| other(&e))?;
        let counts = tx
            .query_one(
                "SELECT COUNT(*) FILTER (WHERE client_ip IS NOT DISTINCT FROM $1), \
                 COUNT(*) FILTER (WHERE client_network = $2), COUNT(*) FROM pending_authorizations",
                &[&p.client_ip, &network],
            )
            .await
            .map_err(|e| other(&e))?;
        let count = |i: usize| counts.try_get::<_, i64>(i).map_err(|e| other(&e));
        let (client, in_network, total) = (count(0)?, count(1)?, count(2)?);
        let admission = if total >= caps.total {
            Admission::TotalCapReached
        } else if in_network >= caps.per_network {
            Admission::NetworkCapReached
        } else if client >= caps.per_client {
            Admission::ClientCapReached
        } else {
            let attempts = i32::try_from(p.attempts).unwrap_or(i32::MAX);
            tx.execute(
                "INSERT INTO pending_authorizations (id, kind, provider, user_id, user_email, nonce, pkce_verifier, \
                 code_hash, attempts, renew_token_hash, client_ip, csrf_token, expires_at, browser_hash, created_at, \
                 device_status, user_agent, device_id, client_network) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                &[
                    &p.id,
                    &p.kind,
                    &p.provider,
                    &p.user_id,
                    &p.user_email,
                    &p.nonce,
                    &p.pkce_verifier,
                    &p.code_hash,
                    &attempts,
                    &p.renew_token_hash,
                    &p.client_ip,
                    &p.csrf_token,
                    &time(p.expires_at),
                    &p.browser_hash,
                    &time(now),
                    &p.device_status,
                    &p.user_agent,
                    &p.device_id,
                    &network,
                ],
            )
            .await
            .map_err(|e| other(&e))?;
            Admission::Stored
        };
        tx.commit().await.map_err(|e| other(&e))?;
        Ok(admission)
    }

    async fn take_pending<R: PendingRow>(
        &self,
        id: String,
        browser_hash: Option<String>,
        now: UnixSeconds,
    ) -> Answer<Option<R>> {
        let sql = "DELETE FROM pending_authorizations WHERE id = $1 AND kind = $2 AND expires_at > $3 \
                   AND ($4::TEXT IS NULL OR browser_hash = $4) RETURNING *";
        let row = self.query_opt(sql, &[&id, &R::KIND.as_str(), &time(now), &browser_hash]).await?;
        row.map(|r| typed(&r)).transpose()
    }

    async fn get_pending<R: PendingRow>(&self, id: String) -> Answer<Option<R>> {
        let sql = "SELECT * FROM pending_authorizations WHERE id = $1 AND kind = $2";
        let row = self.query_opt(sql, &[&id, &R::KIND.as_str()]).await?;
        row.map(|r| typed(&r)).transpose()
    }

    async fn claim_attempt(&self, id: String, max: u32, now: UnixSeconds) -> Answer<Option<Confirmation>> {
        let sql = "UPDATE pending_authorizations SET attempts = attempts + 1 \
                   WHERE id = $1 AND kind = 'confirmation' AND attempts < $2 AND expires_at > $3 RETURNING *";
        let max = i32::try_from(max).unwrap_or(i32::MAX);
        let row = self.query_opt(sql, &[&id, &max, &time(now)]).await?;
        row.map(|r| typed(&r)).transpose()
    }

    async fn delete_pending(&self, id: String) -> Answer<()> {
        self.execute("DELETE FROM pending_authorizations WHERE id = $1", &[&id]).await.map(|_| ())
    }

    async fn find_device(&self, user_code_hash: String, now: UnixSeconds) -> Answer<Option<DeviceRequest>> {
        let sql = "SELECT * FROM pending_authorizations WHERE code_hash = $1 AND kind = 'device' \
                   AND device_status = 'pending' AND expires_at > $2";
        let row = self.query_opt(sql, &[&user_code_hash, &time(now)]).await?;
        row.map(|r| typed(&r)).transpose()
    }

    async fn poll_device(&self, id: String, now: UnixSeconds, interval: u32) -> Answer<DevicePoll> {
        let at = time(now);
        let interval = i32::try_from(interval).unwrap_or(i32::MAX);
        // On time: count the poll (one statement decides it; a concurrent poll waits for the row lock).
        let sql = "UPDATE pending_authorizations SET last_polled_at = $2 \
                   WHERE id = $1 AND kind = 'device' AND expires_at > $2 AND (last_polled_at IS NULL \
                     OR last_polled_at + make_interval(secs => $3 + 5 * attempts) <= $2) RETURNING *";
        let Some(row) = self.query_opt(sql, &[&id, &at, &interval]).await? else {
            // Too early (the interval grows), expired, or unknown.
            let early = self
                .execute(
                    "UPDATE pending_authorizations SET attempts = attempts + 1, last_polled_at = $2 \
                     WHERE id = $1 AND kind = 'device' AND expires_at > $2",
                    &[&id, &at],
                )
                .await?;
            if early == 1 {
                return Ok(DevicePoll::SlowDown);
            }
            let exists = self
                .query_opt("SELECT 1 FROM pending_authorizations WHERE id = $1 AND kind = 'device'", &[&id])
                .await?
                .is_some();
            return Ok(if exists { DevicePoll::Expired } else { DevicePoll::Unknown });
        };
        Ok(match typed::<DeviceRequest>(&row)?.status {
            DeviceStatus::Approved => {
                let sql = "DELETE FROM pending_authorizations WHERE id = $1 AND kind = 'device' \
                           AND device_status = 'approved' AND expires_at > $2 RETURNING *";
                match self.query_opt(sql, &[&id, &at]).await? {
                    Some(taken) => DevicePoll::Approved(Box::new(typed(&taken)?)),
                    // Another poll took it a moment ago.
                    None => DevicePoll::Unknown,
                }
            }
            DeviceStatus::Denied => DevicePoll::Denied,
            DeviceStatus::Pending => DevicePoll::Pending,
        })
    }

    async fn bind_device(&self, id: String, browser_hash: String, now: UnixSeconds) -> Answer<bool> {
        let sql = "UPDATE pending_authorizations SET browser_hash = $2 \
                   WHERE id = $1 AND kind = 'device' AND device_status = 'pending' AND expires_at > $3 \
                 AND (browser_hash IS NULL OR browser_hash = $2)";
        Ok(self.execute(sql, &[&id, &browser_hash, &time(now)]).await? == 1)
    }

    async fn decide_device(&self, id: String, decision: DeviceDecision, now: UnixSeconds) -> Answer<bool> {
        let (status, approver) = match decision {
            DeviceDecision::Approve(approver) => (DeviceStatus::Approved, Some(approver)),
            DeviceDecision::Deny => (DeviceStatus::Denied, None),
        };
        let user_id = approver.as_ref().map(|a| &a.user_id);
        let email = approver.as_ref().map(|a| &a.user_email);
        let provider = approver.as_ref().map(|a| &a.provider);
        let claims = approver.as_ref().and_then(|a| a.claims.as_ref());
        let sql = "UPDATE pending_authorizations SET device_status = $2, user_id = $3, user_email = $4, provider = $5, \
                   claims = $7 WHERE id = $1 AND kind = 'device' AND device_status = 'pending' AND expires_at > $6";
        let params: [&(dyn ToSql + Sync); 7] =
            [&id, &status.as_str(), &user_id, &email, &provider, &time(now), &claims];
        let changed = self.execute(sql, &params).await?;
        Ok(changed == 1)
    }

    async fn revoke_token_hash(&self, token_hash: String) -> Answer<bool> {
        let sql = "UPDATE agent_tokens SET is_active = FALSE WHERE token_hash = $1 AND is_active";
        Ok(self.execute(sql, &[&token_hash]).await? == 1)
    }

    async fn take_request(&self, bucket: String, limit: RequestLimit, now: UnixSeconds) -> Answer<bool> {
        // Refill for the time passed (never for a clock that went back), then take one: one statement, and
        // ON CONFLICT locks the bucket's row, so concurrent takers queue.
        let sql = "INSERT INTO request_buckets (bucket, tokens, updated_at) VALUES ($1, $2::float8 - 1, $4::bigint) \
                   ON CONFLICT (bucket) DO UPDATE SET \
                     tokens = LEAST($2::float8, request_buckets.tokens \
                       + GREATEST(0, $4::bigint - request_buckets.updated_at) * $3::float8) - 1, \
                     updated_at = GREATEST(request_buckets.updated_at, $4::bigint) \
                   WHERE LEAST($2::float8, request_buckets.tokens + GREATEST(0, $4::bigint - request_buckets.updated_at) * $3::float8) >= 1";
        Ok(self.execute(sql, &[&bucket, &limit.capacity, &limit.per_second(), &now]).await? == 1)
    }

    async fn give_back_request(&self, bucket: String, limit: RequestLimit) -> Answer<()> {
        let sql = "UPDATE request_buckets SET tokens = LEAST($2::float8, tokens + 1) WHERE bucket = $1";
        self.execute(sql, &[&bucket, &limit.capacity]).await.map(|_| ())
    }

    async fn prune(&self, now: UnixSeconds, rate_limits_before: UnixSeconds) -> Answer<(usize, usize)> {
        self.execute("DELETE FROM request_buckets WHERE updated_at < $1", &[&rate_limits_before]).await?;
        let pending = self.execute("DELETE FROM pending_authorizations WHERE expires_at <= $1", &[&time(now)]).await?;
        let limits = self
            .execute(
                "DELETE FROM rate_limits WHERE COALESCE(blocked_until, '-infinity') <= $1 \
                 AND COALESCE(last_attempt_at, '-infinity') < $2",
                &[&time(now), &time(rate_limits_before)],
            )
            .await?;
        Ok((pending as usize, limits as usize))
    }

    async fn rate_limit(&self, identifier: String) -> Answer<Option<RateLimitRecord>> {
        let sql = format!(
            "SELECT identifier, failed_attempts, to_char(blocked_until, {TS}) FROM rate_limits WHERE identifier = $1"
        );
        let row = self.query_opt(&sql, &[&identifier]).await?;
        row.map(|r| rate_row(&r)).transpose().map_err(|e| other(&e))
    }

    async fn record_failure(&self, identifier: String, now: UnixSeconds, schedule: Schedule) -> Answer<u32> {
        let mut loan = self.loan().await?;
        let tx = loan.client.transaction().await.map_err(|e| other(&e))?;
        // The upsert locks the row until commit: concurrent failures each count, in turn.
        let row = tx
            .query_one(
                "INSERT INTO rate_limits (identifier, failed_attempts, last_attempt_at) VALUES ($1, 1, $2) \
                 ON CONFLICT (identifier) DO UPDATE SET failed_attempts = rate_limits.failed_attempts + 1, \
                 last_attempt_at = EXCLUDED.last_attempt_at RETURNING failed_attempts",
                &[&identifier, &time(now)],
            )
            .await
            .map_err(|e| other(&e))?;
        let failures: i32 = row.try_get(0).map_err(|e| other(&e))?;
        let failures = u32::try_from(failures).unwrap_or(0);
        let until = now.saturating_add(schedule(failures));
        tx.execute("UPDATE rate_limits SET blocked_until = $2 WHERE identifier = $1", &[&identifier, &time(until)])
            .await
            .map_err(|e| other(&e))?;
        tx.commit().await.map_err(|e| other(&e))?;
        Ok(failures)
    }

    async fn clear_rate_limit(&self, identifier: String) -> Answer<()> {
        self.execute("DELETE FROM rate_limits WHERE identifier = $1", &[&identifier]).await.map(|_| ())
    }

    async fn revoke_user_tokens(&self, email: String) -> Answer<usize> {
        let sql = "UPDATE agent_tokens SET is_active = FALSE WHERE user_email = $1 AND is_active";
        Ok(self.execute(sql, &[&email]).await? as usize)
    }

    async fn list_rate_limits(&self) -> Answer<Vec<RateLimitRecord>> {
        let sql = format!(
            "SELECT identifier, failed_attempts, to_char(blocked_until, {TS}) FROM rate_limits ORDER BY identifier"
        );
        let rows = self.query(&sql, &[]).await?;
        rows.iter().map(rate_row).collect::<Result<_, _>>().map_err(|e| other(&e))
    }

    async fn clear_all_rate_limits(&self) -> Answer<usize> {
        Ok(self.execute("DELETE FROM rate_limits", &[]).await? as usize)
    }
}

/// What `doctor` learns from a PostgreSQL server without changing anything.
pub struct Probe {
    pub server_version: String,
    /// `None` when the proxy has not created its tables there yet.
    pub schema_version: Option<i64>,
    /// One `SELECT 1` there and back.
    pub round_trip: Duration,
}

/// Connects (TLS as `sslmode` says), reads the server and schema versions and
/// times one round trip; never migrates or writes.
pub async fn probe(url: &str, timeout: Duration) -> Result<Probe, String> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| e.to_string())?;
    config.connect_timeout(timeout);
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let roots = tokio_rustls::rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connect = config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls));
    let (client, connection) = tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
        .map_err(|e| crate::logging::chain(&e))?;
    tokio::spawn(connection);
    let started = std::time::Instant::now();
    client.simple_query("SELECT 1").await.map_err(|e| crate::logging::chain(&e))?;
    let round_trip = started.elapsed();
    let row = client
        .query_one("SELECT current_setting('server_version')", &[])
        .await
        .map_err(|e| crate::logging::chain(&e))?;
    let server_version: String = row.try_get(0).map_err(|e| e.to_string())?;
    let schema_version = match client.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[]).await {
        Ok(row) => row.try_get::<_, i32>(0).ok().map(i64::from),
        Err(_) => None,
    };
    Ok(Probe { server_version, schema_version, round_trip })
}

/// Brings the schema up to date in one transaction under an advisory lock, so
/// replicas starting at once apply each migration once; refuses a newer schema.
async fn migrate(client: &mut Client) -> Result<(), OpenError> {
    let sql = |e: tokio_postgres::Error| OpenError::Migrate(crate::logging::chain(&e));
    let tx = client.transaction().await.map_err(sql)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(sql)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)").await.map_err(sql)?;
    let row = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[]).await.map_err(sql)?;
    let current: i32 = row.try_get(0).map_err(sql)?;
    let known = MIGRATIONS.len() as i64;
    if i64::from(current) > known {
        return Err(OpenError::Newer { found: i64::from(current), known });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate() {
        let version = index as i32 + 1;
        if version > current {
            tx.batch_execute(migration).await.map_err(sql)?;
            tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&version]).await.map_err(sql)?;
        }
    }
    tx.commit().await.map_err(sql)?;
    Ok(())
}

/// Applies only the first `version` migrations (tests: a database written by an older proxy).
#[doc(hidden)]
pub async fn migrate_to(url: &str, version: usize) -> Result<(), String> {
    let (mut client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let tx = client.transaction().await.map_err(|e| e.to_string())?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .await
        .map_err(|e| e.to_string())?;
    for (index, migration) in MIGRATIONS.iter().take(version).enumerate() {
        tx.batch_execute(migration).await.map_err(|e| e.to_string())?;
        let v = index as i32 + 1;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&v]).await.map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())
}
