//! `cargo run --bin conformance -- --proxy-cmd '...'`: the conformance kit for
//! another implementation of the proxy. The command is a shell template with
//! `{config}` (the YAML file), `{port}` and `{db}` (the SQLite file) placeholders;
//! without it, the workspace's `llm-sso-proxy` is tested. Prints a verdict per
//! guide section and can write JUnit XML.

#[path = "runner.rs"]
mod runner;
#[path = "steps/mod.rs"]
mod steps;
#[path = "world.rs"]
mod world;

use std::process::ExitCode;

const USAGE: &str = "\
usage: conformance [--proxy-cmd CMD] [--features PATH] [--tags TAG[,TAG...]] [--junit FILE]

  --proxy-cmd CMD   start the proxy under test with this shell command; placeholders {config}, {port}, {db}
                    (e.g. 'my-proxy --config {config} --listen 127.0.0.1:{port} --db {db}')
  --features PATH   a feature file or folder (default: the kit's features/)
  --tags TAGS       only scenarios with one of these tags, e.g. guide-session-expired,security
  --junit FILE      also write the results as JUnit XML
";

fn main() -> ExitCode {
    let mut options = runner::Options::default();
    let mut proxy_cmd = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let parsed = match arg.as_str() {
            "--proxy-cmd" => value("--proxy-cmd").map(|v| proxy_cmd = Some(v)),
            "--features" => value("--features").map(|v| options.features = Some(v.into())),
            "--tags" => value("--tags")
                .map(|v| options.tags = v.split(',').map(|t| t.trim().trim_start_matches('@').to_string()).collect()),
            "--junit" => value("--junit").map(|v| options.junit = Some(v.into())),
            "-h" | "--help" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument {other:?}")),
        };
        if let Err(e) = parsed {
            eprint!("conformance: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    if let Some(cmd) = proxy_cmd {
        // SAFETY: still single-threaded (the runtime is built below), so nothing reads the environment concurrently.
        unsafe { std::env::set_var("LLM_SSO_PROXY_CMD", cmd) };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("conformance: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if runtime.block_on(runner::run(options)) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
