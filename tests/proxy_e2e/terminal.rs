//! Sign-in from a terminal with the binary's own client: `llm-sso-proxy login`
//! runs as a process with no browser (no DISPLAY, no BROWSER), prints a code;
//! the kit's browser, "another device", enters it and signs in; the terminal
//! keeps the token (0600), `token` and `env` hand it to agents, a second
//! `login` renews the same token, `logout` revokes it.

use crate::common::*;
use llm_sso_kit::browser::{Browser, Page};
use llm_sso_kit::proxy::{ProxyProcess, TempDir, binary, capture};
use mock_idp::NextLogin;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A terminal: the client commands with a private credentials file and no way to open a browser.
struct Terminal {
    dir: TempDir,
}

impl Terminal {
    fn new() -> Terminal {
        Terminal { dir: TempDir::new("terminal") }
    }

    fn credentials(&self) -> PathBuf {
        self.dir.path().join("config").join("llm-sso-proxy").join("credentials.json")
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(binary());
        c.args(args)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("BROWSER")
            .env_remove("LLM_SSO_PROXY_URL")
            .env_remove("LLM_SSO_CREDENTIALS")
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    /// Runs a command to its end: (exit code, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).output().await.expect("the binary runs");
        let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    }
}

/// A `login` in progress and what it printed so far.
struct Login {
    child: tokio::process::Child,
    output: Arc<Mutex<String>>,
}

impl Login {
    async fn start(terminal: &Terminal, args: &[&str]) -> Login {
        let mut child = terminal.command(args).spawn().expect("login starts");
        let output = capture(&mut child);
        Login { child, output }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The user code and the complete link, once printed.
    async fn code(&self) -> (String, String) {
        for _ in 0..200 {
            let out = self.output();
            let code = out.lines().map(str::trim).find(|l| l.len() == 9 && l.as_bytes()[4] == b'-');
            let link = out.split_whitespace().find(|w| w.contains("/auth/device?user_code="));
            if let (Some(code), Some(link)) = (code, link) {
                return (code.to_string(), link.to_string());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("login printed no code:\n{}", self.output());
    }

    async fn finish(mut self) -> (i32, String) {
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("login did not end:\n{}", self.output()))
            .expect("login exits");
        // The last lines may still be on their way through the pipe: wait for the closing line.
        for _ in 0..100 {
            let out = self.output();
            if out.contains("Signed in.") || out.contains("llm-sso-proxy: ") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (status.code().unwrap_or(-1), self.output())
    }
}

/// On "another device": open the link, confirm the code shown, sign in as `email`, type the console code.
async fn approve_on_another_device(s: &Stack, link: &str, code: &str, email: &str) -> Page {
    let mut browser = Browser::new();
    let form = browser.open(link).await;
    assert_eq!(form.status, 200, "{}", form.html);
    assert_eq!(form.input("user_code"), code, "the link fills the code in");
    let details = browser.post(&s.url("/auth/device"), &[("user_code", code)]).await;
    assert_eq!(details.status, 200, "{}", details.html);
    let text = details.text();
    assert!(text.contains(code) && text.contains("127.0.0.1"), "{text}");
    assert!(text.contains("llm-sso-proxy/"), "the page names the program that asked: {text}");
    let device = details.html.split("?device=").nth(1).and_then(|r| r.split('"').next()).expect("a provider link");
    s.idp.set_next_login(NextLogin { email: Some(email.into()), deny: false, issuer: Some("google".into()) });
    let confirm = browser.open(&s.url(&format!("/auth/login/google?device={device}"))).await;
    assert!(confirm.html.contains("server console"), "{}", confirm.html);
    let console_code = s.proxy.confirmation_code(email).await.expect("a confirmation code");
    let csrf = confirm.input("csrf_token");
    let done = browser.post(&s.url("/auth/confirm"), &[("code", &console_code), ("csrf_token", &csrf)]).await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert!(done.token().is_none(), "the token goes to the terminal, not to this page");
    done
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("the file exists").permissions().mode() & 0o777
}

fn expiry_of(proxy: &ProxyProcess, token: &str) -> String {
    let hash = llm_sso_kit::contract::token_hash(token);
    proxy.query_text(&format!("SELECT auth_expires_at FROM agent_tokens WHERE token_hash = '{hash}'")).expect("a row")
}

#[tokio::test]
async fn login_from_a_terminal_without_a_browser_then_token_env_renewal_and_logout() {
    let s = stack(true).await;
    let terminal = Terminal::new();
    let proxy_url = s.proxy.base_url();

    let (code, out, err) = terminal.run(&["token"]).await;
    assert_eq!((code, out.as_str()), (1, ""), "no token yet");
    assert!(err.contains("llm-sso-proxy login --proxy"), "{err}");

    let login = Login::start(&terminal, &["login", "--proxy", &proxy_url]).await;
    let (user_code, link) = login.code().await;
    assert!(!login.output().contains("opened in your browser"), "no browser here");
    let done = approve_on_another_device(&s, &link, &user_code, "alice@company.com").await;
    assert!(done.text().contains("Terminal signed in"), "{}", done.text());
    let (status, output) = login.finish().await;
    assert_eq!(status, 0, "{output}");
    assert!(!output.contains("llmsso_"), "login never prints the token: {output}");

    let file = terminal.credentials();
    assert_eq!(mode(&file), 0o600, "the credentials file is private");
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let (code, token, err) = terminal.run(&["token"]).await;
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_string();
    assert!(token.starts_with("llmsso_"), "{token}");
    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");

    let (code, exports, _) = terminal.run(&["env"]).await;
    assert_eq!(code, 0);
    assert!(exports.contains(&format!("export OPENAI_BASE_URL='{proxy_url}/v1'")), "{exports}");
    assert!(exports.contains(&format!("export ANTHROPIC_API_KEY='{token}'")), "{exports}");

    // The token lapses at the proxy; `login` again renews the same token (agents keep their key).
    s.proxy.sql("UPDATE agent_tokens SET auth_expires_at = datetime('now', '-1 minute')").expect("expire it");
    let before = expiry_of(&s.proxy, &token);
    let login = Login::start(&terminal, &["login"]).await;
    let (user_code, link) = login.code().await;
    let done = approve_on_another_device(&s, &link, &user_code, "alice@company.com").await;
    assert!(done.text().contains("Terminal signed in"), "{}", done.text());
    let (status, output) = login.finish().await;
    assert_eq!(status, 0, "{output}");
    let (_, renewed, _) = terminal.run(&["token"]).await;
    assert_eq!(renewed.trim(), token, "the same token, renewed");
    assert!(expiry_of(&s.proxy, &token) > before, "its expiry moved");
    assert_eq!(s.proxy.query_i64("SELECT COUNT(*) FROM agent_tokens").unwrap(), 1, "no second token");
    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");

    let (code, _, err) = terminal.run(&["logout"]).await;
    assert_eq!(code, 0, "{err}");
    let active = format!(
        "SELECT is_active FROM agent_tokens WHERE token_hash = '{}'",
        llm_sso_kit::contract::token_hash(&token)
    );
    assert_eq!(s.proxy.query_i64(&active).unwrap(), 0, "revoked at the proxy");
    let (code, out, err) = terminal.run(&["token"]).await;
    assert_eq!((code, out.as_str()), (1, ""), "forgotten here: {err}");
}

#[tokio::test]
async fn a_refused_or_expired_terminal_sign_in_ends_with_a_clear_message() {
    let s = stack(true).await;
    let terminal = Terminal::new();
    let proxy_url = s.proxy.base_url();

    let login = Login::start(&terminal, &["login", "--proxy", &proxy_url]).await;
    let (user_code, _) = login.code().await;
    let mut browser = Browser::new();
    let details = browser.post(&s.url("/auth/device"), &[("user_code", &user_code)]).await;
    let device = details.input("device");
    let refused = browser.post(&s.url("/auth/device/refuse"), &[("device", &device)]).await;
    assert!(refused.text().contains("Sign-in refused"), "{}", refused.text());
    let (status, output) = login.finish().await;
    assert_eq!(status, 1, "{output}");
    assert!(output.contains("the sign-in was refused"), "{output}");
    assert!(!terminal.credentials().exists(), "nothing kept");

    let login = Login::start(&terminal, &["login", "--proxy", &proxy_url]).await;
    login.code().await;
    s.proxy
        .sql("UPDATE pending_authorizations SET expires_at = datetime('now', '-1 minute') WHERE kind = 'device'")
        .expect("expire it");
    let (status, output) = login.finish().await;
    assert_eq!(status, 1, "{output}");
    assert!(output.contains("expired"), "{output}");

    let (code, _, err) = terminal.run(&["login", "--proxy", "http://127.0.0.1:9"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("could not be reached"), "{err}");
}
