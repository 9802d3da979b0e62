//! llm-sso-proxy: single sign-on in front of LLM APIs for AI coding agents.
//!
//! Agents send an agent token; without a valid one they get a sandbox reply in
//! their API's format with a login URL ([`agent::sandbox`]). The one auth layer
//! ([`agent::auth`]) decides; authenticated requests are forwarded to the
//! upstream with the proxy's own key ([`agent::forward`]). The browser half
//! (OIDC login, authorization, token issuance) plugs in through [`links`] and
//! the [`store`].

pub mod admin;
pub mod agent;
pub mod authz;
pub mod cli;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod connections;
pub mod doctor;
pub mod healthcheck;
pub mod links;
pub mod logging;
pub mod metrics;
pub mod ops;
pub mod outbound;
pub mod server;
pub mod sso;
pub mod store;
pub mod tls;
pub mod tokens;

/// The version printed by `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
