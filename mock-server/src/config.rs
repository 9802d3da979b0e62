//! One YAML loader for every mock: parse with the parser's line and column in
//! the message, then the mock's own checks, with one error type.

use serde::de::DeserializeOwned;
use std::path::Path;

/// A mock's configuration file.
pub trait MockConfig: DeserializeOwned {
    /// Checks serde cannot express (ranges, names that become URL segments, ...).
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// Where it listens, for `--host` and `--port`.
    fn listen(&mut self) -> (&mut String, &mut u16);

    /// Parses and checks YAML text.
    fn from_yaml_str(text: &str) -> Result<Self, ConfigError> {
        let config: Self = serde_saphyr::from_str(text)
            .map_err(|e| ConfigError::Parse { path: "<yaml>".into(), message: e.to_string() })?;
        config.validate().map_err(ConfigError::Invalid)?;
        Ok(config)
    }

    /// Reads, parses and checks a YAML file; errors name the file.
    fn from_yaml_file(path: &Path) -> Result<Self, ConfigError> {
        let display = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: display.clone(), source })?;
        Self::from_yaml_str(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse { path: display, message },
            ConfigError::Invalid(message) => ConfigError::Invalid(format!("{display}: {message}")),
            other => other,
        })
    }
}

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}
