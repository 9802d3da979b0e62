//! A check's result as the operator reads it: a verdict, one line of detail,
//! and the guide's fix. Shared by `doctor` and `db check`.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    /// Works, but the operator should know (it may break later or elsewhere).
    Warn,
    Fail,
    /// Not run: an earlier check it depends on failed, or it does not apply.
    Skip,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable name, e.g. `provider.google.discovery` (documented in docs/troubleshooting.md).
    pub id: String,
    pub verdict: Verdict,
    /// What was found, in one line.
    pub detail: String,
    /// The guide's fix, when the verdict is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(id: impl Into<String>, detail: impl Into<String>) -> Self {
        Check { id: id.into(), verdict: Verdict::Ok, detail: detail.into(), fix: None }
    }
    pub fn fail(id: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { id: id.into(), verdict: Verdict::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
    pub fn warn(id: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { id: id.into(), verdict: Verdict::Warn, detail: detail.into(), fix: Some(fix.into()) }
    }
    pub fn skip(id: impl Into<String>, detail: impl Into<String>) -> Self {
        Check { id: id.into(), verdict: Verdict::Skip, detail: detail.into(), fix: None }
    }
}

/// The text report: a header, one line per check (and its fix), a verdict line.
pub fn render(header: &str, checks: &[Check]) -> String {
    let width = checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let mut out = format!("{header}\n");
    for c in checks {
        out.push_str(&format!("{:<4}  {:<width$}  {}\n", c.verdict.label(), c.id, c.detail));
        if let Some(fix) = c.fix.as_ref().filter(|_| c.verdict != Verdict::Ok) {
            out.push_str(&format!("{:<4}  {:<width$}  fix: {fix}\n", "", ""));
        }
    }
    let count = |v: Verdict| checks.iter().filter(|c| c.verdict == v).count();
    let (failed, warned) = (count(Verdict::Fail), count(Verdict::Warn));
    out.push_str(&match (failed, warned) {
        (0, 0) => "healthy: every check passed\n".to_string(),
        (0, w) => format!("healthy, with {w} warning{}\n", plural(w)),
        (f, w) => format!("{f} check{} failed, {w} warning{}\n", plural(f), plural(w)),
    });
    out
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
