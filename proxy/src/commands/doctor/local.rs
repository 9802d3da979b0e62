//! Checks that need no identity provider: the configuration itself, the log
//! level in single_user mode, the database file and the listen address.

use super::subject::Subject;
use crate::commands::checks::Check;
use crate::config::{AuthMode, Config};
use std::time::Duration;
use tracing::level_filters::LevelFilter;

/// Guide: "Validate configuration". Every problem is listed by `--validate-only`.
pub fn configuration(subject: &Subject<'_>) -> Check {
    match subject.loaded {
        Ok(config) => {
            let providers: Vec<&str> = config.sso.providers.keys().map(String::as_str).collect();
            let detail = if config.sso.enabled {
                format!(
                    "valid; {} mode; providers: {}",
                    config.sso.authorization.mode.as_str(),
                    if providers.is_empty() { "none".to_string() } else { providers.join(", ") }
                )
            } else {
                "valid".to_string()
            };
            Check::ok("config", detail)
        }
        Err(problems) => {
            let n = problems.0.len();
            let first = problems.0.first().map(|d| {
                let hint = d.hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default();
                format!("{}: {}{hint}", d.location, d.message)
            });
            Check::fail(
                "config",
                format!("{n} problem{}; first: {}", crate::commands::checks::plural(n), first.unwrap_or_default()),
                format!(
                    "run `llm-sso-proxy --sso-config {} --validate-only` to see each one with its hint",
                    subject.source
                ),
            )
        }
    }
}

/// Guide: "SSO not enabled". Names where the `false` came from.
pub fn sso_enabled(config: &Config, subject: &Subject<'_>) -> Check {
    if config.sso.enabled {
        return Check::ok("sso.enabled", "SSO is enabled: agents need a token");
    }
    let (why, fix) = match (subject.env)("SSO_ENABLED") {
        Some(value) => (
            format!("the environment sets SSO_ENABLED={}", value.trim()),
            "unset SSO_ENABLED (it overrides the file) or set it to true".to_string(),
        ),
        None if subject.source.starts_with('<') => {
            ("no --sso-config given: the defaults have SSO off".to_string(), "pass --sso-config PATH".to_string())
        }
        None => (
            "the file does not set `sso.enabled: true`".to_string(),
            "write `enabled: true` under `sso:`, indented by two spaces, without quotes".to_string(),
        ),
    };
    Check::warn("sso.enabled", format!("SSO is DISABLED ({why}): requests are forwarded without authentication"), fix)
}

/// Guide: "Confirmation code not appearing". The code is logged at WARNING.
pub fn log_level(config: &Config, level: LevelFilter, text: &str) -> Check {
    if !config.sso.enabled || config.sso.authorization.mode != AuthMode::SingleUser {
        return Check::ok("log-level", format!("--log-level {text}"));
    }
    if level < LevelFilter::WARN {
        return Check::fail(
            "log-level",
            format!("--log-level {text} hides the single_user confirmation code (it is logged at WARNING)"),
            "run the proxy with --log-level INFO (or WARNING, DEBUG)",
        );
    }
    Check::ok("log-level", format!("--log-level {text} shows the confirmation code"))
}

/// Guide: "Database locked" and "Database corruption", plus the file's mode;
/// with `sso.database_url`, the PostgreSQL server instead.
pub async fn database(config: &Config, timeout: Duration) -> Vec<Check> {
    if !config.sso.enabled {
        return vec![Check::skip("database", "not used: SSO is disabled")];
    }
    match &config.sso.database_url {
        Some(url) => vec![postgres(url.expose(), config.sso.database_pool_size, timeout).await],
        None => crate::commands::database_checks::database_file(&config.sso.database_path),
    }
}

/// Connects as the proxy would, and reads what an operator needs to know. Changes nothing.
async fn postgres(url: &str, pool_size: usize, timeout: Duration) -> Check {
    let known = crate::store::postgres::SCHEMA_VERSION as i64;
    match crate::store::postgres::probe(url, timeout).await {
        Ok(p) => {
            let rtt = format!("{:.1} ms", p.round_trip.as_secs_f64() * 1000.0);
            let summary = format!("PostgreSQL {}, round trip {rtt}, pool of {pool_size}", p.server_version);
            match p.schema_version {
                Some(v) if v > known => Check::fail(
                    "database.postgres",
                    format!("{summary}, schema version {v}: newer than this proxy knows ({known})"),
                    "a newer llm-sso-proxy wrote it: run that version on every replica",
                ),
                Some(v) => Check::ok("database.postgres", format!("{summary}, schema version {v}")),
                None => {
                    Check::ok("database.postgres", format!("{summary}, no tables yet: the proxy creates them at start"))
                }
            }
        }
        // The error of the driver, never the URL (it carries the password).
        Err(e) => Check::fail(
            "database.postgres",
            format!("cannot connect: {e}"),
            "check sso.database_url (host, port, user, password, database, sslmode) and that the server accepts \
             connections from this machine (pg_hba.conf, firewall)",
        ),
    }
}

/// Guide: "Proxy not accessible" (and the port clash behind "address in use").
/// Free is fine; taken is fine when the taker is this proxy already running.
/// Also says whether this proxy is already running there.
pub async fn listen_address(config: &Config, timeout: Duration) -> (Check, bool) {
    let (host, port) = (config.server.host.as_str(), config.server.port);
    let id = "listen";
    match std::net::TcpListener::bind((host, port)) {
        Ok(listener) => {
            drop(listener);
            let reach = if host == "0.0.0.0" || host == "::" {
                "all interfaces: reachable from other machines if the firewall allows"
            } else if host == "localhost" || host.starts_with("127.") || host == "::1" {
                "loopback only: other machines cannot reach it (use 0.0.0.0 or a reverse proxy for them)"
            } else {
                "this address only"
            };
            (Check::ok(id, format!("{host}:{port} is free; {reach}")), false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            if running_proxy(config, timeout).await {
                (Check::ok(id, format!("{host}:{port} is served by a running llm-sso-proxy")), true)
            } else {
                let fix =
                    format!("find it with `lsof -i :{port}` or `ss -ltnp 'sport = :{port}'`; stop it or set --port");
                (Check::fail(id, format!("{host}:{port} is held by another program"), fix), false)
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => (
            Check::fail(
                id,
                format!("{host}:{port}: {e}"),
                "ports below 1024 need privileges: use 8080 behind a reverse proxy, or grant CAP_NET_BIND_SERVICE \
                 (deploy/llm-sso-proxy.service does)",
            ),
            false,
        ),
        Err(e) => (
            Check::fail(
                id,
                format!("{host}:{port}: {e}"),
                "server.host must be an address of this machine: 127.0.0.1, 0.0.0.0, or one of its interfaces",
            ),
            false,
        ),
    }
}

/// Guide: "Proxy not accessible", seen from the browser's side: `public_url`
/// must lead to this proxy (DNS, reverse proxy, firewall, published port).
/// Only checkable while the proxy runs.
pub async fn public_url(config: &Config, running: bool, timeout: Duration) -> Check {
    let id = "public_url";
    let Some(url) = config.server.public_url.as_deref() else {
        return Check::ok(id, format!("not set: browsers use {}", config.base_url()));
    };
    if !running {
        return Check::skip(id, format!("{url}: start the proxy, then run doctor again to check browsers reach it"));
    }
    let fix = "make the URL lead to this proxy: DNS, the reverse proxy's upstream (deploy/nginx.conf), the firewall, \
               the container's published port";
    let health = format!("{url}/health");
    // The browser's view: an ordinary client, certificates checked.
    let answer = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(http) => crate::probe::answers_ok(&http, &health).await,
        Err(e) => Err(e.to_string()),
    };
    match answer {
        Ok(()) => Check::ok(id, format!("{health} answers")),
        Err(e) => Check::fail(id, format!("{health}: {e}"), fix),
    }
}

/// `server.tls`: the files load and the key fits the certificate, as at startup.
pub fn tls(config: &Config) -> Check {
    match &config.server.tls {
        None => Check::ok("tls", "plain HTTP (put a TLS reverse proxy in front, or set server.tls)"),
        Some(files) => match crate::tls::load(files) {
            Ok(_) => Check::ok("tls", format!("HTTPS with {}", files.cert_file.display())),
            Err(e) => Check::fail(
                "tls",
                e,
                "cert_file is the PEM chain (leaf first), key_file its PEM private key (PKCS#8, PKCS#1 or SEC1)",
            ),
        },
    }
}

/// Our `/metrics` names its counters `llm_sso_*`: enough to recognise ourselves.
async fn running_proxy(config: &Config, timeout: Duration) -> bool {
    let Ok(http) = crate::probe::local_client(timeout) else {
        return false;
    };
    let Ok(response) = http.get(crate::probe::local_url(config, "/metrics")).send().await else {
        return false;
    };
    if !response.status().is_success() {
        return false;
    }
    let body = crate::outbound::read_bounded(response, crate::outbound::MAX_RESPONSE_BYTES).await;
    body.is_ok_and(|b| String::from_utf8_lossy(&b).contains("llm_sso_requests_total"))
}
