//! Runs the feature files against the implementation under test and reports:
//! cucumber's own output while it runs, then a verdict per section (the
//! `@guide-*`, `@protocol-*`, `@spec-*` and `@security` tags): CONFORMS, FAILS,
//! or NOT APPLICABLE when every scenario of it needs a capability (`@cap-*`) the
//! profile does not claim; a summary line to quote, a cargo-style closing line,
//! and optionally JUnit XML for another project's CI.
//!
//! Shared by the `conformance` test target (`cargo test`) and the `conformance`
//! binary (`cargo run --bin conformance -- --profile FILE`).

use crate::world::KitWorld;
use cucumber::World as _;
use cucumber::event::ScenarioFinished;
use llm_sso_kit::profile::Profile;
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
    /// Run only scenarios whose name contains this text.
    pub name: Option<String>,
    /// Stop at the first failed scenario.
    pub fail_fast: bool,
    /// Write JUnit XML here.
    pub junit: Option<PathBuf>,
}

/// The options both front ends share, with their help.
pub const OPTIONS_HELP: &str = "\
  --features PATH   a feature file or folder (default: the kit's features/)
  --tags TAGS       only scenarios with one of these tags, e.g. guide-session-expired,security
  --name TEXT       only scenarios whose name contains TEXT
  --fail-fast       stop at the first failed scenario
  --junit FILE      also write the results as JUnit XML
";

impl Options {
    /// Takes the shared options from `args`; what it does not know is handed back (the caller decides).
    pub fn take(&mut self, arg: &str, args: &mut dyn Iterator<Item = String>) -> Result<bool, String> {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg {
            "--features" => self.features = Some(value("--features")?.into()),
            "--tags" => {
                let tags = value("--tags")?;
                self.tags = tags.split(',').map(|t| t.trim().trim_start_matches('@').to_string()).collect();
            }
            "--name" => self.name = Some(value("--name")?),
            "--fail-fast" => self.fail_fast = true,
            "--junit" => self.junit = Some(value("--junit")?.into()),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Passed,
    Failed(String),
    /// Needs capabilities the profile does not claim.
    NotApplicable(Vec<String>),
}

/// One scenario's outcome.
#[derive(Debug, Clone)]
struct Outcome {
    feature: String,
    scenario: String,
    section: String,
    verdict: Verdict,
}

/// The section a scenario belongs to: its first section tag (`@guide-*`, `@protocol-*`, `@spec-*`,
/// `@security`), or its feature's; a feature without one is its own section.
fn section(feature: &str, feature_tags: &[String], scenario_tags: &[String]) -> String {
    let is_section = |t: &&String| {
        t.starts_with("guide-") || t.starts_with("protocol-") || t.starts_with("spec-") || t.as_str() == "security"
    };
    scenario_tags
        .iter()
        .find(is_section)
        .or_else(|| feature_tags.iter().find(is_section))
        .map_or_else(|| feature.to_string(), |t| format!("@{t}"))
}

/// The capabilities this run claims: the profile's, less the SQLite file's own when the kit runs on PostgreSQL.
fn claimed() -> std::collections::BTreeSet<String> {
    let mut claimed = Profile::get().capabilities.clone();
    if llm_sso_kit::proxy::on_postgres() {
        claimed.remove("sqlite-file");
    }
    claimed
}

/// The `@cap-*` tags of a scenario the run does not claim.
fn missing(feature_tags: &[String], scenario_tags: &[String]) -> Vec<String> {
    let claimed = claimed();
    let mut missing: Vec<String> = feature_tags
        .iter()
        .chain(scenario_tags)
        .filter_map(|t| t.strip_prefix("cap-"))
        .filter(|c| !claimed.contains(*c))
        .map(str::to_string)
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

fn selected(options: &Options, feature_tags: &[String], scenario: &str, scenario_tags: &[String]) -> bool {
    let tagged =
        options.tags.is_empty() || options.tags.iter().any(|t| feature_tags.contains(t) || scenario_tags.contains(t));
    tagged && options.name.as_deref().is_none_or(|n| scenario.contains(n))
}

/// Runs and reports; true when no selected scenario failed and at least one ran.
pub async fn run(options: Options) -> bool {
    let profile = Profile::get();
    let features = options.features.clone().unwrap_or_else(|| llm_sso_kit::workspace_root().join("features"));
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let recorded = outcomes.clone();
    let skipped = outcomes.clone();
    let chosen = options.clone();
    let kit = KitWorld::cucumber()
        // Isolated scenarios (own ports, own directories) run side by side; 2 cores.
        .max_concurrent_scenarios(profile.concurrency)
        .fail_on_skipped()
        // The kit's own options are read above; cargo's flags are not cucumber's.
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
                section: section(&feature.name, &feature.tags, &scenario.tags),
                verdict: match failure {
                    None => Verdict::Passed,
                    Some(f) => Verdict::Failed(format!("{f}\n{}", report.unwrap_or_default())),
                },
            };
            Box::pin(async move {
                if let Verdict::Failed(failure) = &outcome.verdict {
                    eprintln!("\n--- scenario failed: {} ---\n{failure}", outcome.scenario);
                }
                recorded.lock().unwrap_or_else(|p| p.into_inner()).push(outcome);
            })
        });
    let kit = if options.fail_fast { kit.fail_fast() } else { kit };
    let writer = kit
        .filter_run(features, move |feature, _rule, scenario| {
            if !selected(&chosen, &feature.tags, &scenario.name, &scenario.tags) {
                return false;
            }
            let missing = missing(&feature.tags, &scenario.tags);
            if missing.is_empty() {
                return true;
            }
            skipped.lock().unwrap_or_else(|p| p.into_inner()).push(Outcome {
                feature: feature.name.clone(),
                scenario: scenario.name.clone(),
                section: section(&feature.name, &feature.tags, &scenario.tags),
                verdict: Verdict::NotApplicable(missing),
            });
            false
        })
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
    let not_applicable = outcomes.iter().filter(|o| matches!(o.verdict, Verdict::NotApplicable(_))).count();
    println!(
        "\ntest result: {}. {} passed; {} failed; {} skipped; {not_applicable} not applicable; {} parsing errors \
         (conformance scenarios)",
        if failed { "FAILED" } else { "ok" },
        scenarios.passed,
        scenarios.failed,
        scenarios.skipped,
        parsing
    );
    let _ = std::io::stdout().flush();
    !failed && parsing == 0 && scenarios.passed > 0
}

/// Per section: passed, failed, not applicable, verdict; then the line an implementer can quote.
fn print_table(outcomes: &[Outcome]) {
    let mut sections: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for o in outcomes {
        let entry = sections.entry(o.section.as_str()).or_default();
        match o.verdict {
            Verdict::Passed => entry.0 += 1,
            Verdict::Failed(_) => entry.1 += 1,
            Verdict::NotApplicable(_) => entry.2 += 1,
        }
    }
    let profile = Profile::get();
    println!("\nConformance of {} by section:", profile.name);
    println!("  {:<36} {:>6} {:>6} {:>6}  verdict", "section", "passed", "failed", "n/a");
    let mut counts = (0, 0, 0);
    for (name, (passed, failed, na)) in &sections {
        let verdict = match (passed, failed) {
            (_, f) if *f > 0 => {
                counts.1 += 1;
                "FAILS"
            }
            (p, _) if *p > 0 => {
                counts.0 += 1;
                "CONFORMS"
            }
            _ => {
                counts.2 += 1;
                "NOT APPLICABLE"
            }
        };
        println!("  {name:<36} {passed:>6} {failed:>6} {na:>6}  {verdict}");
    }
    let mut needed: BTreeMap<&str, usize> = BTreeMap::new();
    for o in outcomes {
        if let Verdict::NotApplicable(missing) = &o.verdict {
            for m in missing {
                *needed.entry(m.as_str()).or_default() += 1;
            }
        }
    }
    if !needed.is_empty() {
        let list: Vec<String> = needed.iter().map(|(c, n)| format!("{c} ({n})")).collect();
        println!("  not applicable for want of: {}", list.join(", "));
    }
    let claimed: Vec<String> = claimed().into_iter().collect();
    println!(
        "\nllm-sso-kit conformance: {}: {} of {} sections CONFORM, {} FAIL, {} NOT APPLICABLE (capabilities: {})",
        profile.name,
        counts.0,
        sections.len(),
        counts.1,
        counts.2,
        if claimed.is_empty() { "none".to_string() } else { claimed.join(", ") }
    );
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
    let failures = outcomes.iter().filter(|o| matches!(o.verdict, Verdict::Failed(_))).count();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"llm-sso-kit conformance\" tests=\"{}\" \
         failures=\"{failures}\">\n",
        outcomes.len()
    );
    for (section, cases) in by_section {
        let failed = cases.iter().filter(|o| matches!(o.verdict, Verdict::Failed(_))).count();
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\">\n",
            xml_escape(section),
            cases.len()
        ));
        for case in cases {
            let (class, name) = (xml_escape(&case.feature), xml_escape(&case.scenario));
            match &case.verdict {
                Verdict::Passed => xml.push_str(&format!("    <testcase classname=\"{class}\" name=\"{name}\"/>\n")),
                Verdict::NotApplicable(missing) => xml.push_str(&format!(
                    "    <testcase classname=\"{class}\" name=\"{name}\">\n      <skipped message=\"needs the \
                     capabilities {}\"/>\n    </testcase>\n",
                    xml_escape(&missing.join(", "))
                )),
                Verdict::Failed(failure) => {
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
