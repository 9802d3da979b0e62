//! `cargo run --bin up`: the whole offline stack in one process, on fixed
//! loopback ports: mock IdP (9000), mock authorization API (9100), mock LLM
//! (9200) and `llm-sso-proxy` with `config/dev.yaml` (8080). Ctrl-C stops it all.
//! A newcomer goes from clone to a working agent token with no account anywhere.

use llm_sso_kit::workspace_root;
use llm_sso_proxy::config::{self, Overrides};
use llm_sso_proxy::logging::{self, Format};
use mock_authz_api::{AuthzConfig, MockAuthzApi};
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
    if let Err(e) = logging::parse_level("INFO").and_then(|level| logging::init(level, None, Format::Text)) {
        eprintln!("up: logging: {e}");
    }
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
    let env = |name: &str| std::env::var(name).ok();
    let proxy_config = match config::load(Some(&cfg("dev.yaml")), &env, &Overrides::default()) {
        Ok(c) => c,
        Err(problems) => return fail("config/dev.yaml", problems),
    };
    let base = proxy_config.base_url();
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
    println!("Ctrl-C stops everything.\n");
    let code = llm_sso_proxy::cli::serve(proxy_config).await;
    llm.shutdown().await;
    authz.shutdown().await;
    idp.shutdown().await;
    println!("up: stopped");
    code
}
