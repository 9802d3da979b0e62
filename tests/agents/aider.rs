//! aider, non-interactive (`--message`), OpenAI-compatible: streamed (its
//! default) and JSON (`--no-stream`).

use crate::*;

fn aider(s: &Stack, home: &std::path::Path, token: &str, stream: bool) -> Result<tokio::process::Command, String> {
    let bin = agent("aider-venv/bin/aider")?;
    let mut c = tokio::process::Command::new(bin);
    c.current_dir(home)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .args(["--model", "openai/mock-gpt", "--openai-api-base", &format!("{}/v1", s.proxy.base_url())])
        .args(["--openai-api-key", token, "--no-git", "--yes-always", "--no-check-update", "--no-analytics"])
        .args(["--no-show-model-warnings", "--no-pretty"])
        .args(["--message", &format!("Repeat this word: {PROBE}")]);
    if !stream {
        c.arg("--no-stream");
    }
    Ok(c)
}

async fn journey(test: &str, stream: bool) {
    let s = stack().await;
    let home = TempDir::new("aider-home");
    let first = match aider(&s, home.path(), "sk-not-a-token", stream) {
        Ok(c) => c,
        Err(reason) => return missing(test, &reason),
    };
    let out = run(first).await;
    assert!(out.contains(&s.login_url()), "without a token aider shows where to sign in:\n{out}");

    let token = s.proxy.mint_token("aider@company.com");
    let out = run(aider(&s, home.path(), &token, stream).expect("installed")).await;
    assert!(out.contains(PROBE), "with a token a turn completes with the upstream's answer:\n{out}");

    s.expire_sessions();
    let out = run(aider(&s, home.path(), &token, stream).expect("installed")).await;
    assert!(out.contains("Session expired") && out.contains("renew="), "the renewal link:\n{out}");
    s.assert_upstream_saw_only_the_proxy_key(&token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aider_streamed() {
    journey("aider_streamed", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aider_json() {
    journey("aider_json", false).await;
}
