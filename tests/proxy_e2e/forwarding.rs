//! Authenticated requests reach the upstream with the proxy's key, never the
//! agent's token, streaming chunk by chunk; upstream failures keep their shape.

use crate::common::*;
use futures_util::StreamExt;
use serde_json::Value;
use std::time::{Duration, Instant};

#[tokio::test]
async fn valid_token_is_forwarded_json_for_both_apis_with_the_upstream_key() {
    let s = stack(true).await;
    let token = s.proxy.mint_token("alice@company.com");
    let response = s.openai(Some(&token), &chat(false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(openai_text(response).await, "ping through the proxy");

    let response = s.anthropic(Some(&token), &message(false)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "ping through the proxy");

    let journal = s.mocks.llm.journal();
    assert_eq!(journal.len(), 2, "{journal:?}");
    assert_eq!(journal[0].headers["authorization"], format!("Bearer {OPENAI_KEY}"));
    assert_eq!(journal[1].headers["x-api-key"], ANTHROPIC_KEY);
    assert_eq!(journal[1].headers["anthropic-version"], "2023-06-01", "passed through");
    for entry in &journal {
        let everything = format!("{:?}", entry.headers);
        assert!(!everything.contains(&token), "the agent token must never reach the upstream");
    }
}

#[tokio::test]
async fn streams_pass_through_chunk_by_chunk_for_both_apis() {
    let s = stack(true).await;
    let token = s.proxy.mint_token("alice@company.com");
    s.mocks
        .llm
        .set_stream_settings(&mock_llm::StreamSettings { stream_chunks: 4, chunk_delay_ms: 150, large_reply_bytes: 10 })
        .unwrap();
    for api in ["openai", "anthropic"] {
        let started = Instant::now();
        let response = if api == "openai" {
            s.openai(Some(&token), &chat(true)).await
        } else {
            s.anthropic(Some(&token), &message(true)).await
        };
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-accel-buffering"], "no");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let mut stream = response.bytes_stream();
        let mut arrivals = Vec::new();
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            arrivals.push(started.elapsed());
            text.push_str(&String::from_utf8_lossy(&chunk.expect("stream intact")));
        }
        // Paced upstream: at least 6 pauses of 150 ms. Not buffered whole: the first
        // piece arrived long before the last.
        let (first, last) = (arrivals[0], *arrivals.last().unwrap());
        assert!(last - first >= Duration::from_millis(500), "{api}: chunks arrived together: {arrivals:?}");
        if api == "openai" {
            assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
        } else {
            assert!(text.contains("event: message_stop"), "{text}");
        }
    }
}

#[tokio::test]
async fn upstream_errors_keep_their_shape_and_a_dead_upstream_is_502() {
    let s = stack(true).await;
    let token = s.proxy.mint_token("alice@company.com");
    let mut body = chat(false);
    body["model"] = "mock-error-429".into();
    let response = s.openai(Some(&token), &body).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "rate_limit_exceeded");

    let mut body = message(false);
    body["model"] = "mock-error-529".into();
    let response = s.anthropic(Some(&token), &body).await;
    assert_eq!(response.status(), 529);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["type"], "overloaded_error");

    s.mocks.llm.refuse_connections(true);
    llm_sso_kit::until_refused(s.mocks.llm.addr()).await;
    let response = s.openai(Some(&token), &chat(false)).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("unreachable"), "{body}");
    let response = s.anthropic(Some(&token), &message(false)).await;
    assert_eq!(response.status(), 502);
    assert_eq!(response.json::<Value>().await.unwrap()["type"], "error");
}

#[tokio::test]
async fn sloppy_paths_are_tolerated_and_a_missing_v1_is_explained() {
    let s = stack(true).await;
    let token = s.proxy.mint_token("alice@company.com");
    let response =
        client().post(s.url("/v1//chat/completions/")).bearer_auth(&token).json(&chat(false)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let models = client().get(s.url("/v1/models/")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(models.status(), 200);
    assert_eq!(models.json::<Value>().await.unwrap()["data"][0]["id"], "mock-gpt");

    let response =
        client().post(s.url("/chat/completions")).bearer_auth(&token).json(&chat(false)).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let message = response.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains(&format!("{}/v1", s.proxy.base_url())), "{message}");
}

#[tokio::test]
async fn a_hand_edited_row_takes_effect_on_the_next_request() {
    let s = stack(true).await;
    let token = s.proxy.mint_token("alice@company.com");
    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");

    // The guide's diagnosis: the session ended.
    s.proxy.sql("UPDATE agent_tokens SET auth_expires_at = datetime('now', '-1 minute')").unwrap();
    let text = openai_text(s.openai(Some(&token), &chat(false)).await).await;
    assert!(text.contains("Session expired"), "{text}");
    let hash = llm_sso_kit::contract::token_hash(&token);
    assert!(text.contains(&format!("{}/auth/login?renew={hash}", s.proxy.base_url())), "{text}");

    // The guide's fix, verbatim.
    let fix = format!(
        "UPDATE agent_tokens SET is_authenticated = 1, auth_expires_at = datetime('now', '+24 hours') WHERE token_hash = '{hash}'"
    );
    assert_eq!(s.proxy.sql(&fix).unwrap(), 1);
    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");

    // Revocation is a soft delete, and just as immediate.
    s.proxy.sql("UPDATE agent_tokens SET is_active = 0").unwrap();
    let text = openai_text(s.openai(Some(&token), &chat(false)).await).await;
    assert!(text.contains("Sign-in required"), "{text}");
}

#[tokio::test]
async fn with_sso_disabled_requests_pass_without_a_token_on_loopback() {
    let s = stack(false).await;
    assert_eq!(openai_text(s.openai(None, &chat(false)).await).await, "ping through the proxy");
    assert!(s.proxy.console().contains("SSO: DISABLED"), "{}", s.proxy.console());
    assert!(!s.proxy.db_path().exists(), "no database while SSO is off");
}
