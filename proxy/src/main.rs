//! Entry point of `llm-sso-proxy`; everything lives in the library ([`llm_sso_proxy::commands`]).

fn main() -> std::process::ExitCode {
    llm_sso_proxy::commands::main()
}
