//! Configuration: the schema (this file), YAML with positions ([`yaml`]), the
//! walk from YAML to typed values that collects every problem ([`schema`]), and
//! the checks that span several keys ([`rules`]).
//!
//! Precedence: command line > environment (`SSO_*`) > file > defaults. String
//! values may use `${NAME}` to read secrets from the environment. Loading does
//! no network I/O.

pub mod diagnostics;
pub mod redacted;
pub mod rules;
pub mod schema;
pub mod yaml;

pub use diagnostics::{Diagnostic, Diagnostics};

use ipnet::IpNet;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A secret value: never printed by `Debug`, logs or validation output.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub server: ServerConfig,
    pub upstreams: Upstreams,
    pub sso: SsoConfig,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    /// Base of redirect and login URLs; no trailing slash, no path.
    pub public_url: Option<String>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Largest request body an agent may send.
    pub max_body_bytes: usize,
    /// Open connections at once; past it new ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// Requests in progress at once; past it an API-shaped 503 with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// How long a client may take to send a request's headers, and to start the
    /// next request on a kept-alive connection.
    pub header_timeout_seconds: u64,
    /// After SIGTERM, how long in-flight requests (streams) may still run.
    pub shutdown_timeout_seconds: u64,
    /// Serve HTTPS directly (no reverse proxy): PEM certificate chain and key.
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    pub base_url: String,
    pub api_key: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Upstreams {
    pub openai: Upstream,
    pub anthropic: Upstream,
    /// Whole-request deadline for a non-streamed upstream call.
    pub timeout_seconds: u64,
    /// Longest silence between two chunks of a streamed reply.
    pub stream_idle_timeout_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    SingleUser,
    Enterprise,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::SingleUser => "single_user",
            AuthMode::Enterprise => "enterprise",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    pub max_attempts: u32,
    pub backoff_multiplier: u32,
    pub max_backoff_seconds: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    pub mode: AuthMode,
    pub session_lifetime_hours: u32,
    pub confirmation_code_expiry_minutes: u32,
    pub max_confirmation_attempts: u32,
    pub api_url: Option<String>,
    pub api_timeout_seconds: u32,
    pub api_secret: Option<Secret>,
    pub rate_limit: RateLimit,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub kind: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub discovery_url: String,
    pub scopes: Vec<String>,
    pub allowed_tenants: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SsoConfig {
    pub enabled: bool,
    pub database_path: PathBuf,
    pub authorization: Authorization,
    /// Names are case-sensitive and used in URLs (`/auth/login/{name}`).
    pub providers: BTreeMap<String, Provider>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig {
                host: "127.0.0.1".into(),
                port: 8080,
                public_url: None,
                trusted_proxies: Vec::new(),
                max_body_bytes: 32 * 1024 * 1024,
                max_connections: 4096,
                max_concurrent_requests: 512,
                header_timeout_seconds: 30,
                shutdown_timeout_seconds: 30,
                tls: None,
            },
            upstreams: Upstreams {
                openai: Upstream { base_url: "https://api.openai.com/v1".into(), api_key: None },
                anthropic: Upstream { base_url: "https://api.anthropic.com".into(), api_key: None },
                timeout_seconds: 600,
                stream_idle_timeout_seconds: 300,
            },
            sso: SsoConfig {
                enabled: false,
                database_path: PathBuf::from("./var/sso_auth.db"),
                authorization: Authorization {
                    mode: AuthMode::SingleUser,
                    session_lifetime_hours: 24,
                    confirmation_code_expiry_minutes: 10,
                    max_confirmation_attempts: 3,
                    api_url: None,
                    api_timeout_seconds: 5,
                    api_secret: None,
                    rate_limit: RateLimit { max_attempts: 10, backoff_multiplier: 2, max_backoff_seconds: 300 },
                },
                providers: BTreeMap::new(),
            },
        }
    }
}

impl Config {
    /// `{public_url or http(s)://{host}:{port}}`: the base every browser URL hangs from.
    pub fn base_url(&self) -> String {
        let scheme = if self.server.tls.is_some() { "https" } else { "http" };
        match &self.server.public_url {
            Some(url) => url.clone(),
            None if self.server.host.contains(':') => format!("{scheme}://[{}]:{}", self.server.host, self.server.port),
            None => format!("{scheme}://{}:{}", self.server.host, self.server.port),
        }
    }

    /// The redirect URI to register at every provider, exactly (no trailing slash).
    pub fn redirect_uri(&self) -> String {
        format!("{}/auth/callback", self.base_url())
    }
}

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
    let mut walked = schema::walk(&file, text.as_deref().unwrap_or(""), env);
    rules::apply_environment(&mut walked, env);
    if let Some(host) = &overrides.host {
        walked.config.server.host = host.clone();
        walked.origins.insert("server.host".into(), "command line --host".into());
    }
    if let Some(port) = overrides.port {
        walked.config.server.port = port;
        walked.origins.insert("server.port".into(), "command line --port".into());
    }
    rules::check(&mut walked);
    schema::sort(&mut walked.diagnostics);
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
            let mut walked = schema::walk("f.yaml", &text, &|_| None);
            rules::check(&mut walked);
            for d in &walked.diagnostics {
                prop_assert!(located(d), "{d}");
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = schema::walk("f.yaml", &text, &|_| None);
        }
    }
}
