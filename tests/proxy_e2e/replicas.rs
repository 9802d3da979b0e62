//! Several proxies on one PostgreSQL database, as behind a load balancer
//! without sticky sessions: a sign-in started on one replica finishes on
//! another, a revocation through one holds on all, backoff earned on one
//! applies on the other, one replica dying leaves the other serving, and a
//! database restart is survived without restarting the proxies.

use crate::common::{chat, client, idp_for, kit_config, openai_text};
use llm_sso_kit::postgres::{Server, server_or_skip};
use llm_sso_kit::proxy::{ProxyProcess, TempDir, free_port};
use mock_idp::{MockIdp, NextLogin};
use mock_llm::{LlmConfig, MockLlm};
use std::time::Duration;

struct Replicas {
    llm: MockLlm,
    idp: MockIdp,
    a: ProxyProcess,
    b: ProxyProcess,
    url: String,
}

/// The kit's configuration for a replica: the shared database instead of a
/// file, and the public URL of the "load balancer" (replica A's address, where
/// the IdP sends browsers back).
fn replica_config(base: &str, port: u16, public_port: u16) -> String {
    base.replace("  database_path: \"./sso_auth.db\"\n", "  database_url: \"${KIT_DATABASE_URL}\"\n").replace(
        &format!("  port: {port}\n"),
        &format!("  port: {port}\n  public_url: \"http://127.0.0.1:{public_port}\"\n"),
    )
}

async fn replicas_on(server: &Server, name: &str) -> Replicas {
    let url = server.database(name).expect("a database");
    let llm = MockLlm::spawn(LlmConfig::default()).await.expect("mock upstream starts");
    let (pa, pb) = (free_port(), free_port());
    let idp = idp_for(pa).await;
    let envs = [("KIT_DATABASE_URL", url.as_str())];
    let start = |port: u16| {
        let yaml = replica_config(&kit_config(&llm, &idp, true, Vec::new(), port), port, pa);
        async move {
            ProxyProcess::start_in(TempDir::new("replica"), &yaml, port, &[], &envs)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let a = start(pa).await;
    let b = start(pb).await;
    Replicas { llm, idp, a, b, url }
}

async fn replicas(name: &str) -> Option<Replicas> {
    let server = server_or_skip(name)?;
    Some(replicas_on(server, name).await)
}

fn jar_client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// The same request path on another replica.
fn on(proxy: &ProxyProcess, url: &str) -> String {
    let path = url.splitn(4, '/').nth(3).unwrap_or_default();
    format!("{}/{path}", proxy.base_url())
}

/// Starts a sign-in of `email` on `start`, finishes it (callback, confirmation) on
/// `finish`, and returns the agent token from the page.
async fn sign_in(r: &Replicas, start: &ProxyProcess, finish: &ProxyProcess, email: &str) -> String {
    let c = jar_client();
    r.idp.set_next_login(NextLogin { email: Some(email.into()), deny: false, issuer: Some("google".into()) });
    let login = c.get(format!("{}/auth/login/google", start.base_url())).send().await.expect("start");
    assert!(login.status().is_redirection(), "{}", login.status());
    let idp = login.headers()["location"].to_str().expect("location").to_string();
    let back = c.get(&idp).send().await.expect("idp");
    let callback = back.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(callback.contains("/auth/callback?"), "{callback}");
    let confirm = c.get(on(finish, &callback)).send().await.expect("callback on the other replica");
    assert!(confirm.status().is_redirection(), "callback answered {}", confirm.status());
    let form = c.get(format!("{}/auth/confirm", finish.base_url())).send().await.expect("form");
    let page = form.text().await.unwrap_or_default();
    let csrf = page.split("name=\"csrf_token\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default();
    let code = finish.confirmation_code(email).await.unwrap_or_else(|| panic!("no code:\n{}", finish.console()));
    let done = c
        .post(format!("{}/auth/confirm", finish.base_url()))
        .form(&[("code", code.as_str()), ("csrf_token", csrf)])
        .send()
        .await
        .expect("confirm");
    let page = done.text().await.unwrap_or_default();
    let token = page.split("id=\"token\" readonly value=\"").nth(1).and_then(|r| r.split('"').next());
    token.unwrap_or_else(|| panic!("no token page:\n{page}")).to_string()
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
async fn a_sign_in_started_on_one_replica_finishes_on_the_other_and_works_on_both() {
    let Some(r) = replicas("replicas_sign_in").await else { return };
    let token = sign_in(&r, &r.a, &r.b, "alice@company.com").await;
    let (status, text) = ask(&r.a, &token).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("ping through the proxy"), "the upstream answered through A: {text}");
    let (status, _) = ask(&r.b, &token).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_token_revoked_through_one_replica_is_refused_by_the_other() {
    let Some(r) = replicas("replicas_revoke").await else { return };
    let token = sign_in(&r, &r.a, &r.a, "bob@company.com").await;
    assert_eq!(ask(&r.b, &token).await.0, 200);
    // The operator command, run with replica A's configuration.
    let out = std::process::Command::new(llm_sso_kit::proxy::binary())
        .current_dir(r.a.dir_path())
        .args(["--sso-config", "config.yaml", "tokens", "revoke", "--user", "bob@company.com"])
        .env("KIT_DATABASE_URL", &r.url)
        .env("KIT_CLIENT_SECRET", llm_sso_kit::proxy::CLIENT_SECRET)
        .output()
        .expect("tokens revoke");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked 1 token"));
    let (_, text) = ask(&r.b, &token).await;
    assert!(!text.contains("ping through the proxy"), "B forwarded a revoked token: {text}");
    assert!(text.contains("/auth/login"), "B answers with the sign-in link: {text}");
}

#[tokio::test]
async fn backoff_earned_on_one_replica_applies_on_the_other() {
    let Some(r) = replicas("replicas_backoff").await else { return };
    let c = jar_client();
    r.idp.set_next_login(NextLogin {
        email: Some("eve@company.com".into()),
        deny: false,
        issuer: Some("google".into()),
    });
    let login = c.get(format!("{}/auth/login/google", r.a.base_url())).send().await.expect("start");
    let idp = login.headers()["location"].to_str().expect("location").to_string();
    let back = c.get(&idp).send().await.expect("idp");
    let callback = back.headers()["location"].to_str().expect("callback").to_string();
    c.get(&callback).send().await.expect("callback on A");
    let page = c.get(format!("{}/auth/confirm", r.a.base_url())).send().await.expect("form").text().await.unwrap();
    let csrf = page.split("name=\"csrf_token\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default();
    let code = r.a.confirmation_code("eve@company.com").await.expect("code");
    let wrong = if code == "000000" { "000001" } else { "000000" };
    // The first failure is free; the second earns a block (2 s).
    for _ in 0..2 {
        let guess = c
            .post(format!("{}/auth/confirm", r.a.base_url()))
            .form(&[("code", wrong), ("csrf_token", csrf)])
            .send()
            .await
            .expect("wrong code on A");
        assert_eq!(guess.status(), 422);
    }
    // The same client (127.0.0.1) on replica B: blocked by the backoff A recorded.
    let blocked = jar_client().get(format!("{}/auth/login/google", r.b.base_url())).send().await.expect("B");
    assert_eq!(blocked.status(), 429, "B let a client in backoff start a sign-in");
}

#[tokio::test]
async fn one_replica_killed_mid_stream_leaves_the_other_serving() {
    let Some(r) = replicas("replicas_failover").await else { return };
    let token = sign_in(&r, &r.a, &r.a, "carol@company.com").await;
    let fast = mock_llm::StreamSettings { stream_chunks: 8, chunk_delay_ms: 0, large_reply_bytes: 1024 * 1024 };
    let slow = mock_llm::StreamSettings { stream_chunks: 50, chunk_delay_ms: 100, large_reply_bytes: 1024 * 1024 };
    r.llm.set_stream_settings(&slow).expect("slow stream");
    let mut stream = client()
        .post(format!("{}/v1/chat/completions", r.a.base_url()))
        .bearer_auth(&token)
        .json(&chat(true))
        .send()
        .await
        .expect("stream starts on A");
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.expect("first chunk").expect("a chunk");
    assert!(!first.is_empty());
    let pid = r.a.pid().expect("A's pid");
    let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    // The rest of A's stream is lost; B serves the same token at once.
    let cut =
        tokio::time::timeout(Duration::from_secs(10), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(cut.is_ok(), "A's stream ended when A died");
    r.llm.set_stream_settings(&fast).expect("fast again");
    let (status, text) = ask(&r.b, &token).await;
    assert_eq!(status, 200, "{text}");
}

#[tokio::test]
async fn a_database_restart_fails_closed_then_recovers_without_restarting_the_proxy() {
    let Some(_) = server_or_skip("replicas_db_restart") else { return };
    let server = Server::private("restart").expect("a cluster of its own");
    let r = replicas_on(&server, "replicas_db_restart").await;
    let token = sign_in(&r, &r.a, &r.a, "dave@company.com").await;
    assert_eq!(ask(&r.a, &token).await.0, 200);
    server.stop().expect("stop PostgreSQL");
    let (status, text) = ask(&r.a, &token).await;
    assert_eq!(status, 503, "fail closed while the database is down: {text}");
    server.start().expect("start PostgreSQL");
    let mut last = (0, String::new());
    for _ in 0..50 {
        last = ask(&r.a, &token).await;
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
        .current_dir(r.a.dir_path())
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
    assert!(detail.contains("schema version 5"), "{detail}");
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
