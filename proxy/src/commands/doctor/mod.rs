//! `llm-sso-proxy doctor`: every diagnosis of the troubleshooting guide, run
//! against one configuration, one line per check with a verdict and, when it
//! fails, the guide's fix. It replaces the guide's `curl`, `sqlite3`, `lsof`
//! and `date` commands with checks that know what the answer should be.
//!
//! The checks are grouped by what they touch: the configuration and the local
//! machine ([`local`]), the identity providers ([`providers`]), and the
//! authorization API and upstreams ([`remote`]). Nothing here changes state:
//! the database is opened read-only, the IdP and the authorization API see
//! requests that cannot sign anyone in.

mod local;
mod providers;
mod remote;
mod subject;
mod who;

pub use subject::Subject;

pub use super::checks::{Check, Verdict, render};
use serde::Serialize;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One JSON document instead of text (for scripts and monitoring).
    #[arg(long)]
    pub json: bool,
    /// Longest wait for each network check, in seconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub timeout_seconds: u64,
    /// Instead of the checks: which rule of the access policy would decide for this address, and why
    /// (exit 0 allowed, 1 refused, 2 when the policy cannot be asked).
    #[arg(long, value_name = "EMAIL")]
    pub who: Option<String>,
    /// With --who: the groups the ID token would list (comma-separated).
    #[arg(long, value_delimiter = ',', requires = "who", value_name = "GROUP,...")]
    pub groups: Vec<String>,
    /// With --who: the roles the ID token would list (comma-separated).
    #[arg(long, value_delimiter = ',', requires = "who", value_name = "ROLE,...")]
    pub roles: Vec<String>,
    /// With --who: the Microsoft Entra directory (tid) of the account.
    #[arg(long, requires = "who", value_name = "TENANT_ID")]
    pub tenant: Option<String>,
    /// With --who: the provider the person signs in with (needed when several are configured).
    #[arg(long, requires = "who", value_name = "NAME")]
    pub provider: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub config: String,
    pub healthy: bool,
    pub checks: Vec<Check>,
}

/// Runs every check that applies, in the guide's order.
pub async fn examine(subject: &Subject<'_>, timeout: Duration) -> Report {
    let mut checks = vec![local::configuration(subject)];
    if let Ok(config) = subject.loaded {
        checks.push(local::sso_enabled(config, subject));
        checks.push(local::log_level(config, subject.log_level, subject.log_level_text));
        checks.extend(local::database(config, timeout).await);
        let (listen, running) = local::listen_address(config, timeout).await;
        checks.push(listen);
        checks.push(local::public_url(config, running, timeout).await);
        checks.push(local::tls(config));
        if config.sso.enabled {
            let http = crate::outbound::client(timeout);
            match &http {
                Ok(http) => {
                    // Providers are independent: examined at once, reported in name order.
                    let redirect_uri = config.redirect_uri();
                    let each = config
                        .sso
                        .providers
                        .iter()
                        .map(|(name, provider)| providers::examine(http, name, provider, &redirect_uri, subject));
                    checks.extend(futures_util::future::join_all(each).await.into_iter().flatten());
                    checks.push(remote::authorization_api(http, config).await);
                }
                Err(e) => checks.push(Check::fail("http-client", e.to_string(), "report this as a bug")),
            }
        }
        checks.extend(remote::upstreams(config, timeout).await);
    }
    let healthy = checks.iter().all(|c| c.verdict != Verdict::Fail);
    Report { config: subject.source.to_string(), healthy, checks }
}

impl Report {
    pub fn text(&self) -> String {
        render(&format!("llm-sso-proxy doctor: {}", self.config), &self.checks)
    }
}

/// The `doctor` subcommand: exit 0 when nothing failed (warnings allowed), 1 otherwise.
pub fn run(args: &Args, subject: &Subject<'_>) -> ExitCode {
    if let Some(email) = &args.who {
        return run_who(args, email, subject);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("llm-sso-proxy: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = runtime.block_on(examine(subject, Duration::from_secs(args.timeout_seconds)));
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("llm-sso-proxy: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", report.text());
    }
    if report.healthy { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// `doctor --who`: the policy's answer for one person, without the other checks.
fn run_who(args: &Args, email: &str, subject: &Subject<'_>) -> ExitCode {
    let config = match subject.loaded {
        Ok(config) => config,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            eprintln!("llm-sso-proxy: the configuration has problems (see above): the policy cannot be asked");
            return ExitCode::from(2);
        }
    };
    let trimmed = |items: &[String]| -> Vec<String> {
        items.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
    };
    let person = who::Person {
        email: email.trim().to_string(),
        provider: args.provider.clone(),
        groups: trimmed(&args.groups),
        roles: trimmed(&args.roles),
        tenant: args.tenant.clone(),
    };
    let answer = match who::answer(config, &person) {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("llm-sso-proxy doctor --who: {e}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&answer) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("llm-sso-proxy: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", answer.text(&person));
    }
    if answer.allowed { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
