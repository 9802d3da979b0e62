//! The checks of the SQLite database file: permissions, integrity, WAL,
//! schema version and a held write lock. The doctor runs them, and so does
//! `llm-sso-proxy db check` on its own.

use super::checks::Check;
use crate::store::{StoreError, sqlite_file};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// The checks of one database file; also what `llm-sso-proxy db check` prints.
pub fn database_file(path: &Path) -> Vec<Check> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return vec![missing_database(path)],
        Err(e) => {
            return vec![Check::fail(
                "database.file",
                format!("{shown}: {e}"),
                "run the proxy as the user that owns the file",
            )];
        }
    };
    let mut checks = Vec::new();
    let mode = meta.permissions().mode() & 0o777;
    checks.push(if mode & 0o077 == 0 {
        Check::ok("database.file", format!("{shown}, mode {mode:o}, {} KiB", meta.len().div_ceil(1024)))
    } else {
        Check::fail(
            "database.file",
            format!("{shown} has mode {mode:o}: other users can read sign-in state and token hashes"),
            format!("chmod 600 {shown}"),
        )
    });
    let inspection = match sqlite_file::inspect(path) {
        Ok(i) => i,
        Err(e) => {
            checks.push(Check::fail("database.integrity", format!("cannot open: {e}"), RECOVER));
            return checks;
        }
    };
    checks.push(match inspection.integrity {
        Ok(v) if v == "ok" => Check::ok("database.integrity", "integrity_check: ok"),
        Ok(v) => Check::fail("database.integrity", format!("integrity_check: {v}"), RECOVER),
        Err(e) => Check::fail("database.integrity", format!("integrity_check: {e}"), RECOVER),
    });
    let (Some(journal_mode), Some(version)) = (inspection.journal_mode, inspection.schema_version) else {
        return checks;
    };
    checks.push(match journal_mode {
        Ok(m) if m == "wal" => Check::ok("database.wal", "journal_mode: wal (readers never wait for the writer)"),
        Ok(m) => Check::warn(
            "database.wal",
            format!("journal_mode: {m}: every reader waits for writers"),
            "start the proxy once: it switches the file to WAL",
        ),
        Err(e) => Check::fail("database.wal", format!("journal_mode: {e}"), RECOVER),
    });
    checks.push(match version {
        Ok(v) => Check::ok("database.schema", format!("schema version {v}")),
        Err(e) => Check::fail(
            "database.schema",
            format!("no schema: {e}"),
            "this is not the proxy's database: check sso.database_path",
        ),
    });
    checks.push(write_lock(path));
    checks
}

const RECOVER: &str = "stop the proxy, then `llm-sso-proxy db recover` (keeps the damaged file aside), or restore \
                       a backup made with `llm-sso-proxy db backup`";

fn missing_database(path: &Path) -> Check {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Check::ok("database.file", format!("{} does not exist yet: the proxy creates it at start", path.display()))
    } else {
        Check::fail(
            "database.file",
            format!("the directory {} does not exist", dir.display()),
            format!("mkdir -p {} (owned by the proxy's user), or change sso.database_path", dir.display()),
        )
    }
}

/// Whether a write could start within a second: a held lock is what the guide's
/// "database is locked" is. `BEGIN IMMEDIATE` then `ROLLBACK` writes nothing.
fn write_lock(path: &Path) -> Check {
    let attempt = sqlite_file::try_write_lock(path, Duration::from_secs(1));
    match attempt {
        Ok(()) => Check::ok("database.lock", "no other process holds a write lock"),
        Err(e @ StoreError::Busy(_)) => Check::fail(
            "database.lock",
            format!("another process has held a write lock for over a second: {e}"),
            format!(
                "find it with `lsof {}` (an open sqlite3 shell, a second proxy) and stop it; \
                 the proxy itself only holds locks for milliseconds",
                path.display()
            ),
        ),
        Err(e) => Check::fail(
            "database.lock",
            format!("cannot open for writing: {e}"),
            "the proxy's user needs write access to the file and its directory (for the -wal file)",
        ),
    }
}
