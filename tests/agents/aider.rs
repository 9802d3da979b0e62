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
    assert!(out.contains(&s.url("/auth/login")), "without a token aider shows where to sign in:\n{out}");

    let token = s.proxy.mint_token("aider@company.com");
    let out = run(aider(&s, home.path(), &token, stream).expect("installed")).await;
    assert!(out.contains(PROBE), "with a token a turn completes with the upstream's answer:\n{out}");

    crate::expire_sessions(&s);
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

/// The terminal path of docs/agents.md: `eval "$(llm-sso-proxy env)"` after a terminal sign-in, then aider
/// with no key or URL on its command line (it reads `OPENAI_API_BASE` and `OPENAI_API_KEY`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aider_with_the_exports_of_a_terminal_sign_in() {
    let s = stack().await;
    let bin = match agent("aider-venv/bin/aider") {
        Ok(bin) => bin,
        Err(reason) => return missing("aider_with_the_exports_of_a_terminal_sign_in", &reason),
    };
    let terminal = terminal_sign_in(&s, "aider@company.com").await;
    let home = TempDir::new("aider-terminal-home");
    let line = format!(
        "eval \"$(llm-sso-proxy env)\" && exec '{}' --model openai/mock-gpt --no-git --yes-always \
         --no-check-update --no-analytics --no-show-model-warnings --no-pretty --no-stream \
         --message 'Repeat this word: {PROBE}'",
        bin.display()
    );
    let out = run(shell(home.path(), &terminal, &line)).await;
    assert!(out.contains(PROBE), "a turn completes with the exported token:\n{out}");
    let (_, token, _) = terminal.run(&["token"]).await;
    s.assert_upstream_saw_only_the_proxy_key(token.trim());
}
