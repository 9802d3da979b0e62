//! `llm-sso-proxy healthcheck`: the Dockerfile's HEALTHCHECK, for images that
//! carry no curl. Exit 0 when the proxy on this machine answers `/health` ok.

use crate::config::Config;
use crate::probe::{answers_ok, local_client, local_url};
use std::process::ExitCode;
use std::time::Duration;

pub fn run(config: &Config) -> ExitCode {
    let url = local_url(config, "/health");
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("llm-sso-proxy: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let answer = runtime.block_on(async {
        let http = local_client(Duration::from_secs(3)).map_err(|e| e.to_string())?;
        answers_ok(&http, &url).await
    });
    match answer {
        Ok(()) => {
            println!("{url}: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{url}: unhealthy: {e}");
            ExitCode::from(1)
        }
    }
}
