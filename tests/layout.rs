//! Repository-level promises: the documents a newcomer relies on stay true.

use llm_sso_kit::{missing_code_map_paths, workspace_root};

#[test]
fn every_path_in_the_architecture_code_map_exists() {
    let root = workspace_root();
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md at the root");
    let missing = missing_code_map_paths(&text, &root);
    assert!(missing.is_empty(), "ARCHITECTURE.md names paths that do not exist: {missing:?}");
}

#[test]
fn the_code_map_check_catches_a_stale_entry() {
    let root = workspace_root();
    let doc =
        "# A\n## Code map\n- `Cargo.toml` fine\n- `nowhere/gone.rs` stale\n## Invariants\n- `also/not/checked.rs`\n";
    assert_eq!(missing_code_map_paths(doc, &root), vec!["nowhere/gone.rs".to_string()]);
    assert_eq!(missing_code_map_paths("no map here", &root).len(), 1);
}

#[test]
fn readme_starts_with_the_two_commands_and_ci_runs_the_test_command() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let head: String = readme.lines().take(20).collect::<Vec<_>>().join("\n");
    assert!(head.contains("cargo run -p mock-idp"), "README must open with the command that starts the offline stack");
    assert!(head.contains("cargo test"), "README must open with the test command");
    let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
    assert!(ci.contains("cargo test --workspace"), ".ci/run must run the README's test command");
}
