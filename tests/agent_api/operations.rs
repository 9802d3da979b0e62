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
    let ready = client().get(s.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["checks"]["database"], "ok");

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
    s.llm
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
