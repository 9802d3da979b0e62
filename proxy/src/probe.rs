//! Asking a proxy whether it is up, from the same machine: the client side of
//! `/health`. `llm-sso-proxy healthcheck` and the doctor's `listen` and
//! `public_url` checks use it.

use crate::config::Config;
use std::time::Duration;

/// `{scheme}://{host}:{port}{path}` for this configuration's listen address, as
/// seen from the same machine (a wildcard host becomes loopback).
pub fn local_url(config: &Config, path: &str) -> String {
    let host = match config.server.host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1".to_string(),
        "::" => "[::1]".to_string(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_string(),
    };
    let scheme = if config.server.tls.is_some() { "https" } else { "http" };
    format!("{scheme}://{host}:{}{path}", config.server.port)
}

/// A client for [`local_url`]: no outbound proxy, and no certificate check, because
/// the address (127.0.0.1) cannot match the certificate's public name. Whether the
/// certificate is right is the doctor's `tls` check. Only for this machine's address.
pub fn local_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder().no_proxy().danger_accept_invalid_certs(true).timeout(timeout).build()
}

/// GET `url`; `Ok` only for a 2xx answer whose body is `{"status": "ok"}`.
pub async fn answers_ok(http: &reqwest::Client, url: &str) -> Result<(), String> {
    let response = http.get(url).send().await.map_err(|e| crate::outbound::describe(&e))?;
    let status = response.status();
    let body = crate::outbound::read_bounded(response, 4096).await.map_err(|e| e.to_string())?;
    let ok = serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v["status"] == "ok");
    if status.is_success() && ok {
        Ok(())
    } else {
        Err(format!("HTTP {}: {}", status.as_u16(), String::from_utf8_lossy(&body)))
    }
}
