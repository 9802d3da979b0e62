//! The agents people run, headless, through the proxy: Claude Code (npm), Codex
//! CLI (npm, Responses API) and aider (PyPI), each as installed by `.ci/run`
//! into `.agents/` at the versions pinned in `tests/agents/versions.txt`. For
//! each agent: without a token its own output shows where to sign in; with a
//! valid token a turn completes with the upstream's answer; with an expired
//! token it shows "Session expired" and the renewal link; the upstream sees the
//! proxy's key on every request and never the agent token. Missing agents skip
//! loudly locally and fail in CI.

mod aider;
mod claude_code;
mod codex;

pub use llm_sso_kit::proxy::TempDir;
pub use llm_sso_kit::stack::Stack;
use llm_sso_kit::workspace_root;
use std::path::PathBuf;
use std::time::Duration;

/// A word no agent invents: the mock upstream echoes the prompt, so it shows up in a real answer.
pub const PROBE: &str = "kitprobe4711";

/// One offline stack per test, with Google as the only provider.
pub async fn stack() -> Stack {
    Stack::builder().google_only().start().await
}

/// How many sandbox replies the proxy has sent (its `/metrics`).
pub async fn sandbox_replies(s: &Stack) -> u64 {
    let metrics = reqwest::get(s.url("/metrics")).await.expect("/metrics answers").text().await.unwrap_or_default();
    metrics
        .lines()
        .filter(|l| l.starts_with("llm_sso_sandbox_replies_total{"))
        .filter_map(|l| l.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()))
        .sum()
}

/// Ends the session of every token (the guide's own SQL).
pub fn expire_sessions(s: &Stack) {
    s.proxy.sql("UPDATE agent_tokens SET auth_expires_at = datetime('now', '-1 minute')").expect("expire");
}

/// `llm-sso-proxy login` in a terminal without a browser, finished on "another device" as `email`:
/// the terminal then holds a token (docs/agents.md, "From a terminal").
pub async fn terminal_sign_in(s: &Stack, email: &str) -> llm_sso_kit::terminal::Terminal {
    use llm_sso_kit::terminal::{Login, Terminal, approve_on_another_device};
    let terminal = Terminal::new();
    let login = Login::start(&terminal, &["login", "--proxy", &s.proxy.base_url()]).await;
    let (code, link) = login.code().await;
    approve_on_another_device(&s.proxy, &s.mocks.idp, &link, &code, email).await;
    let (status, output) = login.finish().await;
    assert_eq!(status, 0, "{output}");
    terminal
}

/// A shell line run as a person types it, with the terminal's credentials and the binary on `PATH`.
pub fn shell(
    home: &std::path::Path,
    terminal: &llm_sso_kit::terminal::Terminal,
    line: &str,
) -> tokio::process::Command {
    let bin_dir = llm_sso_kit::proxy::binary().parent().map(PathBuf::from).unwrap_or_default();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("a PATH");
    let mut c = tokio::process::Command::new("sh");
    c.current_dir(home)
        .env_clear()
        .env("PATH", path)
        .env("HOME", home)
        .env("LLM_SSO_CREDENTIALS", terminal.credentials())
        .args(["-c", line]);
    c
}

/// An installed agent's executable under `.agents/`, or why it is not there.
pub fn agent(relative: &str) -> Result<PathBuf, String> {
    let path = workspace_root().join(".agents").join(relative);
    if path.exists() { Ok(path) } else { Err(format!("{} is not installed (run .ci/run)", path.display())) }
}

/// Skips loudly locally, fails in CI.
pub fn missing(test: &str, reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: required agent missing in CI: {reason}");
    }
    eprintln!(
        "\n!!! SKIPPED {test}: {reason}\n!!! (.ci/run installs the agents into .agents/ and makes this a failure)\n"
    );
}

/// What a person sees in the terminal: stdout and stderr of one agent run, bounded in time.
pub async fn run(mut command: tokio::process::Command) -> String {
    command.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("the agent finishes within 3 minutes")
        .expect("the agent starts");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
