//! The walk from the YAML tree to [`Config`]: every key is checked against the
//! schema and every value against its type, and *all* problems are collected
//! (unknown or misplaced keys with a suggestion, wrong types, missing
//! environment variables), each with file:line:column. Secret values never
//! appear in a message.

use super::yaml::{self, Mark, Node, Value};
use super::{AuthMode, Config, Diagnostic, Provider, Secret, TlsFiles, Upstream};
use std::collections::BTreeMap;

/// Every key the file may contain, by parent path (`*` = any provider name).
pub const SCHEMA: &[(&str, &[&str])] = &[
    ("", &["server", "upstreams", "sso"]),
    (
        "server",
        &[
            "host",
            "port",
            "public_url",
            "trusted_proxies",
            "max_body_bytes",
            "max_connections",
            "max_concurrent_requests",
            "header_timeout_seconds",
            "shutdown_timeout_seconds",
            "tls",
        ],
    ),
    ("server.tls", &["cert_file", "key_file"]),
    ("upstreams", &["openai", "anthropic", "timeout_seconds", "stream_idle_timeout_seconds"]),
    ("upstreams.openai", &["base_url", "api_key"]),
    ("upstreams.anthropic", &["base_url", "api_key"]),
    ("sso", &["enabled", "database_path", "authorization", "providers"]),
    (
        "sso.authorization",
        &[
            "mode",
            "session_lifetime_hours",
            "confirmation_code_expiry_minutes",
            "max_confirmation_attempts",
            "api_url",
            "api_timeout_seconds",
            "api_secret",
            "rate_limit",
        ],
    ),
    ("sso.authorization.rate_limit", &["max_attempts", "backoff_multiplier", "max_backoff_seconds"]),
    ("sso.providers.*", &["type", "client_id", "client_secret", "discovery_url", "scopes", "allowed_tenants"]),
];

/// Fields a provider must have.
pub const PROVIDER_REQUIRED: &[&str] = &["type", "client_id", "client_secret", "discovery_url", "scopes"];

fn keys_of(parent: &str) -> &'static [&'static str] {
    SCHEMA.iter().find(|(p, _)| *p == parent).map_or(&[], |(_, k)| *k)
}

/// The result of a walk: the config (defaults where a value was missing or wrong),
/// every problem, and where each value came from (for later cross-key checks).
pub struct Walked {
    pub file: String,
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
    /// Dotted path -> `file:line:column` (or `environment X`, `command line --y`).
    pub origins: BTreeMap<String, String>,
}

impl Walked {
    /// Where `path` was set; for a key that is absent, where its nearest
    /// enclosing section was; the file itself when nothing was set.
    pub fn origin(&self, path: &str) -> String {
        let mut current = path;
        loop {
            if let Some(origin) = self.origins.get(current) {
                return origin.clone();
            }
            match current.rsplit_once('.') {
                Some((parent, _)) => current = parent,
                None => return self.file.clone(),
            }
        }
    }
}

struct Walker<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    out: Walked,
}

pub fn walk(file: &str, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Walked {
    let mut w = Walker {
        env,
        out: Walked {
            file: file.to_string(),
            config: Config::default(),
            diagnostics: Vec::new(),
            origins: BTreeMap::new(),
        },
    };
    match yaml::parse(text) {
        Err(e) => {
            let d = Diagnostic::new(w.at(e.mark), "", format!("YAML syntax error: {}", e.message))
                .hint("check indentation (spaces, not tabs) and that quotes and brackets are closed");
            w.out.diagnostics.push(d);
        }
        Ok(None) => {}
        Ok(Some(root)) => w.root(&root),
    }
    sort(&mut w.out.diagnostics);
    w.out
}

/// File order, however the checks visited the sections; other locations last.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| position(&d.location));
}

/// (line, column) of a `file:line:column` location; other locations sort last.
fn position(location: &str) -> (usize, usize) {
    let mut parts = location.rsplitn(3, ':');
    let col = parts.next().and_then(|c| c.parse().ok());
    let line = parts.next().and_then(|l| l.parse().ok());
    match (line, col) {
        (Some(l), Some(c)) => (l, c),
        _ => (usize::MAX, usize::MAX),
    }
}

impl Walker<'_> {
    fn at(&self, mark: Mark) -> String {
        format!("{}:{}:{}", self.out.file, mark.line, mark.col)
    }

    fn error(&mut self, mark: Mark, path: &str, message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::new(self.at(mark), path, message);
        d.hint = hint;
        self.out.diagnostics.push(d);
    }

    /// The keys of a mapping; reports a non-mapping, duplicate and unknown keys.
    fn fields<'n>(&mut self, node: &'n Node, path: &str, schema_path: &str) -> BTreeMap<&'n str, &'n Node> {
        let mut out = BTreeMap::new();
        let entries = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => return out,
            _ => {
                let found = node.describe(true);
                self.error(
                    node.mark,
                    path,
                    format!("expected a mapping of keys, found {found}"),
                    Some("indent the keys that belong here by two more spaces".into()),
                );
                return out;
            }
        };
        let known = keys_of(schema_path);
        for (key, value) in entries {
            let child = join(path, &key.name);
            if out.contains_key(key.name.as_str()) {
                self.error(key.mark, &child, "duplicate key", Some("remove one of the two".into()));
                continue;
            }
            if !known.contains(&key.name.as_str()) {
                let where_ = if path.is_empty() { "at the top level".to_string() } else { format!("in `{path}`") };
                let hint = unknown_key_hint(schema_path, &key.name);
                self.error(key.mark, &child, format!("unknown key `{}` {where_}", key.name), Some(hint));
                continue;
            }
            self.out.origins.insert(child, self.at(value.mark));
            out.insert(key.name.as_str(), value);
        }
        out
    }

    /// A string, with `${NAME}` read from the environment.
    fn string(&mut self, node: &Node, path: &str, secret: bool) -> Option<String> {
        let text = match &node.value {
            Value::Scalar { text, .. } => text,
            _ => {
                let found = node.describe(!secret);
                self.error(node.mark, path, format!("expected a string, found {found}"), None);
                return None;
            }
        };
        match interpolate(text, self.env) {
            Ok(value) => Some(value),
            Err(message) => {
                let hint = "export the variable before starting the proxy, or write the value in the file";
                self.error(node.mark, path, message, Some(hint.into()));
                None
            }
        }
    }

    fn optional_string(&mut self, node: &Node, path: &str, secret: bool) -> Option<Option<String>> {
        if node.value == Value::Null {
            return Some(None);
        }
        self.string(node, path, secret).map(Some)
    }

    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        let key = path.rsplit('.').next().unwrap_or(path);
        match &node.value {
            Value::Scalar { text, quoted: false } if matches!(text.as_str(), "true" | "True" | "TRUE") => Some(true),
            Value::Scalar { text, quoted: false } if matches!(text.as_str(), "false" | "False" | "FALSE") => {
                Some(false)
            }
            Value::Scalar { text, quoted } => {
                let lower = text.to_ascii_lowercase();
                let hint = if *quoted && (lower == "true" || lower == "false") {
                    format!("remove the quotes: `{key}: {lower}` (a quoted \"{text}\" is a string)")
                } else if matches!(lower.as_str(), "1" | "0" | "yes" | "no" | "on" | "off" | "y" | "n") {
                    let want = matches!(lower.as_str(), "1" | "yes" | "on" | "y");
                    format!("write `{key}: {want}`: only true and false are booleans")
                } else {
                    format!("write `{key}: true` or `{key}: false`")
                };
                let found = node.describe(true);
                self.error(node.mark, path, format!("must be a boolean (true or false), found {found}"), Some(hint));
                None
            }
            _ => {
                let found = node.describe(true);
                self.error(node.mark, path, format!("must be a boolean (true or false), found {found}"), None);
                None
            }
        }
    }

    fn number(&mut self, node: &Node, path: &str, min: u64, max: u64) -> Option<u64> {
        let found = node.describe(true);
        let parsed = match &node.value {
            Value::Scalar { text, quoted: false } => text.parse::<u64>().ok(),
            _ => None,
        };
        match parsed {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.error(node.mark, path, format!("must be between {min} and {max}, found {n}"), None);
                None
            }
            None => {
                let hint = matches!(node.value, Value::Scalar { quoted: true, .. })
                    .then(|| "remove the quotes around the number".to_string());
                self.error(node.mark, path, format!("must be a whole number, found {found}"), hint);
                None
            }
        }
    }

    fn strings(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        match &node.value {
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.string(item, &format!("{path}[{i}]"), false)?);
                }
                Some(out)
            }
            Value::Null => Some(Vec::new()),
            _ => {
                let found = node.describe(true);
                let hint = format!(
                    "write a list, e.g. `{}: [\"openid\", \"email\"]`",
                    path.rsplit('.').next().unwrap_or(path)
                );
                self.error(node.mark, path, format!("must be a list, found {found}"), Some(hint));
                None
            }
        }
    }

    fn root(&mut self, root: &Node) {
        let top = self.fields(root, "", "");
        if let Some(server) = top.get("server") {
            self.server(server);
        }
        if let Some(upstreams) = top.get("upstreams") {
            self.upstreams(upstreams);
        }
        if let Some(sso) = top.get("sso") {
            self.sso(sso);
        }
    }

    fn server(&mut self, node: &Node) {
        let f = self.fields(node, "server", "server");
        if let Some(n) = f.get("host")
            && let Some(v) = self.string(n, "server.host", false)
        {
            self.out.config.server.host = v;
        }
        if let Some(n) = f.get("port")
            && let Some(v) = self.number(n, "server.port", 1, 65_535)
        {
            self.out.config.server.port = v as u16;
        }
        if let Some(n) = f.get("public_url")
            && let Some(v) = self.optional_string(n, "server.public_url", false)
        {
            self.out.config.server.public_url = v;
        }
        if let Some(n) = f.get("max_body_bytes")
            && let Some(v) = self.number(n, "server.max_body_bytes", 1024, 1024 * 1024 * 1024)
        {
            self.out.config.server.max_body_bytes = v as usize;
        }
        let limits: [(&str, u64, u64); 4] = [
            ("max_connections", 16, 1_000_000),
            ("max_concurrent_requests", 1, 100_000),
            ("header_timeout_seconds", 1, 600),
            ("shutdown_timeout_seconds", 0, 3600),
        ];
        for (key, min, max) in limits {
            if let Some(v) = f.get(key).and_then(|n| self.number(n, &format!("server.{key}"), min, max)) {
                let server = &mut self.out.config.server;
                match key {
                    "max_connections" => server.max_connections = v as usize,
                    "max_concurrent_requests" => server.max_concurrent_requests = v as usize,
                    "header_timeout_seconds" => server.header_timeout_seconds = v,
                    _ => server.shutdown_timeout_seconds = v,
                }
            }
        }
        if let Some(n) = f.get("tls") {
            self.tls(n);
        }
        if let Some(n) = f.get("trusted_proxies")
            && let Some(list) = self.strings(n, "server.trusted_proxies")
        {
            let mut nets = Vec::new();
            for (i, text) in list.iter().enumerate() {
                let net =
                    text.parse::<ipnet::IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
                match net {
                    Ok(net) => nets.push(net),
                    Err(_) => {
                        let mark = match &n.value {
                            Value::Seq(items) => items.get(i).map_or(n.mark, |item| item.mark),
                            _ => n.mark,
                        };
                        let msg = format!("{text:?} is not an IP address or CIDR network");
                        self.error(
                            mark,
                            &format!("server.trusted_proxies[{i}]"),
                            msg,
                            Some("e.g. \"10.0.0.0/8\"".into()),
                        );
                    }
                }
            }
            self.out.config.server.trusted_proxies = nets;
        }
    }

    /// Both files or neither: half a TLS setup is an error, not plain HTTP.
    fn tls(&mut self, node: &Node) {
        if node.value == Value::Null {
            return;
        }
        let f = self.fields(node, "server.tls", "server.tls");
        let mut files = Vec::new();
        for key in ["cert_file", "key_file"] {
            let path = format!("server.tls.{key}");
            match f.get(key) {
                Some(n) => files.push(self.string(n, &path, false)),
                None => {
                    let hint = "server.tls needs both cert_file (PEM chain) and key_file (PEM private key)";
                    self.error(node.mark, &path, "required field is missing", Some(hint.into()));
                    files.push(None);
                }
            }
        }
        if let [Some(cert_file), Some(key_file)] = &files[..] {
            self.out.config.server.tls = Some(TlsFiles { cert_file: cert_file.into(), key_file: key_file.into() });
        }
    }

    fn upstreams(&mut self, node: &Node) {
        let f = self.fields(node, "upstreams", "upstreams");
        for name in ["openai", "anthropic"] {
            let Some(n) = f.get(name) else { continue };
            let path = format!("upstreams.{name}");
            let u = self.fields(n, &path, &path);
            let mut upstream: Upstream = if name == "openai" {
                self.out.config.upstreams.openai.clone()
            } else {
                self.out.config.upstreams.anthropic.clone()
            };
            if let Some(v) = u.get("base_url").and_then(|n| self.string(n, &format!("{path}.base_url"), false)) {
                upstream.base_url = v.trim_end_matches('/').to_string();
            }
            if let Some(v) = u.get("api_key").and_then(|n| self.optional_string(n, &format!("{path}.api_key"), true)) {
                upstream.api_key = v.filter(|k| !k.is_empty()).map(Secret::new);
            }
            if name == "openai" {
                self.out.config.upstreams.openai = upstream;
            } else {
                self.out.config.upstreams.anthropic = upstream;
            }
        }
        if let Some(v) = f.get("timeout_seconds").and_then(|n| self.number(n, "upstreams.timeout_seconds", 1, 3600)) {
            self.out.config.upstreams.timeout_seconds = v;
        }
        if let Some(v) = f
            .get("stream_idle_timeout_seconds")
            .and_then(|n| self.number(n, "upstreams.stream_idle_timeout_seconds", 1, 3600))
        {
            self.out.config.upstreams.stream_idle_timeout_seconds = v;
        }
    }

    fn sso(&mut self, node: &Node) {
        let f = self.fields(node, "sso", "sso");
        if let Some(v) = f.get("enabled").and_then(|n| self.boolean(n, "sso.enabled")) {
            self.out.config.sso.enabled = v;
        }
        if let Some(v) = f.get("database_path").and_then(|n| self.string(n, "sso.database_path", false)) {
            self.out.config.sso.database_path = v.into();
        }
        if let Some(n) = f.get("authorization") {
            self.authorization(n);
        }
        if let Some(n) = f.get("providers") {
            self.providers(n);
        }
    }

    fn authorization(&mut self, node: &Node) {
        let p = "sso.authorization";
        let f = self.fields(node, p, p);
        if let Some(n) = f.get("mode")
            && let Some(v) = self.string(n, "sso.authorization.mode", false)
        {
            match parse_mode(&v) {
                Some(mode) => self.out.config.sso.authorization.mode = mode,
                None => self.error(
                    n.mark,
                    "sso.authorization.mode",
                    format!("unknown mode {v:?}"),
                    Some(
                        "use \"single_user\" (code in the server console) or \"enterprise\" (authorization API)".into(),
                    ),
                ),
            }
        }
        let numbers: [(&str, u64, u64); 4] = [
            ("session_lifetime_hours", 1, 24 * 365),
            ("confirmation_code_expiry_minutes", 1, 24 * 60),
            ("max_confirmation_attempts", 1, 100),
            ("api_timeout_seconds", 1, 300),
        ];
        for (key, min, max) in numbers {
            let Some(n) = f.get(key) else { continue };
            let Some(v) = self.number(n, &format!("{p}.{key}"), min, max) else { continue };
            let a = &mut self.out.config.sso.authorization;
            let slot = match key {
                "session_lifetime_hours" => &mut a.session_lifetime_hours,
                "confirmation_code_expiry_minutes" => &mut a.confirmation_code_expiry_minutes,
                "max_confirmation_attempts" => &mut a.max_confirmation_attempts,
                _ => &mut a.api_timeout_seconds,
            };
            *slot = v as u32;
        }
        if let Some(v) = f.get("api_url").and_then(|n| self.optional_string(n, "sso.authorization.api_url", false)) {
            self.out.config.sso.authorization.api_url = v;
        }
        if let Some(v) = f.get("api_secret").and_then(|n| self.optional_string(n, "sso.authorization.api_secret", true))
        {
            self.out.config.sso.authorization.api_secret = v.filter(|s| !s.is_empty()).map(Secret::new);
        }
        if let Some(n) = f.get("rate_limit") {
            let rp = "sso.authorization.rate_limit";
            let r = self.fields(n, rp, rp);
            for (key, min, max) in
                [("max_attempts", 1, 10_000), ("backoff_multiplier", 1, 10), ("max_backoff_seconds", 1, 86_400)]
            {
                let Some(n) = r.get(key) else { continue };
                let Some(v) = self.number(n, &format!("{rp}.{key}"), min, max) else { continue };
                let rl = &mut self.out.config.sso.authorization.rate_limit;
                let slot = match key {
                    "max_attempts" => &mut rl.max_attempts,
                    "backoff_multiplier" => &mut rl.backoff_multiplier,
                    _ => &mut rl.max_backoff_seconds,
                };
                *slot = v as u32;
            }
        }
    }

    fn providers(&mut self, node: &Node) {
        let entries = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => return,
            _ => {
                let found = node.describe(true);
                self.error(
                    node.mark,
                    "sso.providers",
                    format!("expected a mapping of provider names, found {found}"),
                    None,
                );
                return;
            }
        };
        let mut seen = std::collections::BTreeSet::new();
        for (key, value) in entries {
            let path = format!("sso.providers.{}", key.name);
            if !seen.insert(key.name.clone()) {
                self.error(key.mark, &path, "duplicate provider", None);
                continue;
            }
            if !matches!(value.value, Value::Map(_) | Value::Null) {
                let hint = if SCHEMA.iter().any(|(_, keys)| keys.contains(&key.name.as_str())) {
                    format!("`{}` is a setting, not a provider: check indentation", key.name)
                } else {
                    "a provider is a mapping with type, client_id, client_secret, discovery_url and scopes".into()
                };
                let found = value.describe(false);
                self.error(key.mark, &path, format!("provider must be a mapping, found {found}"), Some(hint));
                continue;
            }
            self.out.origins.insert(path.clone(), self.at(key.mark));
            let f = self.fields(value, &path, "sso.providers.*");
            for required in PROVIDER_REQUIRED {
                if !f.contains_key(required) {
                    let hint = match *required {
                        "client_secret" => {
                            "e.g. client_secret: \"${GOOGLE_CLIENT_SECRET}\" to read it from the environment"
                        }
                        "discovery_url" => "e.g. https://accounts.google.com/.well-known/openid-configuration",
                        "scopes" => "e.g. scopes: [\"openid\", \"email\"]",
                        "type" => "type: \"oauth2\"",
                        _ => "copy it from the identity provider's app registration",
                    };
                    self.error(key.mark, &format!("{path}.{required}"), "required field is missing", Some(hint.into()));
                }
            }
            let kind = f.get("type").and_then(|n| self.string(n, &format!("{path}.type"), false));
            let client_id = f.get("client_id").and_then(|n| self.string(n, &format!("{path}.client_id"), false));
            let secret = f.get("client_secret").and_then(|n| self.string(n, &format!("{path}.client_secret"), true));
            let discovery =
                f.get("discovery_url").and_then(|n| self.string(n, &format!("{path}.discovery_url"), false));
            let scopes = f.get("scopes").and_then(|n| self.strings(n, &format!("{path}.scopes")));
            let tenants = match f.get("allowed_tenants") {
                Some(n) => self.strings(n, &format!("{path}.allowed_tenants")),
                None => Some(Vec::new()),
            };
            if let (
                Some(kind),
                Some(client_id),
                Some(secret),
                Some(discovery_url),
                Some(scopes),
                Some(allowed_tenants),
            ) = (kind, client_id, secret, discovery, scopes, tenants)
            {
                let provider = Provider {
                    kind,
                    client_id,
                    client_secret: Secret::new(secret),
                    discovery_url,
                    scopes,
                    allowed_tenants,
                };
                self.out.config.sso.providers.insert(key.name.clone(), provider);
            }
        }
    }
}

pub fn parse_mode(text: &str) -> Option<AuthMode> {
    match text {
        "single_user" => Some(AuthMode::SingleUser),
        "enterprise" => Some(AuthMode::Enterprise),
        _ => None,
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
}

/// Replaces `${NAME}` with the environment variable's value.
pub fn interpolate(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("`${` without a closing `}`".into());
        };
        let name = &after[..end];
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(format!("`${{{name}}}` is not a valid environment variable name"));
        }
        match env(name) {
            Some(value) => out.push_str(&value),
            None => return Err(format!("environment variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Where an unknown key probably belongs: another level (indentation), or a near spelling.
pub fn unknown_key_hint(parent: &str, key: &str) -> String {
    let display = |p: &str| p.replace('*', "<provider>");
    let elsewhere: Vec<String> =
        SCHEMA.iter().filter(|(p, keys)| *p != parent && keys.contains(&key)).map(|(p, _)| join(p, key)).collect();
    if let Some(first) = elsewhere.first() {
        return format!(
            "check indentation: `{key}` belongs at `{}` (did you mean `{}`?)",
            display(first),
            display(first)
        );
    }
    let siblings = keys_of(parent);
    let nearest = siblings.iter().map(|k| (distance(&key.to_ascii_lowercase(), k), *k)).filter(|(d, _)| *d <= 2).min();
    match nearest {
        Some((_, k)) => format!("did you mean `{}`?", display(&join(parent, k))),
        None if siblings.is_empty() => "remove it".into(),
        None => format!("valid keys here: {}", siblings.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn interpolation() {
        let env = |n: &str| (n == "SECRET").then(|| "s3".to_string());
        assert_eq!(interpolate("a-${SECRET}-b", &env).unwrap(), "a-s3-b");
        assert_eq!(interpolate("plain", &env).unwrap(), "plain");
        assert!(interpolate("${MISSING}", &env).unwrap_err().contains("MISSING"));
        assert!(interpolate("${unclosed", &env).is_err());
        assert!(interpolate("${1BAD}", &env).is_err());
    }

    #[test]
    fn hints_point_to_the_right_level_or_spelling() {
        assert!(unknown_key_hint("", "enabled").contains("`sso.enabled`"));
        assert!(unknown_key_hint("sso", "client_id").contains("sso.providers.<provider>.client_id"));
        assert_eq!(unknown_key_hint("server", "prot"), "did you mean `server.port`?");
        assert!(unknown_key_hint("server", "zzzzzz").starts_with("valid keys here"));
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let text = "sso:\n  enabled: \"true\"\n  bogus: 1\nserver:\n  port: \"8080\"\n";
        let walked = walk("c.yaml", text, &no_env);
        let locations: Vec<&str> = walked.diagnostics.iter().map(|d| d.location.as_str()).collect();
        assert_eq!(locations, ["c.yaml:2:12", "c.yaml:3:3", "c.yaml:5:9"], "{:?}", walked.diagnostics);
    }
}
