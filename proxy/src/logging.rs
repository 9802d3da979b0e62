//! `--log-level`, `--log-file` and `--log-format`: the console always, the file
//! too when asked, as text or JSON lines.

use std::path::Path;
use std::sync::Mutex;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// ERROR, WARNING (or WARN), INFO, DEBUG, TRACE; any case.
pub fn parse_level(text: &str) -> Result<LevelFilter, String> {
    match text.to_ascii_uppercase().as_str() {
        "ERROR" => Ok(LevelFilter::ERROR),
        "WARNING" | "WARN" => Ok(LevelFilter::WARN),
        "INFO" => Ok(LevelFilter::INFO),
        "DEBUG" => Ok(LevelFilter::DEBUG),
        "TRACE" => Ok(LevelFilter::TRACE),
        _ => Err(format!("unknown log level {text:?}: use ERROR, WARNING, INFO or DEBUG")),
    }
}

type BoxedLayer = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;

fn layer<W>(writer: W, format: Format, ansi: bool) -> BoxedLayer
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(ansi).with_target(false);
    match format {
        Format::Text => base.boxed(),
        Format::Json => base.json().boxed(),
    }
}

/// Installs the global subscriber. Other crates' chatter is capped at INFO.
pub fn init(level: LevelFilter, file: Option<&Path>, format: Format) -> Result<(), String> {
    let mut layers: Vec<BoxedLayer> = vec![layer(std::io::stderr, format, false)];
    if let Some(path) = file {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open --log-file {}: {e}", path.display()))?;
        layers.push(layer(Mutex::new(f), format, false));
    }
    let noisy = LevelFilter::INFO.min(level);
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(level)
        .with_target("hyper", noisy)
        .with_target("hyper_util", noisy)
        .with_target("reqwest", noisy)
        .with_target("h2", noisy)
        .with_target("rustls", noisy);
    tracing_subscriber::registry().with(layers).with(filter).try_init().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_case_insensitive_and_warning_is_warn() {
        assert_eq!(parse_level("warning"), Ok(LevelFilter::WARN));
        assert_eq!(parse_level("WARN"), Ok(LevelFilter::WARN));
        assert_eq!(parse_level("Debug"), Ok(LevelFilter::DEBUG));
        assert!(parse_level("verbose").is_err());
    }
}
