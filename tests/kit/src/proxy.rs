//! The proxy under test, as a real process: a config rendered into a private
//! temporary directory, the binary started on a free loopback port, its console
//! captured, and the documented database contract (the `agent_tokens` table)
//! used to give it tokens, as an operator or the guide's SQL would.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::profile::Profile;

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("llm-sso-kit-{}-{label}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.0.as_os_str().is_empty() {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port for a proxy under test, nobody listening on it now.
///
/// Taken from 20000-31999, below Linux's ephemeral range (32768-60999): the mocks
/// bind port 0 and get ephemeral ports, so they can never be handed a port
/// chosen here between this call and the proxy's bind. A per-process random
/// start and a counter keep concurrent scenarios and test binaries apart.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    static START: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        (nanos ^ std::process::id().wrapping_mul(2_654_435_761)) % 12_000
    });
    for _ in 0..12_000 {
        let port = 20_000 + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free port in 20000-31999");
}

/// The `llm-sso-proxy` binary: `LLM_SSO_PROXY_BIN`, or the one cargo built next to this test.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("LLM_SSO_PROXY_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("executable path");
    // target/debug/deps/<test> or target/debug/<bin> -> target/debug/llm-sso-proxy
    let here = exe.parent().expect("target directory");
    let candidates = [here.join("llm-sso-proxy"), here.parent().unwrap_or(here).join("llm-sso-proxy")];
    let found = candidates.iter().find(|c| c.exists()).cloned();
    found.unwrap_or_else(|| {
        panic!(
            "{} is missing: run `cargo build -p llm-sso-proxy` (`cargo test --workspace` builds it), or set \
             LLM_SSO_PROXY_BIN",
            candidates[1].display()
        )
    })
}

/// The command that starts the proxy under test, from the profile's argument list ([`crate::profile`]):
/// `config` is the implementation's configuration file (absent: its group is dropped), `extra` the
/// scenario's own arguments. Nothing goes through a shell.
pub fn command(config: Option<&Path>, port: u16, db: &Path, extra: &[&str]) -> Command {
    let profile = Profile::get();
    let dir = db.parent().map(Path::to_path_buf).unwrap_or_default();
    let bin = || binary().display().to_string();
    let uses_bin =
        profile.start.command.iter().any(|w| matches!(w, crate::profile::Word::One(w) if w.contains("{bin}")));
    let values = [
        ("bin", uses_bin.then(bin)),
        ("config", config.map(|c| c.display().to_string())),
        ("port", Some(port.to_string())),
        ("db", Some(db.display().to_string())),
        ("dir", Some(dir.display().to_string())),
    ];
    let argv = profile.argv(&values);
    // A relative program with a slash is the profile's own (a wrapper next to it).
    let program = match argv.first() {
        Some(p) if p.contains('/') && Path::new(p).is_relative() => profile.dir.join(p).display().to_string(),
        Some(p) => p.clone(),
        None => String::new(),
    };
    let mut c = Command::new(program);
    c.args(argv.iter().skip(1)).args(extra);
    if profile.stop.process_group {
        c.process_group(0);
    }
    c
}

/// The implementation's own configuration file in `dir`, made from the kit's `config.yaml` by the profile's
/// adapter command; without one, the kit's file itself.
pub fn implementation_config(dir: &Path) -> Result<PathBuf, String> {
    let kit_config = dir.join("config.yaml");
    let profile = Profile::get();
    let Some(adapter) = &profile.config.command else { return Ok(kit_config) };
    let out = dir.join("implementation-config");
    let fill = |w: &String| {
        w.replace("{kit_config}", &kit_config.display().to_string())
            .replace("{config}", &out.display().to_string())
            .replace("{dir}", &dir.display().to_string())
    };
    let argv: Vec<String> = adapter.iter().map(fill).collect();
    let program = match argv.first() {
        Some(p) if p.contains('/') && Path::new(p).is_relative() => profile.dir.join(p),
        Some(p) => PathBuf::from(p),
        None => return Err("config.command is empty".into()),
    };
    let status = std::process::Command::new(program)
        .args(&argv[1..])
        .current_dir(dir)
        .status()
        .map_err(|e| format!("the profile's config.command: {e}"))?;
    if !status.success() {
        return Err(format!("the profile's config.command failed ({status})"));
    }
    Ok(out)
}

/// A running proxy. Killed when dropped.
pub struct ProxyProcess {
    child: Child,
    /// The process id at start (also the process group's, see [`command`]); kept after the child is reaped.
    pid: Option<u32>,
    pub port: u16,
    pub dir: TempDir,
    console: Arc<Mutex<String>>,
}

/// Where the proxy's upstreams and identity providers are, for [`config`].
pub struct Setup<'a> {
    pub sso_enabled: bool,
    pub openai_base_url: &'a str,
    pub openai_key: &'a str,
    pub anthropic_base_url: &'a str,
    pub anthropic_key: &'a str,
    /// `(name, discovery_url, allowed_tenants)`; every provider uses client [`CLIENT_ID`] / [`CLIENT_SECRET`].
    pub providers: Vec<(&'a str, String, Vec<String>)>,
    /// Lines under `sso.authorization:` (each indented by four spaces), e.g. `    mode: "enterprise"`.
    pub authorization: Vec<String>,
}

/// The Entra tenants the kit's Microsoft provider allows: mock-idp's default tenant
/// and the one the scenarios' Contoso users live in. Accounts of other tenants are
/// refused (an empty list would leave their addresses unvouched for).
pub const KIT_TENANTS: &[&str] = &["72f988bf-86f1-41af-91ab-2d7cd011db47", "b9c6a2f4-1f3e-4d8a-9c3b-2e7d5f6a8b10"];

/// The OIDC client the kit's configs use (register it at the mock IdP).
pub const CLIENT_ID: &str = "kit-client";
/// Passed to the proxy through the environment (`${KIT_CLIENT_SECRET}`), never written in the file.
pub const CLIENT_SECRET: &str = "kit-secret-not-real";

/// Whether the kit runs its proxies on PostgreSQL (`LLM_SSO_KIT_BACKEND=postgres`)
/// instead of an SQLite file each. `.ci/run` runs the kit both ways.
pub fn on_postgres() -> bool {
    std::env::var("LLM_SSO_KIT_BACKEND").is_ok_and(|v| v == "postgres")
}

/// The `sso` line that names the database: a file, or `${KIT_DATABASE_URL}`
/// (each proxy directory gets a database of its own on the kit's PostgreSQL).
fn database_line() -> &'static str {
    if on_postgres() { "  database_url: \"${KIT_DATABASE_URL}\"" } else { "  database_path: \"./sso_auth.db\"" }
}

/// The kit's polling interval for terminal sign-ins (seconds): short, so the scenarios are fast.
pub const DEVICE_POLL_INTERVAL: u32 = 1;

/// A complete config for the proxy under test.
pub fn config(setup: &Setup<'_>, port: u16) -> String {
    let mut yaml = format!(
        r#"server:
  host: "127.0.0.1"
  port: {port}
upstreams:
  openai: {{ base_url: "{}", api_key: "{}" }}
  anthropic: {{ base_url: "{}", api_key: "{}" }}
sso:
  enabled: {}
{}
  device: {{ poll_interval_seconds: {DEVICE_POLL_INTERVAL} }}
  authorization:
    rate_limit: {{ max_attempts: 10, backoff_multiplier: 2, max_backoff_seconds: 300 }}
"#,
        setup.openai_base_url,
        setup.openai_key,
        setup.anthropic_base_url,
        setup.anthropic_key,
        setup.sso_enabled,
        database_line()
    );
    for line in &setup.authorization {
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml.push_str("  providers:\n");
    for (name, discovery, tenants) in &setup.providers {
        let tenants: Vec<String> = tenants.iter().map(|t| format!("\"{t}\"")).collect();
        yaml.push_str(&format!(
            "    {name}:\n      type: \"oauth2\"\n      client_id: \"{CLIENT_ID}\"\n      client_secret: \"${{KIT_CLIENT_SECRET}}\"\n      \
             discovery_url: \"{discovery}\"\n      scopes: [\"openid\", \"email\", \"profile\"]\n      allowed_tenants: [{}]\n",
            tenants.join(", ")
        ));
    }
    yaml
}

impl ProxyProcess {
    /// Writes `config_yaml` to a new directory and starts the proxy there
    /// (relative paths in the config resolve inside it); waits until it listens.
    pub async fn start(config_yaml: &str, port: u16) -> Result<ProxyProcess, String> {
        Self::start_with_args(config_yaml, port, &[]).await
    }

    /// As [`ProxyProcess::start`], with extra command-line arguments (run in the proxy's directory).
    pub async fn start_with_args(config_yaml: &str, port: u16, args: &[&str]) -> Result<ProxyProcess, String> {
        Self::start_in(TempDir::new("proxy"), config_yaml, port, args, &[]).await
    }

    /// Stops this proxy (SIGTERM) and starts it again with the same directory,
    /// database and port: what an operator's restart does.
    pub async fn restart(mut self) -> Result<ProxyProcess, String> {
        self.terminate();
        let _ = self.wait(Duration::from_secs(10)).await;
        let config = std::fs::read_to_string(self.dir.path().join("config.yaml")).map_err(|e| e.to_string())?;
        self.signal("KILL");
        self.pid = None;
        let dir = std::mem::replace(&mut self.dir, TempDir(PathBuf::new()));
        Self::start_in(dir, &config, self.port, &[], &[]).await
    }

    /// Starts the proxy in `dir` with extra arguments and environment variables.
    pub async fn start_in(
        dir: TempDir,
        config_yaml: &str,
        port: u16,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Result<ProxyProcess, String> {
        Self::launch(dir, Some(config_yaml), port, args, envs).await
    }

    /// The general form: `config_yaml` `None` starts the proxy with no `--sso-config`
    /// at all (then `--port` is passed so it still listens where the kit expects).
    pub async fn launch(
        dir: TempDir,
        config_yaml: Option<&str>,
        port: u16,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Result<ProxyProcess, String> {
        let config_path = dir.path().join("config.yaml");
        if let Some(yaml) = config_yaml {
            std::fs::write(&config_path, yaml).map_err(|e| e.to_string())?;
        }
        let database_url = match config_yaml.filter(|y| y.contains("${KIT_DATABASE_URL}")) {
            Some(_) => Some(postgres_database(dir.path())?),
            None => None,
        };
        let implementation = match config_yaml {
            Some(_) => Some(implementation_config(dir.path())?),
            None => None,
        };
        let mut command = command(implementation.as_deref(), port, &dir.path().join("sso_auth.db"), args);
        let mut child = command
            .current_dir(dir.path())
            .env("KIT_CLIENT_SECRET", CLIENT_SECRET)
            .env_remove("SSO_ENABLED")
            .env_remove("SSO_DATABASE_PATH")
            .env_remove("SSO_AUTH_MODE")
            .env_remove("SSO_AUTH_API_URL")
            .env_remove("SSO_SESSION_LIFETIME_HOURS")
            .envs(database_url.iter().map(|url| ("KIT_DATABASE_URL", url.as_str())))
            // The scenario's own environment last, so it may set any of the above.
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the proxy under test: {e}"))?;
        let console = capture(&mut child);
        let pid = child.id();
        let mut proxy = ProxyProcess { child, pid, port, dir, console };
        let profile = Profile::get();
        let limit = profile.wait(profile.ready.timeout_seconds as f64);
        let started = std::time::Instant::now();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .no_proxy()
            .danger_accept_invalid_certs(true)
            .build()
            .map_err(|e| e.to_string())?;
        while started.elapsed() < limit {
            if proxy.ready(&http).await {
                return Ok(proxy);
            }
            if let Ok(Some(status)) = proxy.child.try_wait() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Err(format!("proxy did not start (exit: {status:?}); console:\n{}", proxy.console()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("proxy was not ready within {limit:?}; console:\n{}", proxy.console()))
    }

    /// Whether the proxy is ready, as the profile tells: an HTTP path answers below 500, the console shows a
    /// text, or the port accepts connections.
    async fn ready(&self, http: &reqwest::Client) -> bool {
        let ready = &Profile::get().ready;
        if let Some(text) = &ready.console {
            return self.console().contains(text.as_str());
        }
        if let Some(path) = &ready.http {
            // A proxy that serves TLS itself answers on https only (readiness, not trust: any certificate).
            for scheme in ["http", "https"] {
                let answer = http.get(format!("{scheme}://127.0.0.1:{}{path}", self.port)).send().await;
                if answer.is_ok_and(|r| r.status().as_u16() < 500) {
                    return true;
                }
            }
            return false;
        }
        tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok()
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process id (to read its memory from /proc, or signal it).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Resident memory of the proxy process in KiB (Linux `/proc/PID/status`).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// The directory the proxy runs in (its `config.yaml`, its SQLite file).
    pub fn dir_path(&self) -> &Path {
        self.dir.path()
    }

    /// The SQLite file the guide's SQL runs against (the profile's `database.sqlite`).
    pub fn db_path(&self) -> PathBuf {
        let dir = self.dir.path();
        let db = dir.join("sso_auth.db");
        PathBuf::from(
            Profile::get()
                .database
                .sqlite
                .replace("{dir}", &dir.display().to_string())
                .replace("{db}", &db.display().to_string()),
        )
    }

    /// Everything the proxy printed so far (stdout and stderr).
    pub fn console(&self) -> String {
        let mut text = self.console.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(file) = &Profile::get().console.log_file {
            text.push_str(&std::fs::read_to_string(self.dir.path().join(file)).unwrap_or_default());
        }
        text
    }

    /// Whether `text` shows up in the console within two seconds (it is read by
    /// another task, so a line just logged may still be on its way).
    pub async fn console_shows(&self, text: &str) -> bool {
        let rounds = (100.0 * Profile::get().time_scale) as usize;
        for _ in 0..rounds {
            if self.console().contains(text) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// The confirmation code printed for `email` (the last one), as a person reads the
    /// console; waits up to four seconds for the line to arrive.
    pub async fn confirmation_code(&self, email: &str) -> Option<String> {
        let rounds = (200.0 * Profile::get().time_scale) as usize;
        for _ in 0..rounds {
            if let Some(code) = Profile::get().code_in(&self.console(), email) {
                return Some(code);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Sends the profile's stop signal (SIGTERM by default), to the process group when the profile says so.
    pub fn terminate(&self) {
        let stop = &Profile::get().stop;
        self.signal(&stop.signal);
    }

    fn signal(&self, signal: &str) {
        if let Some(pid) = self.pid {
            let target = if Profile::get().stop.process_group { format!("-{pid}") } else { pid.to_string() };
            let _ = std::process::Command::new("kill").args([&format!("-{signal}"), "--", &target]).status();
        }
    }

    /// Waits for the process to exit, up to `limit`.
    pub async fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(limit, self.child.wait()).await.ok().and_then(Result::ok)
    }

    /// The proxy's PostgreSQL database, when it runs on one: (server, database name).
    fn postgres(&self) -> Option<(&'static crate::postgres::Server, String)> {
        let url = std::fs::read_to_string(self.dir.path().join("database_url")).ok()?;
        let server = crate::postgres::Server::get().ok()?;
        Some((server, url.trim().rsplit('/').next().unwrap_or_default().to_string()))
    }

    /// Runs the guide's SQL against the proxy's database (SQLite's dialect; on
    /// PostgreSQL translated, see [`crate::dialect`]); the rows, each value shown as
    /// SQLite shows it (`Integer(1)`, `Text("...")`).
    pub fn rows(&self, statement: &str) -> Result<Vec<Vec<String>>, String> {
        if let Some((server, database)) = self.postgres() {
            let out = server.psql(&database, &crate::dialect::to_postgres(statement))?;
            return Ok(out
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| l.split('|').map(crate::dialect::sqlite_value).collect())
                .collect());
        }
        let conn = rusqlite::Connection::open(self.db_path()).map_err(|e| e.to_string())?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())?;
        let mut statement = conn.prepare(statement).map_err(|e| e.to_string())?;
        let columns = statement.column_count();
        let mut rows = Vec::new();
        let mut found = statement.query([]).map_err(|e| e.to_string())?;
        while let Some(row) = found.next().map_err(|e| e.to_string())? {
            let values = (0..columns).map(|i| row.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}")));
            rows.push(values.collect::<Result<Vec<String>, _>>().map_err(|e| e.to_string())?);
        }
        Ok(rows)
    }

    /// Runs SQL against the proxy's database, as the guide's `sqlite3` commands do; the rows changed.
    pub fn sql(&self, statement: &str) -> Result<usize, String> {
        if let Some((server, database)) = self.postgres() {
            // psql prints "UPDATE n" / "DELETE n" / "INSERT 0 n" without -A's quiet mode.
            let out = server.psql(&database, &crate::dialect::to_postgres(statement))?;
            return Ok(out.rsplit(' ').next().and_then(|n| n.trim().parse().ok()).unwrap_or(0));
        }
        let conn = rusqlite::Connection::open(self.db_path()).map_err(|e| e.to_string())?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())?;
        conn.execute(statement, []).map_err(|e| e.to_string())
    }

    /// Runs several statements (the guide's fixes).
    pub fn sql_batch(&self, statements: &str) -> Result<(), String> {
        if let Some((server, database)) = self.postgres() {
            return server.psql(&database, &crate::dialect::to_postgres(statements)).map(|_| ());
        }
        let conn = rusqlite::Connection::open(self.db_path()).map_err(|e| e.to_string())?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())?;
        conn.execute_batch(statements).map_err(|e| e.to_string())
    }

    /// A single-value query, e.g. `SELECT COUNT(*) FROM agent_tokens`.
    pub fn query_i64(&self, statement: &str) -> Result<i64, String> {
        let rows = self.rows(statement)?;
        let value = rows.first().and_then(|r| r.first()).ok_or("no row")?;
        value
            .strip_prefix("Integer(")
            .and_then(|v| v.strip_suffix(')'))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("not an integer: {value}"))
    }

    /// A single text value, e.g. `SELECT user_id FROM agent_tokens`.
    pub fn query_text(&self, statement: &str) -> Result<String, String> {
        if let Some((server, database)) = self.postgres() {
            return server.psql(&database, &crate::dialect::to_postgres(statement));
        }
        let conn = rusqlite::Connection::open(self.db_path()).map_err(|e| e.to_string())?;
        conn.query_row(statement, [], |r| r.get(0)).map_err(|e| e.to_string())
    }

    /// Inserts an authenticated token for `email` valid for 24 hours (through the
    /// documented schema) and returns the token an agent would send.
    pub fn mint_token(&self, email: &str) -> String {
        let profile = Profile::get();
        let token = profile.new_token();
        let hash = profile.token_hash(&token).unwrap_or_else(|e| panic!("hash a token: {e}"));
        let statement = format!(
            "INSERT INTO agent_tokens (token_hash, user_id, user_email, provider, is_authenticated, is_active, \
             created_at, last_authenticated_at, auth_expires_at) VALUES ('{}', 'google:{email}', '{email}', 'google', \
             TRUE, TRUE, datetime('now'), datetime('now'), datetime('now', '+24 hours'))",
            hash
        );
        self.sql(&statement).unwrap_or_else(|e| panic!("insert token: {e}"));
        token
    }
}

impl Drop for ProxyProcess {
    /// A wrapper's children go too: the whole process group is killed (the child itself by `kill_on_drop`).
    fn drop(&mut self) {
        if Profile::get().stop.process_group {
            self.signal("KILL");
        }
    }
}

/// Collects a child's stdout and stderr, line by line, into one shared text
/// (what a person would see in the terminal).
pub fn capture(child: &mut Child) -> Arc<Mutex<String>> {
    let console = Arc::new(Mutex::new(String::new()));
    fn pump<R: tokio::io::AsyncRead + Unpin + Send + 'static>(reader: R, console: Arc<Mutex<String>>) {
        tokio::spawn(async move {
            let mut lines = BufReader::new(reader).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut c = console.lock().unwrap_or_else(|p| p.into_inner());
                c.push_str(&line);
                c.push('\n');
            }
        });
    }
    if let Some(out) = child.stdout.take() {
        pump(out, console.clone());
    }
    if let Some(err) = child.stderr.take() {
        pump(err, console.clone());
    }
    console
}

/// The PostgreSQL database of the proxy in `dir`: created on first use and kept in
/// `dir/database_url`, so a restarted proxy finds its data again.
pub fn postgres_database(dir: &Path) -> Result<String, String> {
    let file = dir.join("database_url");
    if let Ok(url) = std::fs::read_to_string(&file) {
        return Ok(url.trim().to_string());
    }
    let server = crate::postgres::Server::get()?;
    let url = server.database("kit")?;
    std::fs::write(&file, &url).map_err(|e| e.to_string())?;
    Ok(url)
}
