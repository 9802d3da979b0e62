//! The SQLite database as a file, for operators: what `doctor` and `db check`
//! inspect (integrity, journal mode, schema version, a held write lock), and
//! `db backup` / `db recover`. The commands print; this module only reads and
//! copies, so every SQL statement on the database stays in `store`.

use super::records::StoreError;
use super::sqlite::{SqliteStore, classify, schema_version};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What opening a database file read-only tells. Each field is `Err` with the
/// database's own message when that part could not be read.
#[derive(Debug)]
pub struct Inspection {
    /// `PRAGMA integrity_check`: `"ok"` or the first problem.
    pub integrity: Result<String, String>,
    /// `PRAGMA journal_mode` (only read when the file is intact).
    pub journal_mode: Option<Result<String, String>>,
    /// The schema version (only read when the file is intact).
    pub schema_version: Option<Result<i64, String>>,
}

/// Opens `path` read-only and reads what the doctor reports; `Err` when it cannot be opened at all.
pub fn inspect(path: &Path) -> Result<Inspection, String> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| e.to_string())?;
    let integrity = conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).map_err(|e| e.to_string());
    if !matches!(&integrity, Ok(v) if v == "ok") {
        return Ok(Inspection { integrity, journal_mode: None, schema_version: None });
    }
    let journal_mode = conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)).map_err(|e| e.to_string());
    let version = schema_version(&conn).map_err(|e| e.to_string());
    Ok(Inspection { integrity, journal_mode: Some(journal_mode), schema_version: Some(version) })
}

/// Whether a write could start within `wait`: a held lock is what the guide's
/// "database is locked" is. `BEGIN IMMEDIATE` then `ROLLBACK` writes nothing.
pub fn try_write_lock(path: &Path, wait: Duration) -> Result<(), StoreError> {
    let attempt = (|| -> rusqlite::Result<()> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.busy_timeout(wait)?;
        conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
    })();
    attempt.map_err(|e| classify(&e))
}

/// Copies a live database to `to` (a new file, created 0600: it holds token hashes).
pub fn backup(db: &Path, to: &Path) -> Result<(), String> {
    if to.exists() {
        return Err(format!("{} exists; choose a new file", to.display()));
    }
    if !db.is_file() {
        return Err(format!("no database at {}: check sso.database_path", db.display()));
    }
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(to)
            .map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    }
    let result = (|| -> rusqlite::Result<()> {
        let src = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        src.busy_timeout(Duration::from_secs(5))?;
        let mut dst = Connection::open(to)?;
        let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
        backup.run_to_completion(64, Duration::from_millis(10), None)
    })();
    result.map_err(|e| classify(&e).to_string())
}

/// One table's outcome in [`recover`]: rows copied, or why it was unreadable.
pub struct Recovered {
    pub table: &'static str,
    pub rows: Result<usize, String>,
}

/// The guide's dump-and-restore: copy every readable row of the known tables into a
/// fresh database with the current schema; the damaged file is kept as `aside`.
pub fn recover(db: &Path, aside: &Path) -> Result<Vec<Recovered>, String> {
    if !db.exists() {
        return Err(format!("no database at {}: nothing to recover (check sso.database_path)", db.display()));
    }
    let fresh = db.with_extension("db.recovering");
    let _ = std::fs::remove_file(&fresh);
    SqliteStore::open(&fresh).map_err(|e| format!("cannot create {}: {e}", fresh.display()))?;
    let copied = (|| -> rusqlite::Result<Vec<Recovered>> {
        let dst = Connection::open(&fresh)?;
        dst.execute("ATTACH DATABASE ?1 AS old", [db.display().to_string()])?;
        let mut out = Vec::new();
        for (table, columns) in [
            (
                "agent_tokens",
                "id, token_hash, user_id, user_email, provider, is_authenticated, is_active, created_at, \
                 last_authenticated_at, auth_expires_at",
            ),
            ("rate_limits", "identifier, failed_attempts, last_attempt_at, blocked_until"),
        ] {
            let sql = format!("INSERT OR IGNORE INTO main.{table} ({columns}) SELECT {columns} FROM old.{table}");
            out.push(Recovered { table, rows: dst.execute(&sql, []).map_err(|e| e.to_string()) });
        }
        dst.execute("DETACH DATABASE old", [])?;
        Ok(out)
    })();
    let copied = copied.map_err(|e| {
        let _ = std::fs::remove_file(&fresh);
        format!("the damaged file cannot be read at all ({e}); restore a backup")
    })?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", db.display()));
        let _ = std::fs::rename(&side, PathBuf::from(format!("{}{suffix}", aside.display())));
    }
    std::fs::rename(db, aside)
        .and_then(|()| std::fs::rename(&fresh, db))
        .map_err(|e| format!("cannot swap the files: {e}"))?;
    Ok(copied)
}
