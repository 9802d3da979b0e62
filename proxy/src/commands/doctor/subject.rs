//! What the doctor examines: the configuration as loaded (or its diagnostics),
//! the log level it would run with, and the environment it would see.

use crate::config::{Config, Diagnostics};
use tracing::level_filters::LevelFilter;

/// What the doctor was asked to examine.
pub struct Subject<'a> {
    /// The config file as named on the command line (for the report's header).
    pub source: &'a str,
    pub loaded: &'a Result<Config, Diagnostics>,
    /// The `--log-level` the proxy would run with.
    pub log_level: LevelFilter,
    pub log_level_text: &'a str,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}
