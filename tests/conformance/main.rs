//! The conformance kit's runner: every `.feature` file under `features/`, run by
//! cucumber against the proxy under test as a spawned process (the workspace's
//! `llm-sso-proxy`, or `LLM_SSO_PROXY_CMD` with `{config}`, `{port}`, `{db}`
//! placeholders; `LLM_SSO_KIT_FEATURES` narrows the run). Undefined or skipped steps fail. Prints a cargo-style closing
//! line and exits non-zero on any failure.

mod steps;
mod world;

use cucumber::World as _;
use std::io::Write;
use world::KitWorld;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // LLM_SSO_KIT_FEATURES narrows the run to one file or folder (the harness's own test uses it).
    let features = match std::env::var_os("LLM_SSO_KIT_FEATURES") {
        Some(path) => std::path::PathBuf::from(path),
        None => llm_sso_kit::workspace_root().join("features"),
    };
    let writer = KitWorld::cucumber()
        // Isolated scenarios (own ports, own directories) run side by side; 2 cores.
        .max_concurrent_scenarios(4)
        .fail_on_skipped()
        // cargo's own flags (--nocapture, test filters) are not cucumber's.
        .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
        .after(|_feature, _rule, scenario, finished, world| {
            Box::pin(async move {
                let failed = !matches!(finished, cucumber::event::ScenarioFinished::StepPassed);
                if let (true, Some(world)) = (failed, world) {
                    eprintln!("\n--- scenario failed: {} ---\n{}", scenario.name, world.failure_report());
                }
            })
        })
        .run(features)
        .await;
    let scenarios = writer.scenarios_stats();
    let failed = cucumber::writer::Stats::execution_has_failed(&writer);
    let parsing = cucumber::writer::Stats::parsing_errors(&writer);
    println!(
        "\ntest result: {}. {} passed; {} failed; {} skipped; {} parsing errors (conformance scenarios)",
        if failed { "FAILED" } else { "ok" },
        scenarios.passed,
        scenarios.failed,
        scenarios.skipped,
        parsing
    );
    let _ = std::io::stdout().flush();
    if failed || scenarios.passed == 0 {
        std::process::exit(1);
    }
}
