//! What every mock service needs and none should write twice: binding a
//! loopback port, an accept loop that can fail the way real servers fail
//! (refuse connections, close a connection without answering), graceful stop,
//! a bounded journal of what was received, the control plane under
//! `/__control` ([`control`]), the YAML config loader ([`config`]), and the
//! binaries' shared options.
//!
//! The mocks stay independent of each other and of the proxy; they share only this.

pub mod cli;
pub mod config;
pub mod control;
mod journal;
mod serve;

pub use journal::Journal;
pub use serve::{ConnectionControls, DropConnection, Server, bind};
