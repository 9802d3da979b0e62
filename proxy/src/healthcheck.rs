//! `llm-sso-proxy healthcheck`: asks the proxy this configuration describes for
//! `/health` and exits 0 only on `{"status": "ok"}`. For container and service
//! health probes in images that carry no curl (the Dockerfile's HEALTHCHECK).

use crate::config::Config;
use std::process::ExitCode;
use std::time::Duration;

/// The URL the probe asks: the listen address, with a wildcard host replaced by loopback.
pub fn url(config: &Config) -> String {
    let host = match config.server.host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1".to_string(),
        "::" => "[::1]".to_string(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_string(),
    };
    let scheme = if config.server.tls.is_some() { "https" } else { "http" };
    format!("{scheme}://{host}:{}/health", config.server.port)
}

pub fn run(config: &Config) -> ExitCode {
    let url = url(config);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("llm-sso-proxy: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The probe talks to this very host by address, so the certificate (issued for the
    // public name) cannot match: whether TLS works is `doctor`'s `tls` check, not this one.
    let client =
        reqwest::Client::builder().no_proxy().danger_accept_invalid_certs(true).timeout(Duration::from_secs(3)).build();
    let answer = runtime.block_on(async {
        let response = client.map_err(|e| e.to_string())?.get(&url).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = crate::outbound::read_bounded(response, 4096).await.map_err(|e| e.to_string())?;
        let body: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if status.is_success() && body["status"] == "ok" { Ok(()) } else { Err(format!("HTTP {status}: {body}")) }
    });
    match answer {
        Ok(()) => {
            println!("{url}: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{url}: unhealthy: {e}");
            ExitCode::from(1)
        }
    }
}
