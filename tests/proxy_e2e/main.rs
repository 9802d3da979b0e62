//! The proxy end to end: `llm-sso-proxy` as a spawned process in front of the
//! mock LLM upstream, signing in at mock-idp, authorized by mock-authz-api.
//! One test binary, one module per area.

mod browser;
mod common;
mod doctor;
mod forwarding;
mod fuzz;
mod hostile;
mod login;
mod operations;
mod replicas;
mod sandbox;
mod sdks;
mod terminal;
mod terminal_trust;
