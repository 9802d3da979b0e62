//! The conformance kit under `cargo test`: every `.feature` file under
//! `features/`, run by cucumber against the implementation the profile names
//! (`LLM_SSO_KIT_PROFILE`; default: the workspace's proxy through
//! `tests/kit/profiles/llm-sso-proxy.yaml`). Undefined or skipped steps fail.
//!
//! Options after `--`: `cargo test --test conformance -- --name "fifty times" --fail-fast`
//! (also `--tags`, `--features`, `--junit`); the environment variables
//! `LLM_SSO_KIT_FEATURES` and `LLM_SSO_KIT_TAGS` do the same. To test another
//! implementation from its own CI, use the `conformance` binary.

mod runner;
mod steps;
mod world;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // cargo runs a test in its package's directory (tests/kit); the paths a person gives
    // (`LLM_SSO_KIT_FEATURES=features/...`, a profile, a JUnit file) are the workspace's.
    if let Err(e) = std::env::set_current_dir(llm_sso_kit::workspace_root()) {
        eprintln!("conformance: cannot enter the workspace root: {e}");
        std::process::exit(2);
    }
    let mut options = runner::Options {
        features: std::env::var_os("LLM_SSO_KIT_FEATURES").map(std::path::PathBuf::from),
        tags: std::env::var("LLM_SSO_KIT_TAGS")
            .map(|t| t.split(',').map(|s| s.trim().trim_start_matches('@').to_string()).collect())
            .unwrap_or_default(),
        junit: std::env::var_os("LLM_SSO_KIT_JUNIT").map(std::path::PathBuf::from),
        ..runner::Options::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match options.take(&arg, &mut args) {
            Ok(true) => {}
            // cargo's own test flags (a filter, --nocapture, ...) are not the kit's: named, then ignored.
            Ok(false) => eprintln!("conformance: ignoring {arg:?} (the kit takes:\n{})", runner::OPTIONS_HELP),
            Err(e) => {
                eprintln!("conformance: {e}\n{}", runner::OPTIONS_HELP);
                std::process::exit(2);
            }
        }
    }
    if !runner::run(options).await {
        std::process::exit(1);
    }
}
