//! `cargo run --release -p llm-sso-bench` measures llm-sso-proxy against two
//! baselines in one run on this machine: an upstream stub answering alone, and a
//! bare hyper pass-through forwarder in front of the same stub. For each
//! candidate: throughput under concurrent keep-alive load, latency one request
//! at a time, CPU per request of the server process (from `/proc`), its RSS and
//! thread count; for streams: time to the first chunk and to the end of a
//! 20-chunk stream. Prints ratios to the forwarder and writes `bench/report.md`.
//! `--smoke` runs each candidate for a moment and only checks that it answered
//! correctly (CI runs it, so the bench cannot rot).
//!
//! The load generator is in this binary (hyper client, one task per connection),
//! so the bench needs nothing but cargo; it shares the 2 cores with the server,
//! as wrk would.

mod load;
mod procs;
mod servers;

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Mode {
    pub smoke: bool,
    pub seconds: f64,
    pub connections: usize,
    pub serial_requests: usize,
    pub streams: usize,
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(role) = args.first().map(String::as_str) {
        match role {
            "stub" | "forwarder" => return servers::serve_role(&args),
            "-h" | "--help" => {
                println!("usage: llm-sso-bench [--smoke] [--seconds N] [--connections N] [--report PATH]");
                return std::process::ExitCode::SUCCESS;
            }
            _ => {}
        }
    }
    let smoke = args.iter().any(|a| a == "--smoke");
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let mode = Mode {
        smoke,
        seconds: value("--seconds").and_then(|s| s.parse().ok()).unwrap_or(if smoke { 0.5 } else { 5.0 }),
        connections: value("--connections").and_then(|s| s.parse().ok()).unwrap_or(if smoke { 4 } else { 32 }),
        serial_requests: if smoke { 20 } else { 2000 },
        streams: if smoke { 3 } else { 50 },
    };
    let report = value("--report").unwrap_or_else(|| "bench/report.md".into());
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("llm-sso-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(servers::run_all(mode, Duration::from_secs(30))) {
        Ok(markdown) => {
            println!("{markdown}");
            if !mode.smoke {
                if let Err(e) = std::fs::write(&report, &markdown) {
                    eprintln!("llm-sso-bench: cannot write {report}: {e}");
                } else {
                    println!("report written to {report}");
                }
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("llm-sso-bench: FAILED: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
