//! Checks of the services behind the proxy: the enterprise authorization API
//! (a dry call with an identity that cannot exist) and the LLM upstreams (a
//! model listing with the proxy's key, which costs nothing).

use crate::authz::enterprise::{self, Decision};
use crate::commands::checks::Check;
use crate::config::{AuthMode, Config, Upstream};
use std::time::Duration;

/// The identity of the dry call: `.invalid` is reserved (RFC 2606), so no real
/// user can be authorized by a mistake in the API's logic.
pub const PROBE_EMAIL: &str = "doctor-probe@llm-sso-proxy.invalid";

/// Guide: "Authorization API not responding", "always denies", "errors".
pub async fn authorization_api(http: &reqwest::Client, config: &Config) -> Check {
    let id = "authz.api";
    let a = &config.sso.authorization;
    if a.mode != AuthMode::Enterprise {
        return Check::skip(id, "single_user mode: no authorization API");
    }
    let Some(url) = a.api_url.as_deref() else {
        return Check::fail(id, "enterprise mode without api_url", "set sso.authorization.api_url");
    };
    let request = enterprise::Request {
        user_id: "doctor:probe",
        user_email: PROBE_EMAIL,
        provider: "doctor",
        client_ip: "127.0.0.1",
        timestamp: crate::clock::rfc3339(crate::clock::Clock.now()),
    };
    let timeout = Duration::from_secs(u64::from(a.api_timeout_seconds));
    match enterprise::authorize(http, url, a.api_secret.as_ref(), timeout, &request).await {
        Decision::Denied(reason) => Check::ok(
            id,
            format!(
                "{url} answers with the right shape (the probe identity was denied{})",
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            ),
        ),
        Decision::Allowed => Check::warn(
            id,
            format!("{url} authorized the probe identity {PROBE_EMAIL}"),
            "the API seems to allow everyone: check its allow list",
        ),
        Decision::Failed(failure) => {
            use crate::authz::enterprise::Failure;
            let message = failure.to_string();
            let fix = if failure == Failure::Timeout {
                format!(
                    "the API did not answer within api_timeout_seconds ({}s): check it runs and is reachable, raise \
                     the timeout, or switch to single_user meanwhile (SSO_AUTH_MODE=single_user)",
                    a.api_timeout_seconds
                )
            } else if matches!(failure, Failure::Connect(_)) {
                "check api_url (scheme, host, port) and the network between the proxy and the API; \
                 or switch to single_user meanwhile (SSO_AUTH_MODE=single_user)"
                    .to_string()
            } else if matches!(failure, Failure::Status(401 | 403)) {
                "the API refuses the proxy: check api_secret (it signs X-Signature)".to_string()
            } else {
                "the API must answer HTTP 200 with {\"authorized\": true|false}, a JSON boolean (not \"true\"); \
                 check its logs"
                    .to_string()
            };
            Check::fail(id, format!("{url}: {message}"), fix)
        }
    }
}

/// Each upstream answers a model listing with the configured key.
pub async fn upstreams(config: &Config, timeout: Duration) -> Vec<Check> {
    let Ok(http) = reqwest::Client::builder().timeout(timeout).build() else {
        return vec![Check::skip("upstream", "no HTTP client")];
    };
    let mut checks = Vec::new();
    for (name, upstream) in [("openai", &config.upstreams.openai), ("anthropic", &config.upstreams.anthropic)] {
        checks.push(upstream_check(&http, name, upstream).await);
    }
    checks
}

async fn upstream_check(http: &reqwest::Client, name: &str, upstream: &Upstream) -> Check {
    let id = format!("upstream.{name}");
    let (url, request) = if name == "openai" {
        let url = format!("{}/models", upstream.base_url);
        let mut r = http.get(&url);
        if let Some(key) = &upstream.api_key {
            r = r.bearer_auth(key.expose());
        }
        (url, r)
    } else {
        let url = format!("{}/v1/models", upstream.base_url);
        let mut r = http.get(&url).header("anthropic-version", "2023-06-01");
        if let Some(key) = &upstream.api_key {
            r = r.header("x-api-key", key.expose());
        }
        (url, r)
    };
    let key_fix = format!("set upstreams.{name}.api_key, e.g. \"${{{}_API_KEY}}\"", name.to_ascii_uppercase());
    match request.send().await {
        Ok(r) if r.status().is_success() => match &upstream.api_key {
            Some(_) => Check::ok(id, format!("{url} answers with the configured key")),
            None => Check::warn(id, format!("{url} answers, but no api_key is configured"), key_fix),
        },
        Ok(r) if matches!(r.status().as_u16(), 401 | 403) => {
            Check::fail(id, format!("{url}: HTTP {}: the upstream refuses the key", r.status().as_u16()), key_fix)
        }
        Ok(r) if r.status().as_u16() == 404 => Check::fail(
            id,
            format!("{url}: HTTP 404"),
            "check base_url: OpenAI's ends in /v1 (https://api.openai.com/v1), Anthropic's does not \
             (https://api.anthropic.com)",
        ),
        Ok(r) => Check::warn(id, format!("{url}: HTTP {}", r.status().as_u16()), "check the upstream's status page"),
        Err(e) => Check::fail(
            id,
            format!("{url}: {}", crate::outbound::describe(&e)),
            "check base_url and outbound HTTPS from this machine (HTTPS_PROXY behind a corporate proxy)",
        ),
    }
}
