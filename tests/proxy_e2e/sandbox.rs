//! Agents without a valid, authenticated token get a sandbox reply in their
//! own API's format; invalid tokens are indistinguishable and write nothing.

use crate::common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn missing_unknown_and_revoked_tokens_get_the_same_sandbox_reply() {
    let s = stack(true).await;
    let revoked = s.proxy.mint_token("mallory@company.com");
    s.proxy.sql("UPDATE agent_tokens SET is_active = 0").unwrap();
    let unknown = llm_sso_kit::contract::generate_token();
    let mut bodies = Vec::new();
    for token in [None, Some(unknown.as_str()), Some(revoked.as_str())] {
        let response = s.openai(token, &chat(false)).await;
        assert_eq!(response.status(), 200, "sandbox replies are successful completions");
        let mut body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        // Only the clock may differ (a second can tick between two requests).
        body["created"] = Value::Null;
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);
    let body = &bodies[0];
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.contains(&format!("{}/auth/login", s.proxy.base_url())), "{text}");
    assert!(s.mocks.llm.journal().is_empty(), "nothing reached the upstream");
}

#[tokio::test]
async fn a_truncated_or_padded_token_gets_a_hint() {
    let s = stack(true).await;
    let token = s.proxy.mint_token("alice@company.com");
    let truncated = &token[..token.len() - 3];
    let text = openai_text(s.openai(Some(truncated), &chat(false)).await).await;
    assert!(text.contains("looks truncated"), "{text}");
    // A line break pasted with the key: HTTP forbids it in a header, so try a trailing space (x-api-key).
    let response = s.anthropic(Some(&format!("{token}x")), &message(false)).await;
    let body: Value = response.json().await.unwrap();
    assert!(body["content"][0]["text"].as_str().unwrap().contains("longer than a token"), "{body}");
}

#[tokio::test]
async fn sandbox_replies_stream_when_asked_in_each_format() {
    let s = stack(true).await;
    let mut body = chat(true);
    body["stream_options"] = json!({"include_usage": true});
    let response = s.openai(None, &body).await;
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let text = response.text().await.unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"));
    assert!(text.contains("chat.completion.chunk") && text.contains("\"usage\":{"), "{text}");

    let text = s.anthropic(None, &message(true)).await.text().await.unwrap();
    for event in [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ] {
        assert!(text.contains(&format!("event: {event}\n")), "{event} missing: {text}");
    }
}

#[tokio::test]
async fn non_chat_routes_answer_401_in_each_apis_shape() {
    let s = stack(true).await;
    let response = client().get(s.url("/v1/models")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert!(body["error"]["message"].as_str().unwrap().contains("/auth/login"));

    let response = client()
        .post(s.url("/v1/messages/count_tokens"))
        .header("anthropic-version", "2023-06-01")
        .json(&message(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["type"], "authentication_error");
}

#[tokio::test]
async fn a_history_with_a_banner_is_sandboxed_even_with_a_valid_token() {
    let s = stack(true).await;
    let banner = openai_text(s.openai(None, &chat(false)).await).await;
    let token = s.proxy.mint_token("alice@company.com");
    let replay = json!({"model": "mock-gpt", "messages": [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": banner},
        {"role": "user", "content": "and now?"}]});
    let text = openai_text(s.openai(Some(&token), &replay).await).await;
    assert!(text.contains("new conversation"), "{text}");
    assert!(s.mocks.llm.journal().is_empty());
    // The same words without the marker are an ordinary conversation.
    let innocent =
        json!({"model": "mock-gpt", "messages": [{"role": "user", "content": "Sign-in required. Session expired."}]});
    assert_eq!(openai_text(s.openai(Some(&token), &innocent).await).await, "Sign-in required. Session expired.");
}

#[tokio::test]
async fn unauthenticated_traffic_does_not_grow_the_database() {
    let s = stack(true).await;
    let _ = s.proxy.mint_token("alice@company.com");
    let size = || {
        ["sso_auth.db", "sso_auth.db-wal"]
            .iter()
            .map(|f| std::fs::metadata(s.proxy.dir.path().join(f)).map_or(0, |m| m.len()))
            .sum::<u64>()
    };
    let rows = || {
        s.proxy.query_i64("SELECT (SELECT COUNT(*) FROM agent_tokens) + (SELECT COUNT(*) FROM rate_limits) + (SELECT COUNT(*) FROM pending_authorizations)").unwrap()
    };
    let (before_size, before_rows) = (size(), rows());
    for i in 0..40 {
        let token = if i % 2 == 0 { llm_sso_kit::contract::generate_token() } else { format!("garbage-{i}") };
        let _ = s.openai(Some(&token), &chat(false)).await;
    }
    assert_eq!(rows(), before_rows);
    assert_eq!(size(), before_size, "no write reached the database files");
}
