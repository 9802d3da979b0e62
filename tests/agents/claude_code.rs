//! Claude Code (`claude -p`), with the token as `ANTHROPIC_API_KEY` (sent as
//! `x-api-key`), as `ANTHROPIC_AUTH_TOKEN` (sent as `Authorization: Bearer`), and
//! from `llm-sso-proxy token` as its `apiKeyHelper` after a terminal sign-in.

use crate::*;

fn claude(s: &Stack, home: &std::path::Path, key_var: &str, key: &str) -> Result<tokio::process::Command, String> {
    let bin = agent("node_modules/.bin/claude")?;
    let mut c = tokio::process::Command::new(bin);
    c.current_dir(home)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("ANTHROPIC_BASE_URL", s.proxy.base_url())
        .env(key_var, key)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .args(["-p", &format!("Repeat this word: {PROBE}"), "--model", "claude-sonnet-4-5"]);
    Ok(c)
}

async fn journey(test: &str, key_var: &str) {
    let s = stack().await;
    let home = TempDir::new("claude-home");
    let first = match claude(&s, home.path(), key_var, "sk-ant-not-a-token") {
        Ok(c) => c,
        Err(reason) => return missing(test, &reason),
    };
    let out = run(first).await;
    assert!(out.contains(&s.url("/auth/login")), "without a token Claude Code shows where to sign in:\n{out}");
    assert!(s.mocks.llm.journal().is_empty(), "nothing reached the upstream");

    let token = s.proxy.mint_token("claude@company.com");
    let out = run(claude(&s, home.path(), key_var, &token).expect("installed")).await;
    assert!(out.contains(PROBE), "with a token a turn completes with the upstream's answer:\n{out}");
    assert!(!out.contains("/auth/login"), "{out}");

    crate::expire_sessions(&s);
    let out = run(claude(&s, home.path(), key_var, &token).expect("installed")).await;
    assert!(out.contains("Session expired") && out.contains("renew="), "the renewal link:\n{out}");
    s.assert_upstream_saw_only_the_proxy_key(&token);
    let paths: Vec<String> = s.mocks.llm.journal().iter().map(|r| r.path.clone()).collect();
    eprintln!("Claude Code ({key_var}) reached the upstream on: {paths:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_with_an_api_key() {
    journey("claude_code_with_an_api_key", "ANTHROPIC_API_KEY").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_with_a_bearer_token() {
    journey("claude_code_with_a_bearer_token", "ANTHROPIC_AUTH_TOKEN").await;
}

/// The terminal path of docs/agents.md: `llm-sso-proxy login` with no browser, the sign-in finished on
/// another device, then Claude Code asks `llm-sso-proxy token` for its key (`apiKeyHelper` in
/// `~/.claude/settings.json`); no key in its environment at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_with_the_api_key_helper_after_a_terminal_sign_in() {
    let test = "claude_code_with_the_api_key_helper_after_a_terminal_sign_in";
    let s = stack().await;
    let bin = match agent("node_modules/.bin/claude") {
        Ok(bin) => bin,
        Err(reason) => return missing(test, &reason),
    };
    let terminal = terminal_sign_in(&s, "claude@company.com").await;

    let home = TempDir::new("claude-helper-home");
    // Exactly the settings docs/agents.md shows; the binary is on PATH as after an install.
    std::fs::create_dir_all(home.path().join(".claude")).expect("settings directory");
    let settings = serde_json::json!({
        "apiKeyHelper": "llm-sso-proxy token",
        "env": { "ANTHROPIC_BASE_URL": s.proxy.base_url() },
    });
    std::fs::write(home.path().join(".claude/settings.json"), settings.to_string()).expect("settings");
    let line = format!(
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 exec '{}' -p 'Repeat this word: {PROBE}' \
         --model claude-sonnet-4-5",
        bin.display()
    );
    let c = shell(home.path(), &terminal, &line);
    let out = run(c).await;
    assert!(out.contains(PROBE), "the helper's token completes a turn:\n{out}");
    assert!(!out.contains("/auth/login"), "{out}");
    let (_, token, _) = terminal.run(&["token"]).await;
    s.assert_upstream_saw_only_the_proxy_key(token.trim());
}
