//! Shared helpers of the conformance kit. The cucumber runner (issue 6) builds on
//! these; today they hold the repository-layout checks.

use std::path::{Path, PathBuf};

/// The workspace root (where the root `Cargo.toml` lives).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Paths named in backticks in `ARCHITECTURE.md`'s code map that do not exist.
///
/// The code map is a promise to newcomers ("where is X"); a stale entry is a bug.
pub fn missing_code_map_paths(architecture_md: &str, root: &Path) -> Vec<String> {
    let Some(start) = architecture_md.find("## Code map") else {
        return vec!["ARCHITECTURE.md has no '## Code map' section".to_string()];
    };
    let section = &architecture_md[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    section[..end]
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("- `"))
        .filter_map(|rest| rest.split('`').next())
        .filter(|path| path.contains('/') || path.contains('.'))
        .filter(|path| !root.join(path).exists())
        .map(str::to_string)
        .collect()
}
