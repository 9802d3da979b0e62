//! A terminal signing in with the binary's own client (`llm-sso-proxy login`,
//! `token`, `env`, `logout`): run as processes with a private config directory
//! and no way to open a browser, and the person's side on "another device" (the
//! kit's browser) that enters the code and signs in at the mock IdP.

use crate::browser::{Browser, Page};
use crate::proxy::{ProxyProcess, TempDir, binary, capture};
use mock_idp::{MockIdp, NextLogin};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A terminal: the client commands with a private credentials file and no way to open a browser.
pub struct Terminal {
    dir: TempDir,
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}

impl Terminal {
    pub fn new() -> Terminal {
        Terminal { dir: TempDir::new("terminal") }
    }

    pub fn credentials(&self) -> PathBuf {
        self.dir.path().join("config").join("llm-sso-proxy").join("credentials.json")
    }

    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
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
    pub async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).output().await.expect("the binary runs");
        let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    }
}

/// A `login` in progress and what it printed so far.
pub struct Login {
    child: tokio::process::Child,
    output: Arc<Mutex<String>>,
}

impl Login {
    pub async fn start(terminal: &Terminal, args: &[&str]) -> Login {
        let mut child = terminal.command(args).spawn().expect("login starts");
        let output = capture(&mut child);
        Login { child, output }
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The user code and the complete link, once printed.
    pub async fn code(&self) -> (String, String) {
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

    pub async fn finish(mut self) -> (i32, String) {
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

/// On "another device": open the link, confirm the code shown, sign in as `email` at the mock IdP, type the
/// code the proxy printed (single_user mode).
pub async fn approve_on_another_device(
    proxy: &ProxyProcess,
    idp: &MockIdp,
    link: &str,
    code: &str,
    email: &str,
) -> Page {
    let url = |path: &str| format!("{}{path}", proxy.base_url());
    let mut browser = Browser::new();
    let form = browser.open(link).await;
    assert_eq!(form.status, 200, "{}", form.html);
    assert_eq!(form.input("user_code"), code, "the link fills the code in");
    let details = browser.post(&url("/auth/device"), &[("user_code", code)]).await;
    assert_eq!(details.status, 200, "{}", details.html);
    let text = details.text();
    assert!(text.contains(code) && text.contains("127.0.0.1"), "{text}");
    assert!(text.contains("llm-sso-proxy/"), "the page names the program that asked: {text}");
    let device = details.html.split("?device=").nth(1).and_then(|r| r.split('"').next()).expect("a provider link");
    idp.set_next_login(NextLogin { email: Some(email.into()), deny: false, issuer: Some("google".into()) });
    let confirm = browser.open(&url(&format!("/auth/login/google?device={device}"))).await;
    assert!(confirm.html.contains("server console"), "{}", confirm.html);
    let console_code = proxy.confirmation_code(email).await.expect("a confirmation code");
    let csrf = confirm.input("csrf_token");
    let done = browser.post(&url("/auth/confirm"), &[("code", &console_code), ("csrf_token", &csrf)]).await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert!(done.token().is_none(), "the token goes to the terminal, not to this page");
    done
}
