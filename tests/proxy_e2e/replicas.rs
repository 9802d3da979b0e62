//! Several proxies on one PostgreSQL database, beyond what `features/replicas.feature` holds every
//! implementation to: a database restart is survived without restarting the proxies, the doctor reports
//! the server without its password, and `db copy` moves an SQLite file's tokens over once.

use crate::common::{Mocks, Stack, chat, client, openai_text};
use llm_sso_kit::postgres::{Server, server_or_skip};
use llm_sso_kit::proxy::{ProxyProcess, TempDir, free_port};
use llm_sso_kit::stack::ProxySetup;
use std::time::Duration;

/// A proxy on its own PostgreSQL database, with the mocks, as one replica of a fleet is started.
struct Replicas {
    a: Stack,
    url: String,
}

async fn replicas_on(server: &Server, name: &str) -> Replicas {
    let url = server.database(name).expect("a database");
    let pa = free_port();
    let mocks = Mocks::start(pa, true).await.expect("the mocks start");
    let setup =
        ProxySetup { server_lines: vec![format!("public_url: \"http://127.0.0.1:{pa}\"")], ..ProxySetup::default() };
    let start = |port: u16| {
        let yaml = mocks
            .config(port, &setup)
            .replace("  database_path: \"./sso_auth.db\"\n", "  database_url: \"${KIT_DATABASE_URL}\"\n");
        let envs = [("KIT_DATABASE_URL", url.clone())];
        async move {
            let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            ProxyProcess::start_in(TempDir::new("replica"), &yaml, port, &[], &envs)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let a = start(pa).await;
    Replicas { a: Stack { mocks, proxy: a }, url }
}

async fn replicas(name: &str) -> Option<Replicas> {
    let server = server_or_skip(name)?;
    Some(replicas_on(server, name).await)
}

async fn ask(proxy: &ProxyProcess, token: &str) -> (u16, String) {
    let r = client()
        .post(format!("{}/v1/chat/completions", proxy.base_url()))
        .bearer_auth(token)
        .json(&chat(false))
        .send()
        .await
        .expect("answer");
    let status = r.status().as_u16();
    (status, openai_text(r).await)
}

#[tokio::test]
async fn a_database_restart_fails_closed_then_recovers_without_restarting_the_proxy() {
    let Some(_) = server_or_skip("replicas_db_restart") else { return };
    let server = Server::private("restart").expect("a cluster of its own");
    let r = replicas_on(&server, "replicas_db_restart").await;
    let token = r.a.sign_in("google", "dave@company.com").await;
    assert_eq!(ask(&r.a.proxy, &token).await.0, 200);
    server.stop().expect("stop PostgreSQL");
    let (status, text) = ask(&r.a.proxy, &token).await;
    assert_eq!(status, 503, "fail closed while the database is down: {text}");
    server.start().expect("start PostgreSQL");
    let mut last = (0, String::new());
    for _ in 0..50 {
        last = ask(&r.a.proxy, &token).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(last.0, 200, "recovered without a restart: {}", last.1);
}

/// `doctor --json` with replica A's configuration and `database_url`; the database check.
fn doctor_database_check(r: &Replicas, database_url: &str) -> (serde_json::Value, String) {
    let out = std::process::Command::new(llm_sso_kit::proxy::binary())
        .current_dir(r.a.proxy.dir_path())
        .args(["--sso-config", "config.yaml", "doctor", "--json", "--timeout-seconds", "3"])
        .env("KIT_DATABASE_URL", database_url)
        .env("KIT_CLIENT_SECRET", llm_sso_kit::proxy::CLIENT_SECRET)
        .output()
        .expect("doctor");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let check = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "database.postgres").cloned())
        .unwrap_or_else(|| panic!("no database.postgres check: {text}"));
    (check, text)
}

#[tokio::test]
async fn doctor_reports_the_postgres_server_and_never_its_password() {
    let Some(r) = replicas("replicas_doctor").await else { return };
    let (check, _) = doctor_database_check(&r, &r.url);
    assert_eq!(check["verdict"], "ok", "{check}");
    let detail = check["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("PostgreSQL") && detail.contains("round trip") && detail.contains("pool of 8"), "{detail}");
    assert!(detail.contains("schema version 6"), "{detail}");
    let (check, text) = doctor_database_check(&r, "postgres://llmsso:s3cret-pw@127.0.0.1:1/nowhere");
    assert_eq!(check["verdict"], "fail", "{check}");
    assert!(!text.contains("s3cret-pw"), "the doctor printed the password: {text}");
}

#[tokio::test]
async fn db_copy_moves_sqlite_tokens_into_postgres_once() {
    let Some(server) = server_or_skip("replicas_db_copy") else { return };
    let url = server.database("db_copy").expect("a database");
    let s = crate::common::stack(true).await;
    let token = llm_sso_kit::contract::generate_token();
    let hash = llm_sso_kit::contract::token_hash(&token);
    s.proxy
        .sql(&format!(
            "INSERT INTO agent_tokens (token_hash, user_id, user_email, provider, is_authenticated, is_active, \
             created_at, last_authenticated_at, auth_expires_at) VALUES ('{hash}', 'google:7', 'mover@company.com', \
             'google', 1, 1, '2026-11-01 10:00:00', '2026-11-01 10:00:00', '2099-01-01 00:00:00')"
        ))
        .expect("a token in SQLite");
    let copy = || {
        let out = std::process::Command::new(llm_sso_kit::proxy::binary())
            .current_dir(s.proxy.dir_path())
            .args(["--sso-config", "config.yaml", "db", "copy", "--to", &url])
            .env("KIT_CLIENT_SECRET", llm_sso_kit::proxy::CLIENT_SECRET)
            .output()
            .expect("db copy");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(copy().contains("1 copied, 0 already there"));
    assert!(copy().contains("0 copied, 1 already there"), "a second run copies nothing twice");
    let database = url.rsplit('/').next().unwrap_or_default();
    let row = server
        .psql(
            database,
            &format!(
                "SELECT user_email || ' ' || is_active || ' ' || to_char(auth_expires_at, 'YYYY-MM-DD HH24:MI:SS') \
                 FROM agent_tokens WHERE token_hash = '{hash}'"
            ),
        )
        .expect("the copied row");
    assert_eq!(row, "mover@company.com true 2099-01-01 00:00:00");
}
