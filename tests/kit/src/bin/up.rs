//! `cargo run --bin up`: the whole offline stack, on fixed loopback ports: mock
//! IdP (9000), mock authorization API (9100), mock LLM (9200) in this process,
//! and `llm-sso-proxy` with `config/dev.yaml` (8080) as a child process. The
//! kit never links the proxy, so `up` runs `cargo build -p llm-sso-proxy` itself
//! when the binary next to it is missing or older than its sources (or runs
//! another implementation's binary named in `LLM_SSO_PROXY_BIN`). Ctrl-C or
//! SIGTERM stops it all, the proxy included. A newcomer goes from clone to a
//! working agent token with no account anywhere.

use llm_sso_kit::workspace_root;
use mock_authz_api::{AuthzConfig, MockAuthzApi};
use mock_idp::config::MockConfig;
use mock_idp::{IdpConfig, MockIdp};
use mock_llm::{LlmConfig, MockLlm};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;
use tokio::signal::unix::{SignalKind, signal};

fn fail(what: &str, e: impl std::fmt::Display) -> ExitCode {
    eprintln!("up: {what}: {e}");
    eprintln!("    (is another stack, or something else, already using ports 8080, 9000, 9100 or 9200?)");
    ExitCode::FAILURE
}

#[tokio::main]
async fn main() -> ExitCode {
    let root = workspace_root();
    let cfg = |name: &str| root.join("config").join(name);
    let idp_config = match IdpConfig::from_yaml_file(&cfg("mock-idp.yaml")) {
        Ok(c) => c,
        Err(e) => return fail("config/mock-idp.yaml", e),
    };
    let users: Vec<String> = idp_config.users.iter().map(|u| u.email.clone()).collect();
    let idp = match MockIdp::spawn(idp_config).await {
        Ok(i) => i,
        Err(e) => return fail("mock IdP", e),
    };
    let authz = match AuthzConfig::from_yaml_file(&cfg("mock-authz-api.yaml")) {
        Ok(c) => match MockAuthzApi::spawn(c).await {
            Ok(a) => a,
            Err(e) => return fail("mock authorization API", e),
        },
        Err(e) => return fail("config/mock-authz-api.yaml", e),
    };
    let llm = match LlmConfig::from_yaml_file(&cfg("mock-llm.yaml")) {
        Ok(c) => match MockLlm::spawn(c).await {
            Ok(l) => l,
            Err(e) => return fail("mock LLM", e),
        },
        Err(e) => return fail("config/mock-llm.yaml", e),
    };
    // config/dev.yaml serves http://127.0.0.1:8080.
    let base = "http://127.0.0.1:8080";
    let binary = match proxy_binary(&root) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("up: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => return fail("listening for SIGTERM", e),
    };
    let mut proxy = match tokio::process::Command::new(&binary).arg("--sso-config").arg(cfg("dev.yaml")).spawn() {
        Ok(child) => child,
        Err(e) => return fail(&format!("starting {}", binary.display()), e),
    };
    println!("Offline stack:");
    println!("  mock IdP                 {} (users: {})", idp.base_url(), users.join(", "));
    println!("  mock authorization API   {}", authz.authorize_url());
    println!("  mock LLM upstream        {}", llm.base_url());
    println!("  llm-sso-proxy            {base}  (config/dev.yaml, single_user mode)");
    println!();
    println!("1. Open {base}/auth/login, pick google, sign in as alice@company.com.");
    println!("2. Type the confirmation code printed below (the WARN line 'Confirmation Code: ...').");
    println!("3. Use the token:");
    println!("   curl {base}/v1/chat/completions -H \"Authorization: Bearer <token>\" \\");
    println!("     -H \"Content-Type: application/json\" \\");
    println!("     -d '{{\"model\": \"mock-gpt\", \"messages\": [{{\"role\": \"user\", \"content\": \"hello\"}}]}}'");
    println!("Or from a terminal, no copy and paste: llm-sso-proxy login --proxy {base}");
    println!("   (open the link it prints, sign in as above), then eval \"$(llm-sso-proxy env)\".");
    println!("Ctrl-C stops everything.\n");
    let code = tokio::select! {
        status = proxy.wait() => {
            eprintln!("up: llm-sso-proxy stopped: {status:?}");
            ExitCode::FAILURE
        }
        _ = stop_signal(&mut terminate) => {
            // Let the proxy shut down gracefully (it handles SIGTERM like Ctrl-C).
            if let Some(pid) = proxy.id() {
                let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            }
            match proxy.wait().await {
                Ok(s) if s.success() => ExitCode::SUCCESS,
                other => {
                    eprintln!("up: llm-sso-proxy did not stop cleanly: {other:?}");
                    ExitCode::FAILURE
                }
            }
        }
    };
    llm.shutdown().await;
    authz.shutdown().await;
    idp.shutdown().await;
    println!("up: stopped");
    code
}

/// Ctrl-C (SIGINT) or SIGTERM (a service manager, `timeout`, a CI step): either stops the stack.
async fn stop_signal(terminate: &mut tokio::signal::unix::Signal) {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

/// The proxy to run: `LLM_SSO_PROXY_BIN`, or `llm-sso-proxy` next to this binary, built first (with
/// the same Cargo and profile) when it is missing or older than its sources, as on a fresh clone.
fn proxy_binary(root: &Path) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("LLM_SSO_PROXY_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(|e| format!("where is this binary? {e}"))?;
    let dir = exe.parent().ok_or("this binary has no directory")?;
    let binary = dir.join(format!("llm-sso-proxy{}", std::env::consts::EXE_SUFFIX));
    let built = modified(&binary);
    let sources = [root.join("proxy/src"), root.join("proxy/Cargo.toml"), root.join("Cargo.lock")]
        .iter()
        .filter_map(|p| newest(p))
        .max();
    let why = match (built, sources) {
        (None, _) => "it is not built yet",
        (Some(b), Some(s)) if s > b => "its sources changed",
        _ => return Ok(binary),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = std::process::Command::new(&cargo);
    build.current_dir(root).args(["build", "-p", "llm-sso-proxy"]);
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            build.arg("--release");
        }
        Some(profile) => {
            build.args(["--profile", profile]);
        }
    }
    eprintln!("up: building llm-sso-proxy first ({why}): cargo build -p llm-sso-proxy");
    let status = build.status().map_err(|e| format!("cannot run {}: {e}", PathBuf::from(&cargo).display()))?;
    if !status.success() {
        return Err(format!("cargo build -p llm-sso-proxy failed ({status}); fix the build, or set LLM_SSO_PROXY_BIN"));
    }
    if modified(&binary).is_none() {
        return Err(format!("cargo build -p llm-sso-proxy did not produce {}", binary.display()));
    }
    Ok(binary)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of a file, or of any file under a folder.
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path).ok()?.flatten().filter_map(|e| newest(&e.path())).max()
}
