//! The conformance kit under `cargo test`: every `.feature` file under
//! `features/`, run by cucumber against the proxy under test as a spawned
//! process (the workspace's `llm-sso-proxy`, or `LLM_SSO_PROXY_CMD` with
//! `{config}`, `{port}`, `{db}` placeholders; `LLM_SSO_KIT_FEATURES` narrows the
//! run, `LLM_SSO_KIT_TAGS` picks sections). Undefined or skipped steps fail.
//! To test another implementation from its own CI, use the `conformance` binary.

mod runner;
mod steps;
mod world;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = runner::Options {
        features: std::env::var_os("LLM_SSO_KIT_FEATURES").map(std::path::PathBuf::from),
        tags: std::env::var("LLM_SSO_KIT_TAGS")
            .map(|t| t.split(',').map(|s| s.trim().trim_start_matches('@').to_string()).collect())
            .unwrap_or_default(),
        junit: std::env::var_os("LLM_SSO_KIT_JUNIT").map(std::path::PathBuf::from),
    };
    if !runner::run(options).await {
        std::process::exit(1);
    }
}
