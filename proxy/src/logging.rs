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

/// A value from outside (an IdP's error text, a claim, a header) as it may be
/// logged: control characters escaped, so it cannot start a line of its own
/// (a forged "Confirmation Code" line), and cut to a readable length.
pub fn outside(value: &str) -> String {
    const MAX_CHARS: usize = 300;
    let mut out: String = value.chars().take(MAX_CHARS).flat_map(char::escape_debug).collect();
    if value.chars().count() > MAX_CHARS {
        out.push_str("...");
    }
    out
}

/// Opens the log file for appending, created 0600 (it holds confirmation codes),
/// and tightens an existing file that others could read.
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
    let mode = file.metadata()?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Installs the global subscriber. Other crates' chatter is capped at INFO.
pub fn init(level: LevelFilter, file: Option<&Path>, format: Format) -> Result<(), String> {
    let mut layers: Vec<BoxedLayer> = vec![layer(std::io::stderr, format, false)];
    if let Some(path) = file {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let f = open_private(path).map_err(|e| format!("cannot open --log-file {}: {e}", path.display()))?;
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

/// An error and its causes in one line (`a: b: c`): a library's top-level
/// message alone ("error trying to connect") often says little.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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

    #[test]
    fn outside_values_cannot_start_a_line() {
        let forged = "x\nWARN Confirmation Code: 111111 for alice@company.com\r\u{1b}[2J";
        let logged = outside(forged);
        assert!(!logged.contains('\n') && !logged.contains('\r') && !logged.contains('\u{1b}'), "{logged}");
        assert!(logged.contains("\\n"));
        assert!(outside(&"a".repeat(1000)).len() < 400);
    }

    #[test]
    fn the_log_file_is_private_from_the_start() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("llm-sso-log-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&path);
        drop(open_private(&path).unwrap());
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open_private(&path).unwrap());
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let _ = std::fs::remove_file(&path);
    }
}
