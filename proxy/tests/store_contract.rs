//! One store contract, two backends, proven the same: every test here is
//! written once against `AsyncStore` and run on SQLite (a file on disk) and on
//! a real PostgreSQL server (the kit's `postgres` module: a throwaway cluster, or
//! `LLM_SSO_TEST_POSTGRES_URL`). Like oauth2-proxy's session-store tests, a
//! backend that passes is a backend the proxy can use.

use llm_sso_kit::postgres as postgres_server;
use llm_sso_proxy::store::postgres::{self, PgStore};
use llm_sso_proxy::store::sqlite::{self, SqliteStore};
use llm_sso_proxy::store::{
    Admission, Approver, AsyncStore, Confirmation, DeviceDecision, DevicePoll, DeviceRequest, DeviceStatus, NewToken,
    OidcFlow, Outcome, Pending, PendingCaps, RequestLimit, Schedule, Store,
};
use std::path::PathBuf;
use std::sync::Arc;

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llm-sso-contract-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("sso_auth.db")
}

/// Raw SQL against the store's database; the first column of the first row, if any.
type RawSql = Box<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

/// A fresh store on one backend, and a way to run raw SQL against it (the
/// documented database contract: operators and the kit edit rows by hand).
struct Subject {
    store: AsyncStore,
    sql: RawSql,
}

fn sqlite_subject(name: &str) -> Subject {
    let path = temp_db(name);
    let store = SqliteStore::open(&path).expect("open SQLite");
    let sql = move |q: &str| -> Result<String, String> {
        let conn = rusqlite::Connection::open(&path).map_err(|e| e.to_string())?;
        let mut statement = conn.prepare(q).map_err(|e| e.to_string())?;
        if statement.column_count() == 0 {
            statement.execute([]).map_err(|e| e.to_string())?;
            return Ok(String::new());
        }
        statement
            .query_row([], |r| r.get::<_, rusqlite::types::Value>(0))
            .map(|v| match v {
                rusqlite::types::Value::Integer(n) => n.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .map_err(|e| e.to_string())
    };
    Subject { store: AsyncStore::sqlite(store), sql: Box::new(sql) }
}

async fn postgres_subject(name: &str) -> Option<Subject> {
    let server = postgres_server::server_or_skip(name)?;
    let url = server.database(name).expect("create a database");
    // Enough connections that racing calls really run at once.
    let store = PgStore::open(&url, 40).await.expect("open PostgreSQL");
    let database = url.rsplit('/').next().unwrap_or_default().to_string();
    let sql = move |q: &str| server.psql(&database, q);
    Some(Subject { store: AsyncStore::postgres(store), sql: Box::new(sql) })
}

/// Each test once per backend: `mod sqlite` and `mod postgres`.
macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::sqlite_subject(stringify!($test))).await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(subject) = super::postgres_subject(stringify!($test)).await else { return };
                    super::$test(subject).await;
                }
            )*
        }
    };
}

contract!(
    tokens_round_trip_renew_and_revoke,
    revoking_a_user_revokes_every_active_token_of_theirs,
    pending_rows_are_single_use_and_bounded_in_time,
    fifty_parallel_claims_never_pass_the_maximum,
    of_fifty_racing_takes_exactly_one_wins,
    sign_in_caps_hold_under_a_race,
    expiry_is_exclusive_at_the_boundary,
    concurrent_failures_each_count_and_set_the_block,
    pruning_removes_expired_sign_ins_and_idle_backoff_only,
    a_hand_edited_expiry_takes_effect_on_the_next_lookup,
    a_terminal_request_is_found_by_its_user_code_answered_once_and_collected_once,
    polling_faster_than_the_interval_slows_down_and_the_interval_grows,
    of_fifty_racing_polls_of_an_approved_request_exactly_one_collects_it,
    an_expired_or_refused_terminal_request_says_so,
    a_holder_revokes_a_token_by_its_hash,
    one_network_is_capped_and_identified_steps_pass_a_full_table,
    a_token_bucket_holds_under_concurrency_refills_and_takes_back,
);

const NOW: i64 = 1_800_000_000; // 2027-01-15 08:00:00 UTC
/// The network every test row comes from unless a test says otherwise.
const NET: &str = "10.0.0.0/24";

fn new_token(hash: &str, user: &str, email: &str) -> NewToken {
    NewToken {
        token_hash: hash.into(),
        user_id: user.into(),
        user_email: email.into(),
        provider: "google".into(),
        claims: Some(r#"{"groups":["a"]}"#.into()),
        now: NOW,
        expires_at: NOW + 3600,
    }
}

/// A browser's sign-in at the identity provider, bound to browser `b`.
fn oidc(id: &str, ip: &str, expires_at: i64) -> Pending {
    Pending::Oidc(OidcFlow {
        id: id.into(),
        provider: "google".into(),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        browser_hash: "b".into(),
        outcome: Outcome::Renew("h".into()),
        rate_key: ip.into(),
        created_at: NOW,
        expires_at,
    })
}

/// A confirmation waiting for its console code.
fn confirmation(id: &str, ip: &str, expires_at: i64) -> Pending {
    Pending::Confirmation(Confirmation {
        id: id.into(),
        provider: "google".into(),
        user_id: "google:1".into(),
        user_email: "a@company.com".into(),
        code_hash: "h".into(),
        attempts: 0,
        csrf_token: "c".into(),
        outcome: Outcome::Device("d".into()),
        rate_key: ip.into(),
        created_at: NOW,
        expires_at,
    })
}

async fn tokens_round_trip_renew_and_revoke(s: Subject) {
    let store = s.store;
    let id = store.insert_token(new_token("h1", "google:1", "a@company.com")).await.unwrap();
    let found = store.find_token("h1".into()).await.unwrap().unwrap();
    assert_eq!((found.id, found.is_authenticated, found.is_active), (id, true, true));
    assert_eq!(found.user_email, "a@company.com");
    assert_eq!(found.created_at, "2027-01-15 08:00:00");
    assert_eq!(found.auth_expires_at.as_deref(), Some("2027-01-15 09:00:00"));
    assert_eq!(found.claims.as_deref(), Some(r#"{"groups":["a"]}"#), "the claims as written");
    assert!(store.insert_token(new_token("h1", "google:1", "a@company.com")).await.is_err(), "token_hash is unique");
    let claims = || Some(r#"{"groups":["b"]}"#.to_string());
    assert!(!store.renew_token("h1".into(), "google:2".into(), claims(), NOW, NOW + 7200).await.unwrap(), "owner only");
    assert_eq!(store.find_token("h1".into()).await.unwrap().unwrap().claims.as_deref(), Some(r#"{"groups":["a"]}"#));
    assert!(store.renew_token("h1".into(), "google:1".into(), claims(), NOW, NOW + 7200).await.unwrap());
    let renewed = store.find_token("h1".into()).await.unwrap().unwrap();
    assert_eq!(renewed.auth_expires_at.as_deref(), Some("2027-01-15 10:00:00"));
    assert_eq!(renewed.claims, claims(), "a renewal keeps this sign-in's claims");
    assert!(store.revoke_token(id).await.unwrap());
    assert!(!store.revoke_token(id).await.unwrap(), "already revoked");
    assert!(
        !store.renew_token("h1".into(), "google:1".into(), None, NOW, NOW + 1).await.unwrap(),
        "revoked stays revoked"
    );
    assert!(!store.find_token("h1".into()).await.unwrap().unwrap().is_active);
    assert_eq!(store.find_token("nope".into()).await.unwrap(), None);
    assert_eq!(store.list_tokens().await.unwrap().len(), 1);
    store.ping().await.unwrap();
}

async fn revoking_a_user_revokes_every_active_token_of_theirs(s: Subject) {
    let store = s.store;
    for (hash, email) in [("a1", "a@company.com"), ("a2", "a@company.com"), ("b1", "b@company.com")] {
        store.insert_token(new_token(hash, "google:x", email)).await.unwrap();
    }
    assert_eq!(store.revoke_user_tokens("a@company.com".into()).await.unwrap(), 2);
    assert_eq!(store.revoke_user_tokens("a@company.com".into()).await.unwrap(), 0, "only active ones count");
    assert!(store.find_token("b1".into()).await.unwrap().unwrap().is_active);
}

async fn pending_rows_are_single_use_and_bounded_in_time(s: Subject) {
    let store = s.store;
    let caps = PendingCaps::default();
    let stored = store.insert_pending(oidc("s1", "10.0.0.1", NOW + 600), NET.into(), NOW, caps).await;
    assert_eq!(stored.unwrap(), Admission::Stored);
    let take =
        |id: &str, browser: Option<&str>, at| store.take_pending::<OidcFlow>(id.into(), browser.map(Into::into), at);
    let other_kind = store.take_pending::<Confirmation>("s1".into(), None, NOW).await.unwrap();
    assert!(other_kind.is_none(), "kind");
    assert!(take("s1", Some("other"), NOW).await.unwrap().is_none(), "browser");
    let taken = take("s1", Some("b"), NOW).await.unwrap().unwrap();
    assert_eq!(Pending::Oidc(taken), oidc("s1", "10.0.0.1", NOW + 600), "every field comes back as stored");
    assert!(take("s1", None, NOW).await.unwrap().is_none(), "single use");
    store.insert_pending(confirmation("c1", "10.0.0.1", NOW + 600), NET.into(), NOW, caps).await.unwrap();
    assert_eq!(store.claim_attempt("c1".into(), 2, NOW).await.unwrap().unwrap().attempts, 1);
    assert_eq!(store.claim_attempt("c1".into(), 2, NOW).await.unwrap().unwrap().attempts, 2);
    assert!(store.claim_attempt("c1".into(), 2, NOW).await.unwrap().is_none(), "never past the maximum");
    let read = store.get_pending::<Confirmation>("c1".into()).await.unwrap().unwrap();
    let Pending::Confirmation(stored) = confirmation("c1", "10.0.0.1", NOW + 600) else { unreachable!() };
    assert_eq!(read, Confirmation { attempts: 2, ..stored }, "every field comes back as stored");
    store.delete_pending("c1".into()).await.unwrap();
    assert!(store.get_pending::<Confirmation>("c1".into()).await.unwrap().is_none());
}

async fn fifty_parallel_claims_never_pass_the_maximum(s: Subject) {
    let store = s.store;
    let caps = PendingCaps::default();
    store.insert_pending(confirmation("c", "10.0.0.1", NOW + 600), NET.into(), NOW, caps).await.unwrap();
    let claims = (0..50).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.claim_attempt("c".into(), 3, NOW).await })
    });
    // Spawned all at once (an iterator is lazy: collect before awaiting).
    let claims: Vec<_> = claims.collect();
    let mut granted = Vec::new();
    for claim in claims {
        if let Some(p) = claim.await.unwrap().unwrap() {
            granted.push(p.attempts);
        }
    }
    granted.sort_unstable();
    assert_eq!(granted, [1, 2, 3], "each attempt counted once, never past 3");
}

async fn of_fifty_racing_takes_exactly_one_wins(s: Subject) {
    let store = s.store;
    for round in 0..3 {
        let id = format!("race{round}");
        let p = oidc(&id, "10.0.0.1", NOW + 600);
        store.insert_pending(p, NET.into(), NOW, PendingCaps::default()).await.unwrap();
        let takes = (0..50).map(|_| {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move { store.take_pending::<OidcFlow>(id, None, NOW).await })
        });
        let takes: Vec<_> = takes.collect();
        let mut winners = 0;
        for take in takes {
            winners += usize::from(take.await.unwrap().unwrap().is_some());
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

async fn sign_in_caps_hold_under_a_race(s: Subject) {
    let store = s.store;
    // Several rounds, each a new client: a race lost only sometimes must still be caught.
    for round in 0..5 {
        let caps = PendingCaps { per_client: 5, per_network: 1000, total: 1000 };
        let ip = format!("10.0.{round}.1");
        let inserts = (0..30).map(|i| {
            let (store, ip) = (store.clone(), ip.clone());
            tokio::spawn(async move {
                let p = oidc(&format!("p{round}-{i}"), &ip, NOW + 600);
                store.insert_pending(p, NET.into(), NOW, caps).await
            })
        });
        let inserts: Vec<_> = inserts.collect();
        let mut stored = 0;
        for insert in inserts {
            match insert.await.unwrap().unwrap() {
                Admission::Stored => stored += 1,
                Admission::ClientCapReached => {}
                Admission::TotalCapReached | Admission::NetworkCapReached => panic!("the client cap comes first here"),
            }
        }
        assert_eq!(stored, 5, "round {round}: exactly the per-client cap");
    }
    // Other clients fill the store to the total cap, then it holds.
    let caps = PendingCaps { per_client: 5, per_network: 1000, total: 28 };
    let mut outcomes = Vec::new();
    for i in 0..5 {
        let p = oidc(&format!("q{i}"), &format!("10.1.0.{i}"), NOW + 600);
        outcomes.push(store.insert_pending(p, NET.into(), NOW, caps).await.unwrap());
    }
    let total_refused = outcomes.iter().filter(|a| **a == Admission::TotalCapReached).count();
    assert_eq!(total_refused, 2, "{outcomes:?}");
}

async fn expiry_is_exclusive_at_the_boundary(s: Subject) {
    let store = s.store;
    let caps = PendingCaps::default();
    store.insert_pending(confirmation("e", "10.0.0.1", NOW + 60), NET.into(), NOW, caps).await.unwrap();
    assert!(store.claim_attempt("e".into(), 3, NOW + 60).await.unwrap().is_none(), "expired at expires_at");
    assert!(store.claim_attempt("e".into(), 3, NOW + 59).await.unwrap().is_some(), "alive one second before");
    assert!(store.take_pending::<Confirmation>("e".into(), None, NOW + 60).await.unwrap().is_none());
    assert!(store.take_pending::<Confirmation>("e".into(), None, NOW + 59).await.unwrap().is_some());
}

async fn concurrent_failures_each_count_and_set_the_block(s: Subject) {
    let store = s.store;
    let schedule: Schedule = Arc::new(|n| i64::from(n) * 10);
    let failures = (0..20).map(|_| {
        let (store, schedule) = (store.clone(), schedule.clone());
        tokio::spawn(async move { store.record_failure("10.0.0.9".into(), NOW, schedule).await })
    });
    let failures: Vec<_> = failures.collect();
    let mut counts = Vec::new();
    for f in failures {
        counts.push(f.await.unwrap().unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=20).collect::<Vec<u32>>(), "each failure counted once");
    let record = store.rate_limit("10.0.0.9".into()).await.unwrap().unwrap();
    assert_eq!(record.failed_attempts, 20);
    // The block of the last failure: NOW + 200 s.
    assert_eq!(record.blocked_until.as_deref(), Some("2027-01-15 08:03:20"));
    assert_eq!(store.list_rate_limits().await.unwrap().len(), 1);
    store.clear_rate_limit("10.0.0.9".into()).await.unwrap();
    assert!(store.rate_limit("10.0.0.9".into()).await.unwrap().is_none());
    store.record_failure("10.0.0.10".into(), NOW, schedule.clone()).await.unwrap();
    assert_eq!(store.clear_all_rate_limits().await.unwrap(), 1);
}

async fn pruning_removes_expired_sign_ins_and_idle_backoff_only(s: Subject) {
    let store = s.store;
    let caps = PendingCaps::default();
    store.insert_pending(oidc("old", "10.0.0.1", NOW + 10), NET.into(), NOW, caps).await.unwrap();
    store.insert_pending(oidc("new", "10.0.0.1", NOW + 1000), NET.into(), NOW, caps).await.unwrap();
    let short: Schedule = Arc::new(|_| 5);
    let long: Schedule = Arc::new(|_| 200_000);
    store.record_failure("idle".into(), NOW - 100_000, short).await.unwrap();
    store.record_failure("blocked".into(), NOW - 100_000, long).await.unwrap();
    store.record_failure("recent".into(), NOW, Arc::new(|_| 5)).await.unwrap();
    let (pending_removed, limits_removed) = store.prune(NOW + 100, NOW - 50_000).await.unwrap();
    assert_eq!((pending_removed, limits_removed), (1, 1));
    assert!(store.get_pending::<OidcFlow>("new".into()).await.unwrap().is_some());
    assert!(store.rate_limit("idle".into()).await.unwrap().is_none(), "idle and no longer blocked");
    assert!(store.rate_limit("blocked".into()).await.unwrap().is_some(), "old, but still blocked until NOW + 100 000");
    assert!(store.rate_limit("recent".into()).await.unwrap().is_some());
}

async fn a_hand_edited_expiry_takes_effect_on_the_next_lookup(s: Subject) {
    let store = s.store;
    store.insert_token(new_token("edit", "google:1", "a@company.com")).await.unwrap();
    (s.sql)("UPDATE agent_tokens SET auth_expires_at = '2020-01-01 00:00:00' WHERE token_hash = 'edit'").unwrap();
    let found = store.find_token("edit".into()).await.unwrap().unwrap();
    assert_eq!(found.auth_expires_at.as_deref(), Some("2020-01-01 00:00:00"));
    (s.sql)("DELETE FROM agent_tokens WHERE token_hash = 'edit'").unwrap();
    assert!(store.find_token("edit".into()).await.unwrap().is_none());
}

// Migrations, per backend: from an empty database, from every older schema, and a newer one refused.

#[test]
fn sqlite_migrates_from_every_older_schema_and_refuses_a_newer_one() {
    for version in 0..sqlite::SCHEMA_VERSION {
        let path = temp_db(&format!("migrate-{version}"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        sqlite::create_at_version(&path, version).unwrap();
        SqliteStore::open(&path).unwrap_or_else(|e| panic!("from version {version}: {e}"));
        let conn = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(sqlite::schema_version(&conn).unwrap(), sqlite::SCHEMA_VERSION as i64);
    }
    let path = temp_db("migrate-newer");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    sqlite::create_at_version(&path, sqlite::SCHEMA_VERSION).unwrap();
    rusqlite::Connection::open(&path).unwrap().execute("INSERT INTO schema_version VALUES (99)", []).unwrap();
    let refused = SqliteStore::open(&path).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(refused.contains("schema version 99"), "{refused}");
}

#[tokio::test]
async fn postgres_migrates_from_every_older_schema_and_refuses_a_newer_one() {
    let Some(server) = postgres_server::server_or_skip("postgres_migrations") else { return };
    for version in 0..postgres::SCHEMA_VERSION {
        let url = server.database(&format!("migrate{version}")).unwrap();
        postgres::migrate_to(&url, version).await.unwrap();
        let store = PgStore::open(&url, 1).await.unwrap_or_else(|e| panic!("from version {version}: {e}"));
        let (_, schema) = store.describe().await.unwrap();
        assert_eq!(schema, postgres::SCHEMA_VERSION as i64);
    }
    let url = server.database("migratenewer").unwrap();
    postgres::migrate_to(&url, postgres::SCHEMA_VERSION).await.unwrap();
    let database = url.rsplit('/').next().unwrap_or_default();
    server.psql(database, "INSERT INTO schema_version VALUES (99)").unwrap();
    let refused = PgStore::open(&url, 1).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(refused.contains("schema version 99"), "{refused}");
}

#[tokio::test]
async fn postgres_replicas_starting_together_migrate_once() {
    let Some(server) = postgres_server::server_or_skip("postgres_replicas_migrate") else { return };
    let url = server.database("together").unwrap();
    let opens = (0..6).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { PgStore::open(&url, 1).await.map(|_| ()).map_err(|e| e.to_string()) })
    });
    let opens: Vec<_> = opens.collect();
    for open in opens {
        open.await.unwrap().unwrap();
    }
    let database = url.rsplit('/').next().unwrap_or_default();
    let applied = server.psql(database, "SELECT COUNT(*) FROM schema_version").unwrap();
    assert_eq!(applied, postgres::SCHEMA_VERSION.to_string(), "each migration applied once");
}

#[tokio::test]
async fn postgres_sslmode_require_never_falls_back_to_plain_text() {
    let Some(server) = postgres_server::server_or_skip("postgres_sslmode_require") else { return };
    let url = server.database("tlsrequired").unwrap();
    // The throwaway server has no TLS: require must fail, not connect in the clear.
    let refused = PgStore::open(&format!("{url}?sslmode=require"), 1).await;
    assert!(refused.is_err(), "connected without TLS although sslmode=require");
    PgStore::open(&format!("{url}?sslmode=disable"), 1).await.expect("plain text when allowed");
}

#[tokio::test]
async fn postgres_that_hangs_fails_closed_within_the_store_timeout() {
    let Some(server) = postgres_server::server_or_skip("postgres_hangs") else { return };
    let url = server.database("hangs").unwrap();
    let store = AsyncStore::postgres(PgStore::open(&url, 2).await.unwrap());
    store.insert_token(new_token("held", "google:1", "a@company.com")).await.unwrap();
    let database = url.rsplit('/').next().unwrap_or_default().to_string();
    let hold = llm_sso_proxy::store::POSTGRES_TIMEOUT.as_secs() + 3;
    // Another session holds a lock every read of the table waits for.
    let locker = std::thread::spawn(move || {
        server.psql(
            &database,
            &format!("BEGIN; LOCK TABLE agent_tokens IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({hold}); COMMIT;"),
        )
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let answer = store.find_token("held".into()).await;
    assert!(answer.is_err(), "a hung database must be an error, not a wait: {answer:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(hold), "answered after {:?}", started.elapsed());
    locker.join().unwrap().unwrap();
    assert!(store.find_token("held".into()).await.unwrap().is_some(), "and answers again afterwards");
}

/// A terminal's request as the proxy stores it: id = hash of the device code, code_hash = hash of the user code.
fn device_request(id: &str, user_code_hash: &str, expires_at: i64) -> Pending {
    Pending::Device(DeviceRequest {
        id: id.into(),
        user_code_hash: user_code_hash.into(),
        status: DeviceStatus::Pending,
        renew_token_hash: None,
        user_agent: Some("llm-sso-proxy/test".into()),
        browser_hash: None,
        approved_by: None,
        rate_key: "10.0.0.7".into(),
        created_at: NOW,
        expires_at,
    })
}

fn alice() -> Approver {
    Approver {
        user_id: "google:1".into(),
        user_email: "alice@company.com".into(),
        provider: "google".into(),
        claims: Some(r#"{"roles":["LLM.User"]}"#.into()),
    }
}

async fn a_terminal_request_is_found_by_its_user_code_answered_once_and_collected_once(s: Subject) {
    let store = s.store;
    store.insert_pending(device_request("d1", "u1", NOW + 600), NET.into(), NOW, PendingCaps::default()).await.unwrap();
    let found = store.find_device("u1".into(), NOW).await.unwrap().expect("found by its user code");
    assert_eq!((found.id.as_str(), found.created_at), ("d1", NOW));
    assert_eq!(found.user_agent.as_deref(), Some("llm-sso-proxy/test"));
    assert!(store.find_device("u2".into(), NOW).await.unwrap().is_none());
    assert_eq!(store.poll_device("d1".into(), NOW, 5).await.unwrap(), DevicePoll::Pending);
    assert!(store.bind_device("d1".into(), "browser-1".into(), NOW).await.unwrap());
    assert!(store.bind_device("d1".into(), "browser-1".into(), NOW).await.unwrap(), "the same browser again");
    assert!(!store.bind_device("d1".into(), "browser-2".into(), NOW).await.unwrap(), "the first browser keeps it");
    let bound = store.get_pending::<DeviceRequest>("d1".into()).await.unwrap().unwrap();
    assert_eq!(bound.browser_hash.as_deref(), Some("browser-1"));
    assert!(!store.bind_device("d1".into(), "late".into(), NOW + 600).await.unwrap(), "not after expiry");
    assert!(store.decide_device("d1".into(), DeviceDecision::Approve(alice()), NOW).await.unwrap());
    assert!(!store.bind_device("d1".into(), "browser-3".into(), NOW).await.unwrap(), "not once answered");
    assert!(!store.decide_device("d1".into(), DeviceDecision::Deny, NOW).await.unwrap(), "answered once");
    assert!(store.find_device("u1".into(), NOW).await.unwrap().is_none(), "an answered code is no longer entered");
    let DevicePoll::Approved(taken) = store.poll_device("d1".into(), NOW + 5, 5).await.unwrap() else {
        panic!("the approved request is collected")
    };
    assert_eq!((taken.status, taken.approved_by), (DeviceStatus::Approved, Some(alice())));
    assert_eq!(store.poll_device("d1".into(), NOW + 10, 5).await.unwrap(), DevicePoll::Unknown, "collected once");
    assert_eq!(store.poll_device("nope".into(), NOW, 5).await.unwrap(), DevicePoll::Unknown);
}

async fn polling_faster_than_the_interval_slows_down_and_the_interval_grows(s: Subject) {
    let store = s.store;
    store.insert_pending(device_request("d", "u", NOW + 600), NET.into(), NOW, PendingCaps::default()).await.unwrap();
    let poll = |at: i64| store.poll_device("d".into(), at, 5);
    assert_eq!(poll(NOW).await.unwrap(), DevicePoll::Pending, "the first poll is on time");
    assert_eq!(poll(NOW + 4).await.unwrap(), DevicePoll::SlowDown, "4 s after, with an interval of 5");
    // After one slow_down the interval is 10 s, counted from the last poll.
    assert_eq!(poll(NOW + 13).await.unwrap(), DevicePoll::SlowDown, "9 s after: the interval grew to 10");
    assert_eq!(poll(NOW + 28).await.unwrap(), DevicePoll::Pending, "15 s after, with an interval of 15");
    assert_eq!(poll(NOW + 43).await.unwrap(), DevicePoll::Pending);
}

async fn of_fifty_racing_polls_of_an_approved_request_exactly_one_collects_it(s: Subject) {
    let store = s.store;
    for round in 0..3 {
        let id = format!("race{round}");
        store
            .insert_pending(device_request(&id, &id, NOW + 600), NET.into(), NOW, PendingCaps::default())
            .await
            .unwrap();
        assert!(store.decide_device(id.clone(), DeviceDecision::Approve(alice()), NOW).await.unwrap());
        let polls: Vec<_> = (0..50)
            .map(|_| {
                let (store, id) = (store.clone(), id.clone());
                tokio::spawn(async move { store.poll_device(id, NOW + 60, 5).await })
            })
            .collect();
        let mut collected = 0;
        for poll in polls {
            collected += usize::from(matches!(poll.await.unwrap().unwrap(), DevicePoll::Approved(_)));
        }
        assert_eq!(collected, 1, "round {round}: one token, whatever the race");
    }
}

async fn an_expired_or_refused_terminal_request_says_so(s: Subject) {
    let store = s.store;
    let caps = PendingCaps::default();
    store.insert_pending(device_request("late", "u-late", NOW + 60), NET.into(), NOW, caps).await.unwrap();
    assert!(store.find_device("u-late".into(), NOW + 60).await.unwrap().is_none(), "expiry is exclusive");
    assert!(
        !store.decide_device("late".into(), DeviceDecision::Approve(alice()), NOW + 60).await.unwrap(),
        "no approval after expiry"
    );
    assert_eq!(store.poll_device("late".into(), NOW + 60, 5).await.unwrap(), DevicePoll::Expired);
    store.insert_pending(device_request("no", "u-no", NOW + 600), NET.into(), NOW, caps).await.unwrap();
    assert!(store.decide_device("no".into(), DeviceDecision::Deny, NOW).await.unwrap());
    assert_eq!(store.poll_device("no".into(), NOW, 5).await.unwrap(), DevicePoll::Denied);
    assert!(
        !store.decide_device("no".into(), DeviceDecision::Approve(alice()), NOW).await.unwrap(),
        "a refusal is final"
    );
    // The guide's way to move time: a hand edit of expires_at takes effect at once.
    store.insert_pending(device_request("edited", "u-e", NOW + 600), NET.into(), NOW, caps).await.unwrap();
    (s.sql)("UPDATE pending_authorizations SET expires_at = '2000-01-01 00:00:00' WHERE id = 'edited'").unwrap();
    assert_eq!(store.poll_device("edited".into(), NOW, 5).await.unwrap(), DevicePoll::Expired);
}

async fn a_holder_revokes_a_token_by_its_hash(s: Subject) {
    let store = s.store;
    store.insert_token(new_token("h-out", "google:1", "a@company.com")).await.unwrap();
    assert!(store.revoke_token_hash("h-out".into()).await.unwrap());
    assert!(!store.revoke_token_hash("h-out".into()).await.unwrap(), "once");
    assert!(!store.find_token("h-out".into()).await.unwrap().unwrap().is_active);
    assert!(!store.revoke_token_hash("unknown".into()).await.unwrap());
}

async fn one_network_is_capped_and_identified_steps_pass_a_full_table(s: Subject) {
    let store = s.store;
    let caps = PendingCaps { per_client: 5, per_network: 8, total: 12 };
    let mut outcomes = Vec::new();
    for i in 0..10 {
        let p = oidc(&format!("n{i}"), &format!("10.0.0.{i}"), NOW + 600);
        outcomes.push(store.insert_pending(p, NET.into(), NOW, caps).await.unwrap());
    }
    let stored = outcomes.iter().filter(|a| **a == Admission::Stored).count();
    assert_eq!(stored, 8, "one network, many addresses: at most per_network");
    assert_eq!(outcomes[9], Admission::NetworkCapReached);
    for i in 0..4 {
        let p = oidc(&format!("o{i}"), &format!("10.1.{i}.1"), NOW + 600);
        let net = format!("10.1.{i}.0/24");
        assert_eq!(store.insert_pending(p, net, NOW, caps).await.unwrap(), Admission::Stored, "other networks");
    }
    let p = oidc("full", "10.2.0.1", NOW + 600);
    assert_eq!(store.insert_pending(p, "10.2.0.0/24".into(), NOW, caps).await.unwrap(), Admission::TotalCapReached);
    // Someone back from the IdP is not refused because strangers filled the table or their network.
    let identified = PendingCaps { total: 100, per_network: 100, ..caps };
    let p = confirmation("back", "10.0.0.200", NOW + 600);
    assert_eq!(store.insert_pending(p, NET.into(), NOW, identified).await.unwrap(), Admission::Stored);
}

async fn a_token_bucket_holds_under_concurrency_refills_and_takes_back(s: Subject) {
    let store = s.store;
    let limit = RequestLimit { capacity: 10.0, window_seconds: 100.0 };
    let racers: Vec<_> = (0..30)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take_request("b".into(), limit, NOW).await.unwrap() })
        })
        .collect();
    let mut taken = 0;
    for r in racers {
        taken += usize::from(r.await.unwrap());
    }
    assert_eq!(taken, 10, "30 at once: exactly the capacity");
    assert!(!store.take_request("b".into(), limit, NOW + 5).await.unwrap(), "0.5 refilled: not yet one");
    assert!(store.take_request("b".into(), limit, NOW + 10).await.unwrap(), "one refilled after a tenth");
    assert!(
        !store.take_request("b".into(), limit, NOW - 1000).await.unwrap(),
        "a clock that went back refills nothing"
    );
    store.give_back_request("b".into(), limit).await.unwrap();
    assert!(store.take_request("b".into(), limit, NOW + 10).await.unwrap(), "given back");
    assert!(store.take_request("other".into(), limit, NOW).await.unwrap(), "buckets are separate");
    for _ in 0..20 {
        store.give_back_request("other".into(), limit).await.unwrap();
    }
    let mut full = 0;
    while store.take_request("other".into(), limit, NOW).await.unwrap() {
        full += 1;
    }
    assert_eq!(full, 10, "never past the capacity");
}
