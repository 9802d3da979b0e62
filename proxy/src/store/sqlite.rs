//! SQLite backend: WAL, a busy timeout, foreign keys, versioned migrations,
//! file mode 0600, and a small pool of connections. SQLite's calls block, so
//! every operation runs on one of [`STORE_THREADS`] dedicated threads (the
//! agent path's token lookup first tries the caller's thread, when that needs
//! no waiting).

use super::contract::{Answer, Store};
use super::pending::{
    Admission, Columns, Confirmation, DeviceDecision, DevicePoll, DeviceRequest, DeviceStatus, Pending, PendingCaps,
    PendingRow,
};
use super::records::{NewToken, RateLimitRecord, RequestLimit, Schedule, StoreError, TokenRecord};
use crate::clock::{UnixSeconds, to_sqlite};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, named_params, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a statement waits for another connection's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept for reuse.
const POOL_SIZE: usize = 8;

/// Schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_pending_csrf.sql"),
    include_str!("migrations/0003_browser_binding.sql"),
    include_str!("migrations/0004_device_authorization.sql"),
    include_str!("migrations/0005_network_limits.sql"),
    include_str!("migrations/0006_token_claims.sql"),
];

/// How many threads run SQLite calls. Each keeps its own connection busy, so the
/// SQLite pool never opens and drops connections under load, and the thread
/// count stays fixed however many requests wait.
pub const STORE_THREADS: usize = 4;

/// The SQLite store: its connections, and the threads that use them.
pub struct SqliteStore {
    pool: Arc<Pool>,
    jobs: std::sync::mpsc::Sender<Job>,
}

type Job = Box<dyn FnOnce(&Pool) + Send>;

/// The connections to one database file.
struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    busy_timeout: Duration,
    /// Connections that never wait (busy timeout 0), for token lookups run on the
    /// caller's thread: see [`Pool::find_token_now`].
    quick: Mutex<Vec<Connection>>,
}

/// Connections for lookups that never wait: one per executor worker on this machine's size.
const QUICK_CONNECTIONS: usize = 2;

/// Why the database could not be opened at startup, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}\n  hint: {hint}")]
pub struct OpenError {
    pub path: String,
    pub message: String,
    pub hint: String,
}

pub fn classify(e: &rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy(e.to_string()),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating file and directory when missing), migrates and checks the database.
    pub fn open(path: &Path) -> Result<SqliteStore, OpenError> {
        Self::open_with_timeout(path, BUSY_TIMEOUT)
    }

    pub fn open_with_timeout(path: &Path, busy_timeout: Duration) -> Result<SqliteStore, OpenError> {
        let fail = |message: String, hint: &str| OpenError {
            path: path.display().to_string(),
            message,
            hint: hint.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(format!("cannot create directory {}: {e}", dir.display()), "check permissions"))?;
        }
        create_private(path).map_err(|e| fail(format!("cannot create the database file: {e}"), "check permissions"))?;
        let store = Pool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            busy_timeout,
            quick: Mutex::new(Vec::new()),
        };
        let recovery = "the file is damaged: stop the proxy, keep a copy, then run `llm-sso-proxy db recover` \
                        (or `sqlite3 sso_auth.db \".recover\" | sqlite3 recovered.db`) or restore a backup";
        let conn = store.connect().map_err(|e| match classify(&e) {
            StoreError::Corrupt(m) => fail(m, recovery),
            other => fail(other.to_string(), "check the path and permissions of sso.database_path"),
        })?;
        let check: String =
            conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(|e| fail(e.to_string(), recovery))?;
        if check != "ok" {
            return Err(fail(format!("database disk image is malformed ({check})"), recovery));
        }
        migrate(&conn).map_err(|e| match e {
            MigrateError::Newer { found, known } => fail(
                format!("the database has schema version {found}, newer than this proxy knows ({known})"),
                "it was written by a newer llm-sso-proxy: run that version, or restore a backup taken before the upgrade",
            ),
            MigrateError::Sql(e) => fail(format!("migration failed: {e}"), recovery),
        })?;
        store.put_back(conn);
        for _ in 0..QUICK_CONNECTIONS {
            if let Ok(quick) = store.connect().and_then(|c| c.busy_timeout(Duration::ZERO).map(|()| c)) {
                store.quick.lock().unwrap_or_else(|p| p.into_inner()).push(quick);
            }
        }
        Ok(SqliteStore::start(store))
    }

    /// Starts the store threads on `pool`; they stop when the store is dropped.
    fn start(pool: Pool) -> SqliteStore {
        let pool = Arc::new(pool);
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..STORE_THREADS {
            let (pool, queue) = (pool.clone(), queue.clone());
            let spawned = std::thread::Builder::new().name(format!("store-{n}")).spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        Ok(job) => job(&pool),
                        Err(_) => return, // the store is gone
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!("cannot start store thread {n}: {e}");
            }
        }
        SqliteStore { pool, jobs }
    }

    /// Runs `f` with a pooled connection on a store thread.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Answer<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |pool| {
            let _ = tx.send(pool.with(f));
        });
        self.jobs.send(job).map_err(|_| StoreError::Other("the store threads have stopped".into()))?;
        rx.await.map_err(|_| StoreError::Other("a store call was dropped".into()))?
    }

    /// A connection of this store's own, outside the pool (tests and maintenance).
    #[doc(hidden)]
    pub fn connection(&self) -> rusqlite::Result<Connection> {
        self.pool.connect()
    }
}

impl Pool {
    fn connect(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        // journal_mode answers with a row; the others are plain settings.
        let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
        Ok(conn)
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(c) => Ok(c),
            None => self.connect().map_err(|e| classify(&e)),
        }
    }

    fn put_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < POOL_SIZE {
            idle.push(conn);
        }
    }

    /// Runs `f` on a pooled connection; the connection is reused only after success.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = self.take()?;
        let result = f(&conn).map_err(|e| classify(&e));
        if result.is_ok() {
            self.put_back(conn);
        }
        result
    }
}

/// Creates the file with mode 0600 if it does not exist, and tightens an existing one.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if !path.exists() {
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    }
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[derive(Debug)]
enum MigrateError {
    /// Written by a newer proxy: running older code on it could lose data.
    Newer {
        found: i64,
        known: i64,
    },
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sql(e)
    }
}

/// Brings the schema up to date in one `BEGIN IMMEDIATE` transaction, so two
/// processes starting at once cannot both apply the same migration.
fn migrate(conn: &Connection) -> Result<(), MigrateError> {
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let current: i64 = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(MigrateError::Newer { found: current, known });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        if version > current {
            tx.execute_batch(sql)?;
            tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [version])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Writes a database at schema `version` exactly, as an older proxy left it (tests of migration).
#[doc(hidden)]
pub fn create_at_version(path: &Path, version: usize) -> rusqlite::Result<()> {
    let conn = Connection::open(path)?;
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    for (index, sql) in MIGRATIONS.iter().take(version).enumerate() {
        conn.execute_batch(sql)?;
        conn.execute("INSERT INTO schema_version (version) VALUES (?1)", [index as i64 + 1])?;
    }
    Ok(())
}

/// How many migrations this proxy knows (the schema version it writes).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// The schema version a database is at.
pub fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0))
}

/// The agent request path's one query, with its statement cached on the connection.
fn find_token_on(conn: &Connection, token_hash: &str) -> rusqlite::Result<Option<TokenRecord>> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {TOKEN_COLUMNS} FROM agent_tokens WHERE token_hash = ?1"));
    conn.prepare_cached(&SQL)?.query_row([token_hash], token_row).optional()
}

const TOKEN_COLUMNS: &str = "id, token_hash, user_id, user_email, provider, is_authenticated, is_active, \
                             created_at, last_authenticated_at, auth_expires_at, claims";

fn token_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: row.get(0)?,
        token_hash: row.get(1)?,
        user_id: row.get(2)?,
        user_email: row.get(3)?,
        provider: row.get(4)?,
        is_authenticated: row.get::<_, i64>(5)? != 0,
        is_active: row.get::<_, i64>(6)? != 0,
        created_at: row.get(7)?,
        last_authenticated_at: row.get(8)?,
        auth_expires_at: row.get(9)?,
        claims: row.get(10)?,
    })
}

/// A `pending_authorizations` row, every column read by name (`SELECT *` or `RETURNING *`).
fn columns(row: &rusqlite::Row<'_>) -> rusqlite::Result<Columns> {
    let expires: String = row.get("expires_at")?;
    let created: String = row.get("created_at")?;
    Ok(Columns {
        id: row.get("id")?,
        kind: row.get("kind")?,
        provider: row.get("provider")?,
        user_id: row.get("user_id")?,
        user_email: row.get("user_email")?,
        nonce: row.get("nonce")?,
        pkce_verifier: row.get("pkce_verifier")?,
        code_hash: row.get("code_hash")?,
        attempts: row.get::<_, i64>("attempts")?.clamp(0, i64::from(u32::MAX)) as u32,
        renew_token_hash: row.get("renew_token_hash")?,
        client_ip: row.get("client_ip")?,
        csrf_token: row.get("csrf_token")?,
        browser_hash: row.get("browser_hash")?,
        device_status: row.get("device_status")?,
        user_agent: row.get("user_agent")?,
        device_id: row.get("device_id")?,
        claims: row.get("claims")?,
        created_at: crate::clock::from_sqlite(&created).unwrap_or(0),
        // Unreadable expiry (edited by hand): treat as expired.
        expires_at: crate::clock::from_sqlite(&expires).unwrap_or(0),
    })
}

/// A typed row of kind `R`; a row no proxy writes is an error, never a guess.
fn typed<R: PendingRow>(row: &rusqlite::Row<'_>) -> rusqlite::Result<R> {
    R::from_columns(columns(row)?)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into()))
}

fn rate_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RateLimitRecord> {
    Ok(RateLimitRecord {
        identifier: r.get("identifier")?,
        failed_attempts: r.get::<_, i64>("failed_attempts")?.clamp(0, i64::from(u32::MAX)) as u32,
        blocked_until: r.get("blocked_until")?,
    })
}

impl Pool {
    /// The token lookup on the caller's thread when it can answer without waiting (a free connection, no
    /// lock); `None` sends the call to a store thread.
    fn find_token_now(&self, token_hash: &str) -> Option<Answer<Option<TokenRecord>>> {
        // Another caller has the list, or every quick connection is in use: do not wait.
        let conn = self.quick.try_lock().ok()?.pop()?;
        let result = find_token_on(&conn, token_hash).map_err(|e| classify(&e));
        self.quick.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        match result {
            // A lock (a checkpoint, a hand edit in a rollback-journal tool): let a store thread wait for it.
            Err(StoreError::Busy(_)) => None,
            other => Some(other),
        }
    }
}

impl Store for SqliteStore {
    async fn find_token(&self, token_hash: String) -> Answer<Option<TokenRecord>> {
        match self.pool.find_token_now(&token_hash) {
            Some(answer) => answer,
            None => self.run(move |c| find_token_on(c, &token_hash)).await,
        }
    }

    async fn insert_token(&self, t: NewToken) -> Answer<i64> {
        self.run(move |c| {
            c.execute(
                "INSERT INTO agent_tokens (token_hash, user_id, user_email, provider, is_authenticated, is_active, \
                 created_at, last_authenticated_at, auth_expires_at, claims) VALUES (?1, ?2, ?3, ?4, 1, 1, ?5, ?5, ?6, ?7)",
                params![
                    t.token_hash,
                    t.user_id,
                    t.user_email,
                    t.provider,
                    to_sqlite(t.now),
                    to_sqlite(t.expires_at),
                    t.claims
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn renew_token(
        &self,
        token_hash: String,
        user_id: String,
        claims: Option<String>,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> Answer<bool> {
        self.run(move |c| {
            let changed = c.execute(
                "UPDATE agent_tokens SET is_authenticated = 1, last_authenticated_at = ?2, auth_expires_at = ?3, \
                 claims = ?5 WHERE token_hash = ?1 AND is_active = 1 AND user_id = ?4",
                params![token_hash, to_sqlite(now), to_sqlite(expires_at), user_id, claims],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn revoke_token(&self, id: i64) -> Answer<bool> {
        self.run(move |c| {
            let changed = c.execute("UPDATE agent_tokens SET is_active = 0 WHERE id = ?1 AND is_active = 1", [id])?;
            Ok(changed == 1)
        })
        .await
    }

    async fn revoke_token_hash(&self, token_hash: String) -> Answer<bool> {
        self.run(move |c| {
            let changed = c.execute(
                "UPDATE agent_tokens SET is_active = 0 WHERE token_hash = ?1 AND is_active = 1",
                [token_hash],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn revoke_user_tokens(&self, email: String) -> Answer<usize> {
        self.run(move |c| {
            c.execute("UPDATE agent_tokens SET is_active = 0 WHERE user_email = ?1 AND is_active = 1", [email])
        })
        .await
    }

    async fn list_tokens(&self) -> Answer<Vec<TokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM agent_tokens ORDER BY id");
        self.run(move |c| c.prepare(&sql)?.query_map([], token_row)?.collect()).await
    }

    async fn ping(&self) -> Answer<()> {
        self.run(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    async fn insert_pending(
        &self,
        pending: Pending,
        network: String,
        now: UnixSeconds,
        caps: PendingCaps,
    ) -> Answer<Admission> {
        let p = pending.columns();
        self.run(move |c| {
            c.execute("DELETE FROM pending_authorizations WHERE expires_at <= ?1", [to_sqlite(now)])?;
            // The caps and the insert are one statement: concurrent inserts cannot overshoot.
            let inserted = c.execute(
                "INSERT INTO pending_authorizations (id, kind, provider, user_id, user_email, nonce, pkce_verifier, \
                   code_hash, attempts, renew_token_hash, client_ip, csrf_token, expires_at, browser_hash, \
                   device_status, user_agent, device_id, created_at, client_network) \
                 SELECT :id, :kind, :provider, :user_id, :user_email, :nonce, :pkce_verifier, :code_hash, :attempts, \
                   :renew_token_hash, :client_ip, :csrf_token, :expires_at, :browser_hash, :device_status, \
                   :user_agent, :device_id, :now, :network \
                 WHERE (SELECT COUNT(*) FROM pending_authorizations WHERE client_ip IS :client_ip) < :per_client \
                   AND (SELECT COUNT(*) FROM pending_authorizations WHERE client_network = :network) < :per_network \
                   AND (SELECT COUNT(*) FROM pending_authorizations) < :total",
                named_params! {
                    ":id": p.id,
                    ":kind": p.kind,
                    ":provider": p.provider,
                    ":user_id": p.user_id,
                    ":user_email": p.user_email,
                    ":nonce": p.nonce,
                    ":pkce_verifier": p.pkce_verifier,
                    ":code_hash": p.code_hash,
                    ":attempts": i64::from(p.attempts),
                    ":renew_token_hash": p.renew_token_hash,
                    ":client_ip": p.client_ip,
                    ":csrf_token": p.csrf_token,
                    ":expires_at": to_sqlite(p.expires_at),
                    ":browser_hash": p.browser_hash,
                    ":device_status": p.device_status,
                    ":user_agent": p.user_agent,
                    ":device_id": p.device_id,
                    ":now": to_sqlite(now),
                    ":network": network,
                    ":per_client": caps.per_client,
                    ":per_network": caps.per_network,
                    ":total": caps.total,
                },
            )?;
            if inserted == 1 {
                return Ok(Admission::Stored);
            }
            // Refused: say which cap (a read only to word the answer; the decision is made).
            let total: i64 = c.query_row("SELECT COUNT(*) FROM pending_authorizations", [], |r| r.get(0))?;
            let in_network: i64 =
                c.query_row("SELECT COUNT(*) FROM pending_authorizations WHERE client_network = ?1", [network], |r| {
                    r.get(0)
                })?;
            Ok(if total >= caps.total {
                Admission::TotalCapReached
            } else if in_network >= caps.per_network {
                Admission::NetworkCapReached
            } else {
                Admission::ClientCapReached
            })
        })
        .await
    }

    async fn take_pending<R: PendingRow>(
        &self,
        id: String,
        browser_hash: Option<String>,
        now: UnixSeconds,
    ) -> Answer<Option<R>> {
        self.run(move |c| {
            c.query_row(
                "DELETE FROM pending_authorizations WHERE id = ?1 AND kind = ?2 AND expires_at > ?3 \
                 AND (?4 IS NULL OR browser_hash = ?4) RETURNING *",
                params![id, R::KIND.as_str(), to_sqlite(now), browser_hash],
                typed::<R>,
            )
            .optional()
        })
        .await
    }

    async fn get_pending<R: PendingRow>(&self, id: String) -> Answer<Option<R>> {
        self.run(move |c| {
            c.query_row(
                "SELECT * FROM pending_authorizations WHERE id = ?1 AND kind = ?2",
                params![id, R::KIND.as_str()],
                typed::<R>,
            )
            .optional()
        })
        .await
    }

    async fn claim_attempt(&self, id: String, max: u32, now: UnixSeconds) -> Answer<Option<Confirmation>> {
        self.run(move |c| {
            c.query_row(
                "UPDATE pending_authorizations SET attempts = attempts + 1 \
                 WHERE id = ?1 AND kind = 'confirmation' AND attempts < ?2 AND expires_at > ?3 RETURNING *",
                params![id, i64::from(max), to_sqlite(now)],
                typed::<Confirmation>,
            )
            .optional()
        })
        .await
    }

    async fn delete_pending(&self, id: String) -> Answer<()> {
        self.run(move |c| c.execute("DELETE FROM pending_authorizations WHERE id = ?1", [id]).map(|_| ())).await
    }

    async fn find_device(&self, user_code_hash: String, now: UnixSeconds) -> Answer<Option<DeviceRequest>> {
        self.run(move |c| {
            c.query_row(
                "SELECT * FROM pending_authorizations WHERE code_hash = ?1 AND kind = 'device' \
                 AND device_status = 'pending' AND expires_at > ?2",
                params![user_code_hash, to_sqlite(now)],
                typed::<DeviceRequest>,
            )
            .optional()
        })
        .await
    }

    async fn poll_device(&self, id: String, now: UnixSeconds, interval: u32) -> Answer<DevicePoll> {
        self.run(move |c| {
            let at = to_sqlite(now);
            // On time: count the poll (one statement decides it).
            let on_time = c
                .query_row(
                    "UPDATE pending_authorizations SET last_polled_at = ?2 \
                     WHERE id = ?1 AND kind = 'device' AND expires_at > ?2 AND (last_polled_at IS NULL \
                       OR CAST(strftime('%s', last_polled_at) AS INTEGER) + ?3 + 5 * attempts <= ?4) \
                     RETURNING *",
                    params![id, at, i64::from(interval), now],
                    typed::<DeviceRequest>,
                )
                .optional()?;
            let Some(row) = on_time else {
                // Too early (the interval grows), expired, or unknown.
                let early = c.execute(
                    "UPDATE pending_authorizations SET attempts = attempts + 1, last_polled_at = ?2 \
                     WHERE id = ?1 AND kind = 'device' AND expires_at > ?2",
                    params![id, at],
                )?;
                if early == 1 {
                    return Ok(DevicePoll::SlowDown);
                }
                let exists: bool = c.query_row(
                    "SELECT EXISTS (SELECT 1 FROM pending_authorizations WHERE id = ?1 AND kind = 'device')",
                    [&id],
                    |r| r.get(0),
                )?;
                return Ok(if exists { DevicePoll::Expired } else { DevicePoll::Unknown });
            };
            Ok(match row.status {
                DeviceStatus::Approved => c
                    .query_row(
                        "DELETE FROM pending_authorizations WHERE id = ?1 AND kind = 'device' \
                         AND device_status = 'approved' AND expires_at > ?2 RETURNING *",
                        params![id, at],
                        typed::<DeviceRequest>,
                    )
                    .optional()?
                    // Another poll took it a moment ago.
                    .map_or(DevicePoll::Unknown, |p| DevicePoll::Approved(Box::new(p))),
                DeviceStatus::Denied => DevicePoll::Denied,
                DeviceStatus::Pending => DevicePoll::Pending,
            })
        })
        .await
    }

    async fn bind_device(&self, id: String, browser_hash: String, now: UnixSeconds) -> Answer<bool> {
        self.run(move |c| {
            let changed = c.execute(
                "UPDATE pending_authorizations SET browser_hash = ?2 \
                 WHERE id = ?1 AND kind = 'device' AND device_status = 'pending' AND expires_at > ?3 \
                 AND (browser_hash IS NULL OR browser_hash = ?2)",
                params![id, browser_hash, to_sqlite(now)],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn decide_device(&self, id: String, decision: DeviceDecision, now: UnixSeconds) -> Answer<bool> {
        let (status, approver) = match decision {
            DeviceDecision::Approve(approver) => (DeviceStatus::Approved, Some(approver)),
            DeviceDecision::Deny => (DeviceStatus::Denied, None),
        };
        self.run(move |c| {
            let changed = c.execute(
                "UPDATE pending_authorizations SET device_status = ?2, user_id = ?3, user_email = ?4, provider = ?5, \
                 claims = ?7 WHERE id = ?1 AND kind = 'device' AND device_status = 'pending' AND expires_at > ?6",
                params![
                    id,
                    status.as_str(),
                    approver.as_ref().map(|a| &a.user_id),
                    approver.as_ref().map(|a| &a.user_email),
                    approver.as_ref().map(|a| &a.provider),
                    to_sqlite(now),
                    approver.as_ref().and_then(|a| a.claims.as_ref()),
                ],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn prune(&self, now: UnixSeconds, rate_limits_before: UnixSeconds) -> Answer<(usize, usize)> {
        self.run(move |c| {
            let pending = c.execute("DELETE FROM pending_authorizations WHERE expires_at <= ?1", [to_sqlite(now)])?;
            let limits = c.execute(
                "DELETE FROM rate_limits WHERE COALESCE(blocked_until, '') <= ?1 AND COALESCE(last_attempt_at, '') < ?2",
                params![to_sqlite(now), to_sqlite(rate_limits_before)],
            )?;
            // An idle bucket is full again: forgetting it changes nothing.
            c.execute("DELETE FROM request_buckets WHERE updated_at < ?1", [rate_limits_before])?;
            Ok((pending, limits))
        })
        .await
    }

    async fn take_request(&self, bucket: String, limit: RequestLimit, now: UnixSeconds) -> Answer<bool> {
        self.run(move |c| {
            // Refill for the time passed (never for a clock that went back), then take one: one statement.
            let taken = c.execute(
                "INSERT INTO request_buckets (bucket, tokens, updated_at) VALUES (?1, ?2 - 1, ?4) \
                 ON CONFLICT (bucket) DO UPDATE SET \
                   tokens = MIN(?2, tokens + MAX(0, ?4 - updated_at) * ?3) - 1, updated_at = MAX(updated_at, ?4) \
                 WHERE MIN(?2, tokens + MAX(0, ?4 - updated_at) * ?3) >= 1",
                params![bucket, limit.capacity, limit.per_second(), now],
            )?;
            Ok(taken == 1)
        })
        .await
    }

    async fn give_back_request(&self, bucket: String, limit: RequestLimit) -> Answer<()> {
        self.run(move |c| {
            c.execute(
                "UPDATE request_buckets SET tokens = MIN(?2, tokens + 1) WHERE bucket = ?1",
                params![bucket, limit.capacity],
            )
            .map(|_| ())
        })
        .await
    }

    async fn rate_limit(&self, identifier: String) -> Answer<Option<RateLimitRecord>> {
        self.run(move |c| {
            c.query_row("SELECT * FROM rate_limits WHERE identifier = ?1", [identifier], rate_row).optional()
        })
        .await
    }

    async fn record_failure(&self, identifier: String, now: UnixSeconds, schedule: Schedule) -> Answer<u32> {
        self.run(move |c| {
            let tx = rusqlite::Transaction::new_unchecked(c, rusqlite::TransactionBehavior::Immediate)?;
            let failures = tx
                .query_row(
                    "INSERT INTO rate_limits (identifier, failed_attempts, last_attempt_at) VALUES (?1, 1, ?2) \
                     ON CONFLICT (identifier) DO UPDATE SET failed_attempts = failed_attempts + 1, \
                     last_attempt_at = excluded.last_attempt_at RETURNING failed_attempts",
                    params![identifier, to_sqlite(now)],
                    |r| r.get::<_, i64>(0),
                )?
                .clamp(0, i64::from(u32::MAX)) as u32;
            let until = now.saturating_add(schedule(failures));
            tx.execute(
                "UPDATE rate_limits SET blocked_until = ?2 WHERE identifier = ?1",
                params![identifier, to_sqlite(until)],
            )?;
            tx.commit()?;
            Ok(failures)
        })
        .await
    }

    async fn clear_rate_limit(&self, identifier: String) -> Answer<()> {
        self.run(move |c| c.execute("DELETE FROM rate_limits WHERE identifier = ?1", [identifier]).map(|_| ())).await
    }

    async fn list_rate_limits(&self) -> Answer<Vec<RateLimitRecord>> {
        self.run(|c| c.prepare("SELECT * FROM rate_limits ORDER BY identifier")?.query_map([], rate_row)?.collect())
            .await
    }

    async fn clear_all_rate_limits(&self) -> Answer<usize> {
        self.run(|c| c.execute("DELETE FROM rate_limits", [])).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens;

    fn temp_db(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("llm-sso-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("nested/sso_auth.db")
    }

    fn new_token(hash: &str, now: UnixSeconds) -> NewToken {
        NewToken {
            token_hash: hash.into(),
            user_id: "google:1".into(),
            user_email: "a@b.c".into(),
            provider: "google".into(),
            claims: None,
            now,
            expires_at: now + 3600,
        }
    }

    #[test]
    fn creates_file_and_directory_private_wal_and_migrated() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_db("create");
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let conn = store.connection().unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len() as i64);
        drop(store);
        // Reopening does not migrate twice.
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(schema_version(&again.connection().unwrap()).unwrap(), MIGRATIONS.len() as i64);
    }

    // The quick list is held on purpose while a store thread answers (which never touches it).
    #[allow(clippy::await_holding_lock)]
    #[tokio::test]
    async fn quick_lookups_answer_on_the_callers_thread_and_step_aside_when_they_would_wait() {
        let store = SqliteStore::open(&temp_db("quick")).unwrap();
        let hash = tokens::hash(&tokens::generate());
        store.insert_token(new_token(&hash, 1_800_000_000)).await.unwrap();
        let pool = &store.pool;
        let found = pool.find_token_now(&hash).expect("answered at once").unwrap();
        assert_eq!(found.map(|t| t.token_hash), Some(hash.clone()));
        // Every quick connection busy (here: their list held): the call goes to a store thread.
        let held = pool.quick.lock().unwrap();
        assert!(pool.find_token_now(&hash).is_none());
        assert!(store.find_token(hash.clone()).await.unwrap().is_some(), "a store thread answers instead");
        drop(held);
        // None free (all lent out): step aside too; back, they answer again.
        let taken: Vec<Connection> = std::mem::take(&mut *pool.quick.lock().unwrap());
        assert!(pool.find_token_now(&hash).is_none(), "no free quick connection");
        pool.quick.lock().unwrap().extend(taken);
        assert!(pool.find_token_now(&hash).is_some());
    }

    #[test]
    fn a_database_from_a_newer_proxy_is_refused() {
        let path = temp_db("newer");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute("INSERT INTO schema_version (version) VALUES (99)", []).unwrap();
        let err = SqliteStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("schema version 99") && err.contains("newer"), "{err}");
    }

    #[test]
    fn a_garbage_file_stops_startup_with_sqlites_message_and_the_recovery_hint() {
        let path = temp_db("corrupt");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
        let err = SqliteStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("file is not a database") || err.contains("malformed"), "{err}");
        assert!(err.contains("db recover"), "{err}");
    }

    #[tokio::test]
    async fn a_locked_database_fails_the_call_after_the_busy_timeout() {
        let path = temp_db("locked");
        let store = SqliteStore::open_with_timeout(&path, Duration::from_millis(100)).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let hash = tokens::hash(&tokens::generate());
        let err = store.insert_token(new_token(&hash, 0)).await.unwrap_err();
        assert!(matches!(err, StoreError::Busy(_)), "{err:?}");
        other.execute_batch("ROLLBACK").unwrap();
        store.insert_token(new_token(&hash, 0)).await.unwrap();
    }
}
