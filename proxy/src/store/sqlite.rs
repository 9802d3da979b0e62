//! SQLite backend: WAL, a busy timeout, foreign keys, versioned migrations,
//! file mode 0600, and a small pool of connections used from blocking threads.

use super::{MAX_PENDING, NewToken, Pending, PendingKind, RateLimitRecord, Store, StoreError, TokenRecord};
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
const MIGRATIONS: &[&str] =
    &[include_str!("migrations/0001_initial.sql"), include_str!("migrations/0002_pending_csrf.sql")];

pub struct SqliteStore {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    busy_timeout: Duration,
}

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
        let store = SqliteStore { path: path.to_path_buf(), idle: Mutex::new(Vec::new()), busy_timeout };
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
        migrate(&conn).map_err(|e| fail(format!("migration failed: {e}"), recovery))?;
        store.put_back(conn);
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

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let current: i64 = conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        if version > current {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [version])?;
            tx.commit()?;
        }
    }
    Ok(())
}

/// The schema version a database is at.
pub fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0))
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

const PENDING_COLUMNS: &str = "id, kind, provider, user_id, user_email, nonce, pkce_verifier, code_hash, attempts, \
                               renew_token_hash, client_ip, csrf_token, expires_at";

fn pending_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Pending> {
    let kind: String = row.get(1)?;
    let expires: String = row.get(12)?;
    Ok(Pending {
        id: row.get(0)?,
        kind: if kind == "confirmation" { PendingKind::Confirmation } else { PendingKind::Oidc },
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
        // Unreadable expiry (edited by hand): treat as expired.
        expires_at: crate::clock::from_sqlite(&expires).unwrap_or(0),
    })
}

impl Store for SqliteStore {
    fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM agent_tokens WHERE token_hash = ?1");
        self.with(|c| c.prepare_cached(&sql)?.query_row([token_hash], token_row).optional())
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

    fn renew_token(&self, token_hash: &str, now: UnixSeconds, expires_at: UnixSeconds) -> Result<bool, StoreError> {
        self.with(|c| {
            let changed = c.execute(
                "UPDATE agent_tokens SET is_authenticated = 1, last_authenticated_at = ?2, auth_expires_at = ?3 \
                 WHERE token_hash = ?1 AND is_active = 1",
                params![token_hash, to_sqlite(now), to_sqlite(expires_at)],
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

    fn insert_pending(&self, p: &Pending, now: UnixSeconds) -> Result<(), StoreError> {
        let count = self.with(|c| {
            c.execute("DELETE FROM pending_authorizations WHERE expires_at <= ?1", [to_sqlite(now)])?;
            c.query_row("SELECT COUNT(*) FROM pending_authorizations", [], |r| r.get::<_, i64>(0))
        })?;
        if count >= MAX_PENDING {
            return Err(StoreError::Full("too many sign-ins in progress; try again in a few minutes".into()));
        }
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO pending_authorizations ({PENDING_COLUMNS}, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
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
                    to_sqlite(now),
                ],
            )
            .map(|_| ())
        })
    }

    fn take_pending(&self, id: &str, kind: PendingKind, now: UnixSeconds) -> Result<Option<Pending>, StoreError> {
        let taken = self.with(|c| {
            c.query_row(
                &format!("DELETE FROM pending_authorizations WHERE id = ?1 AND kind = ?2 RETURNING {PENDING_COLUMNS}"),
                params![id, kind.as_str()],
                pending_row,
            )
            .optional()
        })?;
        Ok(taken.filter(|p| p.expires_at > now))
    }

    fn get_pending(&self, id: &str, kind: PendingKind, now: UnixSeconds) -> Result<Option<Pending>, StoreError> {
        let found = self.with(|c| {
            c.query_row(
                &format!("SELECT {PENDING_COLUMNS} FROM pending_authorizations WHERE id = ?1 AND kind = ?2"),
                params![id, kind.as_str()],
                pending_row,
            )
            .optional()
        })?;
        Ok(found.filter(|p| p.expires_at > now))
    }

    fn count_attempt(&self, id: &str) -> Result<u32, StoreError> {
        self.with(|c| {
            c.query_row(
                "UPDATE pending_authorizations SET attempts = attempts + 1 WHERE id = ?1 RETURNING attempts",
                [id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.clamp(0, i64::from(u32::MAX)) as u32)
        })
    }

    fn delete_pending(&self, id: &str) -> Result<(), StoreError> {
        self.with(|c| c.execute("DELETE FROM pending_authorizations WHERE id = ?1", [id]).map(|_| ()))
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
        blocked_until: UnixSeconds,
    ) -> Result<u32, StoreError> {
        self.with(|c| {
            c.query_row(
                "INSERT INTO rate_limits (identifier, failed_attempts, last_attempt_at, blocked_until) \
                 VALUES (?1, 1, ?2, ?3) \
                 ON CONFLICT (identifier) DO UPDATE SET failed_attempts = failed_attempts + 1, \
                 last_attempt_at = excluded.last_attempt_at, blocked_until = excluded.blocked_until \
                 RETURNING failed_attempts",
                params![identifier, to_sqlite(now), to_sqlite(blocked_until)],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.clamp(0, i64::from(u32::MAX)) as u32)
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
        assert!(store.renew_token(&hash, 1_900_000_000, 1_900_003_600).unwrap());
        assert!(store.revoke_token(id).unwrap());
        assert!(!store.revoke_token(id).unwrap());
        assert!(!store.renew_token(&hash, 0, 1).unwrap(), "a revoked token cannot be renewed");
        assert!(!store.find_token(&hash).unwrap().unwrap().is_active);
        assert_eq!(store.find_token("nope").unwrap(), None);
        assert_eq!(store.list_tokens().unwrap().len(), 1);
    }

    fn pending(id: &str, kind: PendingKind, expires_at: UnixSeconds) -> Pending {
        Pending {
            id: id.into(),
            kind,
            provider: Some("google".into()),
            user_id: None,
            user_email: None,
            nonce: Some("n".into()),
            pkce_verifier: Some("v".into()),
            code_hash: None,
            attempts: 0,
            renew_token_hash: None,
            client_ip: Some("127.0.0.1".into()),
            csrf_token: Some("c".into()),
            expires_at,
        }
    }

    #[test]
    fn pending_rows_are_single_use_bounded_in_time_and_cleaned_up() {
        let store = SqliteStore::open(&temp_db("pending")).unwrap();
        store.insert_pending(&pending("s1", PendingKind::Oidc, 2_000), 1_000).unwrap();
        assert!(store.get_pending("s1", PendingKind::Confirmation, 1_000).unwrap().is_none(), "kind must match");
        assert!(store.get_pending("s1", PendingKind::Oidc, 2_000).unwrap().is_none(), "expired");
        let taken = store.take_pending("s1", PendingKind::Oidc, 1_500).unwrap().unwrap();
        assert_eq!(taken.nonce.as_deref(), Some("n"));
        assert!(store.take_pending("s1", PendingKind::Oidc, 1_500).unwrap().is_none(), "single use");

        store.insert_pending(&pending("c1", PendingKind::Confirmation, 2_000), 1_000).unwrap();
        assert_eq!(store.count_attempt("c1").unwrap(), 1);
        assert_eq!(store.count_attempt("c1").unwrap(), 2);
        // An insert later than its expiry removes it.
        store.insert_pending(&pending("s2", PendingKind::Oidc, 9_000), 3_000).unwrap();
        assert!(store.get_pending("c1", PendingKind::Confirmation, 1_000).unwrap().is_none());
    }

    #[test]
    fn rate_limits_count_and_clear() {
        let store = SqliteStore::open(&temp_db("rate")).unwrap();
        assert_eq!(store.rate_limit("1.2.3.4").unwrap(), None);
        assert_eq!(store.record_failure("1.2.3.4", 1_000, 1_000).unwrap(), 1);
        assert_eq!(store.record_failure("1.2.3.4", 1_001, 1_003).unwrap(), 2);
        let row = store.rate_limit("1.2.3.4").unwrap().unwrap();
        assert_eq!((row.failed_attempts, row.blocked_until.as_deref()), (2, Some("1970-01-01 00:16:43")));
        store.clear_rate_limit("1.2.3.4").unwrap();
        assert_eq!(store.rate_limit("1.2.3.4").unwrap(), None);
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
