//! The command line: parse, set up logging, load and check the configuration,
//! then validate only or serve.

use crate::config::{self, Config, Overrides};
use crate::logging::{self, Format};
use crate::server::Server;
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
    Doctor(crate::doctor::Args),
    /// Ask the running proxy for /health (exit 0 when it answers ok): for container and service health probes.
    Healthcheck,
    /// Operator commands on the database (`tokens`, `ratelimit`, `db`).
    #[command(flatten)]
    Admin(crate::admin::Command),
}

pub fn main() -> ExitCode {
    let args = Args::parse();
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
                print_summary(&config);
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
            let subject = crate::doctor::Subject {
                source: &source,
                loaded: &loaded,
                log_level: level,
                log_level_text: &args.log_level,
                env: &env,
            };
            return crate::doctor::run(doctor, &subject);
        }
        // `tokens hash` needs no configuration.
        Some(Command::Admin(admin @ crate::admin::Command::Tokens { action: crate::admin::TokensAction::Hash })) => {
            return crate::admin::run(admin, std::path::Path::new(""));
        }
        Some(Command::Healthcheck) => {
            return with_config(&source, loaded, |config| crate::healthcheck::run(&config));
        }
        Some(Command::Admin(admin)) => {
            return with_config(&source, loaded, |config| crate::admin::run(admin, &config.sso.database_path));
        }
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
    runtime.block_on(serve(config))
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

fn print_summary(config: &Config) {
    if config.sso.enabled {
        println!("  SSO: enabled");
        println!("  authorization mode: {}", config.sso.authorization.mode.as_str());
        for name in config.sso.providers.keys() {
            println!("  redirect URI to register for provider '{name}': {}", config.redirect_uri());
        }
        println!("  database: {}", config.sso.database_path.display());
    } else {
        println!("  SSO: DISABLED (requests are forwarded without authentication, loopback only)");
    }
    println!("  OpenAI upstream: {}", config.upstreams.openai.base_url);
    println!("  Anthropic upstream: {}", config.upstreams.anthropic.base_url);
}

/// Builds the [`Server`], prints the startup summary and serves until Ctrl-C or
/// SIGTERM (graceful, within `server.shutdown_timeout_seconds`).
pub async fn serve(config: Config) -> ExitCode {
    let server = match Server::build(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("llm-sso-proxy: {e}");
            return if e.is_configuration() { ExitCode::from(1) } else { ExitCode::FAILURE };
        }
    };
    let config = server.config();
    print_summary(config);
    for warning in config::rules::warnings(config) {
        tracing::warn!("{warning}");
    }
    println!("  agents: OpenAI base URL {}/v1, Anthropic base URL {}", config.base_url(), config.base_url());
    // Last, so that whoever waits for this line has seen the whole summary.
    println!("llm-sso-proxy {} listening on {}", crate::VERSION, server.listen_url());
    match server.run(shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("llm-sso-proxy: server error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM: stop accepting, let in-flight requests (and streams) finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
