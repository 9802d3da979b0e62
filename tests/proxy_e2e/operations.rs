//! Health, readiness, metrics, and a graceful shutdown that lets streams finish.

use crate::common::*;
use futures_util::StreamExt;
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn health_ready_and_metrics() {
    let s = stack(true).await;
    let health: Value = client().get(s.url("/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health, serde_json::json!({"status": "ok"}));
    // Discovery runs in the background after startup: ready once it has loaded.
    let mut ready = Value::Null;
    for _ in 0..100 {
        let response = client().get(s.url("/ready")).send().await.unwrap();
        let ok = response.status() == 200;
        ready = response.json().await.unwrap();
        if ok {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["checks"]["database"], "ok");
    assert_eq!(ready["checks"]["provider google"], "ok");

    let token = s.proxy.mint_token("alice@company.com");
    s.openai(Some(&token), &chat(false)).await;
    s.openai(None, &chat(false)).await;
    let metrics = client().get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("llm_sso_requests_total{route=\"openai_chat\",outcome=\"forwarded\"} 1"), "{metrics}");
    assert!(metrics.contains("llm_sso_requests_total{route=\"openai_chat\",outcome=\"sandbox\"} 1"), "{metrics}");
    assert!(metrics.contains("llm_sso_sandbox_replies_total{reason=\"no_valid_token\"} 1"), "{metrics}");
    assert!(metrics.contains("llm_sso_upstream_latency_seconds_count 1"), "{metrics}");
}

#[tokio::test]
async fn startup_prints_address_redirect_uri_mode_and_database() {
    let s = stack(true).await;
    let console = s.proxy.console();
    for expected in [
        format!("listening on http://127.0.0.1:{}", s.proxy.port),
        format!("redirect URI to register for provider 'google': http://127.0.0.1:{}/auth/callback", s.proxy.port),
        "authorization mode: single_user".to_string(),
        "database: ./sso_auth.db".to_string(),
    ] {
        assert!(console.contains(&expected), "missing {expected:?} in:\n{console}");
    }
    assert!(!console.contains("kit-secret-not-real"), "secrets never printed");
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_stream_finish_and_refuses_new_connections() {
    let mut s = stack(true).await;
    let token = s.proxy.mint_token("alice@company.com");
    s.mocks
        .llm
        .set_stream_settings(&mock_llm::StreamSettings { stream_chunks: 6, chunk_delay_ms: 150, large_reply_bytes: 10 })
        .unwrap();
    let response = s.openai(Some(&token), &chat(true)).await;
    let mut stream = response.bytes_stream();
    let first = stream.next().await.expect("a first chunk").expect("intact");
    assert!(!first.is_empty());
    s.proxy.terminate();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = reqwest::Client::new().get(s.url("/health")).send().await;
    assert!(refused.is_err(), "no new connections after SIGTERM");
    let mut rest = Vec::new();
    while let Some(chunk) = stream.next().await {
        rest.extend_from_slice(&chunk.expect("the stream finishes intact"));
    }
    assert!(String::from_utf8_lossy(&rest).trim_end().ends_with("data: [DONE]"));
    let status = s.proxy.wait(Duration::from_secs(10)).await.expect("exits after the stream");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn log_file_in_json_records_authentication_failures_without_the_token() {
    let args = ["--log-level", "debug", "--log-file", "logs/proxy.log", "--log-format", "json"];
    let s = Stack::builder().google_only().args(&args).start().await;
    let proxy = &s.proxy;
    let token = llm_sso_kit::contract::generate_token();
    client()
        .post(format!("{}/v1/chat/completions", proxy.base_url()))
        .bearer_auth(&token)
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    let log = std::fs::read_to_string(proxy.dir.path().join("logs/proxy.log")).expect("the log file exists");
    let lines: Vec<Value> = log.lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect();
    assert!(
        lines.iter().any(|l| l["fields"]["message"].as_str().unwrap_or_default().contains("authentication failed")),
        "{log}"
    );
    assert!(!log.contains(&token), "tokens are never logged");
}

/// `server.tls`: the proxy serves HTTPS itself, its links say https, and a client
/// that never finishes its handshake does not hold up the others.
#[tokio::test]
async fn serves_https_natively_with_the_configured_certificate() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let (cert, key) = (fixtures.join("localhost.cert.pem"), fixtures.join("localhost.key.pem"));
    let llm = mock_llm::MockLlm::spawn(mock_llm::LlmConfig::default()).await.unwrap();
    let port = llm_sso_kit::proxy::free_port();
    let yaml = format!(
        "server:\n  host: \"127.0.0.1\"\n  port: {port}\n  tls:\n    cert_file: \"{}\"\n    key_file: \"{}\"\n\
         upstreams:\n  openai: {{ base_url: \"{}\", api_key: \"{OPENAI_KEY}\" }}\nsso:\n  enabled: false\n",
        cert.display(),
        key.display(),
        llm.openai_base_url()
    );
    let proxy = llm_sso_kit::proxy::ProxyProcess::start(&yaml, port).await.unwrap();
    assert!(proxy.console().contains(&format!("listening on https://127.0.0.1:{port}")), "{}", proxy.console());

    // A client that connects and says nothing: the handshake waits in its own task.
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let pem = std::fs::read(fixtures.join("ca.cert.pem")).unwrap();
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let health = https.get(format!("https://127.0.0.1:{port}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let reply: Value = https
        .post(format!("https://127.0.0.1:{port}/v1/chat/completions"))
        .json(&chat(false))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(reply["choices"][0]["message"]["content"].is_string(), "forwarded over TLS: {reply}");

    assert_eq!(healthcheck(&proxy).await, 0, "the health probe speaks TLS too");
    // The doctor recognises its own proxy behind TLS (not "held by another program").
    let out = tokio::process::Command::new(llm_sso_kit::proxy::binary())
        .current_dir(proxy.dir.path())
        .args(["--sso-config", "config.yaml", "doctor", "--json"])
        .output()
        .await
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = |id: &str| report["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).cloned().unwrap();
    assert_eq!(check("listen")["verdict"], "ok", "{report:#}");
    assert!(check("listen")["detail"].as_str().unwrap().contains("running llm-sso-proxy"), "{report:#}");
    assert_eq!(check("tls")["verdict"], "ok", "{report:#}");

    // Plain HTTP on the TLS port gets no answer it could mistake for the proxy's.
    let plain = client().get(format!("http://127.0.0.1:{port}/health")).timeout(Duration::from_secs(5)).send().await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true), "no cleartext service on the TLS port");
}

/// `llm-sso-proxy healthcheck` with the proxy's own config: its exit code.
async fn healthcheck(proxy: &llm_sso_kit::proxy::ProxyProcess) -> i32 {
    let out = tokio::process::Command::new(llm_sso_kit::proxy::binary())
        .current_dir(proxy.dir.path())
        .args(["--sso-config", "config.yaml", "healthcheck"])
        .env("KIT_CLIENT_SECRET", llm_sso_kit::proxy::CLIENT_SECRET)
        .output()
        .await
        .unwrap();
    out.status.code().unwrap_or(-1)
}

/// The container HEALTHCHECK: 0 while the proxy answers, 1 once it is gone.
#[tokio::test]
async fn healthcheck_subcommand_follows_the_running_proxy() {
    let mut s = stack(true).await;
    assert_eq!(healthcheck(&s.proxy).await, 0);
    s.proxy.terminate();
    assert!(s.proxy.wait(Duration::from_secs(10)).await.is_some(), "the proxy stops on SIGTERM");
    assert_eq!(healthcheck(&s.proxy).await, 1);
}
