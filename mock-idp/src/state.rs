//! The mutable world of the mock: issuers (keys and faults), users, clients,
//! sign-ins in progress, issued codes and access tokens, and the clock.
//!
//! One `std::sync::Mutex` guards it; every critical section is a few map
//! operations (key generation and sleeping happen outside). Every map that
//! requests can grow is bounded and pruned of expired entries.

use crate::config::{Client, IdpConfig, IssuerKind, User};
use crate::faults::Faults;
use crate::keys::{Key, KeyRing};
use base64::Engine;
use rand::RngCore;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Most entries any request-grown map may hold; past it new sign-ins are refused.
pub const MAX_ENTRIES: usize = 10_000;

/// How long an unanswered login page stays valid.
pub const LOGIN_PAGE_TTL_SECONDS: i64 = 600;

pub struct IssuerState {
    pub kind: IssuerKind,
    pub keys: KeyRing,
    pub faults: Faults,
}

/// A validated authorization request waiting for (or given) a user.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub issuer: String,
    pub tenant: Option<String>,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub created_at: i64,
}

/// An authorization code, redeemable once before `expires_at`.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub request: AuthRequest,
    pub user: User,
    pub expires_at: i64,
}

/// What an access token grants (for userinfo).
#[derive(Debug, Clone)]
pub struct Grant {
    pub issuer: String,
    pub client_id: String,
    pub user: User,
    pub expires_at: i64,
}

/// A decision made in advance for the next sign-in (headless tests).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextLogin {
    /// The user who signs in; unknown emails become new verified users.
    #[serde(default)]
    pub email: Option<String>,
    /// The user refuses consent: the client gets `error=access_denied`.
    #[serde(default)]
    pub deny: bool,
    /// Only for this issuer; any issuer when absent.
    #[serde(default)]
    pub issuer: Option<String>,
}

pub struct State {
    pub issuers: BTreeMap<String, IssuerState>,
    pub users: Vec<User>,
    pub clients: Vec<Client>,
    pub pending: HashMap<String, AuthRequest>,
    pub codes: HashMap<String, IssuedCode>,
    /// Codes already exchanged, so reuse gets a precise error.
    pub redeemed: HashSet<String>,
    pub grants: HashMap<String, Grant>,
    pub next_login: Option<NextLogin>,
}

/// Shared by every request handler and the library handle.
pub struct Idp {
    state: Mutex<State>,
    clock_offset: AtomicI64,
    pub base_url: String,
    pub code_ttl: i64,
    pub token_ttl: i64,
    pub auto_approve_login_hint: bool,
}

impl Idp {
    /// Builds the world from a config: each issuer's key comes from its `key_file`, or
    /// else from the process pool (CPU bound the first time).
    pub fn new(config: &IdpConfig, base_url: String) -> Result<Idp, String> {
        let mut issuers = BTreeMap::new();
        for (position, issuer) in config.issuers.iter().enumerate() {
            let keys = match &issuer.key_file {
                Some(path) => {
                    let pem = std::fs::read_to_string(path)
                        .map_err(|e| format!("issuer {}: cannot read key_file {}: {e}", issuer.name, path.display()))?;
                    let key = Key::from_pem(&pem)
                        .map_err(|e| format!("issuer {}: key_file {}: {e}", issuer.name, path.display()))?;
                    KeyRing::with_key(key, position)
                }
                None => KeyRing::pooled(position),
            }
            .map_err(|e| format!("key generation failed: {e}"))?;
            let state = IssuerState { kind: issuer.kind, keys, faults: Faults::default() };
            issuers.insert(issuer.name.clone(), state);
        }
        Ok(Idp {
            state: Mutex::new(State {
                issuers,
                users: config.users.clone(),
                clients: config.clients.clone(),
                pending: HashMap::new(),
                codes: HashMap::new(),
                redeemed: HashSet::new(),
                grants: HashMap::new(),
                next_login: None,
            }),
            clock_offset: AtomicI64::new(0),
            base_url,
            code_ttl: i64::try_from(config.code_ttl_seconds).unwrap_or(i64::MAX / 4),
            token_ttl: i64::try_from(config.token_ttl_seconds).unwrap_or(i64::MAX / 4),
            auto_approve_login_hint: config.auto_approve_login_hint,
        })
    }

    /// Locks the world. A handler that panicked cannot leave it half-updated in a
    /// way that matters to a mock, so a poisoned lock is simply taken over.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Seconds since the epoch, shifted by the configured clock offset.
    pub fn now(&self) -> i64 {
        let real = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        real + self.clock_offset.load(Ordering::Relaxed)
    }

    pub fn set_clock_offset(&self, seconds: i64) {
        self.clock_offset.store(seconds, Ordering::Relaxed);
    }

    pub fn clock_offset(&self) -> i64 {
        self.clock_offset.load(Ordering::Relaxed)
    }

    /// `{base}/{issuer}`: the root every URL of that issuer hangs from.
    pub fn issuer_root(&self, issuer: &str) -> String {
        format!("{}/{issuer}", self.base_url)
    }

    /// Rotates an issuer's signing key. The new key is generated before the lock is taken.
    pub fn rotate_keys(&self, issuer: &str, keep_previous: bool) -> Result<String, String> {
        if !self.lock().issuers.contains_key(issuer) {
            return Err(format!("unknown issuer {issuer:?}"));
        }
        let key = Key::generate().map_err(|e| format!("key generation failed: {e}"))?;
        let kid = key.kid.clone();
        let mut state = self.lock();
        let ring = state.issuers.get_mut(issuer).ok_or_else(|| format!("unknown issuer {issuer:?}"))?;
        ring.keys.rotate(key, keep_previous);
        Ok(kid)
    }

    pub fn set_faults(&self, issuer: &str, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        let mut state = self.lock();
        let entry = state.issuers.get_mut(issuer).ok_or_else(|| format!("unknown issuer {issuer:?}"))?;
        entry.faults = faults;
        Ok(())
    }

    pub fn faults(&self, issuer: &str) -> Option<Faults> {
        self.lock().issuers.get(issuer).map(|i| i.faults.clone())
    }

    /// Adds a user, replacing one with the same email.
    pub fn upsert_user(&self, user: User) {
        let mut state = self.lock();
        state.users.retain(|u| u.email != user.email);
        state.users.push(user);
    }

    /// Adds a client, replacing one with the same id.
    pub fn upsert_client(&self, client: Client) {
        let mut state = self.lock();
        state.clients.retain(|c| c.client_id != client.client_id);
        state.clients.push(client);
    }

    pub fn set_next_login(&self, next: Option<NextLogin>) {
        self.lock().next_login = next;
    }
}

impl State {
    pub fn user(&self, email: &str) -> Option<&User> {
        self.users.iter().find(|u| u.email == email)
    }

    pub fn client(&self, issuer: &str, client_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == client_id && c.registered_at(issuer))
    }

    /// Drops what has expired, so maps grown by requests stay bounded.
    pub fn prune(&mut self, now: i64) {
        self.pending.retain(|_, r| now - r.created_at < LOGIN_PAGE_TTL_SECONDS);
        self.codes.retain(|_, c| c.expires_at > now);
        self.grants.retain(|_, g| g.expires_at > now);
        if self.redeemed.len() > MAX_ENTRIES {
            self.redeemed.clear();
        }
    }

    pub fn is_full(&self) -> bool {
        self.pending.len() >= MAX_ENTRIES || self.codes.len() >= MAX_ENTRIES || self.grants.len() >= MAX_ENTRIES
    }
}

/// A URL-safe random string of `bytes` random bytes.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}
