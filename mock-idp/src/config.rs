//! What the mock knows: issuers, users and clients, from YAML or from code.
//!
//! The same types are used by the YAML file, the control API (JSON) and the
//! library, so a test can build exactly the world a config file describes.

use serde::{Deserialize, Serialize};

/// The Entra tenant of personal Microsoft accounts (what `consumers` means).
pub const MSA_CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// The tenant given to Microsoft users that name none.
pub const DEFAULT_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// The whole mock: one server, several issuers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdpConfig {
    /// Address to bind; loopback by default.
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// Base URL that appears in issuers and endpoints; defaults to `http://{bound address}`.
    pub public_url: Option<String>,
    /// How long an authorization code can be redeemed.
    pub code_ttl_seconds: u64,
    /// Lifetime of ID and access tokens.
    pub token_ttl_seconds: u64,
    /// `login_hint` naming a known user signs them in without showing the page.
    pub auto_approve_login_hint: bool,
    pub issuers: Vec<IssuerConfig>,
    pub users: Vec<User>,
    pub clients: Vec<Client>,
}

impl Default for IdpConfig {
    fn default() -> Self {
        IdpConfig {
            host: "127.0.0.1".into(),
            port: 0,
            public_url: None,
            code_ttl_seconds: 300,
            token_ttl_seconds: 3600,
            auto_approve_login_hint: true,
            issuers: vec![
                IssuerConfig::new("google", IssuerKind::Google),
                IssuerConfig::new("microsoft", IssuerKind::Microsoft),
                IssuerConfig::new("generic", IssuerKind::Generic),
            ],
            users: Vec::new(),
            clients: Vec::new(),
        }
    }
}

/// Which real provider an issuer imitates: it decides paths, claims and error pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssuerKind {
    Google,
    Microsoft,
    Generic,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The path prefix: `/google`, `/microsoft`, ...
    pub name: String,
    pub kind: IssuerKind,
    /// A PEM RSA private key (PKCS#8 or PKCS#1) to sign with, so the JWKS stays the
    /// same across restarts; generated at start when absent.
    #[serde(default)]
    pub key_file: Option<std::path::PathBuf>,
}

impl IssuerConfig {
    pub fn new(name: &str, kind: IssuerKind) -> Self {
        IssuerConfig { name: name.to_string(), kind, key_file: None }
    }
}

/// A person who can sign in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub email: String,
    /// Stable subject; derived from the email when absent.
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "yes")]
    pub email_verified: bool,
    /// Google Workspace hosted domain (`hd` claim).
    #[serde(default)]
    pub hd: Option<String>,
    /// Entra tenant (GUID) of the user; [`DEFAULT_TENANT`] when absent.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Entra object id; derived from the email when absent.
    #[serde(default)]
    pub oid: Option<String>,
    /// Leave the `email` claim out of Microsoft tokens (Entra does for many accounts).
    #[serde(default)]
    pub omit_email: bool,
    /// The `groups` claim: group addresses in Google's shape, object IDs in Entra's. Past
    /// [`ENTRA_GROUP_LIMIT`] a Microsoft token carries Entra's overage (`_claim_names`) instead.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The `roles` claim (Entra app roles).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Entra puts at most this many groups in a JWT; with more it points to Microsoft Graph instead.
pub const ENTRA_GROUP_LIMIT: usize = 200;

fn yes() -> bool {
    true
}

impl User {
    /// A verified user with everything else derived.
    pub fn new(email: &str) -> Self {
        User {
            email: email.to_string(),
            sub: None,
            name: None,
            email_verified: true,
            hd: None,
            tenant_id: None,
            oid: None,
            omit_email: false,
            groups: Vec::new(),
            roles: Vec::new(),
        }
    }

    pub fn subject(&self) -> String {
        self.sub.clone().unwrap_or_else(|| derived_id("sub", &self.email, 21))
    }

    pub fn object_id(&self) -> String {
        self.oid.clone().unwrap_or_else(|| guid_from(&derived_id("oid", &self.email, 32)))
    }

    pub fn tenant(&self) -> &str {
        self.tenant_id.as_deref().unwrap_or(DEFAULT_TENANT)
    }

    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.email.split('@').next().unwrap_or_default().to_string())
    }
}

/// A registered application (relying party).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub client_id: String,
    pub client_secret: String,
    /// Matched exactly, as real providers do: no trailing-slash or case leniency.
    pub redirect_uris: Vec<String>,
    /// Refuse authorization requests without an S256 `code_challenge`.
    #[serde(default)]
    pub require_pkce: bool,
    /// Issuers this client is registered at; empty means all.
    #[serde(default)]
    pub issuers: Vec<String>,
}

impl Client {
    pub fn new(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Client {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            redirect_uris: vec![redirect_uri.to_string()],
            require_pkce: false,
            issuers: Vec::new(),
        }
    }

    pub fn registered_at(&self, issuer: &str) -> bool {
        self.issuers.is_empty() || self.issuers.iter().any(|i| i == issuer)
    }
}

pub use mock_server::config::{ConfigError, MockConfig};

impl MockConfig for IdpConfig {
    fn validate(&self) -> Result<(), String> {
        self.check()
    }

    fn listen(&mut self) -> (&mut String, &mut u16) {
        (&mut self.host, &mut self.port)
    }
}

impl IdpConfig {
    /// Rejects configs the server could not honour (duplicate or unsafe issuer names, ...).
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for issuer in &self.issuers {
            let name = issuer.name.as_str();
            let ok = !name.is_empty()
                && name != "__control"
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(format!(
                    "issuer name {name:?} must be non-empty letters, digits, '-' or '_' (it is a URL path segment)"
                ));
            }
            if !seen.insert(name) {
                return Err(format!("issuer name {name:?} is used twice"));
            }
        }
        if let Some(url) = &self.public_url
            && (url.ends_with('/') || !(url.starts_with("http://") || url.starts_with("https://")))
        {
            return Err(format!("public_url {url:?} must start with http:// or https:// and have no trailing slash"));
        }
        Ok(())
    }
}

/// A deterministic identifier of `len` hex digits, so the same email always gets the same ids.
fn derived_id(purpose: &str, email: &str, len: usize) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{purpose}:{email}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    if purpose == "sub" {
        // Google subjects are long decimal strings.
        hex.chars().filter_map(|c| c.to_digit(16)).map(|d| char::from(b'0' + (d % 10) as u8)).take(len).collect()
    } else {
        hex[..len].to_string()
    }
}

fn guid_from(hex32: &str) -> String {
    format!("{}-{}-{}-{}-{}", &hex32[0..8], &hex32[8..12], &hex32[12..16], &hex32[16..20], &hex32[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_shaped_like_the_real_ones() {
        let user = User::new("alice@company.com");
        assert_eq!(user.subject(), User::new("alice@company.com").subject());
        assert_eq!(user.subject().len(), 21);
        assert!(user.subject().chars().all(|c| c.is_ascii_digit()));
        assert_ne!(user.subject(), User::new("bob@company.com").subject());
        let oid = user.object_id();
        assert_eq!(oid.len(), 36);
        assert_eq!(oid.matches('-').count(), 4);
    }

    #[test]
    fn unknown_keys_and_bad_names_are_rejected() {
        assert!(IdpConfig::from_yaml_str("port: 1\nbogus: 2\n").is_err());
        assert!(IdpConfig::from_yaml_str("issuers:\n  - {name: 'a/b', kind: google}\n").is_err());
        assert!(
            IdpConfig::from_yaml_str("issuers:\n  - {name: g, kind: google}\n  - {name: g, kind: generic}\n").is_err()
        );
        assert!(IdpConfig::from_yaml_str("public_url: 'http://x/'\n").is_err());
        let ok = IdpConfig::from_yaml_str("port: 9000\nusers:\n  - email: a@b.c\n").unwrap();
        assert_eq!(ok.port, 9000);
        assert!(ok.users[0].email_verified);
    }
}
