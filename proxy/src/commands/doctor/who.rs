//! `doctor --who EMAIL`: which rule of the access policy would decide for a
//! person, and why, without anyone signing in. The operator gives what the ID
//! token would carry (`--groups`, `--roles`, `--tenant`, `--provider`); the
//! answer is the policy's own decision (the evaluator the sign-in uses), the
//! rule that took it with each of its conditions, the sentence the person
//! would read, and the models the rule allows.

use crate::authz::policy::{self, Decision, EmailFiles, Side, Subject};
use crate::config::{AuthMode, Config, Rule};
use serde::Serialize;

/// Who the operator asks about, as the ID token would describe them.
#[derive(Debug, Clone, Default)]
pub struct Person {
    pub email: String,
    pub provider: Option<String>,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    pub tenant: Option<String>,
}

/// The policy's answer, as printed (`--json`: this document).
#[derive(Debug, Serialize)]
pub struct Answer {
    pub who: String,
    pub provider: String,
    pub allowed: bool,
    /// "allowed by allow rule \"staff\"", "refused: no allow rule matches", ...
    pub decision: String,
    /// The deciding rule's conditions, each with whether it holds; with no deciding rule, every allow rule's.
    pub conditions: Vec<String>,
    /// What the person would be told (after "Access denied: ").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The models the allowing rule lets them call (`None`: any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
}

/// The policy's answer for `person` under `config`; why it cannot be asked otherwise.
pub fn answer(config: &Config, person: &Person) -> Result<Answer, String> {
    let a = &config.sso.authorization;
    if a.mode != AuthMode::Policy {
        return Err(format!(
            "sso.authorization.mode is {:?}: the access policy decides nothing (set mode: \"policy\")",
            a.mode.as_str()
        ));
    }
    let providers: Vec<&String> = config.sso.providers.keys().collect();
    let provider = match (&person.provider, providers.as_slice()) {
        (Some(p), _) if config.sso.providers.contains_key(p) => p.clone(),
        (Some(p), _) => return Err(format!("no provider {p:?} in sso.providers (configured: {})", join(&providers))),
        (None, [only]) => (*only).clone(),
        (None, _) => return Err(format!("name the provider with --provider (configured: {})", join(&providers))),
    };
    let subject = Subject {
        email: person.email.clone(),
        provider: provider.clone(),
        tenant: person.tenant.clone(),
        groups: person.groups.clone(),
        roles: person.roles.clone(),
        groups_overage: false,
    };
    let files = EmailFiles::default();
    let decision = policy::decide(&a.policy, &subject, &files);
    let rule_of = |side: Side, index: usize| -> Option<&Rule> {
        match side {
            Side::Allow => a.policy.allow.get(index),
            Side::Deny => a.policy.deny.get(index),
        }
    };
    let named = |r: &policy::RuleRef| {
        let list = if r.side == Side::Allow { "allow" } else { "deny" };
        format!("{list} rule {:?}", r.label)
    };
    let (decision_text, conditions, models) = match &decision {
        Decision::Allowed(r) => {
            let rule = rule_of(r.side, r.index);
            let models = rule.and_then(|rule| rule.models.clone());
            (format!("allowed by {}", named(r)), rule.map(|x| policy::explain(x, &subject, &files)), models)
        }
        Decision::Denied(r) => (
            format!("refused by {}", named(r)),
            rule_of(r.side, r.index).map(|x| policy::explain(x, &subject, &files)),
            None,
        ),
        Decision::Undecidable(r, _) => (
            format!("refused: {} cannot be checked for this person", named(r)),
            rule_of(r.side, r.index).map(|x| policy::explain(x, &subject, &files)),
            None,
        ),
        Decision::NotAllowed => {
            let each = a.policy.allow.iter().enumerate().flat_map(|(i, rule)| {
                let label = rule.name.clone().unwrap_or_else(|| format!("allow[{i}]"));
                policy::explain(rule, &subject, &files).into_iter().map(move |c| format!("{label}: {c}"))
            });
            ("refused: no allow rule matches".to_string(), Some(each.collect()), None)
        }
    };
    Ok(Answer {
        who: person.email.clone(),
        provider,
        allowed: matches!(decision, Decision::Allowed(_)),
        decision: decision_text,
        conditions: conditions.unwrap_or_default(),
        reason: decision.reason(&person.email),
        models,
    })
}

fn join(names: &[&String]) -> String {
    if names.is_empty() { "none".into() } else { names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ") }
}

impl Answer {
    pub fn text(&self, person: &Person) -> String {
        let list = |items: &[String]| if items.is_empty() { "none".to_string() } else { items.join(", ") };
        let mut out = format!("llm-sso-proxy doctor --who {}\n", self.who);
        out.push_str(&format!(
            "  as signed in with {}: groups {}; roles {}; tenant {}\n",
            self.provider,
            list(&person.groups),
            list(&person.roles),
            person.tenant.as_deref().unwrap_or("none")
        ));
        out.push_str(&format!("  decision: {}\n", self.decision));
        for c in &self.conditions {
            out.push_str(&format!("    {c}\n"));
        }
        if let Some(reason) = &self.reason {
            out.push_str(&format!("  the person reads: Access denied: {reason}\n"));
        }
        if self.allowed {
            match &self.models {
                Some(models) => out.push_str(&format!("  models: {}\n", models.join(", "))),
                None => out.push_str("  models: any\n"),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml_policy: impl FnOnce(&mut Config)) -> Config {
        let mut c = Config::default();
        c.sso.authorization.mode = AuthMode::Policy;
        c.sso.providers.insert("google".into(), Default::default());
        yaml_policy(&mut c);
        c
    }

    fn list(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn names_the_deciding_rule_and_its_conditions() {
        let c = config(|c| {
            c.sso.authorization.policy.allow = vec![Rule {
                name: Some("staff".into()),
                email_domains: list(&["company.com"]),
                models: list(&["gpt-4o-mini*"]),
                ..Rule::default()
            }];
            c.sso.authorization.policy.deny =
                vec![Rule { name: Some("interns".into()), groups: list(&["interns"]), ..Rule::default() }];
        });
        let alice = Person { email: "alice@company.com".into(), ..Person::default() };
        let a = answer(&c, &alice).unwrap();
        assert!(a.allowed && a.decision == "allowed by allow rule \"staff\"", "{a:?}");
        assert_eq!(a.conditions, ["email_domains: yes"]);
        assert_eq!(a.models, list(&["gpt-4o-mini*"]));
        let ivan = Person { email: "ivan@company.com".into(), groups: vec!["interns".into()], ..Person::default() };
        let a = answer(&c, &ivan).unwrap();
        assert!(!a.allowed && a.decision.contains("deny rule \"interns\""), "{a:?}");
        assert!(a.reason.as_deref().is_some_and(|r| r.contains("excludes")), "{a:?}");
        let bob = Person { email: "bob@else.org".into(), ..Person::default() };
        let a = answer(&c, &bob).unwrap();
        assert_eq!(a.conditions, ["staff: email_domains: no"]);
        assert!(a.text(&bob).contains("no allow rule matches"));
    }

    #[test]
    fn says_why_it_cannot_answer() {
        let mut c = config(|_| {});
        c.sso.providers.insert("microsoft".into(), Default::default());
        let who = Person { email: "a@b.c".into(), ..Person::default() };
        assert!(answer(&c, &who).unwrap_err().contains("--provider"));
        let who = Person { provider: Some("okta".into()), ..who };
        assert!(answer(&c, &who).unwrap_err().contains("google, microsoft"));
        c.sso.authorization.mode = AuthMode::SingleUser;
        assert!(answer(&c, &who).unwrap_err().contains("decides nothing"));
    }
}
