//! Shared helpers of the conformance kit: the proxy under test as a spawned
//! process ([`proxy`]), the Python SDK lookup, and the repository-layout
//! checks. The cucumber runner builds on these.

pub mod browser;
pub mod contract;
pub mod dialect;
pub mod postgres;
pub mod profile;
pub mod proxy;
pub mod stack;
pub mod terminal;

use std::path::{Path, PathBuf};

/// The workspace root (where the root `Cargo.toml` lives), two levels above the kit's own `tests/kit`.
pub fn workspace_root() -> PathBuf {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR"));
    kit.ancestors().nth(2).map_or_else(|| kit.to_path_buf(), Path::to_path_buf)
}

/// Paths named in backticks in `ARCHITECTURE.md`'s code map that do not exist.
///
/// The code map is a promise to newcomers ("where is X"); a stale entry is a bug.
pub fn missing_code_map_paths(architecture_md: &str, root: &Path) -> Vec<String> {
    let Some(start) = architecture_md.find("## Code map") else {
        return vec!["ARCHITECTURE.md has no '## Code map' section".to_string()];
    };
    let section = &architecture_md[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    section[..end]
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("- `"))
        .filter_map(|rest| rest.split('`').next())
        .filter(|path| path.contains('/') || path.contains('.'))
        .filter(|path| !root.join(path).exists())
        .map(str::to_string)
        .collect()
}

/// A Python interpreter that can import the official `openai` and `anthropic` SDKs.
///
/// Looks at `LLM_SSO_PYTHON`, then the repository's `.venv` (what `.ci/run`
/// creates). `Err` says why none is usable; see [`skip_or_fail`].
pub fn python_with_sdks() -> Result<PathBuf, String> {
    let candidate = match std::env::var_os("LLM_SSO_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => workspace_root().join(".venv/bin/python"),
    };
    let probe = std::process::Command::new(&candidate).args(["-c", "import openai, anthropic"]).output();
    match probe {
        Ok(out) if out.status.success() => Ok(candidate),
        Ok(out) => Err(format!(
            "{} cannot import the SDKs: {}",
            candidate.display(),
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default()
        )),
        Err(e) => Err(format!("{} not runnable: {e}", candidate.display())),
    }
}

/// The texts `tests/sdk/check_sdks.py` reports, one per API and format the SDKs parsed (legacy completions
/// come on top with `--legacy-completions`).
pub const SDK_TEXTS: &[&str] = &[
    "openai_json",
    "openai_stream",
    "responses_json",
    "responses_stream",
    "responses_stream_final",
    "anthropic_json",
    "anthropic_stream",
    "anthropic_stream_final",
];

/// Handles a test that needs an outside program that is missing: in CI (`CI` set)
/// that is a failure; locally the test is skipped with a loud reason on stderr.
/// Returns normally only when skipping is allowed.
pub fn skip_or_fail(test: &str, reason: &str) {
    let hint = "install with: python3 -m venv .venv && .venv/bin/pip install openai anthropic";
    if std::env::var_os("CI").is_some() {
        panic!("{test}: required outside program missing in CI: {reason} ({hint})");
    }
    eprintln!("\n!!! SKIPPED {test}: {reason}\n!!! {hint}\n!!! (.ci/run makes this a failure)\n");
}

/// Waits (up to 5 s) until nothing accepts connections on `addr`: a mock told to
/// refuse connections closes its socket asynchronously.
pub async fn until_refused(addr: std::net::SocketAddr) {
    for _ in 0..250 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{addr} still accepts connections");
}

/// A raw form post as a browser with `cookie` sends it (for [`all_at_once`]).
pub fn form_request(cookie: &str, action: &str, fields: &[(&str, &str)]) -> String {
    let form = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    format!(
        "POST {action} HTTP/1.1\r\nHost: kit\r\nCookie: {cookie}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
}

/// Sends the same raw HTTP/1.1 request on `n` connections so that they arrive
/// together (all but the last byte first, then the last bytes back to back), as
/// an attacker racing a single-use value would. The raw responses, in order.
pub async fn all_at_once(port: u16, request: &str, n: usize) -> Vec<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bytes = request.as_bytes();
    let (head, last) = bytes.split_at(bytes.len().saturating_sub(1));
    let mut connections = Vec::new();
    for _ in 0..n {
        let Ok(mut tcp) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { continue };
        let _ = tcp.set_nodelay(true);
        if tcp.write_all(head).await.is_ok() {
            connections.push(tcp);
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    for tcp in &mut connections {
        let _ = tcp.write_all(last).await;
    }
    let reads = connections.into_iter().map(|mut tcp| async move {
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(20), tcp.read_to_end(&mut answer)).await;
        String::from_utf8_lossy(&answer).to_string()
    });
    futures_util::future::join_all(reads).await
}
