//! The kit tests itself through the runner other projects use
//! (`conformance --profile FILE`): pointed at a deliberately broken proxy, one
//! that runs with SSO forced off, the run must fail loudly, naming the scenario,
//! showing the proxy's console and the failing section; pointed at the real
//! proxy, a chosen section conforms and the JUnit XML says so; a section whose
//! scenarios need a capability the profile does not claim is NOT APPLICABLE.

use llm_sso_kit::proxy::TempDir;
use llm_sso_kit::workspace_root;

fn conformance() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_conformance"))
}

/// A profile in `dir` that starts the workspace's proxy with `command` (a YAML list) and claims `capabilities`.
fn profile(dir: &TempDir, command: &str, capabilities: &str) -> std::path::PathBuf {
    let path = dir.path().join("profile.yaml");
    let text = format!(
        "name: under test\nstart:\n  command: {command}\nready: {{ http: /health }}\nconsole: {{ code_line_names_email: true }}\n\
         tokens: {{ pattern: 'llmsso_[0-9A-Za-z]{{49}}', prefix: llmsso_ }}\ncapabilities: {capabilities}\n"
    );
    std::fs::write(&path, text).expect("write the profile");
    path
}

fn output_of(command: &mut std::process::Command) -> (bool, String) {
    let output = command.output().expect("the runner starts");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn the_kit_fails_loudly_against_a_proxy_with_sso_forced_off() {
    let dir = TempDir::new("broken");
    let broken = profile(
        &dir,
        r#"["env", "SSO_ENABLED=false", "{bin}", ["--sso-config", "{config}"], "--port", "{port}"]"#,
        "[]",
    );
    let (ok, text) = output_of(
        conformance()
            .arg("--profile")
            .arg(&broken)
            .arg("--features")
            .arg(workspace_root().join("features/sso-not-enabled.feature")),
    );
    assert!(!ok, "the kit passed against a broken proxy:\n{text}");
    assert!(text.contains("test result: FAILED"), "{text}");
    assert!(text.contains("scenario failed: The fix: with SSO enabled"), "the failing scenario is named:\n{text}");
    assert!(text.contains("SSO: DISABLED"), "the proxy's console tail is shown:\n{text}");
    assert!(text.contains("@guide-sso-not-enabled") && text.contains("FAILS"), "the verdict table:\n{text}");
}

#[test]
fn tags_pick_sections_junit_reports_them_and_unclaimed_capabilities_are_not_applicable() {
    let dir = TempDir::new("junit");
    let junit = dir.path().join("results.xml");
    let own = profile(&dir, r#"["{bin}", ["--sso-config", "{config}"], "--port", "{port}"]"#, "[strict-wording]");
    let (ok, text) = output_of(
        conformance()
            .arg("--profile")
            .arg(&own)
            .args(["--tags", "@guide-session-expired,guide-session-too-short,spec-replicas", "--junit"])
            .arg(&junit),
    );
    assert!(ok, "{text}");
    assert!(text.contains("@guide-session-expired") && text.contains("CONFORMS"), "{text}");
    assert!(!text.contains("@security"), "only the chosen sections ran:\n{text}");
    let replicas = text.lines().find(|l| l.trim_start().starts_with("@spec-replicas")).unwrap_or_default();
    assert!(replicas.ends_with("NOT APPLICABLE"), "replicas are not claimed:\n{text}");
    assert!(text.contains("not applicable for want of: postgres (4), replicas (4)"), "{text}");
    assert!(
        text.contains("llm-sso-kit conformance: under test: 2 of 3 sections CONFORM, 0 FAIL, 1 NOT APPLICABLE"),
        "{text}"
    );
    let xml = std::fs::read_to_string(&junit).expect("JUnit XML written");
    assert!(xml.contains("<testsuite name=\"@guide-session-too-short\"") && xml.contains("failures=\"0\""), "{xml}");
    assert!(xml.contains("<skipped message=\"needs the capabilities postgres, replicas\"/>"), "{xml}");
}

#[test]
fn a_bad_profile_is_named_before_anything_starts() {
    let dir = TempDir::new("bad-profile");
    let bad = profile(&dir, r#"["{bin}"]"#, "[teleport]");
    let (ok, text) = output_of(conformance().arg("--profile").arg(&bad));
    assert!(!ok && text.contains("unknown capability \"teleport\""), "{text}");
}
