//! The operator subcommands against a real database file: what the guide does
//! with raw SQL, done by `llm-sso-proxy tokens|ratelimit|db`.

use llm_sso_proxy::store::sqlite::SqliteStore;
use llm_sso_proxy::store::{NewToken, Store};
use llm_sso_proxy::tokens;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A directory with `c.yaml` pointing at `./sso_auth.db`.
fn setup(name: &str) -> Dir {
    let dir = std::env::temp_dir().join(format!("llm-sso-admin-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("c.yaml"), "sso:\n  enabled: false\n  database_path: \"./sso_auth.db\"\n").unwrap();
    Dir(dir)
}

fn run(dir: &Path, args: &[&str], stdin: Option<&str>) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_llm-sso-proxy"))
        .current_dir(dir)
        .args(["--sso-config", "c.yaml"])
        .args(args)
        // Help text wraps at the terminal's width: fix it, so snapshots do not depend on who runs them.
        .env("COLUMNS", "100")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

/// Waits for one store call (the store is async; these tests are not).
fn wait<F: std::future::Future>(call: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(call)
}

fn add_token(store: &SqliteStore, email: &str) -> String {
    let token = tokens::generate();
    let now = 1_800_000_000;
    wait(store.insert_token(NewToken {
        token_hash: tokens::hash(&token),
        user_id: format!("google:{email}"),
        user_email: email.into(),
        provider: "google".into(),
        claims: None,
        now,
        expires_at: now + 3600,
    }))
    .unwrap();
    token
}

#[test]
fn tokens_list_revoke_and_hash() {
    let dir = setup("tokens");
    let store = SqliteStore::open(&dir.0.join("sso_auth.db")).unwrap();
    let alice = add_token(&store, "alice@company.com");
    add_token(&store, "alice@company.com");
    add_token(&store, "bob@example.com");

    let (code, out) = run(&dir.0, &["tokens", "list"], None);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("active").count(), 3, "{out}");
    insta::assert_snapshot!("tokens_list", out);
    assert!(!out.contains(&alice), "tokens are never shown");

    let (code, out) = run(&dir.0, &["tokens", "revoke", "--user", "alice@company.com"], None);
    assert_eq!((code, out.trim()), (0, "revoked 2 tokens of alice@company.com"));
    let (code, out) = run(&dir.0, &["tokens", "revoke", "3"], None);
    assert_eq!((code, out.trim()), (0, "revoked token 3"));
    let (code, _) = run(&dir.0, &["tokens", "revoke", "3"], None);
    assert_eq!(code, 1, "already revoked");
    let (_, out) = run(&dir.0, &["tokens", "list"], None);
    assert_eq!(out.matches("revoked").count(), 3, "{out}");
    insta::assert_snapshot!("tokens_list_after_revoking", out);
    let (code, out) = run(&dir.0, &["tokens", "revoke", "1", "--user", "x@y.z"], None);
    assert_eq!((code, out.trim()), (2, "llm-sso-proxy: give a token id, or --user EMAIL (not both)"));

    let (code, out) = run(&dir.0, &["tokens", "hash"], Some(&format!("{alice}\n")));
    assert_eq!((code, out.trim()), (0, tokens::hash(&alice).as_str()));
    let (_, out) = run(&dir.0, &["tokens", "hash"], Some(&format!("{alice} \n")));
    assert!(out.contains("not a well-formed agent token"), "a pasted space is pointed out: {out}");
}

#[test]
fn ratelimit_list_and_clear() {
    let dir = setup("rate");
    let store = SqliteStore::open(&dir.0.join("sso_auth.db")).unwrap();
    wait(store.record_failure("192.168.1.100".into(), 1_000, std::sync::Arc::new(|_| 2))).unwrap();
    wait(store.record_failure("10.0.0.1".into(), 1_000, std::sync::Arc::new(|_| 0))).unwrap();
    let (code, out) = run(&dir.0, &["ratelimit", "list"], None);
    assert_eq!(code, 0);
    insta::assert_snapshot!("ratelimit_list", out);
    assert!(out.contains("192.168.1.100") && out.contains("1970-01-01 00:16:42"), "{out}");
    let (_, out) = run(&dir.0, &["ratelimit", "clear", "192.168.1.100"], None);
    assert_eq!(out.trim(), "cleared 192.168.1.100");
    let (_, out) = run(&dir.0, &["ratelimit", "clear"], None);
    assert_eq!(out.trim(), "cleared 1 record");
}

#[test]
fn db_check_backup_and_recover() {
    let dir = setup("db");
    let db = dir.0.join("sso_auth.db");
    let store = SqliteStore::open(&db).unwrap();
    add_token(&store, "alice@company.com");
    drop(store);
    let (code, out) = run(&dir.0, &["db", "check"], None);
    assert_eq!(code, 0, "{out}");
    let stable: Vec<&str> = out
        .lines()
        .map(|l| if l.contains("database.file") { "ok    database.file  (size varies)" } else { l })
        .collect();
    insta::assert_snapshot!("db_check_healthy", stable.join("\n"));
    assert!(out.contains("integrity_check: ok") && out.contains("journal_mode: wal"), "{out}");

    let (code, out) = run(&dir.0, &["db", "backup", "copy.db"], None);
    assert_eq!(code, 0, "{out}");
    let copy = SqliteStore::open(&dir.0.join("copy.db")).unwrap();
    assert_eq!(wait(copy.list_tokens()).unwrap().len(), 1);
    let (code, _) = run(&dir.0, &["db", "backup", "copy.db"], None);
    assert_eq!(code, 1, "never overwrites");

    // Damage the file's tail pages: recover keeps what is readable and the damaged file aside.
    let (code, out) = run(&dir.0, &["db", "recover"], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("agent_tokens: 1 rows recovered"), "{out}");
    let aside: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt-"))
        .collect();
    assert!(!aside.is_empty(), "the damaged file is kept");
    assert_eq!(wait(SqliteStore::open(&db).unwrap().list_tokens()).unwrap().len(), 1);

    std::fs::write(&db, vec![0x42u8; 8192]).unwrap();
    let (code, out) = run(&dir.0, &["db", "check"], None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL") && out.contains("db recover"), "{out}");
}

/// Every command's help text, as an operator reads it (`llm-sso-proxy help ...`).
#[test]
fn help_of_every_command() {
    let dir = setup("help");
    for args in [
        &["--help"][..],
        &["doctor", "--help"],
        &["healthcheck", "--help"],
        &["tokens", "--help"],
        &["tokens", "revoke", "--help"],
        &["ratelimit", "--help"],
        &["db", "--help"],
    ] {
        let (code, out) = run(&dir.0, args, None);
        assert_eq!(code, 0, "{args:?}: {out}");
        insta::assert_snapshot!(
            format!("help_{}", args[..args.len() - 1].join("_")).trim_end_matches('_').to_string(),
            out
        );
    }
    let (code, out) = run(&dir.0, &["tokens", "nonsense"], None);
    assert_eq!(code, 2, "a usage error exits 2: {out}");
}
