//! llm-sso-proxy: single sign-on in front of LLM APIs for AI coding agents.
//!
//! Agents send an agent token; without a valid one they get a sandbox reply in
//! their API's format with a login URL ([`agent::sandbox`]). The one auth layer
//! ([`agent::auth`]) decides; authenticated requests are forwarded to the
//! upstream with the proxy's own key ([`agent::forward`]). The browser half
//! (OIDC login, authorization, token issuance) plugs in through [`links`] and
//! the [`store`].
//!
//! The library is the proxy; [`server::Server`] builds one from a [`config::Config`]
//! and runs it until a shutdown signal. The binary's commands (`serve`, `doctor`,
//! `healthcheck`, the operator commands) sit on top in [`commands`]. Modules that
//! other crates need (`config`, `server`, `store`, `tokens`, `clock`) are public;
//! the rest is `pub(crate)`.

pub(crate) mod agent;
pub(crate) mod authz;
pub(crate) mod client_ip;
pub mod clock;
pub mod commands;
pub mod config;
pub(crate) mod connections;
pub(crate) mod links;
pub(crate) mod logging;
pub(crate) mod metrics;
pub(crate) mod ops;
pub(crate) mod outbound;
pub(crate) mod probe;
pub mod server;
pub(crate) mod sso;
pub mod store;
pub(crate) mod tls;
pub mod tokens;

/// The version printed by `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
