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

use llm_sso_kit::proxy::{CLIENT_ID, CLIENT_SECRET, ProxyProcess, Setup, TempDir, config, free_port};
use llm_sso_kit::workspace_root;
use mock_idp::{IdpConfig, MockIdp};
use mock_llm::{LlmConfig, MockLlm};
use std::path::PathBuf;
use std::time::Duration;

pub const OPENAI_KEY: &str = "sk-mock-openai-upstream";
pub const ANTHROPIC_KEY: &str = "sk-ant-mock-upstream";
/// A word no agent invents: the mock upstream echoes the prompt, so it shows up in a real answer.
pub const PROBE: &str = "kitprobe4711";

/// One offline stack per test: mock upstream and IdP in-process, the proxy as a process.
pub struct Stack {
    pub llm: MockLlm,
    pub _idp: MockIdp,
    pub proxy: ProxyProcess,
}

pub async fn stack() -> Stack {
    let llm = MockLlm::spawn(LlmConfig::default()).await.expect("mock upstream");
    let port = free_port();
    let mut idp_config = IdpConfig::default();
    idp_config.clients.push(mock_idp::Client::new(
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("http://127.0.0.1:{port}/auth/callback"),
    ));
    let idp = MockIdp::spawn(idp_config).await.expect("mock IdP");
    let (openai, anthropic) = (llm.openai_base_url(), llm.base_url());
    let setup = Setup {
        sso_enabled: true,
        openai_base_url: &openai,
        openai_key: OPENAI_KEY,
        anthropic_base_url: &anthropic,
        anthropic_key: ANTHROPIC_KEY,
        providers: vec![("google", idp.discovery_url("google", None).expect("google"), Vec::new())],
        authorization: Vec::new(),
    };
    let proxy = ProxyProcess::start_in(TempDir::new("agents"), &config(&setup, port), port, &[], &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Stack { llm, _idp: idp, proxy }
}

impl Stack {
    pub fn login_url(&self) -> String {
        format!("{}/auth/login", self.proxy.base_url())
    }

    /// How many sandbox replies the proxy has sent (its `/metrics`).
    pub async fn sandbox_replies(&self) -> u64 {
        let metrics = reqwest::get(format!("{}/metrics", self.proxy.base_url()))
            .await
            .expect("/metrics answers")
            .text()
            .await
            .unwrap_or_default();
        metrics
            .lines()
            .filter(|l| l.starts_with("llm_sso_sandbox_replies_total{"))
            .filter_map(|l| l.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()))
            .sum()
    }

    /// Ends the session of every token (the guide's own SQL).
    pub fn expire_sessions(&self) {
        self.proxy.sql("UPDATE agent_tokens SET auth_expires_at = datetime('now', '-1 minute')").expect("expire");
    }

    /// Every request the upstream saw carried the proxy's key and never `token`.
    pub fn assert_upstream_saw_only_the_proxy_key(&self, token: &str) {
        let journal = self.llm.journal();
        assert!(!journal.is_empty(), "the upstream received the agent's requests");
        for r in &journal {
            let key =
                r.headers.get("x-api-key").or_else(|| r.headers.get("authorization")).cloned().unwrap_or_default();
            assert!(
                key.contains(OPENAI_KEY) || key.contains(ANTHROPIC_KEY),
                "{} {}: {:?}",
                r.method,
                r.path,
                r.headers
            );
            assert!(!format!("{:?}{}", r.headers, r.body).contains(token), "the agent token reached the upstream");
        }
    }
}

/// `llm-sso-proxy login` in a terminal without a browser, finished on "another device" as `email`:
/// the terminal then holds a token (docs/agents.md, "From a terminal").
pub async fn terminal_sign_in(s: &Stack, email: &str) -> llm_sso_kit::terminal::Terminal {
    use llm_sso_kit::terminal::{Login, Terminal, approve_on_another_device};
    let terminal = Terminal::new();
    let login = Login::start(&terminal, &["login", "--proxy", &s.proxy.base_url()]).await;
    let (code, link) = login.code().await;
    approve_on_another_device(&s.proxy, &s._idp, &link, &code, email).await;
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
