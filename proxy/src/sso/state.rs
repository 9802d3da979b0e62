//! What the sign-in handlers share. It exists only while SSO is enabled, so
//! the store is always there.

use super::providers::ProviderRuntime;
use crate::authz::policy::EmailFiles;
use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::AsyncStore;
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct SsoState {
    pub config: Arc<Config>,
    pub store: AsyncStore,
    pub providers: BTreeMap<String, Arc<ProviderRuntime>>,
    /// For the IdPs and the authorization API; honours HTTP(S)_PROXY and NO_PROXY.
    pub http: reqwest::Client,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    /// The policy's `emails_file`s, read again when they change.
    pub email_files: Arc<EmailFiles>,
}

impl SsoState {
    /// Whether the proxy is reached over HTTPS (the cookies' names and `Secure` follow).
    pub fn https(&self) -> bool {
        self.config.base_url().starts_with("https://")
    }
}
