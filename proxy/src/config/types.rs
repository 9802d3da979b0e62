//! The typed configuration the rest of the proxy reads. Section records are
//! `Default` at their zero values; `Config::default()` applies the key table's
//! defaults (`keys.rs`, which also implements `Default` for [`Config`]), so a default is written once.

use ipnet::IpNet;
use std::collections::BTreeMap;
use std::path::PathBuf;

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

#[derive(Debug, Clone, PartialEq, Default)]
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

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Upstream {
    pub base_url: String,
    pub api_key: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Upstreams {
    pub openai: Upstream,
    pub anthropic: Upstream,
    /// Whole-request deadline for a non-streamed upstream call.
    pub timeout_seconds: u64,
    /// Longest silence between two chunks of a streamed reply.
    pub stream_idle_timeout_seconds: u64,
    /// Longest wait for a connection to an upstream.
    pub connect_timeout_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    #[default]
    SingleUser,
    Enterprise,
    /// The proxy's own rules decide ([`Policy`]).
    Policy,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::SingleUser => "single_user",
            AuthMode::Enterprise => "enterprise",
            AuthMode::Policy => "policy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RateLimit {
    pub max_attempts: u32,
    pub backoff_multiplier: u32,
    pub max_backoff_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Authorization {
    pub mode: AuthMode,
    pub session_lifetime_hours: u32,
    pub confirmation_code_expiry_minutes: u32,
    pub max_confirmation_attempts: u32,
    pub api_url: Option<String>,
    pub api_timeout_seconds: u32,
    pub api_secret: Option<Secret>,
    pub rate_limit: RateLimit,
    pub policy: Policy,
}

/// `policy` mode: who may sign in, decided by the proxy from the verified identity. Deny rules win.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Policy {
    pub allow: Vec<Rule>,
    pub deny: Vec<Rule>,
}

/// One rule of the policy: it matches when every condition it names holds. A condition that is absent
/// does not filter; an empty list matches no one (and `--validate-only` says so).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rule {
    /// Shown in the log, the audit and `doctor --who`; `allow[0]` when absent.
    pub name: Option<String>,
    pub email_domains: Option<Vec<String>>,
    pub emails: Option<Vec<String>>,
    /// One address per line (`#` starts a comment), re-read when it changes.
    pub emails_file: Option<String>,
    pub groups: Option<Vec<String>>,
    pub roles: Option<Vec<String>>,
    /// Microsoft Entra directory (tenant) IDs (`tid`).
    pub tenants: Option<Vec<String>>,
    /// Names of `sso.providers`.
    pub providers: Option<Vec<String>>,
    /// Glob patterns (`*`, `?`) of the models the rule's users may call; absent: every model.
    pub models: Option<Vec<String>>,
    pub budget: Budget,
}

/// Tokens a rule's users may spend; absent: no limit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Budget {
    pub tokens_per_day: Option<u64>,
    pub tokens_per_month: Option<u64>,
}

/// Sign-in from a terminal (RFC 8628).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Device {
    pub code_expiry_minutes: u32,
    pub poll_interval_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Provider {
    pub kind: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub discovery_url: String,
    pub scopes: Vec<String>,
    pub allowed_tenants: Vec<String>,
    /// The ID token claim holding the user's groups (a dotted path reaches into objects); `groups` when absent.
    pub groups_claim: Option<String>,
    /// The ID token claim holding the user's roles (Keycloak: `realm_access.roles`); `roles` when absent.
    pub roles_claim: Option<String>,
}

impl Provider {
    pub fn groups_claim(&self) -> &str {
        self.groups_claim.as_deref().unwrap_or("groups")
    }
    pub fn roles_claim(&self) -> &str {
        self.roles_claim.as_deref().unwrap_or("roles")
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SsoConfig {
    pub enabled: bool,
    pub database_path: PathBuf,
    /// PostgreSQL instead of `database_path`.
    pub database_url: Option<Secret>,
    /// PostgreSQL connections kept open at most.
    pub database_pool_size: usize,
    pub authorization: Authorization,
    pub device: Device,
    /// Names are case-sensitive and used in URLs (`/auth/login/{name}`).
    pub providers: BTreeMap<String, Provider>,
}

impl Config {
    /// Every field at its type's zero value, before the key table's defaults.
    pub(super) fn zero() -> Self {
        Config { server: ServerConfig::default(), upstreams: Upstreams::default(), sso: SsoConfig::default() }
    }

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
