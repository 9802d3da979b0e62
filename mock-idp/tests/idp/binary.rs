//! The `mock-idp` binary starts with its built-in default config and prints its URLs.

use std::io::{BufRead, BufReader};

#[test]
fn the_binary_starts_with_its_default_config_and_prints_discovery_urls() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mock-idp"))
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("binary runs");
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<String> = BufReader::new(stdout).lines().take(4).map(Result::unwrap).collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines[0].starts_with("mock-idp listening on http://127.0.0.1:"), "{lines:?}");
    assert!(lines[1].contains("/google/.well-known/openid-configuration"), "{lines:?}");
    assert!(lines[2].contains("/microsoft/common/v2.0/.well-known/openid-configuration"), "{lines:?}");
    assert!(lines[3].contains("/generic/.well-known/openid-configuration"), "{lines:?}");
}

#[test]
fn a_broken_config_file_is_reported_with_its_location() {
    let path = std::env::temp_dir().join(format!("mock-idp-broken-{}.yaml", std::process::id()));
    std::fs::write(&path, "port: 9000\nusers:\n  - emial: a@b.c\n").unwrap();
    let output =
        std::process::Command::new(env!("CARGO_BIN_EXE_mock-idp")).arg("--config").arg(&path).output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("emial") && stderr.contains("line 3"), "{stderr}");
}
