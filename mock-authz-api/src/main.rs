//! `mock-authz-api`: runs the mock enterprise authorization API for offline work.
//! With no arguments it serves the built-in `config/mock-authz-api.yaml` on 127.0.0.1:9100.

use clap::Parser;
use mock_authz_api::{AuthzConfig, MockAuthzApi};
use mock_server::cli::{ServeArgs, wait_for_ctrl_c};
use std::process::ExitCode;

const DEFAULT_CONFIG: &str = include_str!("../../config/mock-authz-api.yaml");

#[derive(Parser)]
#[command(version, about = "Mock enterprise authorization API (POST /api/authorize) for offline work")]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    args.serve.init_logging();
    let config = args.serve.load::<AuthzConfig>(DEFAULT_CONFIG);
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mock-authz-api: {e}");
            return ExitCode::from(2);
        }
    };
    let signed = config.secret.is_some();
    let allowed = config.policy.allowed_emails.join(", ");
    let api = match MockAuthzApi::spawn(config).await {
        Ok(api) => api,
        Err(e) => {
            eprintln!("mock-authz-api: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    println!("mock-authz-api listening on {}", api.base_url());
    println!("  api_url: {}", api.authorize_url());
    println!("  health:  {}/health", api.base_url());
    println!("  X-Signature required: {}", if signed { "yes" } else { "no" });
    println!("  allowed emails: {allowed}");
    println!("  control: {}/__control (journal, policy, faults, secret, clock, refuse)", api.base_url());
    let code = wait_for_ctrl_c("mock-authz-api").await;
    api.shutdown().await;
    code
}
