//! Who is authorized: the decision an enterprise authorization API makes.
//!
//! Emails are compared exactly and case-sensitively (the troubleshooting guide's
//! "Ensure user email matches exactly"), then the client network, the user's
//! roles and the time of day. The first failing rule gives the `reason`.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Exact, case-sensitive allowlist.
    pub allowed_emails: Vec<String>,
    /// Skip the allowlist (every email passes that rule).
    pub allow_any_email: bool,
    /// Client IP must be in one of these; empty means any address.
    pub allowed_networks: Vec<IpNet>,
    /// Every one of these roles is required.
    pub required_roles: Vec<String>,
    /// Roles (groups) per email.
    pub roles: BTreeMap<String, Vec<String>>,
    /// Daily window in UTC during which access is granted.
    pub time_window: Option<TimeWindow>,
}

/// `start`..`end` as `HH:MM` UTC; a window with `start > end` spans midnight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    pub start: String,
    pub end: String,
}

/// What the API answers about one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Allow,
    Deny(String),
}

/// The identity fields of an authorization request the policy looks at.
pub struct Subject<'a> {
    pub email: &'a str,
    pub client_ip: Option<&'a str>,
}

/// Minutes since midnight of `HH:MM`; `24:00` is the end of the day.
fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    let total = h * 60 + m;
    (m < 60 && total <= 24 * 60).then_some(total)
}

impl TimeWindow {
    pub fn validate(&self) -> Result<(), String> {
        for t in [&self.start, &self.end] {
            minutes(t).ok_or_else(|| format!("time_window: {t:?} is not HH:MM (00:00 to 24:00)"))?;
        }
        Ok(())
    }

    /// Whether `unix_seconds` falls inside the window.
    pub fn contains(&self, unix_seconds: i64) -> bool {
        let (Some(start), Some(end)) = (minutes(&self.start), minutes(&self.end)) else {
            return false; // fail closed on a window that cannot be read
        };
        let now = (unix_seconds.rem_euclid(86_400) / 60) as u32;
        if start <= end { (start..end).contains(&now) } else { now >= start || now < end }
    }
}

impl Policy {
    pub fn validate(&self) -> Result<(), String> {
        self.time_window.as_ref().map_or(Ok(()), TimeWindow::validate)
    }

    pub fn decide(&self, subject: &Subject<'_>, now_unix: i64) -> Decision {
        if !self.allow_any_email && !self.allowed_emails.iter().any(|e| e == subject.email) {
            return Decision::Deny(format!("User {} is not in the allowed list", subject.email));
        }
        if !self.allowed_networks.is_empty() {
            let ip = subject.client_ip.and_then(|ip| ip.trim().parse::<IpAddr>().ok());
            match ip {
                None => return Decision::Deny("Missing or invalid client_ip".into()),
                Some(ip) if !self.allowed_networks.iter().any(|n| n.contains(&ip)) => {
                    return Decision::Deny(format!("Client IP {ip} is not in an allowed network"));
                }
                Some(_) => {}
            }
        }
        let held = self.roles.get(subject.email).map(Vec::as_slice).unwrap_or_default();
        if let Some(missing) = self.required_roles.iter().find(|r| !held.contains(r)) {
            return Decision::Deny(format!("Missing required role: {missing}"));
        }
        if let Some(window) = &self.time_window
            && !window.contains(now_unix)
        {
            return Decision::Deny(format!("Outside allowed hours ({}-{} UTC)", window.start, window.end));
        }
        Decision::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(email: &'a str, ip: Option<&'a str>) -> Subject<'a> {
        Subject { email, client_ip: ip }
    }

    #[test]
    fn emails_match_exactly_and_case_sensitively() {
        let policy = Policy { allowed_emails: vec!["alice@example.com".into()], ..Policy::default() };
        assert_eq!(policy.decide(&subject("alice@example.com", None), 0), Decision::Allow);
        assert!(matches!(policy.decide(&subject("Alice@example.com", None), 0), Decision::Deny(_)));
        assert!(matches!(policy.decide(&subject("alice@example.com ", None), 0), Decision::Deny(_)));
        assert!(matches!(Policy::default().decide(&subject("x@y.z", None), 0), Decision::Deny(_)), "empty = nobody");
    }

    #[test]
    fn networks_roles_and_windows() {
        let policy = Policy {
            allow_any_email: true,
            allowed_networks: vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
            required_roles: vec!["llm-users".into()],
            roles: [("a@b.c".to_string(), vec!["llm-users".to_string()])].into(),
            time_window: Some(TimeWindow { start: "08:00".into(), end: "18:00".into() }),
            ..Policy::default()
        };
        let nine_am = 9 * 3600;
        assert_eq!(policy.decide(&subject("a@b.c", Some("10.1.2.3")), nine_am), Decision::Allow);
        assert_eq!(policy.decide(&subject("a@b.c", Some("::1")), nine_am), Decision::Allow);
        let deny = |s: Subject<'_>, t| match policy.decide(&s, t) {
            Decision::Deny(reason) => reason,
            Decision::Allow => panic!("allowed"),
        };
        assert!(deny(subject("a@b.c", Some("192.168.1.1")), nine_am).contains("192.168.1.1"));
        assert!(deny(subject("a@b.c", Some("nonsense")), nine_am).contains("invalid client_ip"));
        assert!(deny(subject("a@b.c", None), nine_am).contains("client_ip"));
        assert!(deny(subject("other@b.c", Some("10.0.0.1")), nine_am).contains("llm-users"));
        assert!(deny(subject("a@b.c", Some("10.0.0.1")), 20 * 3600).contains("Outside allowed hours"));
    }

    #[test]
    fn windows_can_span_midnight_and_bad_ones_fail_closed() {
        let night = TimeWindow { start: "22:00".into(), end: "02:00".into() };
        assert!(night.contains(23 * 3600) && night.contains(3600) && !night.contains(12 * 3600));
        let all_day = TimeWindow { start: "00:00".into(), end: "24:00".into() };
        assert!(all_day.contains(23 * 3600 + 3599) && all_day.validate().is_ok());
        let bad = TimeWindow { start: "25:00".into(), end: "x".into() };
        assert!(bad.validate().is_err() && !bad.contains(0));
    }
}
