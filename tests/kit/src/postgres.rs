//! A real PostgreSQL server for tests: `LLM_SSO_TEST_POSTGRES_URL` when set (a
//! server someone else runs), or a throwaway cluster from the Debian
//! `postgresql` package's binaries (`initdb`, `postgres`) in a temporary
//! directory on a free loopback port, as an unprivileged user (PostgreSQL
//! refuses to run as root). The server dies with the test process
//! (`setpriv --pdeathsig`), and each test gets a database of its own.
//!
//! Standard library only: the proxy's store tests include this file by path,
//! the kit exports it, so one helper serves both without a crate edge.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where databases are created: a superuser URL without the database name.
pub struct Server {
    /// `postgres://user@host:port` (no path).
    base: String,
    /// `createdb` and `psql` from the same installation, when the server is ours.
    bin: Option<PathBuf>,
    port: u16,
    data: Option<PathBuf>,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The directory with `initdb` and `postgres`: the newest `/usr/lib/postgresql/*/bin`, or `pg_config --bindir`.
fn bindir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    versions.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
    });
    if let Some(newest) = versions.pop() {
        return Some(newest);
    }
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    dir.join("initdb").is_file().then_some(dir)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Runs `program` from `bin` as the cluster's owner (`nobody` when we are root).
fn as_owner(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--pdeathsig=KILL", "--"]);
        c.arg(bin.join(program));
        c
    } else {
        let mut c = Command::new("setpriv");
        c.args(["--pdeathsig=KILL", "--"]);
        c.arg(bin.join(program));
        c
    }
}

/// Starts `postgres` on `port` from a thread that never ends: the server's
/// parent-death signal fires when the test process exits, not when one test's thread does.
fn spawn_server(bin: &Path, data: &Path, port: u16) -> Result<(), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (bin, data) = (bin.to_path_buf(), data.to_path_buf());
    std::thread::spawn(move || {
        let child = as_owner(&bin, "postgres")
            .arg("-D")
            .arg(data.join("db"))
            .args(["-p", &port.to_string(), "-k"])
            .arg(&data)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=300"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let _ = tx.send(child.map(|_| ()).map_err(|e| format!("postgres: {e}")));
        loop {
            std::thread::park();
        }
    });
    rx.recv().map_err(|e| e.to_string())?
}

fn start_cluster(label: &str) -> Result<Server, String> {
    let bin = bindir().ok_or("no PostgreSQL binaries (apt-get install postgresql)")?;
    // Clusters of test processes that are gone (their servers died with them).
    for entry in std::fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let pid = name
            .strip_prefix("llm-sso-pg-")
            .and_then(|p| p.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let data = std::env::temp_dir().join(format!("llm-sso-pg-{}{label}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    if is_root() {
        let chown = Command::new("chown").args(["nobody:nogroup"]).arg(&data).status();
        if !chown.is_ok_and(|s| s.success()) {
            return Err(format!("cannot give {} to nobody", data.display()));
        }
    }
    let init = as_owner(&bin, "initdb")
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "-D"])
        .arg(data.join("db"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !init.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&init.stderr)));
    }
    let port = free_port()?;
    spawn_server(&bin, &data, port)?;
    let server =
        Server { base: format!("postgres://postgres@127.0.0.1:{port}"), bin: Some(bin), port, data: Some(data) };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("the throwaway PostgreSQL server did not start within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Accepting TCP before it accepts queries: wait for a real answer.
    while server.psql("postgres", "SELECT 1").is_err() {
        if Instant::now() > deadline {
            return Err("the throwaway PostgreSQL server does not answer queries".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(server)
}

impl Server {
    /// The shared server, started on first use; `Err` says why there is none.
    pub fn get() -> Result<&'static Server, String> {
        SERVER
            .get_or_init(|| match std::env::var("LLM_SSO_TEST_POSTGRES_URL") {
                Ok(url) => Ok(Server { base: url.trim_end_matches('/').to_string(), bin: None, port: 0, data: None }),
                Err(_) => start_cluster(""),
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A cluster of its own (a test that stops and starts the server must not
    /// pull it from under the other tests). Never `LLM_SSO_TEST_POSTGRES_URL`.
    pub fn private(label: &str) -> Result<Server, String> {
        start_cluster(&format!("-{label}"))
    }

    /// A new, empty database; its URL.
    pub fn database(&self, purpose: &str) -> Result<String, String> {
        let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}_{}_{n}", purpose.replace(|c: char| !c.is_ascii_alphanumeric(), "_"), std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        Ok(format!("{}/{name}", self.base))
    }

    /// Runs SQL with `psql` against `database` (our own cluster only).
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let bin = self.bin.as_ref().ok_or("psql is only used with the throwaway cluster")?;
        let out = Command::new(bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-d", database])
            .args(["-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// Stops the server (fast shutdown): what a database outage looks like to the proxy.
    /// Our own cluster only.
    pub fn stop(&self) -> Result<(), String> {
        let (bin, data) = (self.bin.as_ref().ok_or("not our cluster")?, self.data.as_ref().ok_or("not our cluster")?);
        let stop = as_owner(bin, "pg_ctl").arg("-D").arg(data.join("db")).args(["-m", "fast", "-w", "stop"]).output();
        match stop {
            Ok(o) if o.status.success() => Ok(()),
            other => Err(format!("pg_ctl stop: {other:?}")),
        }
    }

    /// Starts a stopped server again on the same port and waits until it answers.
    pub fn start(&self) -> Result<(), String> {
        let (bin, data) = (self.bin.as_ref().ok_or("not our cluster")?, self.data.as_ref().ok_or("not our cluster")?);
        spawn_server(bin, data, self.port)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.psql("postgres", "SELECT 1").is_err() {
            if Instant::now() > deadline {
                return Err("PostgreSQL did not come back within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

/// The shared server for a test that needs one: in CI (`CI` set) its absence
/// fails the test; locally the test is skipped with a loud reason.
pub fn server_or_skip(test: &str) -> Option<&'static Server> {
    match Server::get() {
        Ok(server) => Some(server),
        Err(reason) => {
            let hint = "apt-get install postgresql, or set LLM_SSO_TEST_POSTGRES_URL";
            if std::env::var_os("CI").is_some() {
                panic!("{test}: PostgreSQL is required in CI: {reason} ({hint})");
            }
            eprintln!("\n!!! SKIPPED {test}: {reason}\n!!! {hint}\n!!! (.ci/run makes this a failure)\n");
            None
        }
    }
}
