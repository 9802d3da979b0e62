//! Entry point of `llm-sso-proxy`. Serving arrives with issue 4; until then the
//! binary fails closed: it prints its version or exits non-zero.

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "--version" || a == "-V") {
        println!("llm-sso-proxy {}", llm_sso_proxy::VERSION);
        return ExitCode::SUCCESS;
    }
    eprintln!("llm-sso-proxy: serving is not implemented yet (see issue 4); refusing to start");
    ExitCode::from(2)
}
