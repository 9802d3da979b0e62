//! Configuration problems as the user reads them: where (file:line:column or
//! the environment variable / flag), which key, what is wrong, and a hint.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// `file:line:column`, `environment SSO_ENABLED` or `command line --host`.
    pub location: String,
    /// Dotted key path, e.g. `sso.providers.google.client_id`.
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(location: impl Into<String>, path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { location: location.into(), path: path.into(), message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.location, self.message)?;
        } else {
            write!(f, "{}: {}: {}", self.location, self.path, self.message)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in one load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(f, "{n} configuration problem{}:", if n == 1 { "" } else { "s" })?;
        for d in &self.0 {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// File order, however the checks visited the sections; other locations last.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| position(&d.location));
}

/// (line, column) of a `file:line:column` location; other locations sort last.
fn position(location: &str) -> (usize, usize) {
    let mut parts = location.rsplitn(3, ':');
    let col = parts.next().and_then(|c| c.parse().ok());
    let line = parts.next().and_then(|l| l.parse().ok());
    match (line, col) {
        (Some(l), Some(c)) => (l, c),
        _ => (usize::MAX, usize::MAX),
    }
}
