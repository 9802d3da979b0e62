//! The deployment files run the binary with arguments it accepts: the systemd
//! unit's `ExecStartPre`/`ExecStart`, and the Dockerfile's `ENTRYPOINT` + `CMD`
//! and `HEALTHCHECK`. (No container engine or systemd here: this checks what
//! they would run, with the repository's dev config in place of /etc.)

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs the proxy binary with `args` (the deployed config path swapped for config/dev.yaml).
fn run(args: &[String]) -> (i32, String) {
    let dev = repo().join("config/dev.yaml").display().to_string();
    let args: Vec<String> = args.iter().map(|a| a.replace("/etc/llm-sso-proxy/config.yaml", &dev)).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_llm-sso-proxy")).args(&args).output().expect("run the proxy");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// A JSON exec-form array from a Dockerfile instruction line.
fn exec_form(dockerfile: &str, instruction: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|l| l.trim_start().starts_with(instruction))
        .unwrap_or_else(|| panic!("no {instruction} in the Dockerfile"));
    let array = &line[line.find('[').expect("exec form")..=line.rfind(']').expect("exec form")];
    serde_json::from_str(array).unwrap_or_else(|e| panic!("{instruction}: {e}"))
}

#[test]
fn systemd_unit_commands_are_accepted() {
    let unit = read("deploy/llm-sso-proxy.service");
    for key in ["ExecStartPre=", "ExecStart="] {
        let line = unit.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key}"));
        let mut args: Vec<String> = line[key.len()..].split_whitespace().skip(1).map(str::to_string).collect();
        if !args.iter().any(|a| a == "--validate-only") {
            args.push("--validate-only".into());
        }
        let (code, out) = run(&args);
        assert_eq!(code, 0, "{key} with the dev config: {out}");
    }
    assert!(unit.contains("User=") && unit.contains("NoNewPrivileges=yes"), "runs unprivileged");
}

#[test]
fn dockerfile_runs_as_non_root_with_a_healthcheck_the_binary_understands() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("\nUSER llmsso\n"), "the runtime stage runs as a non-root user");
    assert!(dockerfile.contains("VOLUME [\"/var/lib/llm-sso-proxy\"]"), "the database is on a volume");
    let mut serve = exec_form(&dockerfile, "CMD [");
    serve.push("--validate-only".into());
    let (code, out) = run(&serve);
    assert_eq!(code, 0, "ENTRYPOINT + CMD with the dev config: {out}");

    let health = exec_form(&dockerfile, "HEALTHCHECK");
    assert_eq!(health.first().map(String::as_str), Some("llm-sso-proxy"));
    let (code, out) = run(&health[1..]);
    assert!(code == 0 || code == 1, "a health answer, not an argument error (exit {code}): {out}");
    assert!(out.contains("http://127.0.0.1:8080/health"), "{out}");
}
