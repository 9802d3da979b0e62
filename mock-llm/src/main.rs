//! `mock-llm`: runs the mock OpenAI/Anthropic upstream for offline work.
//! With no arguments it serves the built-in `config/mock-llm.yaml` on 127.0.0.1:9200.

use clap::Parser;
use mock_llm::{LlmConfig, MockLlm};
use mock_server::cli::{ServeArgs, wait_for_ctrl_c};
use std::process::ExitCode;

const DEFAULT_CONFIG: &str = include_str!("../../config/mock-llm.yaml");

#[derive(Parser)]
#[command(version, about = "Mock OpenAI- and Anthropic-compatible LLM upstream for offline work and benchmarks")]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
    /// Disable the request journal (for benchmarks).
    #[arg(long)]
    no_journal: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    args.serve.init_logging();
    let config = args.serve.load::<LlmConfig>(DEFAULT_CONFIG);
    let mut config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mock-llm: {e}");
            return ExitCode::from(2);
        }
    };
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
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!("mock-llm listening on {}", llm.base_url());
    println!(
        "  openai base_url:    {}   (POST /chat/completions, GET /models, POST /embeddings)",
        llm.openai_base_url()
    );
    println!("  anthropic base_url: {}   (POST /v1/messages, /v1/messages/count_tokens)", llm.base_url());
    println!("  upstream keys checked: openai {}, anthropic {}", yes_no(keys.0), yes_no(keys.1));
    println!("  models: mock-gpt, mock-claude, mock-large, mock-error-<status>, mock-reset-mid-stream");
    println!("  control: {}/__control (journal, faults, settings, refuse)", llm.base_url());
    let code = wait_for_ctrl_c("mock-llm").await;
    llm.shutdown().await;
    code
}
