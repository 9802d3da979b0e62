//! `llm-sso-proxy` with no command: build the [`Server`] from the configuration,
//! print the startup summary, and serve until Ctrl-C or SIGTERM.

use crate::config::{self, Config};
use crate::server::Server;
use std::process::ExitCode;

/// The summary `--validate-only` and the startup print.
pub fn print_summary(config: &Config) {
    if config.sso.enabled {
        println!("  SSO: enabled");
        println!("  authorization mode: {}", config.sso.authorization.mode.as_str());
        for name in config.sso.providers.keys() {
            println!("  redirect URI to register for provider '{name}': {}", config.redirect_uri());
        }
        match &config.sso.database_url {
            Some(_) => println!("  database: PostgreSQL (sso.database_url, pool of {})", config.sso.database_pool_size),
            None => println!("  database: {}", config.sso.database_path.display()),
        }
    } else {
        println!("  SSO: DISABLED (requests are forwarded without authentication, loopback only)");
    }
    println!("  OpenAI upstream: {}", config.upstreams.openai.base_url);
    println!("  Anthropic upstream: {}", config.upstreams.anthropic.base_url);
}

/// Builds the [`Server`], prints the startup summary and serves until Ctrl-C or
/// SIGTERM (graceful, within `server.shutdown_timeout_seconds`).
pub async fn serve(config: Config) -> ExitCode {
    let server = match Server::build(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("llm-sso-proxy: {e}");
            return if e.is_configuration() { ExitCode::from(1) } else { ExitCode::FAILURE };
        }
    };
    let config = server.config();
    print_summary(config);
    for warning in config::rules::warnings(config) {
        tracing::warn!("{warning}");
    }
    println!("  agents: OpenAI base URL {}/v1, Anthropic base URL {}", config.base_url(), config.base_url());
    // Last, so that whoever waits for this line has seen the whole summary.
    println!("llm-sso-proxy {} listening on {}", crate::VERSION, server.listen_url());
    match server.run(shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("llm-sso-proxy: server error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM: stop accepting, let in-flight requests (and streams) finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
