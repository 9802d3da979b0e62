//! The proxy's agent-facing API, end to end: `llm-sso-proxy` as a spawned
//! process in front of the mock LLM upstream, tokens given through the
//! documented database schema. One test binary, one module per area.

mod common;
mod forwarding;
mod operations;
mod sandbox;
mod sdks;
