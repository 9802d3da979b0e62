//! `mock-llm`: runs the mock OpenAI/Anthropic upstream for offline work.
//! With no arguments it serves the built-in `config/mock-llm.yaml` on 127.0.0.1:9200.

use clap::Parser;
use mock_llm::{LlmConfig, MockLlm};
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_CONFIG: &str = include_str!("../../config/mock-llm.yaml");

#[derive(Parser)]
#[command(version, about = "Mock OpenAI- and Anthropic-compatible LLM upstream for offline work and benchmarks")]
struct Args {
    /// YAML file (default: the built-in config/mock-llm.yaml).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    #[arg(long)]
    host: Option<String>,
    /// 0 picks a free port.
    #[arg(long)]
    port: Option<u16>,
    /// Disable the request journal (for benchmarks).
    #[arg(long)]
    no_journal: bool,
    #[arg(long, default_value = "info")]
    log_level: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let loaded = match &args.config {
        Some(path) => LlmConfig::from_yaml_file(path),
        None => LlmConfig::from_yaml_str(DEFAULT_CONFIG).map_err(|e| format!("built-in config: {e}")),
    };
    let mut config = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mock-llm: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(host) = args.host {
        config.host = host;
    }
    if let Some(port) = args.port {
        config.port = port;
    }
    if args.no_journal {
        config.journal_capacity = 0;
    }
    let keys = (config.openai_api_key.is_some(), config.anthropic_api_key.is_some());
    let llm = match MockLlm::spawn(config).await {
        Ok(llm) => llm,
        Err(e) => {
            eprintln!("mock-llm: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    println!("mock-llm listening on {}", llm.base_url());
    println!(
        "  openai base_url:    {}   (POST /chat/completions, GET /models, POST /embeddings)",
        llm.openai_base_url()
    );
    println!("  anthropic base_url: {}   (POST /v1/messages, /v1/messages/count_tokens)", llm.base_url());
    println!(
        "  upstream keys checked: openai {}, anthropic {} (see the config file)",
        if keys.0 { "yes" } else { "no" },
        if keys.1 { "yes" } else { "no" }
    );
    println!("  models: mock-gpt, mock-claude, mock-large, mock-error-<status>, mock-reset-mid-stream");
    println!("  control: {}/__control (journal, faults, settings, refuse)", llm.base_url());
    println!("Press Ctrl-C to stop.");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("mock-llm: cannot wait for Ctrl-C: {e}");
    }
    llm.shutdown().await;
    ExitCode::SUCCESS
}
