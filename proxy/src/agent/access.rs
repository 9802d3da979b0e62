//! In `policy` mode the access policy is asked again at every agent request,
//! not only at sign-in: from the identity stored with the token (its email,
//! provider and claims), against the rules the proxy runs now. So a person the
//! policy no longer lets in (an address taken out of an `emails_file`, a rule
//! changed by a reload) is refused at their next request, and a rule's `models`
//! hold for every request its tokens make.
//!
//! Pure decisions over what the auth layer hands in; the layer turns a refusal
//! into a sandbox reply, and a model outside the rule's patterns into an error
//! in the API's own shape.

use crate::authz::policy::{self, Claims, Decision, EmailFiles, Side, Subject};
use crate::config::Policy;
use crate::store::TokenRecord;
use serde::Deserialize;
use std::sync::Arc;

/// What the policy lets this token do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Any model.
    Any,
    /// Only models matching one of these globs (the allow rule's `models`).
    Models(Arc<[String]>),
    /// Not any more: the sentence shown to the person (after "Access denied: ").
    Refused(String),
}

/// The policy's answer for the holder of `record`.
pub fn check(policy: &Policy, record: &TokenRecord, files: &EmailFiles) -> Access {
    let claims = match Claims::from_stored(record.claims.as_deref()) {
        Ok(claims) => claims,
        Err(e) => {
            tracing::error!(token_id = record.id, "{e}: refusing the token until its owner signs in again");
            return Access::Refused("the proxy cannot read what it stored about your sign-in.".into());
        }
    };
    let subject = Subject::new(&record.user_email, &record.provider, &claims);
    let decision = policy::decide(policy, &subject, files);
    match decision.reason(&record.user_email) {
        Some(reason) => Access::Refused(reason),
        None => match &decision {
            Decision::Allowed(rule) if rule.side == Side::Allow => {
                match policy.allow.get(rule.index).and_then(|r| r.models.as_ref()) {
                    Some(models) => Access::Models(models.as_slice().into()),
                    None => Access::Any,
                }
            }
            // `reason` is None only for Allowed; anything else is refused, never let through.
            _ => Access::Refused("the access policy could not be checked. Ask your administrator.".into()),
        },
    }
}

/// Why a request's model is refused: the sentence for the API's error body.
pub fn model_refusal(models: &[String], body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Named {
        model: Option<String>,
    }
    let patterns = models.join(", ");
    match serde_json::from_slice::<Named>(body) {
        // No body, or one that names no model (listing models, for one): nothing to check.
        _ if body.is_empty() => None,
        Ok(Named { model: None }) => None,
        Ok(Named { model: Some(model) }) if models.iter().any(|p| policy::glob(p, &model)) => None,
        Ok(Named { model: Some(model) }) => Some(format!(
            "The model {model:?} is not available to you under your organisation's access policy. \
             Models you may use: {patterns}."
        )),
        // Not one JSON object with at most one `model` (two of them could be read either way): refused.
        Err(_) => Some(format!(
            "The request body could not be read to check its model against your organisation's access \
             policy. Models you may use: {patterns}."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Rule;

    fn record(email: &str, claims: Option<&str>) -> TokenRecord {
        TokenRecord {
            id: 1,
            token_hash: "h".into(),
            user_id: "google:1".into(),
            user_email: email.into(),
            provider: "google".into(),
            is_authenticated: true,
            is_active: true,
            created_at: String::new(),
            last_authenticated_at: None,
            auth_expires_at: None,
            claims: claims.map(str::to_string),
        }
    }

    fn policy() -> Policy {
        let list = |items: &[&str]| Some(items.iter().map(|s| s.to_string()).collect());
        Policy {
            allow: vec![
                Rule { groups: list(&["contractors"]), models: list(&["gpt-4o-mini*"]), ..Rule::default() },
                Rule { email_domains: list(&["company.com"]), ..Rule::default() },
            ],
            deny: vec![Rule { groups: list(&["interns"]), ..Rule::default() }],
        }
    }

    #[test]
    fn the_stored_claims_decide_and_the_allow_rule_names_the_models() {
        let files = EmailFiles::default();
        let contractor = Claims { groups: vec!["contractors".into()], ..Claims::default() };
        let intern = Claims { groups: vec!["interns".into()], ..Claims::default() };
        let stored = |c: &Claims| Some(c.to_stored());
        let r = record("bob@vendor.com", stored(&contractor).as_deref());
        assert_eq!(check(&policy(), &r, &files), Access::Models(vec!["gpt-4o-mini*".to_string()].into()));
        assert_eq!(check(&policy(), &record("alice@company.com", None), &files), Access::Any);
        let r = record("alice@company.com", stored(&intern).as_deref());
        assert!(matches!(check(&policy(), &r, &files), Access::Refused(_)));
        assert!(matches!(check(&policy(), &record("eve@else.com", None), &files), Access::Refused(_)));
        // Claims edited by hand into something the proxy never wrote: refused, not read as "no groups".
        let r = record("alice@company.com", Some("{not json"));
        assert!(matches!(check(&policy(), &r, &files), Access::Refused(_)));
    }

    #[test]
    fn a_model_outside_the_patterns_is_refused_by_name() {
        let models = ["gpt-4o-mini*".to_string()];
        assert_eq!(model_refusal(&models, br#"{"model":"gpt-4o-mini-2024-07-18","stream":true}"#), None);
        let refused = model_refusal(&models, br#"{"model":"gpt-4o"}"#).unwrap_or_default();
        assert!(refused.contains("\"gpt-4o\"") && refused.contains("gpt-4o-mini*"), "{refused}");
        assert_eq!(model_refusal(&models, b""), None);
        assert_eq!(model_refusal(&models, br#"{"input":"x"}"#), None);
        // Two `model` keys: an upstream might read the second one.
        assert!(model_refusal(&models, br#"{"model":"gpt-4o-mini","model":"gpt-4o"}"#).is_some());
        assert!(model_refusal(&models, b"not json").is_some());
    }
}
