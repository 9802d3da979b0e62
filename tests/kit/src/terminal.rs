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

/// A terminal: the client commands with a private config directory, no way to open a browser, and no
/// credential store unless one is given ([`SecretService`]): never the developer's own.
pub struct Terminal {
    dir: TempDir,
    /// `DBUS_SESSION_BUS_ADDRESS` of the session (a bus that does not exist, by default).
    bus: String,
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}

impl Terminal {
    pub fn new() -> Terminal {
        let dir = TempDir::new("terminal");
        let bus = format!("unix:path={}", dir.path().join("no-session-bus").display());
        Terminal { dir, bus }
    }

    /// A terminal of a desktop session whose credential store is `store`.
    pub fn with_credential_store(store: &SecretService) -> Terminal {
        Terminal { bus: store.address.clone(), ..Terminal::new() }
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
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
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

    /// As [`Login::finish`], for a command whose last output line is `last` (`token --renew` prints the token).
    pub async fn finish_with(self, last: &str) -> (i32, String) {
        self.finish_until(last).await
    }

    pub async fn finish(self) -> (i32, String) {
        self.finish_until("Signed in.").await
    }

    async fn finish_until(mut self, closing: &str) -> (i32, String) {
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("login did not end:\n{}", self.output()))
            .expect("login exits");
        // The last lines may still be on their way through the pipe: wait for the closing line.
        for _ in 0..100 {
            let out = self.output();
            if out.contains(closing) || out.contains("llm-sso-proxy: ") {
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
    let details = browser.submit(&form, &proxy.base_url(), "/auth/device", &[("user_code", code)]).await;
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

/// A desktop session's credential store, private to one test: a D-Bus session bus and
/// gnome-keyring's Secret Service on it, unlocked. Both die with it.
pub struct SecretService {
    _dir: TempDir,
    bus: tokio::process::Child,
    keyring: tokio::process::Child,
    pub address: String,
}

impl SecretService {
    /// Starts both; an error names what is missing (`.ci/run` installs `dbus` and `gnome-keyring`).
    pub async fn start() -> Result<SecretService, String> {
        let dir = TempDir::new("secret-service");
        let socket = dir.path().join("bus");
        let address = format!("unix:path={}", socket.display());
        let bus = tokio::process::Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", &format!("--address={address}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("dbus-daemon: {e}"))?;
        for _ in 0..100 {
            if socket.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut keyring = tokio::process::Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--foreground"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("gnome-keyring-daemon: {e}"))?;
        // --unlock reads the new login keyring's password from stdin, up to its end.
        if let Some(mut stdin) = keyring.stdin.take() {
            use tokio::io::AsyncWriteExt;
            stdin.write_all(b"kit-keyring-password").await.map_err(|e| format!("gnome-keyring-daemon: {e}"))?;
        }
        // Ready once it owns the Secret Service name on the bus.
        for _ in 0..100 {
            let owned = tokio::process::Command::new("dbus-send")
                .args([
                    &format!("--bus={address}"),
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .output()
                .await
                .map_err(|e| format!("dbus-send: {e}"))?;
            if String::from_utf8_lossy(&owned.stdout).contains("boolean true") {
                return Ok(SecretService { _dir: dir, bus, keyring, address });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("gnome-keyring-daemon did not register the Secret Service".into())
    }

    /// The items of the login collection, by object path (asked over D-Bus).
    pub async fn items(&self) -> Vec<String> {
        let out = tokio::process::Command::new("dbus-send")
            .args([
                &format!("--bus={}", self.address),
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets/collection/login",
                "org.freedesktop.DBus.Properties.Get",
                "string:org.freedesktop.Secret.Collection",
                "string:Items",
            ])
            .output()
            .await
            .expect("dbus-send runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("object path \""))
            .map(|p| p.trim_end_matches('"').to_string())
            .collect()
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        let _ = self.keyring.start_kill();
        let _ = self.bus.start_kill();
    }
}

/// A stand-in for a proxy (or for what sits between the terminal and one): a loopback server that answers
/// every request with one canned reply per path and records what it received, whole.
pub struct Recorder {
    pub port: u16,
    received: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    /// Answers a request whose first line contains a key of `replies` with its value (a whole HTTP
    /// response without `Content-Length`, added here); any other request with 404.
    pub async fn start(replies: Vec<(&str, String)>) -> Recorder {
        Recorder::start_on_port(0, replies).await
    }

    /// As [`Recorder::start`], on a given loopback port (for answers that must name their own URL).
    pub async fn start_on_port(port: u16, replies: Vec<(&str, String)>) -> Recorder {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let replies: Vec<(String, String)> = replies.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let log = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let (log, replies) = (log.clone(), replies.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    // Headers, then as much body as Content-Length says (within a short wait).
                    loop {
                        let read = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut buf)).await;
                        let Ok(Ok(n)) = read else { break };
                        if n == 0 {
                            break;
                        }
                        request.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&request).to_string();
                        if let Some((head, body)) = text.split_once("\r\n\r\n") {
                            let length = head
                                .lines()
                                .find_map(|l| {
                                    let (k, v) = l.split_once(':')?;
                                    k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok())?
                                })
                                .unwrap_or(0);
                            if body.len() >= length {
                                break;
                            }
                        }
                    }
                    let text = String::from_utf8_lossy(&request).to_string();
                    let first = text.lines().next().unwrap_or_default().to_string();
                    log.lock().unwrap_or_else(|p| p.into_inner()).push(text);
                    let reply = replies
                        .iter()
                        .find(|(k, _)| first.contains(k.as_str()))
                        .map(|(_, v)| v.clone())
                        .unwrap_or_else(|| "HTTP/1.1 404 Not Found\r\n\r\n".to_string());
                    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((reply.as_str(), ""));
                    let whole = format!("{head}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                    let _ = socket.write_all(whole.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Recorder { port, received, task }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request received so far, as text.
    pub fn received(&self) -> Vec<String> {
        self.received.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A JSON reply for [`Recorder::start`].
pub fn json_reply(status: &str, body: &serde_json::Value) -> String {
    format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\r\n{body}")
}

impl Terminal {
    /// Keeps `token` for `proxy` in the credentials file, as a login would have (valid for an hour).
    pub fn keep_token(&self, proxy: &str, token: &str) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let file = serde_json::json!({
            "default": proxy,
            "proxies": { proxy: { "token": token, "in_keyring": false, "expires_at": now + 3600, "obtained_at": now } },
        });
        let path = self.credentials();
        let dir = path.parent().expect("a directory");
        std::fs::create_dir_all(dir).expect("the config directory");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("private");
        std::fs::set_permissions(
            path.parent().and_then(|p| p.parent()).expect("config"),
            std::fs::Permissions::from_mode(0o700),
        )
        .expect("private");
        std::fs::write(&path, file.to_string()).expect("write the credentials");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("private");
    }

    /// The terminal's own directory (for files a test plants there).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}
