//! `cargo run --bin up` brings the whole offline stack up on its fixed ports, a
//! newcomer can sign in (in the browser, and from a terminal with
//! `llm-sso-proxy login`) and use a token with no account anywhere, and Ctrl-C
//! stops everything cleanly; on a fresh clone it builds the proxy first, and
//! SIGTERM stops the proxy with it. The tests share fixed ports: one at a time.

use llm_sso_kit::browser::{Browser, code_in};
use llm_sso_kit::proxy::TempDir;
use llm_sso_kit::terminal::{Login, Terminal};
use std::process::Stdio;
use std::time::Duration;

/// Both tests use ports 8080, 9000, 9100 and 9200.
static PORTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits until `up` says the proxy listens; its console so far.
async fn until_listening(console: &std::sync::Mutex<String>) -> String {
    for _ in 0..600 {
        let text = console.lock().unwrap().clone();
        if text.contains("listening on http://127.0.0.1:8080") {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the stack never listened:\n{}", console.lock().unwrap());
}

async fn ports_closed() {
    for port in [8080u16, 9000, 9100, 9200] {
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(), "port {port} still open");
    }
}

/// A fresh clone has no `llm-sso-proxy` next to `up`: `up` builds it with the Cargo that ran it (here a
/// stand-in that records its arguments and puts the real binary in place), then serves; SIGTERM stops
/// the whole stack, the proxy included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_fresh_clone_up_builds_the_proxy_and_sigterm_stops_it_all() {
    let _ports = PORTS.lock().await;
    let dir = TempDir::new("up-fresh");
    let target = dir.path().join("target/debug");
    std::fs::create_dir_all(&target).unwrap();
    let up = target.join("up");
    std::fs::copy(env!("CARGO_BIN_EXE_up"), &up).unwrap();
    let cargo = dir.path().join("cargo");
    let script = format!(
        "#!/bin/sh\necho \"$@\" > '{}'\ncp '{}' '{}'\n",
        dir.path().join("cargo-args").display(),
        llm_sso_kit::proxy::binary().display(),
        target.join("llm-sso-proxy").display()
    );
    std::fs::write(&cargo, script).unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&cargo).status().unwrap();
    let mut child = tokio::process::Command::new(&up)
        .current_dir(dir.path())
        .env_remove("LLM_SSO_PROXY_BIN")
        .env("CARGO", &cargo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("up starts");
    let console = llm_sso_kit::proxy::capture(&mut child);
    let text = until_listening(&console).await;
    assert!(text.contains("building llm-sso-proxy first (it is not built yet)"), "{text}");
    let args = std::fs::read_to_string(dir.path().join("cargo-args")).unwrap_or_default();
    assert_eq!(args.trim(), "build -p llm-sso-proxy");
    let pid = child.id().expect("running").to_string();
    std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("stops").unwrap();
    assert!(status.success(), "{status:?}\n{}", console.lock().unwrap());
    ports_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_the_offline_stack_end_to_end_and_stops_on_ctrl_c() {
    let _ports = PORTS.lock().await;
    let dir = TempDir::new("up"); // the proxy's ./var/sso_auth.db goes here, not into the repository
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_up"))
        .current_dir(dir.path())
        // The proxy cargo test built: `up` never runs Cargo under `cargo test`, which holds the build lock.
        .env("LLM_SSO_PROXY_BIN", llm_sso_kit::proxy::binary())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("up starts");
    let console = llm_sso_kit::proxy::capture(&mut child);
    let text = || console.lock().unwrap().clone();
    until_listening(&console).await;
    assert!(text().contains("Open http://127.0.0.1:8080/auth/login"), "{}", text());

    // The newcomer's walk: sign in as alice at the mock IdP's page, type the code from the console.
    let mut browser = Browser::new();
    let login = browser.open("http://127.0.0.1:8080/auth/login/google").await;
    let request_id = login.input("request_id");
    assert!(!request_id.is_empty(), "the mock IdP's login page: {}", login.text());
    let confirm = browser
        .post("http://127.0.0.1:9000/google/login", &[("request_id", &request_id), ("email", "alice@company.com")])
        .await;
    let code = console_code(&console, "alice@company.com").await;
    let done = browser
        .post("http://127.0.0.1:8080/auth/confirm", &[("code", &code), ("csrf_token", &confirm.input("csrf_token"))])
        .await;
    let token = done.token().unwrap_or_else(|| panic!("no token: {}", done.text()));
    let reply: serde_json::Value = reqwest::Client::new()
        .post("http://127.0.0.1:8080/v1/chat/completions")
        .bearer_auth(&token)
        .json(&serde_json::json!({"model": "mock-gpt", "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "hello");

    // The terminal path: `llm-sso-proxy login` with no browser, finished on "another device".
    let terminal = Terminal::new();
    let login = Login::start(&terminal, &["login", "--proxy", "http://127.0.0.1:8080"]).await;
    let (user_code, link) = login.code().await;
    let mut phone = Browser::new();
    let form = phone.open(&link).await;
    let details = phone.submit(&form, "http://127.0.0.1:8080", "/auth/device", &[("user_code", &user_code)]).await;
    let device = details.input("device");
    let idp_page = phone.open(&format!("http://127.0.0.1:8080/auth/login/google?device={device}")).await;
    let confirm = phone
        .post(
            "http://127.0.0.1:9000/google/login",
            &[("request_id", &idp_page.input("request_id")), ("email", "bob@example.com")],
        )
        .await;
    let code = console_code(&console, "bob@example.com").await;
    let done = phone
        .post("http://127.0.0.1:8080/auth/confirm", &[("code", &code), ("csrf_token", &confirm.input("csrf_token"))])
        .await;
    assert!(done.text().contains("Terminal signed in"), "{}", done.text());
    let (status, output) = login.finish().await;
    assert_eq!(status, 0, "{output}");
    let (status, terminal_token, _) = terminal.run(&["token"]).await;
    assert_eq!(status, 0);
    let answer = reqwest::Client::new()
        .post("http://127.0.0.1:8080/v1/chat/completions")
        .bearer_auth(terminal_token.trim())
        .json(&serde_json::json!({"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    let pid = child.id().expect("running").to_string();
    std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("stops").unwrap();
    assert!(status.success(), "{status:?}\n{}", text());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(text().contains("up: stopped"));
    ports_closed().await;
}

/// The confirmation code `up` printed for `email`, as a person reads it from the console.
async fn console_code(console: &std::sync::Mutex<String>, email: &str) -> String {
    for _ in 0..100 {
        if let Some(code) = code_in(&console.lock().unwrap(), email) {
            return code;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no confirmation code for {email} in the console:\n{}", console.lock().unwrap());
}
