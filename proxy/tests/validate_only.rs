//! `--validate-only` on every broken config in `config/examples/broken/`: each
//! problem reported with file:line:column, key path and hint (snapshots), exit
//! status 1, and no secret ever printed. Good configs exit 0.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn validate(config: &Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_llm-sso-proxy"))
        .current_dir(repo())
        .arg("--sso-config")
        .arg(config)
        .arg("--validate-only")
        .env_remove("SSO_ENABLED")
        .env_remove("SSO_AUTH_MODE")
        .env_remove("LLM_SSO_TEST_UNSET_SECRET")
        .output()
        .expect("the binary runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn every_broken_example_fails_with_located_problems_and_no_secrets() {
    let dir = repo().join("config/examples/broken");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("config/examples/broken exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the guide's mistakes each have an example");
    for file in files {
        let relative = file.strip_prefix(repo()).unwrap().to_path_buf();
        let (code, output) = validate(&relative);
        assert_eq!(code, 1, "{}: {output}", relative.display());
        assert!(!output.contains("never-printed-secret"), "{}: a secret was printed:\n{output}", relative.display());
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        insta::assert_snapshot!(name, output);
    }
}

#[test]
fn good_configs_validate() {
    let (code, output) = validate(Path::new("config/dev.yaml"));
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("configuration OK"), "{output}");
    assert!(output.contains("redirect URI to register for provider 'google': http://127.0.0.1:8080/auth/callback"));
    assert!(!output.contains("dev-secret-offline-only"), "secrets never printed");
}

/// The examples a reader starts from: each validates as it is, given its secrets in the environment.
#[test]
fn every_example_validates() {
    let dir = repo().join("config/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("config/examples exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "the policy examples are there: {files:?}");
    for file in files {
        let relative = file.strip_prefix(repo()).unwrap().to_path_buf();
        let output = Command::new(env!("CARGO_BIN_EXE_llm-sso-proxy"))
            .current_dir(repo())
            .arg("--sso-config")
            .arg(&relative)
            .arg("--validate-only")
            .env_remove("SSO_ENABLED")
            .env_remove("SSO_AUTH_MODE")
            .envs(
                ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_CLIENT_SECRET", "MICROSOFT_CLIENT_SECRET"]
                    .map(|k| (k, "set")),
            )
            .output()
            .expect("the binary runs");
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert_eq!(output.status.code(), Some(0), "{}: {text}", relative.display());
        assert!(text.contains("configuration OK"), "{}: {text}", relative.display());
    }
}

#[test]
fn environment_overrides_the_file_and_bad_values_are_located() {
    let run = |vars: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_llm-sso-proxy"));
        cmd.current_dir(repo()).args(["--sso-config", "config/dev.yaml", "--validate-only"]);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
    };
    let (code, out) =
        run(&[("SSO_AUTH_MODE", "enterprise"), ("SSO_AUTH_API_URL", "http://127.0.0.1:9100/api/authorize")]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("authorization mode: enterprise"), "{out}");
    let (code, out) = run(&[("SSO_ENABLED", "false")]);
    assert_eq!(code, Some(0));
    assert!(out.contains("SSO: DISABLED"), "{out}");
    let (code, out) = run(&[("SSO_ENABLED", "maybe"), ("SSO_SESSION_LIFETIME_HOURS", "forever")]);
    assert_eq!(code, Some(1));
    assert!(out.contains("environment SSO_ENABLED: sso.enabled: must be true or false"), "{out}");
    assert!(out.contains("environment SSO_SESSION_LIFETIME_HOURS"), "{out}");
    let (code, out) = run(&[("SSO_AUTH_MODE", "enterprise")]);
    assert_eq!(code, Some(1), "enterprise from the environment still needs an api_url: {out}");
}

#[test]
fn command_line_overrides_the_environment_and_a_public_host_needs_sso() {
    let out = Command::new(env!("CARGO_BIN_EXE_llm-sso-proxy"))
        .current_dir(repo())
        .args(["--sso-config", "config/dev.yaml", "--validate-only", "--host", "0.0.0.0", "--port", "9999"])
        .env("SSO_ENABLED", "false")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("command line --host: server.host: SSO is disabled"), "{text}");
}

#[test]
fn version_and_bad_log_level() {
    let out = Command::new(env!("CARGO_BIN_EXE_llm-sso-proxy")).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("llm-sso-proxy {}", env!("CARGO_PKG_VERSION")));
    let out = Command::new(env!("CARGO_BIN_EXE_llm-sso-proxy")).args(["--log-level", "loud"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown log level"));
}

#[test]
fn a_corrupt_database_stops_startup_with_sqlites_message_and_the_recovery_hint() {
    let dir = std::env::temp_dir().join(format!("llm-sso-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("sso_auth.db"), vec![0x55u8; 4096]).unwrap();
    let config = std::fs::read_to_string(repo().join("config/dev.yaml")).unwrap();
    std::fs::write(
        dir.join("c.yaml"),
        config.replace("./var/sso_auth.db", "./sso_auth.db").replace("port: 8080", "port: 1"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_llm-sso-proxy"))
        .current_dir(&dir)
        .args(["--sso-config", "c.yaml"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("file is not a database") || stderr.contains("malformed"), "{stderr}");
    assert!(stderr.contains("db recover"), "{stderr}");
}
