//! The walk from the YAML tree to [`Config`], driven by the key table: every
//! key is checked against [`keys::KEYS`] and every value against its field's
//! type, and *all* problems are collected (unknown or misplaced keys with a
//! suggestion, wrong types, missing environment variables), each with
//! file:line:column. Secret values never appear in a message.

use super::diagnostics::{self, Diagnostic};
use super::interpolate::interpolate;
use super::keys::{self, Field, Key, Parsed, Target};
use super::suggest::{is_a_key_name, unknown_key_hint};
use super::types::{Config, Provider, Rule, TlsFiles};
use super::yaml::{self, Mark, Node, Value};
use std::collections::BTreeMap;

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
        Ok(Some(root)) => w.section(&root, ""),
    }
    diagnostics::sort(&mut w.out.diagnostics);
    w.out
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
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

    /// One mapping of the table (`schema_path`, e.g. `server`), found at `path`.
    fn section(&mut self, node: &Node, schema_path: &str) {
        let fields = self.fields(node, schema_path, schema_path);
        for key in keys::children(schema_path) {
            let Some(child) = fields.get(key.name()) else { continue };
            match &key.target {
                Target::Section if key.path == "server.tls" => self.tls(child, key),
                Target::Section => self.section(child, key.path),
                Target::Providers => self.providers(child),
                Target::Rules(list) => {
                    let rules = self.rules(child, key.path);
                    *list(&mut self.out.config) = rules;
                }
                Target::Config(field) => {
                    if let Some(value) = self.value(child, key.path, key, field) {
                        field.store(&mut self.out.config, value);
                    }
                }
                // Keys of a TLS section, a provider or a rule are read with their record.
                Target::Tls(_) | Target::Provider(_) | Target::Rule(_) => {}
            }
        }
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
        for (key, value) in entries {
            let child = join(path, &key.name);
            if out.contains_key(key.name.as_str()) {
                self.error(key.mark, &child, "duplicate key", Some("remove one of the two".into()));
                continue;
            }
            if !keys::children(schema_path).any(|k| k.name() == key.name) {
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

    /// A record whose keys are all read before it is stored: a provider, a
    /// policy rule, or the TLS files. A missing required key is reported at
    /// `at`, and the record is kept only when every key was valid.
    fn record<T: Default>(
        &mut self,
        node: &Node,
        at: Mark,
        path: &str,
        schema_path: &str,
        field_of: fn(&Key) -> Option<&Field<T>>,
    ) -> Option<T> {
        let mut record = T::default();
        let complete = self.fill(&mut record, node, at, path, schema_path, field_of);
        complete.then_some(record)
    }

    /// The keys of one mapping of a record, and of the sections nested in it
    /// (a rule's `budget`); `false` when one was missing or invalid.
    fn fill<T>(
        &mut self,
        record: &mut T,
        node: &Node,
        at: Mark,
        path: &str,
        schema_path: &str,
        field_of: fn(&Key) -> Option<&Field<T>>,
    ) -> bool {
        let fields = self.fields(node, path, schema_path);
        let mut complete = true;
        for key in keys::children(schema_path) {
            let key_path = join(path, key.name());
            if matches!(key.target, Target::Section) {
                if let Some(child) = fields.get(key.name()) {
                    complete &= self.fill(record, child, child.mark, &key_path, key.path, field_of);
                }
                continue;
            }
            let Some(field) = field_of(key) else { continue };
            match fields.get(key.name()) {
                Some(child) => match self.value(child, &key_path, key, field) {
                    Some(value) => field.store(record, value),
                    None => complete = false,
                },
                None if key.required => {
                    self.error(at, &key_path, "required field is missing", Some(key.example.into()));
                    complete = false;
                }
                None => {}
            }
        }
        complete
    }

    /// `policy.allow` or `policy.deny`: a list of rules, each a mapping of conditions. A rule with a
    /// problem is reported and left out (the checks then refuse the whole file).
    fn rules(&mut self, node: &Node, path: &str) -> Vec<Rule> {
        let items = match &node.value {
            Value::Seq(items) => items,
            Value::Null => return Vec::new(),
            _ => {
                let found = node.describe(true);
                let hint = "write a list of rules, e.g.\n  allow:\n    - email_domains: [\"company.com\"]";
                self.error(node.mark, path, format!("must be a list of rules, found {found}"), Some(hint.into()));
                return Vec::new();
            }
        };
        let mut rules = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            if !matches!(item.value, Value::Map(_)) {
                let found = item.describe(true);
                let hint = "a rule is a mapping of conditions such as email_domains, emails, groups, tenants";
                self.error(
                    item.mark,
                    &item_path,
                    format!("a rule must be a mapping, found {found}"),
                    Some(hint.into()),
                );
                continue;
            }
            self.out.origins.insert(item_path.clone(), self.at(item.mark));
            if let Some(rule) = self.record(item, item.mark, &item_path, "sso.authorization.policy.*", Key::rule_field)
            {
                rules.push(rule);
            }
        }
        rules
    }

    /// Both files or neither: half a TLS setup is an error, not plain HTTP.
    fn tls(&mut self, node: &Node, key: &Key) {
        if node.value == Value::Null {
            return;
        }
        let files: Option<TlsFiles> = self.record(node, node.mark, key.path, key.path, Key::tls_field);
        if files.is_some() {
            self.out.config.server.tls = files;
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
                let hint = if is_a_key_name(&key.name) {
                    format!("`{}` is a setting, not a provider: check indentation", key.name)
                } else {
                    "a provider is a mapping with type, client_id, client_secret, discovery_url and scopes".into()
                };
                let found = value.describe(false);
                self.error(key.mark, &path, format!("provider must be a mapping, found {found}"), Some(hint));
                continue;
            }
            self.out.origins.insert(path.clone(), self.at(key.mark));
            let provider: Option<Provider> =
                self.record(value, key.mark, &path, "sso.providers.*", Key::provider_field);
            if let Some(provider) = provider {
                self.out.config.sso.providers.insert(key.name.clone(), provider);
            }
        }
    }

    /// A value of the field's type, or `None` after reporting why not.
    fn value<T>(&mut self, node: &Node, path: &str, key: &Key, field: &Field<T>) -> Option<Parsed> {
        let text = |w: &mut Self, secret| w.string(node, path, secret).map(Parsed::Text);
        let nullable = |w: &mut Self, secret| {
            if node.value == Value::Null { Some(Parsed::Null) } else { w.string(node, path, secret).map(Parsed::Text) }
        };
        match field {
            Field::Text(_) | Field::BaseUrl(_) | Field::Path(_) => text(self, false),
            Field::RequiredSecret(_) => text(self, true),
            Field::OptText(_) => nullable(self, false),
            Field::Secret(_) => nullable(self, true),
            Field::Bool(_) => self.boolean(node, path).map(Parsed::Bool),
            Field::U16(_) | Field::U32(_) | Field::U64(_) | Field::Usize(_) => {
                self.number(node, path, key.range.0, key.range.1).map(Parsed::Number)
            }
            Field::List(_) => self.strings(node, path).map(Parsed::List),
            Field::OptList(_) if node.value == Value::Null => Some(Parsed::Null),
            Field::OptList(_) => self.strings(node, path).map(Parsed::List),
            Field::OptU64(_) if node.value == Value::Null => Some(Parsed::Null),
            Field::OptU64(_) => self.number(node, path, key.range.0, key.range.1).map(Parsed::Number),
            Field::Networks(_) => self.networks(node, path).map(Parsed::Networks),
            Field::Mode(_) => {
                let v = self.string(node, path, false)?;
                let mode = keys::parse_mode(&v);
                if mode.is_none() {
                    let hint = "use \"single_user\" (code in the server console), \"enterprise\" (authorization API) \
                                or \"policy\" (the rules of sso.authorization.policy)";
                    self.error(node.mark, path, format!("unknown mode {v:?}"), Some(hint.into()));
                }
                mode.map(Parsed::Mode)
            }
        }
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

    /// IP addresses or CIDR networks; each bad item is reported at its own position.
    fn networks(&mut self, node: &Node, path: &str) -> Option<Vec<ipnet::IpNet>> {
        let list = self.strings(node, path)?;
        let mut nets = Vec::new();
        for (i, text) in list.iter().enumerate() {
            let net =
                text.parse::<ipnet::IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match net {
                Ok(net) => nets.push(net),
                Err(_) => {
                    let mark = match &node.value {
                        Value::Seq(items) => items.get(i).map_or(node.mark, |item| item.mark),
                        _ => node.mark,
                    };
                    let msg = format!("{text:?} is not an IP address or CIDR network");
                    self.error(mark, &format!("{path}[{i}]"), msg, Some("e.g. \"10.0.0.0/8\"".into()));
                }
            }
        }
        Some(nets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let text = "sso:\n  enabled: \"true\"\n  bogus: 1\nserver:\n  port: \"8080\"\n";
        let walked = walk("c.yaml", text, &no_env);
        let locations: Vec<&str> = walked.diagnostics.iter().map(|d| d.location.as_str()).collect();
        assert_eq!(locations, ["c.yaml:2:12", "c.yaml:3:3", "c.yaml:5:9"], "{:?}", walked.diagnostics);
    }

    /// A value of the field's type that differs from `current`.
    fn another<T>(field: &Field<T>, range: (u64, u64), current: Parsed) -> Parsed {
        match (field, current) {
            (Field::Bool(_), Parsed::Bool(b)) => Parsed::Bool(!b),
            (Field::Mode(_), Parsed::Mode(crate::config::AuthMode::SingleUser)) => {
                Parsed::Mode(crate::config::AuthMode::Enterprise)
            }
            (Field::Mode(_), _) => Parsed::Mode(crate::config::AuthMode::SingleUser),
            (_, Parsed::Number(n)) => Parsed::Number(if n == range.0 { range.1 } else { range.0 }),
            (Field::List(_) | Field::OptList(_), _) => Parsed::List(vec!["openid".into(), "sample".into()]),
            (Field::OptU64(_), _) => Parsed::Number(range.0 + 1),
            (Field::Networks(_), _) => Parsed::Networks(vec!["10.0.0.0/8".parse().unwrap()]),
            (Field::BaseUrl(_), _) => Parsed::Text("http://sample.test".into()),
            _ => Parsed::Text("sample-value".into()),
        }
    }

    #[test]
    fn every_key_of_the_table_survives_print_config_and_a_walk_back() {
        // Every key set to something other than its default, printed as
        // --print-config does, and read back: each key reaches its field.
        let mut config = Config::default();
        config.server.tls = Some(TlsFiles::default());
        let mut provider = Provider::default();
        let mut rule = Rule::default();
        for key in keys::KEYS {
            match &key.target {
                Target::Config(f) => {
                    let value = another(f, key.range, f.read(&mut config));
                    f.store(&mut config, value);
                }
                Target::Provider(f) => {
                    let value = another(f, key.range, f.read(&mut provider));
                    f.store(&mut provider, value);
                }
                Target::Tls(f) => {
                    if let Some(tls) = config.server.tls.as_mut() {
                        let value = another(f, key.range, f.read(tls));
                        f.store(tls, value);
                    }
                }
                Target::Rule(f) => {
                    let value = another(f, key.range, f.read(&mut rule));
                    f.store(&mut rule, value);
                }
                Target::Section | Target::Providers | Target::Rules(_) => {}
            }
        }
        config.sso.providers.insert("p".into(), provider);
        config.sso.authorization.policy.allow = vec![rule.clone(), Rule::default()];
        config.sso.authorization.policy.deny = vec![rule];
        let text = crate::config::redacted::render(&config);
        let walked = walk("printed.yaml", &text, &no_env);
        assert!(walked.diagnostics.is_empty(), "{:?}\n{text}", walked.diagnostics);
        let (mut printed, mut read, mut defaults) = (config.clone(), walked.config.clone(), Config::default());
        for key in keys::KEYS {
            if let Target::Config(f) = &key.target {
                let (want, got) = (f.read(&mut printed), f.read(&mut read));
                assert_ne!(got, f.read(&mut defaults), "{} kept its default\n{text}", key.path);
                if !key.is_secret() {
                    assert_eq!(got, want, "{}", key.path);
                }
            }
        }
        assert_eq!(read.server.tls, printed.server.tls);
        let (mut want, mut got) = (printed.sso.providers["p"].clone(), read.sso.providers["p"].clone());
        for key in keys::children("sso.providers.*") {
            if let Some(f) = key.provider_field().filter(|_| !key.is_secret()) {
                assert_eq!(f.read(&mut got), f.read(&mut want), "{}", key.path);
            }
        }
        assert_eq!(read.sso.authorization.policy, printed.sso.authorization.policy, "{text}");
        for key in keys::KEYS.iter().filter(|k| k.rule_field().is_some()) {
            let (mut want, mut got) =
                (printed.sso.authorization.policy.deny[0].clone(), read.sso.authorization.policy.deny[0].clone());
            if let Some(f) = key.rule_field() {
                assert_ne!(f.read(&mut got), f.read(&mut Rule::default()), "{} kept its default\n{text}", key.path);
                assert_eq!(f.read(&mut got), f.read(&mut want), "{}", key.path);
            }
        }
    }
}
