//! Configuration, from the YAML file, the environment and the command line to
//! the typed [`Config`]. One key table ([`keys`]) drives it all:
//!
//! - [`yaml`]: the YAML tree with line and column of every node;
//! - [`walk`]: the walk from that tree to [`Config`], collecting every problem;
//! - [`interpolate`]: `${NAME}` in string values;
//! - [`suggest`]: "did you mean" for unknown keys;
//! - [`environment`]: the `SSO_*` overrides;
//! - [`rules`]: the checks that span several keys, and warnings; [`policy`]: those of the access policy;
//! - [`redacted`]: `--print-config`; [`reference`]: the generated docs and JSON Schema.
//!
//! Precedence: command line > environment (`SSO_*`) > file > defaults. Loading
//! does no network I/O.

pub mod diagnostics;
pub mod environment;
pub mod interpolate;
pub mod keys;
pub mod policy;
pub mod redacted;
pub mod reference;
pub mod rules;
pub mod suggest;
pub mod types;
pub mod walk;
pub mod yaml;

pub use diagnostics::{Diagnostic, Diagnostics};
pub use types::*;

use std::path::Path;

/// Where settings come from, besides the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub host: Option<String>,
    pub port: Option<u16>,
}

/// Loads `path` (or defaults when `None`), applies the environment and the command
/// line, and checks everything. Every problem is returned, each with its location.
pub fn load(
    path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    overrides: &Overrides,
) -> Result<Config, Diagnostics> {
    let (file, text) = match path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(text) => (p.display().to_string(), Some(text)),
            Err(e) => {
                let diag = Diagnostic::new(p.display().to_string(), "", format!("cannot read the config file: {e}"))
                    .hint("pass the right path with --sso-config");
                return Err(Diagnostics(vec![diag]));
            }
        },
        None => ("<defaults>".to_string(), None),
    };
    let mut walked = walk::walk(&file, text.as_deref().unwrap_or(""), env);
    environment::apply(&mut walked, env);
    if let Some(host) = &overrides.host {
        walked.config.server.host = host.clone();
        walked.origins.insert("server.host".into(), "command line --host".into());
    }
    if let Some(port) = overrides.port {
        walked.config.server.port = port;
        walked.origins.insert("server.port".into(), "command line --port".into());
    }
    rules::check(&mut walked);
    diagnostics::sort(&mut walked.diagnostics);
    if walked.diagnostics.is_empty() { Ok(walked.config) } else { Err(Diagnostics(walked.diagnostics)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn located(d: &Diagnostic) -> bool {
        let mut parts = d.location.rsplitn(3, ':');
        let col = parts.next().and_then(|c| c.parse::<usize>().ok());
        let line = parts.next().and_then(|l| l.parse::<usize>().ok());
        matches!((line, col), (Some(l), Some(c)) if l >= 1 && c >= 1)
    }

    /// YAML-ish text built from the schema's own keys, so the walk goes deep.
    fn yamlish() -> impl Strategy<Value = String> {
        let keys = prop::sample::select(vec![
            "server",
            "sso",
            "enabled",
            "providers",
            "google",
            "Google",
            "type",
            "client_id",
            "client_secret",
            "scopes",
            "authorization",
            "mode",
            "api_url",
            "port",
            "host",
            "public_url",
            "upstreams",
            "openai",
            "base_url",
            "rate_limit",
            "max_attempts",
            "bogus",
        ]);
        let values = prop::sample::select(vec![
            "",
            "true",
            "\"true\"",
            "1",
            "yes",
            "[openid, email]",
            "{}",
            "\"${NOPE}\"",
            "http://x",
            "x/y",
            "- a",
            "\"single_user\"",
            "enterprise",
            "[",
            "'",
            "8080",
            "-1",
            "99999999999999999999",
        ]);
        prop::collection::vec((0usize..4, keys, values), 0..25).prop_map(|lines| {
            lines.into_iter().map(|(indent, k, v)| format!("{}{k}: {v}\n", "  ".repeat(indent))).collect()
        })
    }

    #[test]
    fn native_tls_makes_every_browser_url_https() {
        let mut config = Config::default();
        assert_eq!(config.redirect_uri(), "http://127.0.0.1:8080/auth/callback");
        config.server.tls = Some(TlsFiles { cert_file: "c.pem".into(), key_file: "k.pem".into() });
        assert_eq!(config.redirect_uri(), "https://127.0.0.1:8080/auth/callback");
        config.server.public_url = Some("https://proxy.company.com".into());
        assert_eq!(config.redirect_uri(), "https://proxy.company.com/auth/callback");
    }

    proptest! {
        #[test]
        fn walking_never_panics_and_every_file_problem_has_a_location(text in yamlish()) {
            let mut walked = walk::walk("f.yaml", &text, &|_| None);
            rules::check(&mut walked);
            for d in &walked.diagnostics {
                prop_assert!(located(d), "{d}");
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = walk::walk("f.yaml", &text, &|_| None);
        }
    }
}
