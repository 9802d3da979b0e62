//! `mock-idp`: runs the mock providers for offline development.
//!
//! With no arguments it serves the repository's `config/mock-idp.yaml` (built
//! in), on 127.0.0.1:9000, and prints every discovery URL.

use clap::Parser;
use mock_idp::{IdpConfig, MockIdp};
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_CONFIG: &str = include_str!("../../config/mock-idp.yaml");

#[derive(Parser)]
#[command(version, about = "Mock Google, Microsoft Entra ID and generic OIDC providers for offline work")]
struct Args {
    /// YAML file with issuers, users and clients (default: the built-in config/mock-idp.yaml).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Address to listen on (overrides the config).
    #[arg(long)]
    host: Option<String>,
    /// Port to listen on; 0 picks a free one (overrides the config).
    #[arg(long)]
    port: Option<u16>,
    /// Log filter, e.g. info or debug.
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
        Some(path) => IdpConfig::from_yaml_file(path),
        None => IdpConfig::from_yaml_str(DEFAULT_CONFIG),
    };
    let mut config = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mock-idp: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(host) = args.host {
        config.host = host;
    }
    if let Some(port) = args.port {
        config.port = port;
    }
    let issuers = config.issuers.clone();
    let users: Vec<String> = config.users.iter().map(|u| u.email.clone()).collect();
    let clients: Vec<(String, Vec<String>)> =
        config.clients.iter().map(|c| (c.client_id.clone(), c.redirect_uris.clone())).collect();
    let idp = match MockIdp::spawn(config).await {
        Ok(idp) => idp,
        Err(e) => {
            eprintln!("mock-idp: {e}");
            return ExitCode::from(1);
        }
    };

    println!("mock-idp listening on {}", idp.base_url());
    for issuer in &issuers {
        if let Some(url) = idp.discovery_url(&issuer.name, None) {
            println!("  {:<10} discovery_url: {url}", issuer.name);
        }
    }
    println!(
        "  clients: {}",
        clients.iter().map(|(id, uris)| format!("{id} -> {}", uris.join(", "))).collect::<Vec<_>>().join("; ")
    );
    println!("  users:   {}", users.join(", "));
    println!(
        "  control: {}/__control (journal, users, clients, keys/rotate, clock, next-login, faults, refuse)",
        idp.base_url()
    );
    println!("Press Ctrl-C to stop.");

    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("mock-idp: cannot wait for Ctrl-C: {e}");
    }
    idp.shutdown().await;
    ExitCode::SUCCESS
}
