//! The mock's configuration: where it listens, the shared secret, the policy.

use crate::policy::Policy;
pub use mock_server::config::{ConfigError, MockConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthzConfig {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    /// When set, requests must carry `X-Signature` = hex HMAC-SHA256 of the body.
    pub secret: Option<String>,
    pub policy: Policy,
    /// Requests kept in the journal; 0 disables it.
    pub journal_capacity: usize,
}

impl Default for AuthzConfig {
    fn default() -> Self {
        AuthzConfig {
            host: "127.0.0.1".into(),
            port: 0,
            secret: None,
            policy: Policy::default(),
            journal_capacity: 1000,
        }
    }
}

impl MockConfig for AuthzConfig {
    fn validate(&self) -> Result<(), String> {
        self.policy.validate()
    }

    fn listen(&mut self) -> (&mut String, &mut u16) {
        (&mut self.host, &mut self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_with_networks_and_typos() {
        let ok = AuthzConfig::from_yaml_str(
            "port: 9100\nsecret: s\npolicy:\n  allowed_emails: [a@b.c]\n  allowed_networks: [127.0.0.0/8, '::1/128']\n",
        )
        .unwrap();
        assert_eq!(ok.policy.allowed_networks.len(), 2);
        assert!(AuthzConfig::from_yaml_str("policy:\n  allowed_email: [a@b.c]\n").is_err(), "unknown key");
        assert!(AuthzConfig::from_yaml_str("policy:\n  allowed_networks: [300.0.0.0/8]\n").is_err());
        assert!(AuthzConfig::from_yaml_str("policy:\n  time_window: {start: '8', end: '18:00'}\n").is_err());
    }
}
