//! llm-sso-proxy: the reference proxy (SPEC §2 to §8, §11).
//!
//! Not built yet: issues 4 and 5 fill this crate. Until then the binary only
//! answers `--version` and refuses to serve, so nobody mistakes it for a proxy.

/// The version printed by `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
