//! Claude Code (`claude -p`), with the token as `ANTHROPIC_API_KEY` (sent as
//! `x-api-key`) and as `ANTHROPIC_AUTH_TOKEN` (sent as `Authorization: Bearer`).

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
    assert!(out.contains(&s.login_url()), "without a token Claude Code shows where to sign in:\n{out}");
    assert!(s.llm.journal().is_empty(), "nothing reached the upstream");

    let token = s.proxy.mint_token("claude@company.com");
    let out = run(claude(&s, home.path(), key_var, &token).expect("installed")).await;
    assert!(out.contains(PROBE), "with a token a turn completes with the upstream's answer:\n{out}");
    assert!(!out.contains("/auth/login"), "{out}");

    s.expire_sessions();
    let out = run(claude(&s, home.path(), key_var, &token).expect("installed")).await;
    assert!(out.contains("Session expired") && out.contains("renew="), "the renewal link:\n{out}");
    s.assert_upstream_saw_only_the_proxy_key(&token);
    let paths: Vec<String> = s.llm.journal().iter().map(|r| r.path.clone()).collect();
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
