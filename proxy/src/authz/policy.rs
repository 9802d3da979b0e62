//! `policy` mode: the organisation's own rules decide who may sign in, from the
//! verified identity alone. Deny rules win over allow rules; a rule
//! matches when every condition it names holds.
//!
//! A condition the proxy cannot check fails closed: a rule that names groups
//! when the identity provider left them out of the token (Entra's group
//! overage), or an `emails_file` that cannot be read. Such a deny rule refuses
//! everyone it might cover; such an allow rule lets no one in. The reason shown
//! to the person says what they (or their administrator) can do, and never
//! lists the rules.

use crate::config::{Policy, Rule};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Largest `emails_file` read; a bigger one matches no one (and is logged).
pub const MAX_EMAILS_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The claims an access policy reads, as the ID token carried them. Kept with the token (JSON in its
/// `claims` column), so the policy can be asked again at every request without the identity provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Microsoft Entra directory (`tid`).
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    /// The token says the groups are elsewhere (Entra's `_claim_names`): too many to list.
    #[serde(default)]
    pub groups_overage: bool,
}

impl Claims {
    /// The text kept with a token.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The claims kept with a token: none stored (a token issued before claims were kept) reads as none
    /// held; a text the proxy did not write (edited by hand) is an error, so the caller fails closed.
    pub fn from_stored(stored: Option<&str>) -> Result<Claims, String> {
        match stored {
            None => Ok(Claims::default()),
            Some(text) => {
                serde_json::from_str(text).map_err(|e| format!("unreadable claims stored with the token: {e}"))
            }
        }
    }
}

/// What the policy sees of a person: the verified identity and the claims it came with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub email: String,
    pub provider: String,
    /// Microsoft Entra directory (`tid`).
    pub tenant: Option<String>,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    /// The identity provider had too many groups to list (Entra's `_claim_names`): they are unknown.
    pub groups_overage: bool,
}

impl Subject {
    pub fn new(email: &str, provider: &str, claims: &Claims) -> Self {
        Subject {
            email: email.to_string(),
            provider: provider.to_string(),
            tenant: claims.tenant.clone(),
            groups: claims.groups.clone(),
            roles: claims.roles.clone(),
            groups_overage: claims.groups_overage,
        }
    }
}

/// Which list a rule is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Allow,
    Deny,
}

/// A rule as the log and `doctor` name it: its `name`, or `allow[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    pub side: Side,
    pub index: usize,
    pub label: String,
}

impl RuleRef {
    fn new(side: Side, index: usize, rule: &Rule) -> Self {
        let list = if side == Side::Allow { "allow" } else { "deny" };
        let label = rule.name.clone().unwrap_or_else(|| format!("{list}[{index}]"));
        RuleRef { side, index, label }
    }
}

/// Why a condition could not be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unknown {
    /// The token did not list the groups (too many of them).
    Groups,
    /// An `emails_file` could not be read.
    EmailsFile(String),
}

/// The policy's answer for one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed(RuleRef),
    /// A deny rule matches.
    Denied(RuleRef),
    /// No allow rule matches.
    NotAllowed,
    /// The rule that would decide names a condition that cannot be checked for this person.
    Undecidable(RuleRef, Unknown),
}

impl Decision {
    /// The sentence shown to the person (after "Access denied: "); `None` when allowed.
    pub fn reason(&self, email: &str) -> Option<String> {
        Some(match self {
            Decision::Allowed(_) => return None,
            Decision::Denied(_) => format!(
                "your organisation's access policy excludes {email} from this proxy. If you think this is wrong, \
                 ask your administrator."
            ),
            Decision::NotAllowed => format!(
                "{email} is not among the accounts your organisation's access policy lets in. If you have another \
                 account (your work account, for example), sign in with that one; otherwise ask your administrator \
                 for access."
            ),
            Decision::Undecidable(_, Unknown::Groups) => format!(
                "{email} is in too many groups for the identity provider to list them in the sign-in (Microsoft \
                 Entra's group overage), so the proxy cannot check your groups. Ask your administrator to make \
                 the app registration send only the groups assigned to the application (groupMembershipClaims: \
                 ApplicationGroup) or to use app roles instead of groups."
            ),
            Decision::Undecidable(_, Unknown::EmailsFile(_)) => {
                "the access policy could not be checked (a list of addresses is unreadable; the proxy's log says \
                 which). Ask your administrator."
                    .into()
            }
        })
    }

    /// The rule that decided, when one did.
    pub fn rule(&self) -> Option<&RuleRef> {
        match self {
            Decision::Allowed(r) | Decision::Denied(r) | Decision::Undecidable(r, _) => Some(r),
            Decision::NotAllowed => None,
        }
    }
}

/// The three answers of a condition, and of a rule (all its conditions together).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Match {
    Yes,
    No,
    Unknown(Unknown),
}

/// The `emails_file`s of the policy, each read once and again when its size or modification time changes.
#[derive(Default)]
pub struct EmailFiles {
    read: Mutex<BTreeMap<PathBuf, Read>>,
}

struct Read {
    stamp: (SystemTime, u64),
    addresses: Arc<HashSet<String>>,
}

impl EmailFiles {
    /// The addresses of `path`, lowercased; why not when it cannot be read.
    pub fn addresses(&self, path: &str) -> Result<Arc<HashSet<String>>, String> {
        let path = PathBuf::from(path);
        let meta = std::fs::metadata(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if meta.len() > MAX_EMAILS_FILE_BYTES {
            return Err(format!("{} is larger than {MAX_EMAILS_FILE_BYTES} bytes", path.display()));
        }
        let stamp = (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len());
        let mut read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = read.get(&path).filter(|r| r.stamp == stamp) {
            return Ok(r.addresses.clone());
        }
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let addresses = Arc::new(parse_emails(&text));
        read.insert(path, Read { stamp, addresses: addresses.clone() });
        Ok(addresses)
    }
}

/// One address per line; blank lines and `#` comments are skipped; lowercased.
pub fn parse_emails(text: &str) -> HashSet<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The policy's decision about `subject`: the first matching deny rule, else the first matching allow rule.
pub fn decide(policy: &Policy, subject: &Subject, files: &EmailFiles) -> Decision {
    for (i, rule) in policy.deny.iter().enumerate() {
        match rule_matches(rule, subject, files) {
            Match::Yes => return Decision::Denied(RuleRef::new(Side::Deny, i, rule)),
            Match::Unknown(why) => return Decision::Undecidable(RuleRef::new(Side::Deny, i, rule), why),
            Match::No => {}
        }
    }
    let mut undecided = None;
    for (i, rule) in policy.allow.iter().enumerate() {
        match rule_matches(rule, subject, files) {
            Match::Yes => return Decision::Allowed(RuleRef::new(Side::Allow, i, rule)),
            Match::Unknown(why) => {
                undecided.get_or_insert((RuleRef::new(Side::Allow, i, rule), why));
            }
            Match::No => {}
        }
    }
    match undecided {
        Some((rule, why)) => Decision::Undecidable(rule, why),
        None => Decision::NotAllowed,
    }
}

/// Every condition the rule names, together: one `No` decides; else one unknown leaves it unknown.
fn rule_matches(rule: &Rule, s: &Subject, files: &EmailFiles) -> Match {
    let mut unknown = None;
    for (_, condition) in conditions(rule, s, files) {
        match condition {
            Match::No => return Match::No,
            Match::Unknown(why) => {
                unknown.get_or_insert(why);
            }
            Match::Yes => {}
        }
    }
    unknown.map_or(Match::Yes, Match::Unknown)
}

/// Each condition the rule names, by its key, and whether it holds for `s`.
fn conditions(rule: &Rule, s: &Subject, files: &EmailFiles) -> Vec<(&'static str, Match)> {
    let email = s.email.to_lowercase();
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
    let mut conditions = Vec::with_capacity(8);
    if let Some(domains) = &rule.email_domains {
        let held = domains.iter().any(|d| d.trim_start_matches('@').eq_ignore_ascii_case(domain));
        conditions.push(("email_domains", yes(held)));
    }
    if let Some(emails) = &rule.emails {
        conditions.push(("emails", yes(emails.iter().any(|e| e.to_lowercase() == email))));
    }
    if let Some(file) = &rule.emails_file {
        conditions.push((
            "emails_file",
            match files.addresses(file) {
                Ok(addresses) => yes(addresses.contains(&email)),
                Err(why) => {
                    tracing::error!("policy: emails_file {why}");
                    Match::Unknown(Unknown::EmailsFile(why))
                }
            },
        ));
    }
    if let Some(groups) = &rule.groups {
        let held = if s.groups_overage { Match::Unknown(Unknown::Groups) } else { any_of(groups, &s.groups) };
        conditions.push(("groups", held));
    }
    if let Some(roles) = &rule.roles {
        conditions.push(("roles", any_of(roles, &s.roles)));
    }
    if let Some(tenants) = &rule.tenants {
        let held = s.tenant.as_ref().is_some_and(|t| tenants.iter().any(|x| x.eq_ignore_ascii_case(t)));
        conditions.push(("tenants", yes(held)));
    }
    if let Some(providers) = &rule.providers {
        conditions.push(("providers", yes(providers.contains(&s.provider))));
    }
    conditions
}

/// For an operator (`doctor --who`): each condition of `rule` and whether it holds for `s`
/// ("groups: yes", "emails_file: cannot tell (...)").
pub fn explain(rule: &Rule, s: &Subject, files: &EmailFiles) -> Vec<String> {
    conditions(rule, s, files)
        .into_iter()
        .map(|(key, m)| match m {
            Match::Yes => format!("{key}: yes"),
            Match::No => format!("{key}: no"),
            Match::Unknown(Unknown::Groups) => format!("{key}: cannot tell (the token lists no groups: overage)"),
            Match::Unknown(Unknown::EmailsFile(why)) => format!("{key}: cannot tell ({why})"),
        })
        .collect()
}

fn yes(b: bool) -> Match {
    if b { Match::Yes } else { Match::No }
}

/// One of the rule's names is one of the person's (case-insensitive: Entra object IDs, group addresses).
fn any_of(wanted: &[String], held: &[String]) -> Match {
    yes(wanted.iter().any(|w| held.iter().any(|h| h.to_lowercase() == w.to_lowercase())))
}

/// `*` any run of characters, `?` one character; everything else literal.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule(f: impl FnOnce(&mut Rule)) -> Rule {
        let mut r = Rule::default();
        f(&mut r);
        r
    }

    fn person(email: &str, groups: &[&str]) -> Subject {
        Subject {
            email: email.into(),
            provider: "google".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Subject::default()
        }
    }

    fn list(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn deny_wins_and_addresses_ignore_case() {
        let policy = Policy {
            allow: vec![rule(|r| r.email_domains = list(&["Company.com"]))],
            deny: vec![rule(|r| {
                r.name = Some("interns".into());
                r.groups = list(&["interns"]);
            })],
        };
        let files = EmailFiles::default();
        assert!(matches!(decide(&policy, &person("Alice@COMPANY.com", &[]), &files), Decision::Allowed(_)));
        let denied = decide(&policy, &person("ivan@company.com", &["Interns"]), &files);
        assert_eq!(denied.rule().map(|r| r.label.as_str()), Some("interns"));
        assert_eq!(decide(&policy, &person("bob@example.com", &[]), &files), Decision::NotAllowed);
        let reason = decide(&policy, &person("bob@example.com", &[]), &files).reason("bob@example.com");
        assert!(reason.is_some_and(|r| !r.contains("company.com") && !r.contains("interns")));
    }

    #[test]
    fn unknown_groups_fail_closed() {
        let policy = Policy { allow: vec![rule(|r| r.groups = list(&["llm-users"]))], deny: vec![] };
        let mut s = person("carol@contoso.com", &[]);
        s.groups_overage = true;
        let d = decide(&policy, &s, &EmailFiles::default());
        assert!(matches!(d, Decision::Undecidable(_, Unknown::Groups)), "{d:?}");
    }

    #[test]
    fn an_emails_file_is_read_again_when_it_changes() {
        let dir = std::env::temp_dir().join(format!("llm-sso-policy-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("emails.txt");
        std::fs::write(&path, "# staff\nalice@company.com\n").unwrap();
        let p = path.display().to_string();
        let policy = Policy { allow: vec![rule(|r| r.emails_file = Some(p.clone()))], deny: vec![] };
        let files = EmailFiles::default();
        assert!(matches!(decide(&policy, &person("ALICE@company.com", &[]), &files), Decision::Allowed(_)));
        assert_eq!(decide(&policy, &person("bob@company.com", &[]), &files), Decision::NotAllowed);
        std::fs::write(&path, "alice@company.com\nbob@company.com  # new\n").unwrap();
        assert!(matches!(decide(&policy, &person("bob@company.com", &[]), &files), Decision::Allowed(_)));
        std::fs::remove_file(&path).unwrap();
        let d = decide(&policy, &person("bob@company.com", &[]), &files);
        assert!(matches!(d, Decision::Undecidable(_, Unknown::EmailsFile(_))), "{d:?}");
    }

    #[test]
    fn globs() {
        assert!(glob("gpt-4o-mini*", "gpt-4o-mini-2024-07-18"));
        assert!(glob("claude-*-haiku*", "claude-3-5-haiku-latest"));
        assert!(!glob("gpt-4o-mini*", "gpt-4o"));
        assert!(glob("gpt-?o", "gpt-4o"));
        assert!(glob("*", ""));
        assert!(!glob("a", "ab"));
    }

    // The reference: the decision spelled out as plainly as possible, for the property test below.
    fn reference(policy: &Policy, s: &Subject) -> (Option<Side>, Option<usize>) {
        let lower = |v: &str| v.to_lowercase();
        let holds = |r: &Rule| -> Option<bool> {
            let mut all = vec![];
            let domain = lower(s.email.split('@').nth(1).unwrap_or(""));
            if let Some(d) = &r.email_domains {
                all.push(Some(d.iter().any(|x| lower(x) == domain)));
            }
            if let Some(e) = &r.emails {
                all.push(Some(e.iter().any(|x| lower(x) == lower(&s.email))));
            }
            if let Some(g) = &r.groups {
                all.push(if s.groups_overage {
                    None
                } else {
                    Some(g.iter().any(|x| s.groups.iter().any(|y| lower(x) == lower(y))))
                });
            }
            if let Some(g) = &r.roles {
                all.push(Some(g.iter().any(|x| s.roles.iter().any(|y| lower(x) == lower(y)))));
            }
            if let Some(t) = &r.tenants {
                all.push(Some(t.iter().any(|x| s.tenant.as_deref().map(lower) == Some(lower(x)))));
            }
            if let Some(p) = &r.providers {
                all.push(Some(p.contains(&s.provider)));
            }
            if all.contains(&Some(false)) {
                Some(false)
            } else if all.contains(&None) {
                None
            } else {
                Some(true)
            }
        };
        if let Some(i) = policy.deny.iter().position(|r| holds(r) != Some(false)) {
            return (Some(Side::Deny), Some(i));
        }
        if let Some(i) = policy.allow.iter().position(|r| holds(r) == Some(true)) {
            return (Some(Side::Allow), Some(i));
        }
        match policy.allow.iter().position(|r| holds(r).is_none()) {
            Some(i) => (Some(Side::Allow), Some(i)),
            None => (None, None),
        }
    }

    fn names() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(prop::sample::select(vec!["a", "B", "b", "c"]).prop_map(String::from), 0..3)
    }

    fn opt_names() -> impl Strategy<Value = Option<Vec<String>>> {
        prop::option::of(names())
    }

    fn any_rule() -> impl Strategy<Value = Rule> {
        let domains = prop::option::of(prop::collection::vec(
            prop::sample::select(vec!["x.com", "X.COM", "y.org"]).prop_map(String::from),
            0..3,
        ));
        let emails = prop::option::of(prop::collection::vec(
            prop::sample::select(vec!["u@x.com", "U@X.com", "v@y.org"]).prop_map(String::from),
            0..3,
        ));
        let providers = prop::option::of(prop::collection::vec(
            prop::sample::select(vec!["google", "entra"]).prop_map(String::from),
            0..2,
        ));
        (domains, emails, opt_names(), opt_names(), opt_names(), providers).prop_map(
            |(email_domains, emails, groups, roles, tenants, providers)| Rule {
                email_domains,
                emails,
                groups,
                roles,
                tenants,
                providers,
                ..Rule::default()
            },
        )
    }

    fn any_subject() -> impl Strategy<Value = Subject> {
        (
            prop::sample::select(vec!["u@x.com", "w@X.com", "v@y.org", "z@z.net"]),
            prop::sample::select(vec!["google", "entra"]),
            prop::option::of(prop::sample::select(vec!["a", "b"])),
            names(),
            names(),
            any::<bool>(),
        )
            .prop_map(|(email, provider, tenant, groups, roles, groups_overage)| Subject {
                email: email.into(),
                provider: provider.into(),
                tenant: tenant.map(String::from),
                groups,
                roles,
                groups_overage,
            })
    }

    proptest! {
        #[test]
        fn the_decision_and_its_rule_agree_with_the_reference(
            allow in prop::collection::vec(any_rule(), 0..4),
            deny in prop::collection::vec(any_rule(), 0..3),
            subject in any_subject(),
        ) {
            let policy = Policy { allow, deny };
            let got = decide(&policy, &subject, &EmailFiles::default());
            let side = match &got {
                Decision::Allowed(r) | Decision::Denied(r) | Decision::Undecidable(r, _) => Some(r.side),
                Decision::NotAllowed => None,
            };
            prop_assert_eq!((side, got.rule().map(|r| r.index)), reference(&policy, &subject), "{:?}", got);
            let allowed = matches!(got, Decision::Allowed(_));
            prop_assert_eq!(allowed, got.reason(&subject.email).is_none());
        }
    }
}
