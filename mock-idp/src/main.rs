//! `mock-idp`: runs the mock providers for offline development.
//!
//! With no arguments it serves the repository's `config/mock-idp.yaml` (built
//! in), on 127.0.0.1:9000, and prints every discovery URL.

use clap::Parser;
use mock_idp::{IdpConfig, MockIdp};
use mock_server::cli::{ServeArgs, wait_for_ctrl_c};
use std::process::ExitCode;

const DEFAULT_CONFIG: &str = include_str!("../../config/mock-idp.yaml");

#[derive(Parser)]
#[command(version, about = "Mock Google, Microsoft Entra ID and generic OIDC providers for offline work")]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    args.serve.init_logging();
    let config = args.serve.load::<IdpConfig>(DEFAULT_CONFIG);
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mock-idp: {e}");
            return ExitCode::from(2);
        }
    };
    let issuers = config.issuers.clone();
    let users: Vec<String> = config.users.iter().map(|u| u.email.clone()).collect();
    let clients: Vec<String> =
        config.clients.iter().map(|c| format!("{} -> {}", c.client_id, c.redirect_uris.join(", "))).collect();
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
    println!("  clients: {}", clients.join("; "));
    println!("  users:   {}", users.join(", "));
    println!(
        "  control: {}/__control (journal, users, clients, keys/rotate, clock, next-login, faults, refuse)",
        idp.base_url()
    );
    let code = wait_for_ctrl_c("mock-idp").await;
    idp.shutdown().await;
    code
}
