//! The kit tests itself through the runner other projects use
//! (`conformance --proxy-cmd ...`): pointed at a deliberately broken proxy, one
//! that runs with SSO forced off, the run must fail loudly, naming the scenario,
//! showing the proxy's console and the failing section; pointed at the real
//! proxy, a chosen section conforms and the JUnit XML says so.

use llm_sso_kit::proxy::TempDir;
use llm_sso_kit::workspace_root;

fn conformance() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_conformance"))
}

#[test]
fn the_kit_fails_loudly_against_a_proxy_with_sso_forced_off() {
    let proxy = llm_sso_kit::proxy::binary();
    let broken = format!("env SSO_ENABLED=false {} --sso-config {{config}}", proxy.display());
    let output = conformance()
        .args(["--proxy-cmd", &broken, "--features"])
        .arg(workspace_root().join("features/sso-not-enabled.feature"))
        .output()
        .expect("the runner starts");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!output.status.success(), "the kit passed against a broken proxy:\n{text}");
    assert!(text.contains("test result: FAILED"), "{text}");
    assert!(text.contains("scenario failed: The fix: with SSO enabled"), "the failing scenario is named:\n{text}");
    assert!(text.contains("SSO: DISABLED"), "the proxy's console tail is shown:\n{text}");
    assert!(text.contains("@guide-sso-not-enabled") && text.contains("FAILS"), "the verdict table:\n{text}");
}

#[test]
fn tags_pick_sections_and_junit_reports_them() {
    let dir = TempDir::new("junit");
    let junit = dir.path().join("results.xml");
    let template = format!("{} --sso-config {{config}}", llm_sso_kit::proxy::binary().display());
    let output = conformance()
        .args(["--proxy-cmd", &template, "--tags", "@guide-session-expired,guide-session-too-short", "--junit"])
        .arg(&junit)
        .output()
        .expect("the runner starts");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    assert!(text.contains("@guide-session-expired") && text.contains("CONFORMS"), "{text}");
    assert!(!text.contains("@security"), "only the chosen sections ran:\n{text}");
    let xml = std::fs::read_to_string(&junit).expect("JUnit XML written");
    assert!(xml.contains("<testsuite name=\"@guide-session-too-short\"") && xml.contains("failures=\"0\""), "{xml}");
    assert!(xml.contains("<testcase "), "{xml}");
}
