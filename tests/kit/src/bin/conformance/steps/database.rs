//! The guide's SQL, run against the proxy's database through its documented schema
//! (on either backend: see `tests/kit/src/dialect.rs`). The steps about the database
//! *file* belong to SQLite scenarios, tagged `@cap-sqlite-file`.

use crate::world::KitWorld;
use cucumber::{given, then, when};

/// `?` in the guide's statements stands for this scenario's token hash.
fn bind(world: &KitWorld, sql: &str) -> String {
    match &world.agent.token {
        Some(t) => sql.replace('?', &format!("'{}'", llm_sso_kit::contract::token_hash(t))),
        None => sql.to_string(),
    }
}

#[when(expr = "I run the diagnosis `{}`")]
async fn diagnosis(world: &mut KitWorld, sql: String) {
    let sql = bind(world, &sql);
    world.seen.rows = world.proxy().rows(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[when(expr = "I apply the fix `{}`")]
async fn fix(world: &mut KitWorld, sql: String) {
    let sql = bind(world, &sql);
    world.proxy().sql_batch(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[then(expr = "the diagnosis shows {int} row(s)")]
async fn rows(world: &mut KitWorld, n: usize) {
    assert_eq!(world.seen.rows.len(), n, "{:?}", world.seen.rows);
}

/// A `SELECT COUNT(*)` answered exactly `n` (not a row that merely contains the digit).
#[then(expr = "the diagnosis counts {int}")]
async fn counts(world: &mut KitWorld, n: i64) {
    assert_eq!(world.seen.rows, vec![vec![format!("Integer({n})")]], "one row with the count {n}");
}

#[then(expr = "the diagnosis shows {string}")]
async fn shows(world: &mut KitWorld, text: String) {
    let all = format!("{:?}", world.seen.rows);
    assert!(all.contains(&text), "{all}");
}

/// One row of one value, as text (`Text("...")` from SQLite, the same from PostgreSQL).
#[then(expr = "the diagnosis's only value is {string}")]
async fn only_value(world: &mut KitWorld, expected: String) {
    let values: Vec<&String> = world.seen.rows.iter().flatten().collect();
    let shown = |v: &str| v.strip_prefix("Text(\"").and_then(|v| v.strip_suffix("\")")).unwrap_or(v).to_string();
    assert_eq!(values.len(), 1, "one value: {:?}", world.seen.rows);
    assert_eq!(shown(values[0]), expected, "{:?}", world.seen.rows);
}

#[given("the database file contains garbage")]
async fn garbage(world: &mut KitWorld) {
    std::fs::write(world.dir_path().join("sso_auth.db"), vec![0x42u8; 8192]).expect("write");
}

#[then("the database file exists")]
async fn exists(world: &mut KitWorld) {
    assert!(world.proxy().db_path().exists());
}

#[given(expr = "another process holds a write lock on the database for {int} ms")]
async fn write_lock(world: &mut KitWorld, ms: u64) {
    let path = world.proxy().db_path();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).expect("open");
        conn.execute_batch("BEGIN IMMEDIATE").expect("take the write lock");
        let _ = locked_tx.send(());
        std::thread::sleep(std::time::Duration::from_millis(ms));
        conn.execute_batch("COMMIT").expect("release");
    });
    locked_rx.recv().expect("the lock is held");
}

#[when("the database file is deleted and the proxy restarted")]
async fn delete_and_restart(world: &mut KitWorld) {
    let proxy = world.proxy.take().expect("a running proxy");
    proxy.terminate();
    let db = proxy.db_path();
    let mut proxy = proxy;
    let _ = proxy.wait(std::time::Duration::from_secs(10)).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    assert!(!db.exists(), "the database file is gone");
    world.proxy = Some(proxy.restart().await.unwrap_or_else(|e| panic!("the proxy did not restart: {e}")));
}
