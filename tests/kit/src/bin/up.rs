//! `cargo run --bin up`: the whole offline stack, on fixed loopback ports: mock
//! IdP (9000), mock authorization API (9100), mock LLM (9200) in this process,
//! and `llm-sso-proxy` with `config/dev.yaml` (8080) as a child process (the
//! kit never links the proxy: build it with `cargo build -p llm-sso-proxy`, or
//! name another implementation's binary in `LLM_SSO_PROXY_BIN`). Ctrl-C stops
//! it all. A newcomer goes from clone to a working agent token with no account
//! anywhere.

use llm_sso_kit::workspace_root;
use mock_authz_api::{AuthzConfig, MockAuthzApi};
use mock_idp::config::MockConfig;
use mock_idp::{IdpConfig, MockIdp};
use mock_llm::{LlmConfig, MockLlm};
use std::process::ExitCode;

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
    let binary = llm_sso_kit::proxy::binary();
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
        _ = tokio::signal::ctrl_c() => {
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
