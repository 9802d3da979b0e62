//! The effective configuration as YAML with every secret replaced, for bug
//! reports (`llm-sso-proxy --print-config`): what the proxy actually uses after
//! the environment and the command line, safe to paste into an issue.

use super::keys::{self, Field, KEYS, Key, Parsed, Target};
use super::types::{Config, Rule};
use std::fmt::Write;

const REDACTED: &str = "\"[redacted]\"";

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

fn list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.map(|i| quoted(&i)).collect::<Vec<_>>().join(", "))
}

/// One value as YAML; a secret that is set shows as `"[redacted]"`.
fn shown(key: &Key, value: Parsed) -> String {
    match value {
        Parsed::Null => "null".into(),
        _ if key.is_secret() => REDACTED.into(),
        Parsed::Bool(b) => b.to_string(),
        Parsed::Number(n) => n.to_string(),
        Parsed::Text(t) => quoted(&t),
        Parsed::List(items) => list(items.into_iter()),
        Parsed::Networks(nets) => list(nets.iter().map(ToString::to_string)),
        Parsed::Mode(mode) => quoted(mode.as_str()),
    }
}

fn line<T>(out: &mut String, depth: usize, key: &Key, field: &Field<T>, record: &mut T) {
    let _ = writeln!(out, "{}{}: {}", "  ".repeat(depth), key.name(), shown(key, field.read(record)));
}

/// The keys of one rule (and of its nested sections), one per line.
fn rule_lines(out: &mut String, depth: usize, schema_path: &str, rule: &mut Rule) {
    for child in keys::children(schema_path) {
        match &child.target {
            Target::Rule(field) => line(out, depth, child, field, rule),
            Target::Section => {
                let _ = writeln!(out, "{}{}:", "  ".repeat(depth), child.name());
                rule_lines(out, depth + 1, child.path, rule);
            }
            _ => {}
        }
    }
}

/// Every key of the table in table order, as a config file.
pub fn render(c: &Config) -> String {
    let mut config = c.clone();
    let mut out = String::new();
    for key in KEYS {
        let depth = key.path.matches('.').count();
        let indent = "  ".repeat(depth);
        match &key.target {
            Target::Section if key.path == "server.tls" => {
                if let Some(mut tls) = config.server.tls.clone() {
                    let _ = writeln!(out, "{indent}tls:");
                    for child in keys::children(key.path) {
                        if let Target::Tls(field) = &child.target {
                            line(&mut out, depth + 1, child, field, &mut tls);
                        }
                    }
                }
            }
            // A rule's sections are written with the rule.
            Target::Section if key.path.contains('*') => {}
            Target::Section => {
                let _ = writeln!(out, "{indent}{}:", key.name());
            }
            Target::Providers => {
                let empty = if config.sso.providers.is_empty() { " {}" } else { "" };
                let _ = writeln!(out, "{indent}{}:{empty}", key.name());
                for (name, provider) in config.sso.providers.clone().iter_mut() {
                    let _ = writeln!(out, "{indent}  {name}:");
                    for child in keys::children("sso.providers.*") {
                        if let Target::Provider(field) = &child.target {
                            line(&mut out, depth + 2, child, field, provider);
                        }
                    }
                }
            }
            Target::Rules(list) => {
                let rules = list(&mut config).clone();
                let empty = if rules.is_empty() { " []" } else { "" };
                let _ = writeln!(out, "{indent}{}:{empty}", key.name());
                for mut rule in rules {
                    let _ = writeln!(out, "{indent}  -");
                    rule_lines(&mut out, depth + 2, "sso.authorization.policy.*", &mut rule);
                }
            }
            Target::Config(field) => line(&mut out, depth, key, field, &mut config),
            Target::Tls(_) | Target::Provider(_) | Target::Rule(_) => {}
        }
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
                groups_claim: None,
                roles_claim: None,
            },
        );
        let text = render(&c);
        for secret in ["sk-live-1", "hmac-2", "client-3"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(text.matches("[redacted]").count(), 3);
        // The report is itself a valid config (with placeholder secrets).
        let walked = crate::config::walk::walk("r.yaml", &text, &|_| None);
        assert!(walked.diagnostics.is_empty(), "{:?}\n{text}", walked.diagnostics);
        assert_eq!(walked.config.sso.providers["google"].client_id, "id");
    }
}
