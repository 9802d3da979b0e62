//! The key table: every configuration key, once. Its path, where its value
//! lives in [`Config`], its range, default, environment variable, whether it is
//! a secret, and the sentence that documents it.
//!
//! Everything else about keys is derived from this table: the walk that reads
//! the file ([`super::walk`]), the environment overrides ([`super::environment`]),
//! `--print-config` ([`super::redacted`]), `Config::default()`, and the
//! reference (`docs/configuration.md`'s key table and the JSON Schema, written by
//! [`super::reference`] and compared by `proxy/tests/docs.rs`). Adding a key is
//! one entry here, its field in [`super::types`], and the code that uses it.

use super::types::{AuthMode, Config, Provider, Rule, Secret, TlsFiles};
use ipnet::IpNet;
use std::path::PathBuf;

/// Where a key's value is stored, and so what type it has. `T` is the record the
/// key belongs to: the whole [`Config`], one [`Provider`], or the [`TlsFiles`].
pub enum Field<T: 'static> {
    Text(fn(&mut T) -> &mut String),
    /// A URL whose trailing `/` is dropped (paths are appended to it).
    BaseUrl(fn(&mut T) -> &mut String),
    /// A string or `null`.
    OptText(fn(&mut T) -> &mut Option<String>),
    /// A secret or `null`; an empty string counts as `null`.
    Secret(fn(&mut T) -> &mut Option<Secret>),
    /// A secret that must be present.
    RequiredSecret(fn(&mut T) -> &mut Secret),
    Path(fn(&mut T) -> &mut PathBuf),
    Bool(fn(&mut T) -> &mut bool),
    U16(fn(&mut T) -> &mut u16),
    U32(fn(&mut T) -> &mut u32),
    U64(fn(&mut T) -> &mut u64),
    Usize(fn(&mut T) -> &mut usize),
    List(fn(&mut T) -> &mut Vec<String>),
    /// A list or `null`: absent is not the same as empty.
    OptList(fn(&mut T) -> &mut Option<Vec<String>>),
    /// A number or `null`.
    OptU64(fn(&mut T) -> &mut Option<u64>),
    /// A list of IP addresses or CIDR networks.
    Networks(fn(&mut T) -> &mut Vec<IpNet>),
    Mode(fn(&mut T) -> &mut AuthMode),
}

/// What a key is: a mapping of keys, the mapping of provider names, a list of
/// policy rules, or a value stored in one of the four records.
pub enum Target {
    Section,
    Providers,
    /// `policy.allow` or `policy.deny`: a list of rules (`sso.authorization.policy.*`).
    Rules(fn(&mut Config) -> &mut Vec<Rule>),
    Config(Field<Config>),
    Tls(Field<TlsFiles>),
    Provider(Field<Provider>),
    Rule(Field<Rule>),
}

pub struct Key {
    /// Dotted path; `*` stands for a provider's name, or for one rule of `policy.allow` and `policy.deny`.
    pub path: &'static str,
    pub target: Target,
    /// Inclusive bounds, for numbers.
    pub range: (u64, u64),
    /// The value when the key is absent, written as in an environment variable;
    /// `None` is none (`null`, an empty list).
    pub default: Option<&'static str>,
    /// Must be present when its section is.
    pub required: bool,
    /// What to write when a required key is missing.
    pub example: &'static str,
    /// The environment variable that overrides it.
    pub env: Option<&'static str>,
    /// The type as the reference shows it, when more precise than the field's.
    pub shape: Option<&'static str>,
    /// The reference's sentence.
    pub doc: &'static str,
}

const fn key(path: &'static str, target: Target, doc: &'static str) -> Key {
    Key { path, target, range: (0, u64::MAX), default: None, required: false, example: "", env: None, shape: None, doc }
}

impl Key {
    const fn range(mut self, min: u64, max: u64) -> Self {
        self.range = (min, max);
        self
    }
    const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }
    const fn required(mut self, example: &'static str) -> Self {
        self.required = true;
        self.example = example;
        self
    }
    const fn env(mut self, name: &'static str) -> Self {
        self.env = Some(name);
        self
    }
    const fn shape(mut self, shape: &'static str) -> Self {
        self.shape = Some(shape);
        self
    }

    /// The path of the mapping this key is in (`""` at the top).
    pub fn parent(&self) -> &'static str {
        self.path.rsplit_once('.').map_or("", |(parent, _)| parent)
    }

    /// The last segment of the path.
    pub fn name(&self) -> &'static str {
        self.path.rsplit_once('.').map_or(self.path, |(_, name)| name)
    }

    pub fn tls_field(&self) -> Option<&Field<TlsFiles>> {
        match &self.target {
            Target::Tls(field) => Some(field),
            _ => None,
        }
    }

    pub fn provider_field(&self) -> Option<&Field<Provider>> {
        match &self.target {
            Target::Provider(field) => Some(field),
            _ => None,
        }
    }

    pub fn rule_field(&self) -> Option<&Field<Rule>> {
        match &self.target {
            Target::Rule(field) => Some(field),
            _ => None,
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(
            self.target,
            Target::Config(Field::Secret(_) | Field::RequiredSecret(_))
                | Target::Provider(Field::Secret(_) | Field::RequiredSecret(_))
                | Target::Tls(Field::Secret(_) | Field::RequiredSecret(_))
        )
    }
}

use Field as F;
use Target::{Config as C, Provider as P, Rule as R, Tls as T};

/// Every key, parents before children, in the order of the reference.
pub static KEYS: &[Key] = &[
    key("server", Target::Section, "where and how the proxy listens."),
    key("server.host", C(F::Text(|c| &mut c.server.host)), "address to listen on. `0.0.0.0` for every interface (other machines, containers).")
        .default("127.0.0.1"),
    key("server.port", C(F::U16(|c| &mut c.server.port)), "port to listen on.").range(1, 65_535).default("8080"),
    key("server.public_url", C(F::OptText(|c| &mut c.server.public_url)), "the URL browsers use to reach the proxy, when it differs from `http://host:port` (reverse proxy, container). No trailing slash, no path. The redirect URI is `{public_url}/auth/callback`.")
        .shape("URL, scheme and host only"),
    key("server.trusted_proxies", C(F::Networks(|c| &mut c.server.trusted_proxies)), "peers whose `X-Forwarded-For` is believed for the client IP (rate limiting, authorization API). Only list your reverse proxies."),
    key("server.max_body_bytes", C(F::Usize(|c| &mut c.server.max_body_bytes)), "largest request body an agent may send (default 32 MiB). Enforced while the body streams in; a request without a valid token is never buffered (only `model` and `stream` are read from it as it passes).")
        .range(1024, 1024 * 1024 * 1024).default("33554432"),
    key("server.max_connections", C(F::Usize(|c| &mut c.server.max_connections)), "open client connections at once; further ones wait in the kernel's backlog until one closes. Keep it below the process's open-file limit (`LimitNOFILE`); the proxy raises its soft limit to the hard one at startup and lowers this value to fit, with a warning.")
        .range(16, 1_000_000).default("4096"),
    key("server.max_concurrent_requests", C(F::Usize(|c| &mut c.server.max_concurrent_requests)), "requests in progress at once (streams included). Past it: `503` in the API's error shape with `Retry-After: 1`, counted in `llm_sso_limit_events_total{limit=\"overloaded\"}`. `/health`, `/ready` and `/metrics` are exempt.")
        .range(1, 100_000).default("512"),
    key("server.header_timeout_seconds", C(F::U64(|c| &mut c.server.header_timeout_seconds)), "how long a client may take to send a request's headers, and how long a kept-alive connection may sit idle before its next request. Slow or silent connections are closed.")
        .range(1, 600).default("30"),
    key("server.shutdown_timeout_seconds", C(F::U64(|c| &mut c.server.shutdown_timeout_seconds)), "after SIGTERM or Ctrl-C, how long in-flight requests and streams may still run before they are cut.")
        .range(0, 3600).default("30"),
    key("server.tls", Target::Section, "serve HTTPS directly. Both keys below are required when it is present."),
    key("server.tls.cert_file", T(F::Path(|t| &mut t.cert_file)), "PEM certificate chain, leaf first.")
        .required("server.tls needs both cert_file (PEM chain) and key_file (PEM private key)"),
    key("server.tls.key_file", T(F::Path(|t| &mut t.key_file)), "PEM private key (PKCS#8, PKCS#1 or SEC1) of that certificate.")
        .required("server.tls needs both cert_file (PEM chain) and key_file (PEM private key)"),
    key("upstreams", Target::Section, "where agents' requests are forwarded."),
    key("upstreams.openai", Target::Section, "the OpenAI-format upstream (agents' `/v1/chat/completions`, `/v1/responses`, `/v1/models`, `/v1/embeddings`, ...)."),
    key("upstreams.openai.base_url", C(F::BaseUrl(|c| &mut c.upstreams.openai.base_url)), "where OpenAI-format requests go (`/v1/chat/completions` is forwarded to `{base_url}/chat/completions`).")
        .shape("URL").default("https://api.openai.com/v1"),
    key("upstreams.openai.api_key", C(F::Secret(|c| &mut c.upstreams.openai.api_key)), "the key the proxy sends upstream. Agents never see it; their token is never forwarded."),
    key("upstreams.anthropic", Target::Section, "the Anthropic-format upstream (agents' `/v1/messages`, `/v1/messages/count_tokens`)."),
    key("upstreams.anthropic.base_url", C(F::BaseUrl(|c| &mut c.upstreams.anthropic.base_url)), "where Anthropic-format requests go (no `/v1`: `/v1/messages` is appended as is).")
        .shape("URL").default("https://api.anthropic.com"),
    key("upstreams.anthropic.api_key", C(F::Secret(|c| &mut c.upstreams.anthropic.api_key)), "sent as `x-api-key`."),
    key("upstreams.timeout_seconds", C(F::U64(|c| &mut c.upstreams.timeout_seconds)), "deadline for a whole non-streamed upstream request (connect, answer and body). Past it the agent gets a `504` in its API's shape.")
        .range(1, 3600).default("600"),
    key("upstreams.connect_timeout_seconds", C(F::U64(|c| &mut c.upstreams.connect_timeout_seconds)), "how long opening a connection to an upstream (TCP and TLS) may take; past it the agent gets a `502` in its API's shape.")
        .range(1, 300).default("10"),
    key("upstreams.stream_idle_timeout_seconds", C(F::U64(|c| &mut c.upstreams.stream_idle_timeout_seconds)), "a streamed (`text/event-stream`) reply may run as long as it keeps sending; it is cut after this long without a chunk.")
        .range(1, 3600).default("300"),
    key("sso", Target::Section, "single sign-on: tokens, sign-in and who is let in."),
    key("sso.enabled", C(F::Bool(|c| &mut c.sso.enabled)), "`true` requires an agent token on every request. `false` forwards without authentication and is only allowed on a loopback `server.host`.")
        .default("false").env("SSO_ENABLED"),
    key("sso.database_path", C(F::Path(|c| &mut c.sso.database_path)), "the SQLite token store (created with mode 0600, WAL). Relative to the working directory.")
        .default("./var/sso_auth.db").env("SSO_DATABASE_PATH"),
    key("sso.database_url", C(F::Secret(|c| &mut c.sso.database_url)), "a PostgreSQL database instead of the SQLite file, for several replicas sharing tokens, sign-ins and backoff: `postgres://user:password@host:5432/dbname?sslmode=require` (use `${VAR}` for the password). `sslmode=require` never falls back to plain text. Not together with `database_path`.")
        .shape("secret URL").env("SSO_DATABASE_URL"),
    key("sso.database_pool_size", C(F::Usize(|c| &mut c.sso.database_pool_size)), "PostgreSQL: connections each proxy keeps open at most. Several replicas share the server's `max_connections`.")
        .range(1, 100).default("8"),
    key("sso.authorization", Target::Section, "what happens after a successful sign-in."),
    key("sso.authorization.mode", C(F::Mode(|c| &mut c.sso.authorization.mode)), "who decides after sign-in: a confirmation code printed in the server console (`single_user`), your authorization API (`enterprise`), or the rules of `sso.authorization.policy` (`policy`). Switch to `single_user` (e.g. with `SSO_AUTH_MODE`) while the authorization API is down.")
        .default("single_user").env("SSO_AUTH_MODE"),
    key("sso.authorization.session_lifetime_hours", C(F::U32(|c| &mut c.sso.authorization.session_lifetime_hours)), "how long a token stays valid after a sign-in.")
        .range(1, 24 * 365).default("24").env("SSO_SESSION_LIFETIME_HOURS"),
    key("sso.authorization.confirmation_code_expiry_minutes", C(F::U32(|c| &mut c.sso.authorization.confirmation_code_expiry_minutes)), "single_user: how long a confirmation code may be typed.")
        .range(1, 24 * 60).default("10"),
    key("sso.authorization.max_confirmation_attempts", C(F::U32(|c| &mut c.sso.authorization.max_confirmation_attempts)), "single_user: wrong codes before the sign-in must start again.")
        .range(1, 100).default("3"),
    key("sso.authorization.api_url", C(F::OptText(|c| &mut c.sso.authorization.api_url)), "enterprise: the authorization API (`POST`, see below). Required in enterprise mode.")
        .shape("URL").env("SSO_AUTH_API_URL"),
    key("sso.authorization.api_timeout_seconds", C(F::U32(|c| &mut c.sso.authorization.api_timeout_seconds)), "enterprise: longest wait for the API; a timeout denies.")
        .range(1, 300).default("5"),
    key("sso.authorization.api_secret", C(F::Secret(|c| &mut c.sso.authorization.api_secret)), "enterprise: when set, every call carries `X-Signature`, the hex HMAC-SHA256 of the raw body."),
    key("sso.authorization.rate_limit", Target::Section, "backoff per client IP after failed confirmations or denials."),
    key("sso.authorization.rate_limit.max_attempts", C(F::U32(|c| &mut c.sso.authorization.rate_limit.max_attempts)), "failures after which the longest block applies at once.")
        .range(1, 10_000).default("10"),
    key("sso.authorization.rate_limit.backoff_multiplier", C(F::U32(|c| &mut c.sso.authorization.rate_limit.backoff_multiplier)), "growth of the block: 2 s, then ×multiplier per further failure.")
        .range(1, 10).default("2"),
    key("sso.authorization.rate_limit.max_backoff_seconds", C(F::U32(|c| &mut c.sso.authorization.rate_limit.max_backoff_seconds)), "longest block.")
        .range(1, 86_400).default("300"),
    key("sso.authorization.policy", Target::Section, "policy mode: who may sign in, from the verified identity alone. Deny rules win; with no matching allow rule the person is told \"Access denied\" and why, never which rules exist. Asked at sign-in and again at every agent request, from the identity kept with the token."),
    key("sso.authorization.policy.allow", Target::Rules(|c| &mut c.sso.authorization.policy.allow), "rules that let people in; at least one is required in policy mode."),
    key("sso.authorization.policy.deny", Target::Rules(|c| &mut c.sso.authorization.policy.deny), "rules that keep people out, even when an allow rule matches."),
    key("sso.authorization.policy.*.name", R(F::OptText(|r| &mut r.name)), "shown in the log, the audit and `doctor --who` (`allow[0]` when absent)."),
    key("sso.authorization.policy.*.email_domains", R(F::OptList(|r| &mut r.email_domains)), "the address's domain is one of these (case-insensitive, exact: `company.com` does not match `eu.company.com`)."),
    key("sso.authorization.policy.*.emails", R(F::OptList(|r| &mut r.emails)), "the address is one of these (case-insensitive)."),
    key("sso.authorization.policy.*.emails_file", R(F::OptText(|r| &mut r.emails_file)), "the address is in this file: one per line, `#` starts a comment. Re-read when it changes; while it cannot be read, the sign-ins it would decide are refused (and the log says why).")
        .shape("path"),
    key("sso.authorization.policy.*.groups", R(F::OptList(|r| &mut r.groups)), "the user is in one of these groups (the ID token's groups claim: names, or object IDs for Entra)."),
    key("sso.authorization.policy.*.roles", R(F::OptList(|r| &mut r.roles)), "the user has one of these roles (the ID token's roles claim: Entra app roles, Keycloak realm roles)."),
    key("sso.authorization.policy.*.tenants", R(F::OptList(|r| &mut r.tenants)), "the user's Microsoft Entra directory (`tid`) is one of these."),
    key("sso.authorization.policy.*.providers", R(F::OptList(|r| &mut r.providers)), "the user signed in with one of these `sso.providers`."),
    key("sso.authorization.policy.*.models", R(F::OptList(|r| &mut r.models)), "allow rules: the models this rule's users may call, as glob patterns (`gpt-4o-mini*`, `claude-*-haiku*`); another model is refused with HTTP 403 in the API's error shape, naming it. Absent: every model."),
    key("sso.authorization.policy.*.budget", Target::Section, "allow rules: tokens this rule's users may spend (enforced with usage accounting)."),
    key("sso.authorization.policy.*.budget.tokens_per_day", R(F::OptU64(|r| &mut r.budget.tokens_per_day)), "input and output tokens per user per UTC day.")
        .range(1, 1_000_000_000_000),
    key("sso.authorization.policy.*.budget.tokens_per_month", R(F::OptU64(|r| &mut r.budget.tokens_per_month)), "input and output tokens per user per calendar month (UTC).")
        .range(1, 1_000_000_000_000),
    key("sso.device", Target::Section, "sign-in from a terminal (`llm-sso-proxy login`, RFC 8628 device authorization)."),
    key("sso.device.code_expiry_minutes", C(F::U32(|c| &mut c.sso.device.code_expiry_minutes)), "how long a terminal's code may be entered and its sign-in finished.")
        .range(1, 60).default("10"),
    key("sso.device.poll_interval_seconds", C(F::U32(|c| &mut c.sso.device.poll_interval_seconds)), "how often a terminal may ask whether the sign-in is done; faster polls are told `slow_down` and wait 5 s more.")
        .range(1, 60).default("5"),
    key("sso.providers", Target::Providers, "the identity providers. The name is case-sensitive and appears in URLs (`/auth/login/google`)."),
    key("sso.providers.*.type", P(F::Text(|p| &mut p.kind)), "`oauth2` (OpenID Connect authorization code flow with PKCE).")
        .required("type: \"oauth2\""),
    key("sso.providers.*.client_id", P(F::Text(|p| &mut p.client_id)), "from the IdP's app registration.")
        .required("copy it from the identity provider's app registration"),
    key("sso.providers.*.client_secret", P(F::RequiredSecret(|p| &mut p.client_secret)), "from the IdP's app registration; use `${VAR}`.")
        .required("e.g. client_secret: \"${GOOGLE_CLIENT_SECRET}\" to read it from the environment"),
    key("sso.providers.*.discovery_url", P(F::Text(|p| &mut p.discovery_url)), "the issuer's `/.well-known/openid-configuration`.")
        .shape("URL").required("e.g. https://accounts.google.com/.well-known/openid-configuration"),
    key("sso.providers.*.scopes", P(F::List(|p| &mut p.scopes)), "must include `openid`; `email` is needed for the user's address.")
        .required("e.g. scopes: [\"openid\", \"email\"]"),
    key("sso.providers.*.allowed_tenants", P(F::List(|p| &mut p.allowed_tenants)), "Microsoft multi-tenant (`common`, `organizations`) only: the directory (tenant) IDs allowed to sign in. Entra sends no `email_verified`, so an address is trusted only when its tenant is listed here (and `xms_edov`, where the token carries it, is true): with an empty list, every Entra sign-in is refused (\"does not vouch for this email address\"), and `--validate-only` warns. A tenant not in the list gets a 403 that names it. `preferred_username` never stands in for a missing `email`."),
    key("sso.providers.*.groups_claim", P(F::OptText(|p| &mut p.groups_claim)), "the ID token claim with the user's groups, for policy rules (`groups` when absent; a dotted path such as `realm_access.groups` reaches into an object). Entra sends at most 200 groups in a token: beyond that it sends none, and a rule naming groups refuses the user with a message saying so (configure the app registration to emit only the groups assigned to the application, or use app roles)."),
    key("sso.providers.*.roles_claim", P(F::OptText(|p| &mut p.roles_claim)), "the ID token claim with the user's roles (`roles` when absent; Keycloak: `realm_access.roles`)."),
];

/// The keys directly inside `parent` (`sso.providers.*` for a provider's).
pub fn children(parent: &str) -> impl Iterator<Item = &'static Key> + '_ {
    KEYS.iter().filter(move |k| k.parent() == parent)
}

pub fn find(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

/// A value from an environment variable or a default, checked like the file's.
pub fn parse_text<T>(field: &Field<T>, range: (u64, u64), text: &str) -> Result<Parsed, String> {
    let number = || match text.parse::<u64>() {
        Ok(n) if (range.0..=range.1).contains(&n) => Ok(Parsed::Number(n)),
        _ => Err(format!("must be a whole number between {} and {}, found {text:?}", range.0, range.1)),
    };
    match field {
        F::Bool(_) => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Parsed::Bool(true)),
            "false" | "0" | "no" | "off" => Ok(Parsed::Bool(false)),
            _ => Err(format!("must be true or false, found {text:?}")),
        },
        F::Mode(_) => match parse_mode(text) {
            Some(mode) => Ok(Parsed::Mode(mode)),
            None => Err(format!("must be single_user, enterprise or policy, found {text:?}")),
        },
        F::U16(_) | F::U32(_) | F::U64(_) | F::Usize(_) | F::OptU64(_) => number(),
        F::List(_) | F::OptList(_) | F::Networks(_) => Err("is a list and cannot be set from text".into()),
        _ if text.is_empty() => Err("must not be empty".into()),
        _ => Ok(Parsed::Text(text.to_string())),
    }
}

pub fn parse_mode(text: &str) -> Option<AuthMode> {
    match text {
        "single_user" => Some(AuthMode::SingleUser),
        "enterprise" => Some(AuthMode::Enterprise),
        "policy" => Some(AuthMode::Policy),
        _ => None,
    }
}

/// A checked value, ready to be stored by [`Field::store`].
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Null,
    Bool(bool),
    Number(u64),
    Text(String),
    List(Vec<String>),
    Networks(Vec<IpNet>),
    Mode(AuthMode),
}

impl<T> Field<T> {
    /// Stores a value already checked against this field's type and range.
    /// Numbers fit: the ranges in [`KEYS`] are within each field's type.
    pub fn store(&self, target: &mut T, value: Parsed) {
        match (self, value) {
            (F::Text(f), Parsed::Text(v)) => *f(target) = v,
            (F::BaseUrl(f), Parsed::Text(v)) => *f(target) = v.trim_end_matches('/').to_string(),
            (F::OptText(f), Parsed::Text(v)) => *f(target) = Some(v),
            (F::OptText(f), Parsed::Null) => *f(target) = None,
            (F::Secret(f), Parsed::Text(v)) => *f(target) = Some(v).filter(|v| !v.is_empty()).map(Secret::new),
            (F::Secret(f), Parsed::Null) => *f(target) = None,
            (F::RequiredSecret(f), Parsed::Text(v)) => *f(target) = Secret::new(v),
            (F::Path(f), Parsed::Text(v)) => *f(target) = v.into(),
            (F::Bool(f), Parsed::Bool(v)) => *f(target) = v,
            (F::U16(f), Parsed::Number(n)) => *f(target) = u16::try_from(n).unwrap_or(u16::MAX),
            (F::U32(f), Parsed::Number(n)) => *f(target) = u32::try_from(n).unwrap_or(u32::MAX),
            (F::U64(f), Parsed::Number(n)) => *f(target) = n,
            (F::Usize(f), Parsed::Number(n)) => *f(target) = usize::try_from(n).unwrap_or(usize::MAX),
            (F::List(f), Parsed::List(v)) => *f(target) = v,
            (F::OptList(f), Parsed::List(v)) => *f(target) = Some(v),
            (F::OptList(f), Parsed::Null) => *f(target) = None,
            (F::OptU64(f), Parsed::Number(n)) => *f(target) = Some(n),
            (F::OptU64(f), Parsed::Null) => *f(target) = None,
            (F::Networks(f), Parsed::Networks(v)) => *f(target) = v,
            (F::Mode(f), Parsed::Mode(v)) => *f(target) = v,
            // A value of another type is a bug in the walker; the field keeps its value.
            _ => {}
        }
    }

    /// The stored value (secrets included: callers redact).
    pub fn read(&self, target: &mut T) -> Parsed {
        let text = |s: &str| Parsed::Text(s.to_string());
        match self {
            F::Text(f) | F::BaseUrl(f) => text(f(target)),
            F::OptText(f) => f(target).as_deref().map_or(Parsed::Null, text),
            F::Secret(f) => f(target).as_ref().map_or(Parsed::Null, |s| text(s.expose())),
            F::RequiredSecret(f) => text(f(target).expose()),
            F::Path(f) => text(&f(target).display().to_string()),
            F::Bool(f) => Parsed::Bool(*f(target)),
            F::U16(f) => Parsed::Number(u64::from(*f(target))),
            F::U32(f) => Parsed::Number(u64::from(*f(target))),
            F::U64(f) => Parsed::Number(*f(target)),
            F::Usize(f) => Parsed::Number(*f(target) as u64),
            F::List(f) => Parsed::List(f(target).clone()),
            F::OptList(f) => f(target).clone().map_or(Parsed::Null, Parsed::List),
            F::OptU64(f) => f(target).map_or(Parsed::Null, Parsed::Number),
            F::Networks(f) => Parsed::Networks(f(target).clone()),
            F::Mode(f) => Parsed::Mode(*f(target)),
        }
    }
}

/// The configuration with every key at its default.
pub fn defaults() -> Config {
    let mut config = Config::zero();
    for key in KEYS {
        if let (C(field), Some(text)) = (&key.target, key.default) {
            // The table's defaults are checked by a test; a bad one would keep the zero value.
            if let Ok(value) = parse_text(field, key.range, text) {
                field.store(&mut config, value);
            }
        }
    }
    config
}

/// `Config::default()` is every key of the table at its default.
impl Default for Config {
    fn default() -> Self {
        defaults()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_valid_for_its_key() {
        for key in KEYS {
            let Some(text) = key.default else { continue };
            let result = match &key.target {
                C(field) => parse_text(field, key.range, text).map(|_| ()),
                _ => Err("only keys of the whole configuration have defaults".into()),
            };
            assert!(result.is_ok(), "{}: default {text:?}: {result:?}", key.path);
        }
    }

    #[test]
    fn parents_come_before_children_and_paths_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for key in KEYS {
            let parent = key.parent();
            let record = parent == "sso.providers.*" || parent == "sso.authorization.policy.*";
            assert!(parent.is_empty() || seen.contains(parent) || record, "{}", key.path);
            assert!(seen.insert(key.path), "{} twice", key.path);
        }
    }

    #[test]
    fn number_ranges_fit_their_fields() {
        for key in KEYS {
            let max = match &key.target {
                C(F::U16(_)) => u64::from(u16::MAX),
                C(F::U32(_)) => u64::from(u32::MAX),
                C(F::U64(_) | F::Usize(_)) | R(F::OptU64(_)) => u64::MAX,
                _ => continue,
            };
            assert!(key.range.1 <= max && key.range != (0, u64::MAX), "{}", key.path);
        }
    }
}
