//! SQLite backend: WAL, a busy timeout, foreign keys, versioned migrations,
//! file mode 0600, and a small pool of connections used from blocking threads.

use super::records::{
    Admission, DeviceDecision, DevicePoll, DeviceStatus, NewToken, Pending, PendingCaps, PendingKind, RateLimitRecord,
    RequestLimit, Store, StoreError, TokenRecord,
};
use crate::clock::{UnixSeconds, to_sqlite};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
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
];

pub struct SqliteStore {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    busy_timeout: Duration,
    /// Connections that never wait (busy timeout 0), for token lookups run on the
    /// caller's thread: see [`Store::try_find_token_now`].
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
        let store = SqliteStore {
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
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

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
                             created_at, last_authenticated_at, auth_expires_at";

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
    })
}

/// The columns a [`Pending`] is stored in; `created_at` last, as the insert sets it from `now`.
const PENDING_COLUMNS: &str = "id, kind, provider, user_id, user_email, nonce, pkce_verifier, code_hash, attempts, \
                               renew_token_hash, client_ip, csrf_token, expires_at, browser_hash, device_status, \
                               user_agent, device_id, created_at";

fn pending_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Pending> {
    // Never guess what a row is for: an unknown kind or status is an error.
    let strict = |column: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, e.into())
    };
    let kind = super::records::read_kind(&row.get::<_, String>(1)?).map_err(|e| strict(1, e))?;
    let status: Option<String> = row.get(14)?;
    let device_status = super::records::read_device_status(status.as_deref()).map_err(|e| strict(14, e))?;
    let expires: String = row.get(12)?;
    let created: String = row.get(17)?;
    Ok(Pending {
        id: row.get(0)?,
        kind,
        provider: row.get(2)?,
        user_id: row.get(3)?,
        user_email: row.get(4)?,
        nonce: row.get(5)?,
        pkce_verifier: row.get(6)?,
        code_hash: row.get(7)?,
        attempts: row.get::<_, i64>(8)?.clamp(0, i64::from(u32::MAX)) as u32,
        renew_token_hash: row.get(9)?,
        client_ip: row.get(10)?,
        csrf_token: row.get(11)?,
        browser_hash: row.get(13)?,
        device_status,
        user_agent: row.get(15)?,
        device_id: row.get(16)?,
        created_at: crate::clock::from_sqlite(&created).unwrap_or(0),
        // Unreadable expiry (edited by hand): treat as expired.
        expires_at: crate::clock::from_sqlite(&expires).unwrap_or(0),
    })
}

impl Store for SqliteStore {
    fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.with(|c| find_token_on(c, token_hash))
    }

    fn try_find_token_now(&self, token_hash: &str) -> Option<Result<Option<TokenRecord>, StoreError>> {
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

    fn insert_token(&self, t: &NewToken) -> Result<i64, StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO agent_tokens (token_hash, user_id, user_email, provider, is_authenticated, is_active, \
                 created_at, last_authenticated_at, auth_expires_at) VALUES (?1, ?2, ?3, ?4, 1, 1, ?5, ?5, ?6)",
                params![t.token_hash, t.user_id, t.user_email, t.provider, to_sqlite(t.now), to_sqlite(t.expires_at)],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn renew_token(
        &self,
        token_hash: &str,
        user_id: &str,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> Result<bool, StoreError> {
        self.with(|c| {
            let changed = c.execute(
                "UPDATE agent_tokens SET is_authenticated = 1, last_authenticated_at = ?2, auth_expires_at = ?3 \
                 WHERE token_hash = ?1 AND is_active = 1 AND user_id = ?4",
                params![token_hash, to_sqlite(now), to_sqlite(expires_at), user_id],
            )?;
            Ok(changed == 1)
        })
    }

    fn revoke_token(&self, id: i64) -> Result<bool, StoreError> {
        self.with(|c| {
            let changed = c.execute("UPDATE agent_tokens SET is_active = 0 WHERE id = ?1 AND is_active = 1", [id])?;
            Ok(changed == 1)
        })
    }

    fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM agent_tokens ORDER BY id");
        self.with(|c| c.prepare(&sql)?.query_map([], token_row)?.collect())
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.with(|c| c.query_row("SELECT 1", [], |_| Ok(())))
    }

    fn insert_pending(
        &self,
        p: &Pending,
        network: &str,
        now: UnixSeconds,
        caps: PendingCaps,
    ) -> Result<Admission, StoreError> {
        self.with(|c| {
            c.execute("DELETE FROM pending_authorizations WHERE expires_at <= ?1", [to_sqlite(now)])?;
            // The caps and the insert are one statement: concurrent inserts cannot overshoot.
            let inserted = c.execute(
                &format!(
                    "INSERT INTO pending_authorizations ({PENDING_COLUMNS}, client_network) \
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?18, ?19, ?20, ?15, ?21 \
                     WHERE (SELECT COUNT(*) FROM pending_authorizations WHERE client_ip IS ?11) < ?16 \
                       AND (SELECT COUNT(*) FROM pending_authorizations WHERE client_network = ?21) < ?22 \
                       AND (SELECT COUNT(*) FROM pending_authorizations) < ?17"
                ),
                params![
                    p.id,
                    p.kind.as_str(),
                    p.provider,
                    p.user_id,
                    p.user_email,
                    p.nonce,
                    p.pkce_verifier,
                    p.code_hash,
                    i64::from(p.attempts),
                    p.renew_token_hash,
                    p.client_ip,
                    p.csrf_token,
                    to_sqlite(p.expires_at),
                    p.browser_hash,
                    to_sqlite(now),
                    caps.per_client,
                    caps.total,
                    p.device_status.map(DeviceStatus::as_str),
                    p.user_agent,
                    p.device_id,
                    network,
                    caps.per_network,
                ],
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
    }

    fn take_request(&self, bucket: &str, limit: RequestLimit, now: UnixSeconds) -> Result<bool, StoreError> {
        self.with(|c| {
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
    }

    fn give_back_request(&self, bucket: &str, limit: RequestLimit) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE request_buckets SET tokens = MIN(?2, tokens + 1) WHERE bucket = ?1",
                params![bucket, limit.capacity],
            )
            .map(|_| ())
        })
    }

    fn take_pending(
        &self,
        id: &str,
        kind: PendingKind,
        browser_hash: Option<&str>,
        now: UnixSeconds,
    ) -> Result<Option<Pending>, StoreError> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "DELETE FROM pending_authorizations WHERE id = ?1 AND kind = ?2 AND expires_at > ?3 \
                     AND (?4 IS NULL OR browser_hash = ?4) RETURNING {PENDING_COLUMNS}"
                ),
                params![id, kind.as_str(), to_sqlite(now), browser_hash],
                pending_row,
            )
            .optional()
        })
    }

    fn get_pending(&self, id: &str, kind: PendingKind) -> Result<Option<Pending>, StoreError> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {PENDING_COLUMNS} FROM pending_authorizations WHERE id = ?1 AND kind = ?2"),
                params![id, kind.as_str()],
                pending_row,
            )
            .optional()
        })
    }

    fn claim_attempt(&self, id: &str, max: u32, now: UnixSeconds) -> Result<Option<Pending>, StoreError> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "UPDATE pending_authorizations SET attempts = attempts + 1 \
                     WHERE id = ?1 AND kind = 'confirmation' AND attempts < ?2 AND expires_at > ?3 \
                     RETURNING {PENDING_COLUMNS}"
                ),
                params![id, i64::from(max), to_sqlite(now)],
                pending_row,
            )
            .optional()
        })
    }

    fn prune(&self, now: UnixSeconds, rate_limits_before: UnixSeconds) -> Result<(usize, usize), StoreError> {
        self.with(|c| {
            let pending = c.execute("DELETE FROM pending_authorizations WHERE expires_at <= ?1", [to_sqlite(now)])?;
            let limits = c.execute(
                "DELETE FROM rate_limits WHERE COALESCE(blocked_until, '') <= ?1 AND COALESCE(last_attempt_at, '') < ?2",
                params![to_sqlite(now), to_sqlite(rate_limits_before)],
            )?;
            // An idle bucket is full again: forgetting it changes nothing.
            c.execute("DELETE FROM request_buckets WHERE updated_at < ?1", [rate_limits_before])?;
            Ok((pending, limits))
        })
    }

    fn delete_pending(&self, id: &str) -> Result<(), StoreError> {
        self.with(|c| c.execute("DELETE FROM pending_authorizations WHERE id = ?1", [id]).map(|_| ()))
    }

    fn find_device(&self, user_code_hash: &str, now: UnixSeconds) -> Result<Option<Pending>, StoreError> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {PENDING_COLUMNS} FROM pending_authorizations WHERE code_hash = ?1 AND kind = 'device' \
                     AND device_status = 'pending' AND expires_at > ?2"
                ),
                params![user_code_hash, to_sqlite(now)],
                pending_row,
            )
            .optional()
        })
    }

    fn poll_device(&self, id: &str, now: UnixSeconds, interval: u32) -> Result<DevicePoll, StoreError> {
        self.with(|c| {
            let at = to_sqlite(now);
            // On time: count the poll (one statement decides it).
            let on_time = c
                .query_row(
                    &format!(
                        "UPDATE pending_authorizations SET last_polled_at = ?2 \
                         WHERE id = ?1 AND kind = 'device' AND expires_at > ?2 AND (last_polled_at IS NULL \
                           OR CAST(strftime('%s', last_polled_at) AS INTEGER) + ?3 + 5 * attempts <= ?4) \
                         RETURNING {PENDING_COLUMNS}"
                    ),
                    params![id, at, i64::from(interval), now],
                    pending_row,
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
                    [id],
                    |r| r.get(0),
                )?;
                return Ok(if exists { DevicePoll::Expired } else { DevicePoll::Unknown });
            };
            Ok(match row.device_status {
                Some(DeviceStatus::Approved) => c
                    .query_row(
                        &format!(
                            "DELETE FROM pending_authorizations WHERE id = ?1 AND kind = 'device' \
                             AND device_status = 'approved' AND expires_at > ?2 RETURNING {PENDING_COLUMNS}"
                        ),
                        params![id, at],
                        pending_row,
                    )
                    .optional()?
                    // Another poll took it a moment ago.
                    .map_or(DevicePoll::Unknown, |p| DevicePoll::Approved(Box::new(p))),
                Some(DeviceStatus::Denied) => DevicePoll::Denied,
                Some(DeviceStatus::Pending) | None => DevicePoll::Pending,
            })
        })
    }

    fn bind_device(&self, id: &str, browser_hash: &str, now: UnixSeconds) -> Result<bool, StoreError> {
        self.with(|c| {
            let changed = c.execute(
                "UPDATE pending_authorizations SET browser_hash = ?2 \
                 WHERE id = ?1 AND kind = 'device' AND device_status = 'pending' AND expires_at > ?3 \
                 AND (browser_hash IS NULL OR browser_hash = ?2)",
                params![id, browser_hash, to_sqlite(now)],
            )?;
            Ok(changed == 1)
        })
    }

    fn decide_device(&self, id: &str, decision: &DeviceDecision, now: UnixSeconds) -> Result<bool, StoreError> {
        let (status, user_id, email, provider) = match decision {
            DeviceDecision::Approve { user_id, user_email, provider } => {
                (DeviceStatus::Approved, Some(user_id), Some(user_email), Some(provider))
            }
            DeviceDecision::Deny => (DeviceStatus::Denied, None, None, None),
        };
        self.with(|c| {
            let changed = c.execute(
                "UPDATE pending_authorizations SET device_status = ?2, user_id = ?3, user_email = ?4, provider = ?5 \
                 WHERE id = ?1 AND kind = 'device' AND device_status = 'pending' AND expires_at > ?6",
                params![id, status.as_str(), user_id, email, provider, to_sqlite(now)],
            )?;
            Ok(changed == 1)
        })
    }

    fn revoke_token_hash(&self, token_hash: &str) -> Result<bool, StoreError> {
        self.with(|c| {
            let changed = c.execute(
                "UPDATE agent_tokens SET is_active = 0 WHERE token_hash = ?1 AND is_active = 1",
                [token_hash],
            )?;
            Ok(changed == 1)
        })
    }

    fn rate_limit(&self, identifier: &str) -> Result<Option<RateLimitRecord>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT identifier, failed_attempts, blocked_until FROM rate_limits WHERE identifier = ?1",
                [identifier],
                |r| {
                    Ok(RateLimitRecord {
                        identifier: r.get(0)?,
                        failed_attempts: r.get::<_, i64>(1)?.clamp(0, i64::from(u32::MAX)) as u32,
                        blocked_until: r.get(2)?,
                    })
                },
            )
            .optional()
        })
    }

    fn record_failure(
        &self,
        identifier: &str,
        now: UnixSeconds,
        schedule: &dyn Fn(u32) -> i64,
    ) -> Result<u32, StoreError> {
        self.with(|c| {
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
    }

    fn clear_rate_limit(&self, identifier: &str) -> Result<(), StoreError> {
        self.with(|c| c.execute("DELETE FROM rate_limits WHERE identifier = ?1", [identifier]).map(|_| ()))
    }

    fn revoke_user_tokens(&self, email: &str) -> Result<usize, StoreError> {
        self.with(|c| {
            c.execute("UPDATE agent_tokens SET is_active = 0 WHERE user_email = ?1 AND is_active = 1", [email])
        })
    }

    fn list_rate_limits(&self) -> Result<Vec<RateLimitRecord>, StoreError> {
        self.with(|c| {
            c.prepare("SELECT identifier, failed_attempts, blocked_until FROM rate_limits ORDER BY identifier")?
                .query_map([], |r| {
                    Ok(RateLimitRecord {
                        identifier: r.get(0)?,
                        failed_attempts: r.get::<_, i64>(1)?.clamp(0, i64::from(u32::MAX)) as u32,
                        blocked_until: r.get(2)?,
                    })
                })?
                .collect()
        })
    }

    fn clear_all_rate_limits(&self) -> Result<usize, StoreError> {
        self.with(|c| c.execute("DELETE FROM rate_limits", []))
    }
}

#[cfg(test)]
impl SqliteStore {
    fn sql_for_tests(&self, sql: &str) {
        self.connect().and_then(|c| c.execute_batch(sql)).unwrap_or_else(|e| panic!("{sql}: {e}"));
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
        let conn = store.connect().unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len() as i64);
        drop(store);
        // Reopening does not migrate twice.
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(schema_version(&again.connect().unwrap()).unwrap(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn tokens_round_trip_renew_and_revoke() {
        let store = SqliteStore::open(&temp_db("tokens")).unwrap();
        let hash = tokens::hash(&tokens::generate());
        let id = store.insert_token(&new_token(&hash, 1_800_000_000)).unwrap();
        let found = store.find_token(&hash).unwrap().unwrap();
        assert_eq!((found.id, found.is_authenticated, found.is_active), (id, true, true));
        assert_eq!(found.auth_expires_at.as_deref(), Some("2027-01-15 09:00:00"));
        assert!(store.insert_token(&new_token(&hash, 0)).is_err(), "token_hash is unique");
        assert!(!store.renew_token(&hash, "google:2", 1_900_000_000, 1_900_003_600).unwrap(), "owner only");
        assert!(store.renew_token(&hash, "google:1", 1_900_000_000, 1_900_003_600).unwrap());
        assert!(store.revoke_token(id).unwrap());
        assert!(!store.revoke_token(id).unwrap());
        assert!(!store.renew_token(&hash, "google:1", 0, 1).unwrap(), "a revoked token cannot be renewed");
        assert!(!store.find_token(&hash).unwrap().unwrap().is_active);
        assert_eq!(store.find_token("nope").unwrap(), None);
        assert_eq!(store.list_tokens().unwrap().len(), 1);
    }

    #[test]
    fn quick_lookups_answer_on_the_callers_thread_and_step_aside_when_they_would_wait() {
        let store = SqliteStore::open(&temp_db("quick")).unwrap();
        let hash = tokens::hash(&tokens::generate());
        store.insert_token(&new_token(&hash, 1_800_000_000)).unwrap();
        let found = store.try_find_token_now(&hash).expect("answered at once").unwrap();
        assert_eq!(found.map(|t| t.token_hash), Some(hash.clone()));
        // Every quick connection busy (here: their list held): the call goes to a store thread.
        let held = store.quick.lock().unwrap();
        assert!(store.try_find_token_now(&hash).is_none());
        drop(held);
        // None free (all lent out): step aside too; back, they answer again.
        let taken: Vec<Connection> = std::mem::take(&mut *store.quick.lock().unwrap());
        assert!(store.try_find_token_now(&hash).is_none(), "no free quick connection");
        store.quick.lock().unwrap().extend(taken);
        assert!(store.try_find_token_now(&hash).is_some());
    }

    fn pending(id: &str, kind: PendingKind, expires_at: UnixSeconds) -> Pending {
        Pending {
            provider: Some("google".into()),
            nonce: Some("n".into()),
            pkce_verifier: Some("v".into()),
            client_ip: Some("127.0.0.1".into()),
            csrf_token: Some("c".into()),
            browser_hash: Some("b".into()),
            ..Pending::new(id.into(), kind, 0, expires_at)
        }
    }

    #[test]
    fn pending_rows_are_single_use_bounded_in_time_and_cleaned_up() {
        let store = SqliteStore::open(&temp_db("pending")).unwrap();
        let caps = PendingCaps::default();
        store.insert_pending(&pending("s1", PendingKind::Oidc, 2_000), "127.0.0.0/24", 1_000, caps).unwrap();
        assert!(store.take_pending("s1", PendingKind::Confirmation, None, 1_000).unwrap().is_none(), "kind");
        assert!(store.take_pending("s1", PendingKind::Oidc, None, 2_000).unwrap().is_none(), "expired");
        assert!(store.take_pending("s1", PendingKind::Oidc, Some("other"), 1_500).unwrap().is_none(), "browser");
        let taken = store.take_pending("s1", PendingKind::Oidc, Some("b"), 1_500).unwrap().unwrap();
        assert_eq!(taken.nonce.as_deref(), Some("n"));
        assert!(store.take_pending("s1", PendingKind::Oidc, None, 1_500).unwrap().is_none(), "single use");

        store.insert_pending(&pending("c1", PendingKind::Confirmation, 2_000), "127.0.0.0/24", 1_000, caps).unwrap();
        assert_eq!(store.claim_attempt("c1", 2, 1_000).unwrap().unwrap().attempts, 1);
        assert_eq!(store.claim_attempt("c1", 2, 1_000).unwrap().unwrap().attempts, 2);
        assert!(store.claim_attempt("c1", 2, 1_000).unwrap().is_none(), "never past the maximum");
        assert_eq!(store.get_pending("c1", PendingKind::Confirmation).unwrap().unwrap().attempts, 2);
        // An insert later than its expiry removes it.
        store.insert_pending(&pending("s2", PendingKind::Oidc, 9_000), "127.0.0.0/24", 3_000, caps).unwrap();
        assert!(store.get_pending("c1", PendingKind::Confirmation).unwrap().is_none());
    }

    #[test]
    fn an_unknown_kind_is_an_error_not_a_guess() {
        let store = SqliteStore::open(&temp_db("kind")).unwrap();
        store
            .insert_pending(&pending("k", PendingKind::Oidc, 9_000), "127.0.0.0/24", 1_000, PendingCaps::default())
            .unwrap();
        store.sql_for_tests("UPDATE pending_authorizations SET kind = 'mystery'");
        let conn = store.connect().unwrap();
        let read = conn.query_row(&format!("SELECT {PENDING_COLUMNS} FROM pending_authorizations"), [], pending_row);
        assert!(read.is_err_and(|e| e.to_string().contains("kind \"mystery\"")));
        store.sql_for_tests("UPDATE pending_authorizations SET kind = 'device', device_status = 'maybe'");
        let read = conn.query_row(&format!("SELECT {PENDING_COLUMNS} FROM pending_authorizations"), [], pending_row);
        assert!(read.is_err_and(|e| e.to_string().contains("device_status \"maybe\"")), "no guessing a status either");
    }

    #[test]
    fn caps_hold_per_client_and_in_total_even_under_concurrency() {
        let store = std::sync::Arc::new(SqliteStore::open(&temp_db("caps")).unwrap());
        let caps = PendingCaps { per_client: 5, per_network: 100, total: 8 };
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let p = pending(&format!("t{i}"), PendingKind::Oidc, 9_000);
                    store.insert_pending(&p, "127.0.0.0/24", 1_000, caps).unwrap()
                })
            })
            .collect();
        let stored = threads.into_iter().map(|t| t.join().unwrap()).filter(|a| *a == Admission::Stored).count();
        assert_eq!(stored, 5, "one client, at most per_client");
        let mut other = pending("x1", PendingKind::Oidc, 9_000);
        other.client_ip = Some("10.9.9.9".into());
        assert_eq!(store.insert_pending(&other, "127.0.0.0/24", 1_000, caps).unwrap(), Admission::Stored);
        for i in 2..=3 {
            other.id = format!("x{i}");
            assert_eq!(store.insert_pending(&other, "127.0.0.0/24", 1_000, caps).unwrap(), Admission::Stored);
        }
        other.id = "x4".into();
        assert_eq!(store.insert_pending(&other, "127.0.0.0/24", 1_000, caps).unwrap(), Admission::TotalCapReached);
        assert_eq!(store.prune(9_000, 0).unwrap().0, 8, "expired rows are pruned");
    }

    #[test]
    fn concurrent_claims_never_exceed_the_maximum_and_one_take_wins() {
        let store = std::sync::Arc::new(SqliteStore::open(&temp_db("claims")).unwrap());
        store
            .insert_pending(
                &pending("c", PendingKind::Confirmation, 9_000),
                "127.0.0.0/24",
                1_000,
                PendingCaps::default(),
            )
            .unwrap();
        let run = |f: fn(&SqliteStore) -> bool| {
            let threads: Vec<_> = (0..12)
                .map(|_| {
                    let store = store.clone();
                    std::thread::spawn(move || f(&store))
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).filter(|ok| *ok).count()
        };
        assert_eq!(run(|s| s.claim_attempt("c", 3, 1_000).unwrap().is_some()), 3);
        assert_eq!(run(|s| s.take_pending("c", PendingKind::Confirmation, None, 1_000).unwrap().is_some()), 1);
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
    fn rate_limits_count_and_clear() {
        let store = SqliteStore::open(&temp_db("rate")).unwrap();
        assert_eq!(store.rate_limit("1.2.3.4").unwrap(), None);
        assert_eq!(store.record_failure("1.2.3.4", 1_000, &|_| 0).unwrap(), 1);
        assert_eq!(store.record_failure("1.2.3.4", 1_001, &|n| if n == 2 { 2 } else { 99 }).unwrap(), 2);
        let row = store.rate_limit("1.2.3.4").unwrap().unwrap();
        assert_eq!((row.failed_attempts, row.blocked_until.as_deref()), (2, Some("1970-01-01 00:16:43")));
        store.clear_rate_limit("1.2.3.4").unwrap();
        assert_eq!(store.rate_limit("1.2.3.4").unwrap(), None);
        // Concurrent failures each count, and the block follows the final count.
        let store = std::sync::Arc::new(store);
        let threads: Vec<_> = (0..10)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || store.record_failure("5.6.7.8", 1_000, &|n| i64::from(n)).unwrap())
            })
            .collect();
        let mut counts: Vec<u32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        counts.sort_unstable();
        assert_eq!(counts, (1..=10).collect::<Vec<_>>());
        assert_eq!(store.rate_limit("5.6.7.8").unwrap().unwrap().blocked_until.as_deref(), Some("1970-01-01 00:16:50"));
        // Idle, unblocked records are pruned.
        assert_eq!(store.prune(5_000, 4_000).unwrap().1, 1);
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

    #[test]
    fn a_locked_database_fails_the_call_after_the_busy_timeout() {
        let path = temp_db("locked");
        let store = SqliteStore::open_with_timeout(&path, Duration::from_millis(100)).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let hash = tokens::hash(&tokens::generate());
        let err = store.insert_token(&new_token(&hash, 0)).unwrap_err();
        assert!(matches!(err, StoreError::Busy(_)), "{err:?}");
        other.execute_batch("ROLLBACK").unwrap();
        store.insert_token(&new_token(&hash, 0)).unwrap();
    }
}
