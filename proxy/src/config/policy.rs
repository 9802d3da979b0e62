//! The checks of an access policy (`sso.authorization.policy`) that the key
//! table cannot express: a policy mode with nothing to allow, a rule that can
//! never match, a provider the rule names that does not exist, an
//! `emails_file` that cannot be read. Each is reported where the rule is
//! written, with what to change.

use super::diagnostics::Diagnostic;
use super::suggest::closest;
use super::types::{AuthMode, Config, Rule};
use super::walk::Walked;

/// The policy's problems, appended to `w.diagnostics`.
pub fn check(w: &mut Walked) {
    let c = w.config.clone();
    let policy = &c.sso.authorization.policy;
    let mut found = Vec::new();
    let mut push = |path: &str, message: String, hint: String| {
        found.push(Diagnostic::new(w.origin(path), path, message).hint(hint));
    };
    let policy_mode = c.sso.enabled && c.sso.authorization.mode == AuthMode::Policy;
    let rules_reported = w.diagnostics.iter().any(|d| d.path.starts_with("sso.authorization.policy."));
    if policy_mode && policy.allow.is_empty() && !rules_reported {
        push(
            "sso.authorization.policy.allow",
            "policy mode needs at least one allow rule: as written, no one could sign in".into(),
            "e.g.\n  policy:\n    allow:\n      - email_domains: [\"company.com\"]".into(),
        );
    }
    for (side, rules) in [("allow", &policy.allow), ("deny", &policy.deny)] {
        for (i, rule) in rules.iter().enumerate() {
            let at = format!("sso.authorization.policy.{side}[{i}]");
            for problem in problems(rule, side == "deny", &c) {
                let path = problem.key.map_or_else(|| at.clone(), |k| format!("{at}.{k}"));
                push(&path, problem.message, problem.hint);
            }
        }
    }
    w.diagnostics.extend(found);
}

struct Problem {
    /// The rule's key it is about; the rule itself when `None`.
    key: Option<&'static str>,
    message: String,
    hint: String,
}

fn problem(key: Option<&'static str>, message: impl Into<String>, hint: impl Into<String>) -> Problem {
    Problem { key, message: message.into(), hint: hint.into() }
}

/// What is wrong with one rule.
fn problems(rule: &Rule, deny: bool, c: &Config) -> Vec<Problem> {
    let mut out = Vec::new();
    let lists = [
        ("email_domains", &rule.email_domains),
        ("emails", &rule.emails),
        ("groups", &rule.groups),
        ("roles", &rule.roles),
        ("tenants", &rule.tenants),
        ("providers", &rule.providers),
        ("models", &rule.models),
    ];
    for (key, list) in lists {
        if list.as_ref().is_some_and(Vec::is_empty) {
            out.push(problem(
                Some(key),
                format!("an empty `{key}` list matches no one, so this rule can never match"),
                format!("list at least one value, or remove `{key}` to not filter on it"),
            ));
        }
        if list.as_ref().is_some_and(|l| l.iter().any(|v| v.trim().is_empty())) {
            out.push(problem(Some(key), format!("`{key}` has an empty entry"), "remove it"));
        }
    }
    let conditions = [
        rule.email_domains.is_some(),
        rule.emails.is_some(),
        rule.emails_file.is_some(),
        rule.groups.is_some(),
        rule.roles.is_some(),
        rule.tenants.is_some(),
        rule.providers.is_some(),
    ];
    if deny && !conditions.contains(&true) {
        out.push(problem(
            None,
            "a deny rule without conditions refuses everyone",
            "name who it is for: email_domains, emails, emails_file, groups, roles, tenants or providers",
        ));
    }
    if deny && (rule.models.is_some() || rule.budget.tokens_per_day.is_some() || rule.budget.tokens_per_month.is_some())
    {
        out.push(problem(
            None,
            "models and budget belong to allow rules: a deny rule lets no one in to use them",
            "move them to the allow rule of the people they are for",
        ));
    }
    for domain in rule.email_domains.iter().flatten() {
        let bare = domain.trim_start_matches('@');
        if bare.contains('@') || !bare.contains('.') || bare.chars().any(char::is_whitespace) {
            out.push(problem(
                Some("email_domains"),
                format!("{domain:?} is not a domain"),
                "write the part after the @, e.g. \"company.com\"",
            ));
        }
    }
    for email in rule.emails.iter().flatten() {
        if email.matches('@').count() != 1 || email.chars().any(char::is_whitespace) {
            out.push(problem(
                Some("emails"),
                format!("{email:?} is not an email address"),
                "e.g. \"alice@company.com\"",
            ));
        }
    }
    if let (Some(domains), Some(emails)) = (&rule.email_domains, &rule.emails) {
        let in_a_domain = |e: &String| {
            let d = e.rsplit_once('@').map_or("", |(_, d)| d);
            domains.iter().any(|x| x.trim_start_matches('@').eq_ignore_ascii_case(d))
        };
        if !emails.is_empty() && !domains.is_empty() && !emails.iter().any(in_a_domain) {
            out.push(problem(
                None,
                "this rule can never match: none of its emails is in one of its email_domains (a rule needs all \
                 its conditions)",
                "for \"these domains or these addresses\", write two rules",
            ));
        }
    }
    for name in rule.providers.iter().flatten() {
        if !c.sso.providers.contains_key(name) {
            let names: Vec<&str> = c.sso.providers.keys().map(String::as_str).collect();
            let hint = match closest(name, &names) {
                Some(near) => format!("did you mean {near:?}? Provider names are case-sensitive"),
                None => format!("the providers are: {}", names.join(", ")),
            };
            out.push(problem(Some("providers"), format!("no provider named {name:?} in sso.providers"), hint));
        }
    }
    if let Some(file) = &rule.emails_file
        && let Err(e) = std::fs::File::open(file)
    {
        out.push(problem(
            Some("emails_file"),
            format!("cannot read {file}: {e}"),
            "one address per line; a relative path is relative to the proxy's working directory",
        ));
    }
    out
}
