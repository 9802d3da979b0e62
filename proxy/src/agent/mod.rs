//! The agent-facing API: credentials in, a verdict from the one auth layer,
//! then a sandbox reply or the upstream's answer.

pub mod auth;
pub mod credentials;
pub mod errors;
pub mod forward;
pub mod routes;
pub mod sandbox;
pub mod shape;
