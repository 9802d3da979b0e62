//! Runs the feature files against the proxy under test and reports: cucumber's
//! own output while it runs, then a verdict table per guide section (the
//! `@guide-*`, `@protocol-*` and `@security` tags), a cargo-style closing line,
//! and optionally JUnit XML for another project's CI.
//!
//! Shared by the `conformance` test target (`cargo test`) and the `conformance`
//! binary (`cargo run --bin conformance -- --proxy-cmd '...'`).

use crate::world::KitWorld;
use cucumber::World as _;
use cucumber::event::ScenarioFinished;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What to run.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// A feature file or folder (default: the workspace's `features/`).
    pub features: Option<PathBuf>,
    /// Run only scenarios carrying one of these tags (without `@`; a feature's tags count for its scenarios).
    pub tags: Vec<String>,
    /// Write JUnit XML here.
    pub junit: Option<PathBuf>,
}

/// One scenario's outcome.
#[derive(Debug, Clone)]
struct Outcome {
    feature: String,
    scenario: String,
    section: String,
    passed: bool,
    failure: Option<String>,
}

/// The guide section a scenario belongs to: its first section tag, or its feature's.
fn section(feature_tags: &[String], scenario_tags: &[String]) -> String {
    let is_section = |t: &&String| t.starts_with("guide-") || t.starts_with("protocol-") || t.as_str() == "security";
    scenario_tags
        .iter()
        .find(is_section)
        .or_else(|| feature_tags.iter().find(is_section))
        .map_or_else(|| "(untagged)".to_string(), |t| format!("@{t}"))
}

fn wanted(tags: &[String], feature_tags: &[String], scenario_tags: &[String]) -> bool {
    // Scenarios about the SQLite file itself do not apply to a proxy on PostgreSQL.
    let sqlite_only = feature_tags.iter().chain(scenario_tags).any(|t| t == "sqlite");
    if sqlite_only && llm_sso_kit::proxy::on_postgres() {
        return false;
    }
    tags.is_empty() || tags.iter().any(|t| feature_tags.contains(t) || scenario_tags.contains(t))
}

/// Runs and reports; true when every selected scenario passed (and at least one ran).
pub async fn run(options: Options) -> bool {
    let features = options.features.clone().unwrap_or_else(|| llm_sso_kit::workspace_root().join("features"));
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let recorded = outcomes.clone();
    let tags = options.tags.clone();
    let writer = KitWorld::cucumber()
        // Isolated scenarios (own ports, own directories) run side by side; 2 cores.
        .max_concurrent_scenarios(4)
        .fail_on_skipped()
        // cargo's own flags (--nocapture, test filters) are not cucumber's.
        .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
        .after(move |feature, _rule, scenario, finished, world| {
            let recorded = recorded.clone();
            let failure = match finished {
                ScenarioFinished::StepPassed => None,
                ScenarioFinished::StepSkipped => Some("a step was skipped".to_string()),
                ScenarioFinished::BeforeHookFailed(_) => Some("the before hook failed".to_string()),
                ScenarioFinished::StepFailed(_, _, e) => Some(e.to_string()),
            };
            let report = world.map(|w| w.failure_report());
            let outcome = Outcome {
                feature: feature.name.clone(),
                scenario: scenario.name.clone(),
                section: section(&feature.tags, &scenario.tags),
                passed: failure.is_none(),
                failure: failure.map(|f| format!("{f}\n{}", report.unwrap_or_default())),
            };
            Box::pin(async move {
                if let Some(failure) = &outcome.failure {
                    eprintln!("\n--- scenario failed: {} ---\n{failure}", outcome.scenario);
                }
                recorded.lock().unwrap_or_else(|p| p.into_inner()).push(outcome);
            })
        })
        .filter_run(features, move |feature, _rule, scenario| wanted(&tags, &feature.tags, &scenario.tags))
        .await;
    let outcomes = outcomes.lock().unwrap_or_else(|p| p.into_inner()).clone();
    print_table(&outcomes);
    if let Some(path) = &options.junit {
        match std::fs::write(path, junit(&outcomes)) {
            Ok(()) => println!("JUnit XML written to {}", path.display()),
            Err(e) => eprintln!("conformance: cannot write {}: {e}", path.display()),
        }
    }
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
    !failed && parsing == 0 && scenarios.passed > 0
}

/// Per section: passed, failed, verdict.
fn print_table(outcomes: &[Outcome]) {
    let mut sections: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for o in outcomes {
        let entry = sections.entry(o.section.as_str()).or_default();
        if o.passed { entry.0 += 1 } else { entry.1 += 1 }
    }
    println!("\nConformance by guide section:");
    println!("  {:<36} {:>6} {:>6}  verdict", "section", "passed", "failed");
    for (name, (passed, failed)) in &sections {
        let verdict = if *failed == 0 { "CONFORMS" } else { "FAILS" };
        println!("  {name:<36} {passed:>6} {failed:>6}  {verdict}");
    }
}

fn xml_escape(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// One `<testsuite>` per guide section, one `<testcase>` per scenario.
fn junit(outcomes: &[Outcome]) -> String {
    let mut by_section: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        by_section.entry(o.section.as_str()).or_default().push(o);
    }
    let failures = outcomes.iter().filter(|o| !o.passed).count();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"llm-sso-kit conformance\" tests=\"{}\" \
         failures=\"{failures}\">\n",
        outcomes.len()
    );
    for (section, cases) in by_section {
        let failed = cases.iter().filter(|o| !o.passed).count();
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\">\n",
            xml_escape(section),
            cases.len()
        ));
        for case in cases {
            let (class, name) = (xml_escape(&case.feature), xml_escape(&case.scenario));
            match &case.failure {
                None => xml.push_str(&format!("    <testcase classname=\"{class}\" name=\"{name}\"/>\n")),
                Some(failure) => {
                    let first = failure.lines().next().unwrap_or_default();
                    xml.push_str(&format!(
                        "    <testcase classname=\"{class}\" name=\"{name}\">\n      <failure message=\"{}\">{}</failure>\n    \
                         </testcase>\n",
                        xml_escape(first),
                        xml_escape(failure)
                    ));
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}
