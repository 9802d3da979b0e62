//! The configuration reference stays true to the code: the key and environment
//! tables of `docs/configuration.md` and `config/llm-sso-proxy.schema.json` are
//! what `config::reference` generates from the key table (`config::keys::KEYS`),
//! and the reference's complete example is a valid configuration.
//! `LLM_SSO_BLESS=1 cargo test -p llm-sso-proxy --test docs` rewrites them.

use llm_sso_proxy::config::{self, Overrides, environment, keys::KEYS, reference};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every key the parser knows, dotted, with `<provider>` for a provider's name and
/// `<allow/deny>[]` for a policy rule.
fn schema_keys() -> BTreeSet<String> {
    KEYS.iter().map(|k| reference::shown_path(k.path)).filter(|k| k.contains('.')).collect()
}

/// The first column of the doc's "Every key" table.
fn documented_keys(doc: &str) -> BTreeSet<String> {
    let section = doc.split("## Every key").nth(1).expect("an `## Every key` section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn configuration_reference_documents_exactly_the_keys_the_parser_accepts() {
    let doc = read("docs/configuration.md");
    let documented = documented_keys(&doc);
    let known = schema_keys();
    let undocumented: Vec<_> = known.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&known).collect();
    assert!(undocumented.is_empty(), "keys missing from docs/configuration.md: {undocumented:?}");
    assert!(stale.is_empty(), "docs/configuration.md documents keys that do not exist: {stale:?}");
    for (variable, key) in environment::variables() {
        assert!(
            doc.contains(&format!("| `{variable}` | `{key}` |")),
            "{variable} is not documented as overriding {key}"
        );
    }
}

/// Dotted paths of every property in the JSON Schema (`<provider>` for additionalProperties
/// of `sso.providers`); asserts every object forbids unknown keys, as the parser does.
fn json_schema_keys(node: &Value, path: &str, out: &mut BTreeSet<String>) {
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        assert_eq!(node.get("additionalProperties"), Some(&Value::Bool(false)), "{path}: unknown keys must be errors");
        for (name, child) in props {
            let child_path = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
            out.insert(child_path.clone());
            json_schema_keys(child, &child_path, out);
        }
    } else if let Some(item) = node.get("additionalProperties").filter(|v| v.is_object()) {
        json_schema_keys(item, &format!("{path}.<provider>"), out);
    } else if let Some(item) = node.get("items").filter(|v| v.get("properties").is_some()) {
        // A list of rules (policy.allow, policy.deny): one shape, shown once.
        let parent = path.rsplit_once('.').map_or("", |(p, _)| p);
        json_schema_keys(item, &format!("{parent}.<allow/deny>[]"), out);
    }
}

#[test]
fn json_schema_has_exactly_the_keys_the_parser_accepts() {
    let schema: Value = serde_json::from_str(&read("config/llm-sso-proxy.schema.json")).expect("valid JSON");
    let mut keys = BTreeSet::new();
    json_schema_keys(&schema, "", &mut keys);
    let keys: BTreeSet<String> = keys.into_iter().filter(|k| k.contains('.')).collect();
    assert_eq!(keys, schema_keys(), "config/llm-sso-proxy.schema.json and config::keys::KEYS differ");
}

#[test]
fn the_complete_example_of_the_reference_is_valid() {
    let doc = read("docs/configuration.md");
    let example = doc.split("## A complete example").nth(1).expect("example section");
    let yaml = example.split("```yaml\n").nth(1).and_then(|b| b.split("```").next()).expect("a yaml block");
    let path = std::env::temp_dir().join(format!("llm-sso-docs-example-{}.yaml", std::process::id()));
    std::fs::write(&path, yaml).expect("write");
    let env = |name: &str| {
        name.ends_with("_KEY").then(|| "k".to_string()).or_else(|| name.ends_with("_SECRET").then(|| "s".to_string()))
    };
    let loaded = config::load(Some(&path), &env, &Overrides::default());
    let _ = std::fs::remove_file(&path);
    let config = loaded.unwrap_or_else(|problems| panic!("the documented example is invalid: {problems}"));
    assert_eq!(config.redirect_uri(), "https://llm-proxy.company.com/auth/callback");
}

fn blessing() -> bool {
    std::env::var_os("LLM_SSO_BLESS").is_some()
}

/// The text between `markers` in `doc`, and the doc with `generated` in its place.
fn generated_block(doc: &str, markers: (&str, &str), generated: &str) -> (String, String) {
    let (before, rest) = doc.split_once(markers.0).unwrap_or_else(|| panic!("{} is missing", markers.0));
    let (inside, after) = rest.split_once(markers.1).unwrap_or_else(|| panic!("{} is missing", markers.1));
    let replaced = format!("{before}{}\n{generated}{}{after}", markers.0, markers.1);
    (inside.trim_start_matches('\n').to_string(), replaced)
}

#[test]
fn the_reference_tables_are_generated_from_the_key_table() {
    let path = repo().join("docs/configuration.md");
    let mut doc = read("docs/configuration.md");
    let mut stale = Vec::new();
    for (markers, generated) in
        [(reference::KEYS_BLOCK, reference::markdown_keys()), (reference::ENV_BLOCK, reference::markdown_environment())]
    {
        let (current, replaced) = generated_block(&doc, markers, &generated);
        if current != generated {
            stale.push(markers.0);
            doc = replaced;
        }
    }
    if blessing() && !stale.is_empty() {
        std::fs::write(&path, &doc).expect("write docs/configuration.md");
    } else {
        assert!(
            stale.is_empty(),
            "stale blocks in docs/configuration.md: {stale:?}; run LLM_SSO_BLESS=1 cargo test -p llm-sso-proxy --test docs"
        );
    }
}

#[test]
fn the_json_schema_is_generated_from_the_key_table() {
    let generated = reference::json_schema();
    let current: Value = serde_json::from_str(&read("config/llm-sso-proxy.schema.json")).expect("valid JSON");
    if current != generated && blessing() {
        let text = serde_json::to_string_pretty(&generated).expect("serialize") + "\n";
        std::fs::write(repo().join("config/llm-sso-proxy.schema.json"), text).expect("write the schema");
    } else {
        assert!(
            current == generated,
            "config/llm-sso-proxy.schema.json is stale; run LLM_SSO_BLESS=1 cargo test -p llm-sso-proxy --test docs"
        );
    }
}
