//! Prometheus counters and the upstream latency histogram, rendered by `/metrics`.
//! Few label values, short critical sections: a mutex is enough.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; 10],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    sandbox: Mutex<BTreeMap<&'static str, u64>>,
    latency: Mutex<Histogram>,
    events: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// One agent request: its route label and how it ended.
    pub fn request(&self, route: &'static str, outcome: &'static str) {
        *self.requests.lock().unwrap_or_else(|p| p.into_inner()).entry((route, outcome)).or_default() += 1;
    }

    /// A protective limit was hit (`overloaded`, `pending_cap_ip`, `pending_cap_global`, ...).
    pub fn event(&self, name: &'static str) {
        *self.events.lock().unwrap_or_else(|p| p.into_inner()).entry(name).or_default() += 1;
    }

    pub fn sandbox(&self, reason: &'static str) {
        *self.sandbox.lock().unwrap_or_else(|p| p.into_inner()).entry(reason).or_default() += 1;
    }

    /// Time from sending upstream to its response headers.
    pub fn upstream_latency(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut h = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP llm_sso_requests_total Agent requests by route and outcome.\n");
        out.push_str("# TYPE llm_sso_requests_total counter\n");
        for ((route, outcome), n) in self.requests.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "llm_sso_requests_total{{route=\"{route}\",outcome=\"{outcome}\"}} {n}");
        }
        out.push_str("# HELP llm_sso_limit_events_total Requests refused by a protective limit, by limit.\n");
        out.push_str("# TYPE llm_sso_limit_events_total counter\n");
        for (event, n) in self.events.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "llm_sso_limit_events_total{{limit=\"{event}\"}} {n}");
        }
        out.push_str("# HELP llm_sso_sandbox_replies_total Sandbox replies by reason.\n");
        out.push_str("# TYPE llm_sso_sandbox_replies_total counter\n");
        for (reason, n) in self.sandbox.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "llm_sso_sandbox_replies_total{{reason=\"{reason}\"}} {n}");
        }
        out.push_str("# HELP llm_sso_upstream_latency_seconds Time to the upstream's response headers.\n");
        out.push_str("# TYPE llm_sso_upstream_latency_seconds histogram\n");
        let h = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "llm_sso_upstream_latency_seconds_bucket{{le=\"{bound}\"}} {}", h.counts[i]);
        }
        let _ = writeln!(out, "llm_sso_upstream_latency_seconds_bucket{{le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "llm_sso_upstream_latency_seconds_sum {}", h.sum);
        let _ = writeln!(out, "llm_sso_upstream_latency_seconds_count {}", h.count);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request("openai_chat", "forwarded");
        m.request("openai_chat", "forwarded");
        m.sandbox("no_valid_token");
        m.upstream_latency(Duration::from_millis(200));
        let text = m.render();
        assert!(text.contains("llm_sso_requests_total{route=\"openai_chat\",outcome=\"forwarded\"} 2"));
        assert!(text.contains("llm_sso_sandbox_replies_total{reason=\"no_valid_token\"} 1"));
        assert!(text.contains("llm_sso_upstream_latency_seconds_bucket{le=\"0.1\"} 0"));
        assert!(text.contains("llm_sso_upstream_latency_seconds_bucket{le=\"0.25\"} 1"));
        assert!(text.contains("llm_sso_upstream_latency_seconds_count 1"));
    }
}
