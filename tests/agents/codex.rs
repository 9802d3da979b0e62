//! Codex CLI (`codex exec`), which speaks only the OpenAI Responses API, streamed,
//! configured with a `model_providers` block whose `env_key` holds the token.

use crate::*;

fn codex(s: &Stack, home: &std::path::Path, token: &str) -> Result<tokio::process::Command, String> {
    let bin = agent("node_modules/.bin/codex")?;
    let dir = home.join(".codex");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = CONFIG_TOML.replace("http://127.0.0.1:8080", &s.proxy.base_url());
    std::fs::write(dir.join("config.toml"), config).map_err(|e| e.to_string())?;
    let mut c = tokio::process::Command::new(bin);
    c.current_dir(home)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LLM_SSO_TOKEN", token)
        .args(["exec", "--skip-git-repo-check", &format!("Repeat this word: {PROBE}")]);
    Ok(c)
}

/// `~/.codex/config.toml` exactly as docs/agents.md shows it (tests/layout.rs checks that).
pub const CONFIG_TOML: &str = include_str!("codex-config.toml");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_cli_over_the_responses_api() {
    let s = stack().await;
    let home = TempDir::new("codex-home");
    let first = match codex(&s, home.path(), "sk-not-a-token") {
        Ok(c) => c,
        Err(reason) => return missing("codex_cli_over_the_responses_api", &reason),
    };
    let out = run(first).await;
    assert!(out.contains(&s.url("/auth/login")), "without a token Codex shows where to sign in:\n{out}");
    // As an answer in the chat, not as an error after retries.
    assert!(out.contains("\u{1f512}"), "the banner is the assistant's answer:\n{out}");
    assert!(!out.contains("401") && !out.to_lowercase().contains("retrying"), "no error, no retries:\n{out}");
    assert_eq!(crate::sandbox_replies(&s).await, 1, "one request, no retries");
    assert!(s.mocks.llm.journal().is_empty(), "nothing reached the upstream");

    let token = s.proxy.mint_token("codex@company.com");
    let out = run(codex(&s, home.path(), &token).expect("installed")).await;
    assert!(out.contains(PROBE), "with a token a turn completes with the upstream's answer:\n{out}");
    assert!(s.mocks.llm.journal().iter().all(|r| r.path == "/v1/responses"), "Codex speaks the Responses API");

    crate::expire_sessions(&s);
    let out = run(codex(&s, home.path(), &token).expect("installed")).await;
    assert!(out.contains("Session expired") && out.contains("renew="), "the renewal link:\n{out}");
    s.assert_upstream_saw_only_the_proxy_key(&token);
}

/// The terminal path of docs/agents.md: `env_key` filled from `llm-sso-proxy token` after a terminal sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_cli_with_the_token_of_a_terminal_sign_in() {
    let s = stack().await;
    let bin = match agent("node_modules/.bin/codex") {
        Ok(bin) => bin,
        Err(reason) => return missing("codex_cli_with_the_token_of_a_terminal_sign_in", &reason),
    };
    let terminal = terminal_sign_in(&s, "codex@company.com").await;
    let home = TempDir::new("codex-terminal-home");
    std::fs::create_dir_all(home.path().join(".codex")).expect("config directory");
    let config = CONFIG_TOML.replace("http://127.0.0.1:8080", &s.proxy.base_url());
    std::fs::write(home.path().join(".codex/config.toml"), config).expect("config");
    let line = format!(
        "LLM_SSO_TOKEN=\"$(llm-sso-proxy token)\" '{}' exec --skip-git-repo-check 'Repeat this word: {PROBE}'",
        bin.display()
    );
    let out = run(shell(home.path(), &terminal, &line)).await;
    assert!(out.contains(PROBE), "a turn completes with the token from `llm-sso-proxy token`:\n{out}");
    let (_, token, _) = terminal.run(&["token"]).await;
    s.assert_upstream_saw_only_the_proxy_key(token.trim());
}
