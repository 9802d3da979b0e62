//! The official Python SDKs, pointed at the proxy, parse its sandbox replies and
//! the replies it forwards, streaming and not (tests/sdk/check_sdks.py).

use crate::common::*;
use llm_sso_kit::{python_with_sdks, skip_or_fail, workspace_root};
use serde_json::Value;

/// `extra`: more flags for the script (`--legacy-completions` only where something answers it).
async fn run(python: &std::path::Path, s: &Stack, key: &str, extra: &[&str]) -> Value {
    let output = tokio::process::Command::new(python)
        .arg(workspace_root().join("tests/sdk/check_sdks.py"))
        .args(["--openai-base-url", &s.url("/v1"), "--anthropic-base-url", &s.proxy.base_url()])
        .args(["--openai-key", key, "--anthropic-key", key, "--prompt", "hello from the SDKs"])
        .args(extra)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "SDK check failed:\n{}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(stdout.trim()).expect("the script prints JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_parse_sandbox_and_forwarded_replies() {
    let python = match python_with_sdks() {
        Ok(p) => p,
        Err(reason) => return skip_or_fail("official_sdks_parse_sandbox_and_forwarded_replies", &reason),
    };
    let s = stack(true).await;
    let login = format!("{}/auth/login", s.proxy.base_url());
    let sandboxed = run(&python, &s, "not-a-token", &["--legacy-completions"]).await;
    for key in llm_sso_kit::SDK_TEXTS.iter().chain(&["completions_json", "completions_stream"]) {
        let text = sandboxed[key].as_str().unwrap_or_default();
        assert!(text.contains(&login), "{key}: {sandboxed}");
    }
    let token = s.proxy.mint_token("alice@company.com");
    let forwarded = run(&python, &s, &token, &[]).await;
    for key in llm_sso_kit::SDK_TEXTS {
        assert_eq!(forwarded[key], "hello from the SDKs", "{key}: {forwarded}");
    }
    // The Anthropic SDK 2.x sends the key as Bearer; the upstream still gets x-api-key from the proxy.
    let journal = s.mocks.llm.journal();
    assert!(
        journal
            .iter()
            .any(|e| e.path == "/v1/messages" && e.headers.get("x-api-key").map(String::as_str) == Some(ANTHROPIC_KEY))
    );
    assert!(journal.iter().all(|e| !format!("{:?}", e.headers).contains(&token)));
}
