//! The official Python SDKs parse every reply of the mock LLM upstream: JSON and
//! streaming, both APIs, plus models, embeddings, count_tokens and error shapes.
//! `tests/sdk/check_sdks.py` drives them; the same script later proves the proxy.

use llm_sso_kit::{python_with_sdks, skip_or_fail, workspace_root};
use mock_llm::{LlmConfig, MockLlm};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_parse_the_mock_upstream() {
    let python = match python_with_sdks() {
        Ok(p) => p,
        Err(reason) => return skip_or_fail("official_sdks_parse_the_mock_upstream", &reason),
    };
    let config = LlmConfig::default();
    let (openai_key, anthropic_key) =
        (config.openai_api_key.clone().unwrap(), config.anthropic_api_key.clone().unwrap());
    let llm = MockLlm::spawn(config).await.expect("mock starts");
    let prompt = "Héllo, SDKs: stream me ✓";
    let output = tokio::process::Command::new(python)
        .arg(workspace_root().join("tests/sdk/check_sdks.py"))
        .args(["--openai-base-url", &llm.openai_base_url(), "--anthropic-base-url", &llm.base_url()])
        .args(["--openai-key", &openai_key, "--anthropic-key", &anthropic_key, "--prompt", prompt, "--extras"])
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "SDK check failed:\n{}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_str(stdout.trim()).expect("the script prints JSON");
    for key in llm_sso_kit::SDK_TEXTS {
        assert_eq!(result[key], prompt, "{key}: {result}");
    }
    assert_eq!(result["responses_json_status"], "completed");
    let events = result["responses_stream_events"].to_string();
    for event in ["response.created", "response.output_text.delta", "response.output_item.done", "response.completed"] {
        assert!(events.contains(event), "missing {event} in {events}");
    }
    assert_eq!(result["responses_429"], "RateLimitError 429");
    assert_eq!(result["openai_json_finish"], "stop");
    assert!(result["openai_stream_chunks"].as_u64().unwrap() >= 4, "streamed in pieces: {result}");
    assert!(result["openai_stream_usage"].as_u64().unwrap() > 0, "include_usage honoured: {result}");
    assert_eq!(result["anthropic_json_stop"], "end_turn");
    let events = result["anthropic_stream_events"].to_string();
    for event in [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ] {
        assert!(events.contains(event), "missing {event} in {events}");
    }
    assert!(result["openai_models"].to_string().contains("mock-gpt"));
    assert_eq!(result["openai_embedding_dims"], serde_json::json!([16, 16]));
    assert!(result["anthropic_count_tokens"].as_u64().unwrap() > 0);
    assert_eq!(result["openai_429"], "RateLimitError 429 retry-after=1");
    assert_eq!(result["openai_401"], "AuthenticationError 401");
    assert!(result["anthropic_529"].as_str().unwrap().ends_with(" 529"), "{result}");
    eprintln!("SDK versions: openai {}, anthropic {}", result["openai_version"], result["anthropic_version"]);
}
