//! `mock-authz-api`: runs the mock enterprise authorization API for offline work.
//! With no arguments it serves the built-in `config/mock-authz-api.yaml` on 127.0.0.1:9100.

use clap::Parser;
use mock_authz_api::{AuthzConfig, MockAuthzApi};
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_CONFIG: &str = include_str!("../../config/mock-authz-api.yaml");

#[derive(Parser)]
#[command(version, about = "Mock enterprise authorization API (POST /api/authorize) for offline work")]
struct Args {
    /// YAML file with the secret and the policy (default: the built-in config/mock-authz-api.yaml).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    #[arg(long)]
    host: Option<String>,
    /// 0 picks a free port.
    #[arg(long)]
    port: Option<u16>,
    #[arg(long, default_value = "info")]
    log_level: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let loaded = match &args.config {
        Some(path) => AuthzConfig::from_yaml_file(path).map_err(|e| e.to_string()),
        None => AuthzConfig::from_yaml_str(DEFAULT_CONFIG).map_err(|e| format!("built-in config: {e}")),
    };
    let mut config = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mock-authz-api: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(host) = args.host {
        config.host = host;
    }
    if let Some(port) = args.port {
        config.port = port;
    }
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
    println!("Press Ctrl-C to stop.");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("mock-authz-api: cannot wait for Ctrl-C: {e}");
    }
    api.shutdown().await;
    ExitCode::SUCCESS
}
