//! The kit tests itself: pointed (through `LLM_SSO_PROXY_CMD`) at a deliberately
//! broken proxy, one that runs with SSO forced off, the conformance run must fail,
//! loudly, naming the scenario and showing the proxy's console.

use llm_sso_kit::workspace_root;
use std::path::PathBuf;

/// The conformance runner cargo built next to this test (`target/debug/deps/conformance-*`).
fn conformance_binary() -> Option<PathBuf> {
    let deps = std::env::current_exe().ok()?.parent()?.to_path_buf();
    std::fs::read_dir(deps)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with("conformance-") && !name.contains('.')
        })
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

#[test]
fn the_kit_fails_loudly_against_a_proxy_with_sso_forced_off() {
    let Some(runner) = conformance_binary() else {
        panic!("the conformance runner was not built next to this test: run the whole `cargo test`");
    };
    let proxy = llm_sso_kit::proxy::binary();
    let broken = format!("env SSO_ENABLED=false {} --sso-config {{config}}", proxy.display());
    let output = std::process::Command::new(runner)
        .env("LLM_SSO_PROXY_CMD", broken)
        .env("LLM_SSO_KIT_FEATURES", workspace_root().join("features/sso-not-enabled.feature"))
        .output()
        .expect("the runner starts");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!output.status.success(), "the kit passed against a broken proxy:\n{text}");
    assert!(text.contains("test result: FAILED"), "{text}");
    assert!(text.contains("scenario failed: The fix: with SSO enabled"), "the failing scenario is named:\n{text}");
    assert!(text.contains("SSO: DISABLED"), "the proxy's console tail is shown:\n{text}");
}
