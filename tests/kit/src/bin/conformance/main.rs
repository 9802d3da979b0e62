//! `cargo run --bin conformance -- --profile FILE`: the conformance kit for
//! another implementation of the guide. The profile (docs/kit.md) says how to
//! start, configure, read and stop it and which capabilities it claims; without
//! one, the workspace's `llm-sso-proxy` is tested through its shipped profile.
//! Prints a verdict per section and can write JUnit XML.

// A crate root finds its modules next to itself: these are the files `cargo test --test conformance` runs.
mod runner;
mod steps;
mod world;

use std::process::ExitCode;

fn usage() -> String {
    let capabilities: String =
        llm_sso_kit::profile::CAPABILITIES.iter().map(|(name, what)| format!("  {name:<18} {what}\n")).collect();
    format!(
        "usage: conformance [--profile FILE] [--features PATH] [--tags TAGS] [--name TEXT] [--fail-fast] [--junit FILE]\n\n  \
         --profile FILE    the implementation profile (default: {})\n{}\ncapabilities a profile may claim:\n{capabilities}",
        llm_sso_kit::profile::OWN_PROFILE,
        runner::OPTIONS_HELP
    )
}

fn main() -> ExitCode {
    let mut options = runner::Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let parsed = match arg.as_str() {
            "--profile" => args.next().ok_or_else(|| "--profile needs a value".to_string()).and_then(|path| {
                // Checked now, so that a bad profile is named before anything starts.
                llm_sso_kit::profile::Profile::load(std::path::Path::new(&path))?;
                // SAFETY: still single-threaded (the runtime is built below), so nothing reads the environment concurrently.
                unsafe { std::env::set_var("LLM_SSO_KIT_PROFILE", &path) };
                Ok(true)
            }),
            "-h" | "--help" => {
                print!("{}", usage());
                return ExitCode::SUCCESS;
            }
            other => options.take(other, &mut args),
        };
        match parsed {
            Ok(true) => {}
            Ok(false) => {
                eprint!("conformance: unknown argument {arg:?}\n{}", usage());
                return ExitCode::from(2);
            }
            Err(e) => {
                eprint!("conformance: {e}\n{}", usage());
                return ExitCode::from(2);
            }
        }
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
