//! The commands on top of the library: parse the command line, set up
//! logging, load the configuration, then check it (`--validate-only`,
//! `--print-config`) or run one command: [`serve`] (the default), [`doctor`],
//! [`healthcheck`], the operator commands ([`admin`]) or, without any
//! configuration, the terminal sign-in commands of a user ([`terminal`]). Commands depend on the
//! library and on [`checks`]; the library never depends on them.

pub mod admin;
pub mod checks;
pub mod database_checks;
pub mod doctor;
pub mod healthcheck;
pub mod serve;
pub mod terminal;

use crate::config::{self, Config, Overrides};
use crate::logging::{self, Format};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "llm-sso-proxy",
    version,
    about = "Single sign-on in front of LLM APIs for AI coding agents",
    long_about = "Agents send an agent token (Authorization: Bearer or x-api-key). Without a valid one they get a \
                  sandbox reply with a login URL; authenticated requests are forwarded upstream with the proxy's key."
)]
pub struct Args {
    /// The YAML configuration file.
    #[arg(long, value_name = "PATH")]
    pub sso_config: Option<PathBuf>,
    /// Load and check the configuration, print every problem, and exit (0 if valid, 1 if not).
    #[arg(long)]
    pub validate_only: bool,
    /// Print the effective configuration (file, environment, flags) with secrets redacted, for bug reports, and exit.
    #[arg(long)]
    pub print_config: bool,
    /// ERROR, WARNING, INFO or DEBUG (any case).
    #[arg(long, default_value = "INFO", value_name = "LEVEL")]
    pub log_level: String,
    /// Also write the log to this file.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: Format,
    /// Overrides server.host.
    #[arg(long)]
    pub host: Option<String>,
    /// Overrides server.port.
    #[arg(long)]
    pub port: Option<u16>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the binary can do besides serving.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run every diagnosis of the troubleshooting guide against the configuration; exit 1 if any fails.
    Doctor(doctor::Args),
    /// Ask the running proxy for /health (exit 0 when it answers ok): for container and service health probes.
    Healthcheck,
    /// Operator commands on the database (`tokens`, `ratelimit`, `db`).
    #[command(flatten)]
    Admin(admin::Command),
    /// A user's sign-in from a terminal (`login`, `token`, `env`, `logout`): no configuration file needed.
    #[command(flatten)]
    Terminal(terminal::Command),
}

pub fn main() -> ExitCode {
    let args = Args::parse();
    // A user's commands: no server configuration, no log; stdout carries only their output.
    if let Some(Command::Terminal(command)) = &args.command {
        return terminal::run(command);
    }
    let level = match logging::parse_level(&args.log_level) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("llm-sso-proxy: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = logging::init(level, args.log_file.as_deref(), args.log_format) {
        eprintln!("llm-sso-proxy: {e}");
        return ExitCode::from(2);
    }
    let overrides = Overrides { host: args.host.clone(), port: args.port };
    let env = |name: &str| std::env::var(name).ok();
    let loaded = config::load(args.sso_config.as_deref(), &env, &overrides);
    let source =
        args.sso_config.as_ref().map_or("<no --sso-config: defaults>".to_string(), |p| p.display().to_string());
    if args.validate_only {
        return match loaded {
            Ok(config) => {
                println!("{source}: configuration OK");
                serve::print_summary(&config);
                for warning in config::rules::warnings(&config) {
                    println!("  WARNING: {warning}");
                }
                ExitCode::SUCCESS
            }
            Err(problems) => {
                print!("{source}: {problems}");
                ExitCode::from(1)
            }
        };
    }
    match &args.command {
        // The doctor reports an invalid configuration as its first check.
        Some(Command::Doctor(doctor)) => {
            let subject = doctor::Subject {
                source: &source,
                loaded: &loaded,
                log_level: level,
                log_level_text: &args.log_level,
                env: &env,
            };
            return doctor::run(doctor, &subject);
        }
        // `tokens hash` needs no configuration.
        Some(Command::Admin(admin @ admin::Command::Tokens { action: admin::TokensAction::Hash })) => {
            return admin::run(admin, &Config::default());
        }
        Some(Command::Healthcheck) => {
            return with_config(&source, loaded, |config| healthcheck::run(&config));
        }
        Some(Command::Admin(admin)) => {
            return with_config(&source, loaded, |config| admin::run(admin, &config));
        }
        Some(Command::Terminal(command)) => return terminal::run(command),
        None => {}
    }
    if args.print_config {
        return match loaded {
            Ok(config) => {
                println!("# effective configuration of {source}; secrets redacted");
                print!("{}", crate::config::redacted::render(&config));
                ExitCode::SUCCESS
            }
            Err(problems) => {
                print!("{source}: {problems}");
                ExitCode::from(1)
            }
        };
    }
    let config = match loaded {
        Ok(c) => c,
        Err(problems) => {
            eprint!("llm-sso-proxy: refusing to start. {source}: {problems}");
            eprintln!("Run with --validate-only to check the configuration without starting.");
            return ExitCode::from(1);
        }
    };
    if config.sso.enabled
        && config.sso.authorization.mode == crate::config::AuthMode::SingleUser
        && level < tracing::level_filters::LevelFilter::WARN
    {
        // Written past the log filter on purpose: the filter is what hides the code.
        eprintln!(
            "llm-sso-proxy: WARNING: single_user mode prints the confirmation code at WARNING level, but \
             --log-level {} hides it: use --log-level WARNING (or INFO, DEBUG)",
            args.log_level
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("llm-sso-proxy: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve::serve(config))
}

/// Runs `command` on a valid configuration, or prints every problem and exits 1.
fn with_config(
    source: &str,
    loaded: Result<Config, config::Diagnostics>,
    command: impl FnOnce(Config) -> ExitCode,
) -> ExitCode {
    match loaded {
        Ok(config) => command(config),
        Err(problems) => {
            eprint!("llm-sso-proxy: {source}: {problems}");
            ExitCode::from(1)
        }
    }
}
