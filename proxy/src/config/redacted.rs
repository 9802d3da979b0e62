//! The effective configuration as YAML with every secret replaced, for bug
//! reports (`llm-sso-proxy --print-config`): what the proxy actually uses after
//! the environment and the command line, safe to paste into an issue.

use super::{Config, Secret};
use std::fmt::Write;

const REDACTED: &str = "\"[redacted]\"";

fn secret(value: &Option<Secret>) -> &'static str {
    if value.is_some() { REDACTED } else { "null" }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|i| quoted(i)).collect::<Vec<_>>().join(", "))
}

pub fn render(c: &Config) -> String {
    let mut out = String::new();
    let s = &c.server;
    let nets: Vec<String> = s.trusted_proxies.iter().map(ToString::to_string).collect();
    let _ = writeln!(out, "server:\n  host: {}\n  port: {}", quoted(&s.host), s.port);
    let _ = writeln!(out, "  public_url: {}", s.public_url.as_deref().map_or("null".into(), quoted));
    let _ = writeln!(out, "  trusted_proxies: {}\n  max_body_bytes: {}", list(&nets), s.max_body_bytes);
    let _ = writeln!(
        out,
        "  max_connections: {}\n  max_concurrent_requests: {}",
        s.max_connections, s.max_concurrent_requests
    );
    let _ = writeln!(
        out,
        "  header_timeout_seconds: {}\n  shutdown_timeout_seconds: {}",
        s.header_timeout_seconds, s.shutdown_timeout_seconds
    );
    if let Some(tls) = &s.tls {
        let (cert, key) = (tls.cert_file.display().to_string(), tls.key_file.display().to_string());
        let _ = writeln!(out, "  tls: {{ cert_file: {}, key_file: {} }}", quoted(&cert), quoted(&key));
    }
    let _ = writeln!(out, "upstreams:\n  timeout_seconds: {}", c.upstreams.timeout_seconds);
    let _ = writeln!(out, "  stream_idle_timeout_seconds: {}", c.upstreams.stream_idle_timeout_seconds);
    for (name, u) in [("openai", &c.upstreams.openai), ("anthropic", &c.upstreams.anthropic)] {
        let _ = writeln!(out, "  {name}: {{ base_url: {}, api_key: {} }}", quoted(&u.base_url), secret(&u.api_key));
    }
    let a = &c.sso.authorization;
    let _ = writeln!(out, "sso:\n  enabled: {}", c.sso.enabled);
    let _ = writeln!(out, "  database_path: {}", quoted(&c.sso.database_path.display().to_string()));
    let _ = writeln!(out, "  authorization:\n    mode: {}", quoted(a.mode.as_str()));
    let _ = writeln!(out, "    session_lifetime_hours: {}", a.session_lifetime_hours);
    let _ = writeln!(out, "    confirmation_code_expiry_minutes: {}", a.confirmation_code_expiry_minutes);
    let _ = writeln!(out, "    max_confirmation_attempts: {}", a.max_confirmation_attempts);
    let _ = writeln!(out, "    api_url: {}", a.api_url.as_deref().map_or("null".into(), quoted));
    let _ =
        writeln!(out, "    api_timeout_seconds: {}\n    api_secret: {}", a.api_timeout_seconds, secret(&a.api_secret));
    let r = &a.rate_limit;
    let _ = writeln!(
        out,
        "    rate_limit: {{ max_attempts: {}, backoff_multiplier: {}, max_backoff_seconds: {} }}",
        r.max_attempts, r.backoff_multiplier, r.max_backoff_seconds
    );
    let _ = writeln!(out, "  providers:{}", if c.sso.providers.is_empty() { " {}" } else { "" });
    for (name, p) in &c.sso.providers {
        let _ =
            writeln!(out, "    {name}:\n      type: {}\n      client_id: {}", quoted(&p.kind), quoted(&p.client_id));
        let _ = writeln!(out, "      client_secret: {REDACTED}\n      discovery_url: {}", quoted(&p.discovery_url));
        let _ = writeln!(out, "      scopes: {}\n      allowed_tenants: {}", list(&p.scopes), list(&p.allowed_tenants));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Provider, Secret};

    #[test]
    fn secrets_are_replaced_and_the_result_loads_again() {
        let mut c = Config::default();
        c.sso.enabled = true;
        c.upstreams.openai.api_key = Some(Secret::new("sk-live-1"));
        c.sso.authorization.api_secret = Some(Secret::new("hmac-2"));
        c.sso.providers.insert(
            "google".into(),
            Provider {
                kind: "oauth2".into(),
                client_id: "id".into(),
                client_secret: Secret::new("client-3"),
                discovery_url: "https://accounts.google.com/.well-known/openid-configuration".into(),
                scopes: vec!["openid".into(), "email".into()],
                allowed_tenants: Vec::new(),
            },
        );
        let text = render(&c);
        for secret in ["sk-live-1", "hmac-2", "client-3"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(text.matches("[redacted]").count(), 3);
        // The report is itself a valid config (with placeholder secrets).
        let walked = crate::config::schema::walk("r.yaml", &text, &|_| None);
        assert!(walked.diagnostics.is_empty(), "{:?}\n{text}", walked.diagnostics);
        assert_eq!(walked.config.sso.providers["google"].client_id, "id");
    }
}
