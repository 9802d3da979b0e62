//! What the agent-facing handlers share, built once at startup and passed to
//! every layer and handler of the agent API explicitly.

use super::forward::Forwarder;
use crate::authz::policy::EmailFiles;
use crate::clock::Clock;
use crate::config::Config;
use crate::links::Links;
use crate::metrics::Metrics;
use crate::store::AsyncStore;
use std::sync::Arc;

/// What the agent-facing handlers share. Built once at startup.
pub struct AgentState {
    pub config: Arc<Config>,
    /// `None` while SSO is disabled.
    pub store: Option<AsyncStore>,
    pub links: Links,
    pub forwarder: Forwarder,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    /// The policy's `emails_file`s, shared with the sign-in handlers.
    pub email_files: Arc<EmailFiles>,
}
