//! The configuration reference, generated from the key table: the "Every key"
//! and "Environment variables" tables of `docs/configuration.md` and the JSON
//! Schema editors use (`config/llm-sso-proxy.schema.json`). `proxy/tests/docs.rs`
//! fails when the files differ from what this module writes, and rewrites them
//! with `LLM_SSO_BLESS=1`.

use super::keys::{self, Field, KEYS, Key, Parsed, Target};
use serde_json::{Map, Value, json};

/// The markers around each generated block in `docs/configuration.md`.
pub const KEYS_BLOCK: (&str, &str) = ("<!-- keys: generated from proxy/src/config/keys.rs -->", "<!-- keys: end -->");
pub const ENV_BLOCK: (&str, &str) =
    ("<!-- environment: generated from proxy/src/config/keys.rs -->", "<!-- environment: end -->");

/// A key's path as the reference shows it: `<provider>`, and `<allow/deny>[]` for a policy rule.
pub fn shown_path(path: &str) -> String {
    path.replace("policy.*", "policy.<allow/deny>[]").replace('*', "<provider>")
}

fn kind_of<T>(field: &Field<T>, range: (u64, u64)) -> String {
    match field {
        Field::Text(_) | Field::OptText(_) => "string".into(),
        Field::BaseUrl(_) => "URL".into(),
        Field::Secret(_) | Field::RequiredSecret(_) => "secret".into(),
        Field::Path(_) => "path".into(),
        Field::Bool(_) => "boolean".into(),
        Field::U16(_) | Field::U32(_) | Field::U64(_) | Field::Usize(_) => format!("{}–{}", range.0, range.1),
        Field::OptU64(_) => format!("{}–{} or `null`", range.0, range.1),
        Field::List(_) => "list".into(),
        Field::OptList(_) => "list or `null`".into(),
        Field::Networks(_) => "list of IPs or CIDRs".into(),
        Field::Mode(_) => "`single_user`, `enterprise` or `policy`".into(),
    }
}

fn is_list<T>(field: &Field<T>) -> bool {
    matches!(field, Field::List(_) | Field::Networks(_))
}

/// (type column, default column) of the key table.
fn columns(key: &Key) -> (String, String) {
    let default = |is_list: bool| match key.default {
        _ if key.required => "—".to_string(),
        Some(text) => format!("`{text}`"),
        None if is_list => "`[]`".into(),
        None => "none".into(),
    };
    let (kind, default) = match &key.target {
        Target::Section => ("mapping".into(), "—".into()),
        Target::Providers => ("mapping of names".into(), "`{}`".into()),
        Target::Rules(_) => ("list of rules".into(), "`[]`".into()),
        Target::Config(f) => (kind_of(f, key.range), default(is_list(f))),
        Target::Tls(f) => (kind_of(f, key.range), default(is_list(f))),
        Target::Provider(f) => (kind_of(f, key.range), default(is_list(f))),
        Target::Rule(f) => (kind_of(f, key.range), default(is_list(f))),
    };
    (key.shape.map_or(kind, str::to_string), default)
}

/// The rows of `docs/configuration.md`'s "Every key" table, with its header.
pub fn markdown_keys() -> String {
    let mut out = String::from("| key | type, range | default | meaning |\n|---|---|---|---|\n");
    for key in KEYS.iter().filter(|k| !k.parent().is_empty()) {
        let (kind, default) = columns(key);
        out.push_str(&format!("| `{}` | {kind} | {default} | {} |\n", shown_path(key.path), key.doc));
    }
    out
}

/// The "Environment variables" table.
pub fn markdown_environment() -> String {
    let mut out = String::from("| variable | overrides | accepts |\n|---|---|---|\n");
    for key in KEYS {
        let (Some(name), Target::Config(field)) = (key.env, &key.target) else { continue };
        let accepts = match field {
            Field::Bool(_) => "`true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`)".to_string(),
            _ => key.shape.map_or_else(|| kind_of(field, key.range), str::to_string),
        };
        out.push_str(&format!("| `{name}` | `{}` | {accepts} |\n", key.path));
    }
    out.push_str(
        "| `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` | — | outbound proxy for the identity providers, the \
         authorization API and the upstreams |\n",
    );
    out
}

fn leaf<T>(key: &Key, field: &Field<T>) -> Value {
    let nullable = |t: &str| json!([t, "null"]);
    let mut node = match field {
        Field::Text(_) | Field::BaseUrl(_) | Field::Path(_) | Field::RequiredSecret(_) => json!({"type": "string"}),
        Field::OptText(_) | Field::Secret(_) => json!({"type": nullable("string")}),
        Field::Bool(_) => json!({"type": "boolean"}),
        Field::U16(_) | Field::U32(_) | Field::U64(_) | Field::Usize(_) => {
            json!({"type": "integer", "minimum": key.range.0, "maximum": key.range.1})
        }
        Field::OptU64(_) => json!({"type": nullable("integer"), "minimum": key.range.0, "maximum": key.range.1}),
        Field::List(_) | Field::OptList(_) | Field::Networks(_) => {
            json!({"type": nullable("array"), "items": {"type": "string"}})
        }
        Field::Mode(_) => json!({"type": "string", "enum": ["single_user", "enterprise", "policy"]}),
    };
    let default = match key.default.map(|text| keys::parse_text(field, key.range, text)) {
        Some(Ok(Parsed::Bool(b))) => Some(json!(b)),
        Some(Ok(Parsed::Number(n))) => Some(json!(n)),
        Some(Ok(Parsed::Text(t))) => Some(json!(t)),
        Some(Ok(Parsed::Mode(m))) => Some(json!(m.as_str())),
        _ if is_list(field) && !key.required => Some(json!([])),
        _ => None,
    };
    if let (Some(map), Some(default)) = (node.as_object_mut(), default) {
        map.insert("default".into(), default);
    }
    node
}

/// The object schema of the mapping at `schema_path`.
fn object(schema_path: &str, description: &str, nullable: bool) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for key in keys::children(schema_path) {
        let mut node = match &key.target {
            Target::Section => object(key.path, key.doc, true),
            Target::Providers => json!({
                "type": ["object", "null"],
                "additionalProperties": object("sso.providers.*", "One OpenID Connect provider.", false),
            }),
            Target::Rules(_) => json!({
                "type": ["array", "null"],
                "items": object("sso.authorization.policy.*", "One rule: it matches when every condition it names holds.", false),
            }),
            Target::Config(f) => leaf(key, f),
            Target::Tls(f) => leaf(key, f),
            Target::Provider(f) => leaf(key, f),
            Target::Rule(f) => leaf(key, f),
        };
        if let Some(map) = node.as_object_mut() {
            map.insert("description".into(), json!(key.doc));
        }
        if key.required {
            required.push(key.name());
        }
        properties.insert(key.name().to_string(), node);
    }
    let mut node = json!({
        "type": if nullable { json!(["object", "null"]) } else { json!("object") },
        "description": description,
        "additionalProperties": false,
        "properties": properties,
    });
    if let (Some(map), false) = (node.as_object_mut(), required.is_empty()) {
        map.insert("required".into(), json!(required));
    }
    node
}

/// `config/llm-sso-proxy.schema.json`.
pub fn json_schema() -> Value {
    let mut root = object(
        "",
        "The YAML file given to llm-sso-proxy --sso-config. Reference: docs/configuration.md. \
         `llm-sso-proxy --validate-only` is the authority; this schema is for editors.",
        false,
    );
    if let Some(map) = root.as_object_mut() {
        map.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
        map.insert("$id".into(), json!("https://github.com/llm-sso-kit/llm-sso-kit/config/llm-sso-proxy.schema.json"));
        map.insert("title".into(), json!("llm-sso-proxy configuration"));
    }
    root
}
