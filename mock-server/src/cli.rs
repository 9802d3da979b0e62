//! What every mock binary does around its server: the shared command-line
//! options, logging, loading the built-in or a given config, and running until
//! Ctrl-C.

use crate::config::MockConfig;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options common to every mock binary (flattened into each one's clap parser).
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// YAML config file (default: the built-in one from the repository's config/).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides the config).
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on; 0 picks a free one (overrides the config).
    #[arg(long)]
    pub port: Option<u16>,
    /// Log filter, e.g. info or debug.
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

impl ServeArgs {
    pub fn init_logging(&self) {
        let filter = tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }

    /// Loads `--config`, or the built-in text, then applies `--host` / `--port`.
    pub fn load<C: MockConfig>(&self, builtin: &str) -> Result<C, String> {
        let mut config = match &self.config {
            Some(path) => C::from_yaml_file(path).map_err(|e| e.to_string())?,
            None => C::from_yaml_str(builtin).map_err(|e| format!("built-in config: {e}"))?,
        };
        let (host, port) = config.listen();
        if let Some(h) = &self.host {
            *host = h.clone();
        }
        if let Some(p) = self.port {
            *port = p;
        }
        Ok(config)
    }
}

/// Prints the stop hint, waits for Ctrl-C, then lets the caller shut down.
pub async fn wait_for_ctrl_c(name: &str) -> ExitCode {
    println!("Press Ctrl-C to stop.");
    match tokio::signal::ctrl_c().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: cannot wait for Ctrl-C: {e}");
            ExitCode::FAILURE
        }
    }
}
