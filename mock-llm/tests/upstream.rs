//! The mock LLM upstream over real sockets: every route and format, credential
//! checks, error injection, streaming shape and pacing, the journal and control.

use futures_util::StreamExt;
use mock_llm::{Faults, LlmConfig, MockLlm, StreamSettings};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const OPENAI_KEY: &str = "sk-mock-openai-upstream";
const ANTHROPIC_KEY: &str = "sk-ant-mock-upstream";

async fn spawn() -> MockLlm {
    MockLlm::spawn(LlmConfig::default()).await.expect("starts")
}

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "echo this back"}]})
}

fn anthropic_body(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 64, "stream": stream,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "echo this back"}]}]})
}

async fn openai(llm: &MockLlm, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", llm.openai_base_url()))
        .bearer_auth(OPENAI_KEY)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn anthropic(llm: &MockLlm, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", llm.base_url()))
        .header("x-api-key", ANTHROPIC_KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The `data:` payloads of an SSE body, with their `event:` names.
fn sse(text: &str) -> Vec<(Option<String>, String)> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let event = block.lines().find_map(|l| l.strip_prefix("event: ")).map(str::to_string);
            let data = block.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or_default().to_string();
            (event, data)
        })
        .collect()
}

#[tokio::test]
async fn openai_chat_json_echoes_the_last_user_message() {
    let llm = spawn().await;
    let response = openai(&llm, "/chat/completions", &chat("mock-gpt", false)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "echo this back");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn openai_stream_is_chunks_then_done_with_optional_usage() {
    let llm = spawn().await;
    llm.set_stream_settings(&StreamSettings { stream_chunks: 3, chunk_delay_ms: 0, large_reply_bytes: 10 }).unwrap();
    let response = openai(&llm, "/chat/completions", &chat("mock-gpt", true)).await;
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let events = sse(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c.get("usage").is_none()));
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "echo this back");
    assert_eq!(chunks.len(), 1 + 3 + 1, "role chunk, 3 content chunks, finish chunk");
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "stop");

    let mut with_usage = chat("mock-gpt", true);
    with_usage["stream_options"] = json!({"include_usage": true});
    let events = sse(&openai(&llm, "/chat/completions", &with_usage).await.text().await.unwrap());
    let last: Value = serde_json::from_str(&events[events.len() - 2].1).unwrap();
    assert_eq!(last["choices"], json!([]));
    assert!(last["usage"]["total_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn models_and_embeddings() {
    let llm = spawn().await;
    let models: Value = reqwest::Client::new()
        .get(format!("{}/models", llm.openai_base_url()))
        .bearer_auth(OPENAI_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "mock-gpt");
    // The same path in Anthropic's shape, under Anthropic's key.
    let listing = |key: &str| {
        reqwest::Client::new()
            .get(format!("{}/v1/models", llm.base_url()))
            .header("anthropic-version", "2023-06-01")
            .header("x-api-key", key)
            .send()
    };
    let anthropic: Value = listing(ANTHROPIC_KEY).await.unwrap().json().await.unwrap();
    assert_eq!((&anthropic["data"][0]["type"], &anthropic["has_more"]), (&json!("model"), &json!(false)));
    assert_eq!(listing("sk-wrong").await.unwrap().status(), 401);
    let floats: Value =
        openai(&llm, "/embeddings", &json!({"model": "e", "input": ["a", "b"]})).await.json().await.unwrap();
    assert_eq!(floats["data"].as_array().unwrap().len(), 2);
    assert_eq!(floats["data"][0]["embedding"].as_array().unwrap().len(), 16);
    let b64: Value = openai(&llm, "/embeddings", &json!({"model": "e", "input": "a", "encoding_format": "base64"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(b64["data"][0]["embedding"].is_string());
    let again: Value = openai(&llm, "/embeddings", &json!({"model": "e", "input": "a"})).await.json().await.unwrap();
    assert_eq!(again["data"][0]["embedding"], floats["data"][0]["embedding"], "deterministic");
    assert_eq!(openai(&llm, "/embeddings", &json!({"model": "e", "input": []})).await.status(), 400);
}

#[tokio::test]
async fn anthropic_messages_json_and_full_event_sequence() {
    let llm = spawn().await;
    let response = anthropic(&llm, "/v1/messages", &anthropic_body("mock-claude", false)).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["content"][0]["text"], "echo this back");
    assert_eq!(body["stop_reason"], "end_turn");

    let events =
        sse(&anthropic(&llm, "/v1/messages", &anthropic_body("mock-claude", true)).await.text().await.unwrap());
    let names: Vec<String> = events.iter().map(|(e, _)| e.clone().unwrap()).collect();
    let mut order: Vec<&str> = names.iter().map(String::as_str).collect();
    order.dedup();
    assert_eq!(
        order,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let text: String = events
        .iter()
        .filter(|(e, _)| e.as_deref() == Some("content_block_delta"))
        .map(|(_, d)| serde_json::from_str::<Value>(d).unwrap()["delta"]["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(text, "echo this back");
    for (event, data) in &events {
        let parsed: Value = serde_json::from_str(data).unwrap();
        assert_eq!(parsed["type"].as_str(), event.as_deref(), "data.type matches the event name");
    }

    let count: Value =
        anthropic(&llm, "/v1/messages/count_tokens", &anthropic_body("mock-claude", false)).await.json().await.unwrap();
    assert!(count["input_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn credentials_are_checked_per_api() {
    let llm = spawn().await;
    let client = reqwest::Client::new();
    let url = format!("{}/chat/completions", llm.openai_base_url());
    let response = client.post(&url).bearer_auth("agent-token").json(&chat("mock-gpt", false)).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "invalid_api_key");
    assert_eq!(client.post(&url).json(&chat("mock-gpt", false)).send().await.unwrap().status(), 401);

    let url = format!("{}/v1/messages", llm.base_url());
    let body = anthropic_body("mock-claude", false);
    let with = |r: reqwest::RequestBuilder| r.header("anthropic-version", "2023-06-01").json(&body);
    let bearer = with(client.post(&url).bearer_auth(ANTHROPIC_KEY)).send().await.unwrap();
    assert_eq!(bearer.status(), 200, "the Anthropic SDK 2.x sends Bearer");
    let wrong = with(client.post(&url).header("x-api-key", "agent-token")).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"]["type"], "authentication_error");
    let no_version = client.post(&url).header("x-api-key", ANTHROPIC_KEY).json(&body).send().await.unwrap();
    assert_eq!(no_version.status(), 400);
}

#[tokio::test]
async fn errors_injected_by_model_name_in_each_apis_shape() {
    let llm = spawn().await;
    for (status, openai_code, anthropic_type) in [
        (401, json!("invalid_api_key"), "authentication_error"),
        (403, json!("permission_denied"), "permission_error"),
        (429, json!("rate_limit_exceeded"), "rate_limit_error"),
        (500, json!(null), "api_error"),
        (529, json!(null), "overloaded_error"),
    ] {
        let model = format!("mock-error-{status}");
        let response = openai(&llm, "/chat/completions", &chat(&model, false)).await;
        assert_eq!(response.status().as_u16(), status);
        if status == 429 || status == 529 {
            assert!(response.headers().contains_key("retry-after"));
        }
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], openai_code);
        let response = anthropic(&llm, "/v1/messages", &anthropic_body(&model, false)).await;
        assert_eq!(response.status().as_u16(), status);
        let body: Value = response.json().await.unwrap();
        assert_eq!((body["type"].as_str(), body["error"]["type"].as_str()), (Some("error"), Some(anthropic_type)));
    }
}

#[tokio::test]
async fn errors_injected_by_control_apply_to_every_model() {
    let llm = spawn().await;
    llm.set_faults(&Faults { status: Some(429), retry_after_seconds: Some(7), reset_mid_stream: false }).unwrap();
    let response = openai(&llm, "/chat/completions", &chat("mock-gpt", false)).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    llm.clear_faults();
    assert_eq!(openai(&llm, "/chat/completions", &chat("mock-gpt", false)).await.status(), 200);
    let control = format!("{}/__control/faults", llm.base_url());
    let client = reqwest::Client::new();
    assert_eq!(client.put(&control).json(&json!({"status": 503})).send().await.unwrap().status(), 204);
    assert_eq!(anthropic(&llm, "/v1/messages", &anthropic_body("mock-claude", false)).await.status(), 503);
    assert_eq!(client.put(&control).json(&json!({"status": 200})).send().await.unwrap().status(), 400);
    assert_eq!(client.delete(&control).send().await.unwrap().status(), 204);
}

#[tokio::test]
async fn reset_mid_stream_breaks_the_connection_after_some_chunks() {
    let llm = spawn().await;
    for (path, body, key) in [
        ("/v1/chat/completions", chat("mock-reset-mid-stream", true), "openai"),
        ("/v1/messages", anthropic_body("mock-reset-mid-stream", true), "anthropic"),
    ] {
        let response = if key == "openai" {
            openai(&llm, "/chat/completions", &body).await
        } else {
            anthropic(&llm, path, &body).await
        };
        assert_eq!(response.status(), 200, "headers arrive first");
        let mut stream = response.bytes_stream();
        let mut received = Vec::new();
        let mut failed = false;
        while let Some(item) = stream.next().await {
            match item {
                Ok(bytes) => received.extend_from_slice(&bytes),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed, "{key}: the body ends in an error");
        assert!(!received.is_empty(), "{key}: some chunks came first");
        let text = String::from_utf8_lossy(&received);
        assert!(!text.contains("[DONE]") && !text.contains("message_stop"), "{key}: never completes");
    }
}

#[tokio::test]
async fn chunk_delay_paces_the_stream_and_large_replies_are_exact() {
    let llm = spawn().await;
    llm.set_stream_settings(&StreamSettings { stream_chunks: 4, chunk_delay_ms: 50, large_reply_bytes: 300_000 })
        .unwrap();
    let started = Instant::now();
    let response = openai(&llm, "/chat/completions", &chat("mock-gpt", true)).await;
    let first_byte = started.elapsed();
    let _ = response.text().await.unwrap();
    // 4 content chunks + role + finish + [DONE] = 7 events, 6 pauses of 50 ms.
    assert!(started.elapsed() >= Duration::from_millis(300), "paced: {:?}", started.elapsed());
    assert!(first_byte < started.elapsed(), "headers before the whole body");

    llm.set_stream_settings(&StreamSettings { stream_chunks: 16, chunk_delay_ms: 0, large_reply_bytes: 300_000 })
        .unwrap();
    let body: Value = openai(&llm, "/chat/completions", &chat("mock-large", false)).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"].as_str().unwrap().len(), 300_000);
    let streamed = anthropic(&llm, "/v1/messages", &anthropic_body("mock-large", true)).await.text().await.unwrap();
    let deltas = sse(&streamed).iter().filter(|(e, _)| e.as_deref() == Some("content_block_delta")).count();
    assert_eq!(deltas, 16);
    assert!(
        llm.set_stream_settings(&StreamSettings { stream_chunks: 0, chunk_delay_ms: 0, large_reply_bytes: 1 }).is_err()
    );
}

#[tokio::test]
async fn bad_requests_get_400_in_the_apis_shape() {
    let llm = spawn().await;
    let client = reqwest::Client::new();
    let url = format!("{}/chat/completions", llm.openai_base_url());
    for body in ["{", "[]", "{\"messages\": []}", "{\"model\": \"m\"}"] {
        let response = client.post(&url).bearer_auth(OPENAI_KEY).body(body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert!(response.json::<Value>().await.unwrap()["error"]["message"].is_string());
    }
    let missing_max_tokens = json!({"model": "m", "messages": []});
    assert_eq!(anthropic(&llm, "/v1/messages", &missing_max_tokens).await.status(), 400);
}

#[tokio::test]
async fn journal_shows_which_credential_arrived() {
    let llm = spawn().await;
    openai(&llm, "/chat/completions", &chat("mock-gpt", false)).await;
    anthropic(&llm, "/v1/messages", &anthropic_body("mock-claude", false)).await;
    let journal = llm.journal();
    assert_eq!(journal.len(), 2);
    assert_eq!(journal[0].path, "/v1/chat/completions");
    assert_eq!(journal[0].headers["authorization"], format!("Bearer {OPENAI_KEY}"));
    assert_eq!(journal[1].headers["x-api-key"], ANTHROPIC_KEY);
    assert_eq!(journal[1].headers["anthropic-version"], "2023-06-01");
    assert!(journal[1].body.contains("echo this back"));
    let over_http: Vec<mock_llm::Received> =
        reqwest::get(format!("{}/__control/journal", llm.base_url())).await.unwrap().json().await.unwrap();
    assert_eq!(over_http, journal);

    let quiet = MockLlm::spawn(LlmConfig { journal_capacity: 0, ..LlmConfig::default() }).await.unwrap();
    openai(&quiet, "/chat/completions", &chat("mock-gpt", false)).await;
    assert!(quiet.journal().is_empty());
}

#[test]
fn the_binary_starts_with_its_default_config_and_prints_its_urls() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mock-llm"))
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("binary runs");
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<String> = BufReader::new(stdout).lines().take(3).map(Result::unwrap).collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines[0].starts_with("mock-llm listening on http://127.0.0.1:"), "{lines:?}");
    assert!(lines[1].contains("/v1"), "{lines:?}");
}
