//! Sign-in from a terminal, for the person running the agents (no configuration
//! file needed): `login` runs RFC 8628 device authorization against a proxy and
//! keeps the token ([`credentials`]); `token` prints it for scripts and Claude
//! Code's `apiKeyHelper`; `env` prints the shell exports the agents and SDKs read;
//! `logout` revokes it at the proxy and forgets it. Messages go to stderr, so
//! stdout carries only the token or the exports.

pub mod credentials;
pub mod device_flow;

use credentials::{Credentials, Entry};
use device_flow::{Flow, FlowError};
use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) const GRANT_TYPE: &str = crate::sso::device::GRANT_TYPE;

/// A token this close to its expiry counts as expired for `token --renew`.
const RENEW_MARGIN_SECONDS: i64 = 300;

#[derive(Debug, clap::Args)]
pub struct Common {
    /// The proxy's URL (its public URL, e.g. https://llm.example.com). Default: the proxy of the last login
    /// (or LLM_SSO_PROXY_URL).
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Where the token is kept. Default: $XDG_CONFIG_HOME/llm-sso-proxy/credentials.json (or
    /// ~/.config/...), created 0600; LLM_SSO_CREDENTIALS overrides it.
    #[arg(long, value_name = "PATH")]
    pub credentials: Option<PathBuf>,
    /// A PEM certificate to trust for the proxy's HTTPS (an internal CA), besides the public roots.
    #[arg(long, value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,
}

/// The terminal commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Sign in from this terminal: prints a code and a link to open on any device (a browser is opened when
    /// there is one), waits for the sign-in, and keeps the agent token. Run again to renew the kept token.
    Login {
        #[command(flatten)]
        common: Common,
        /// Never open a browser; only print the link.
        #[arg(long)]
        no_browser: bool,
    },
    /// Print the kept agent token (for Claude Code's apiKeyHelper and scripts); exit 1 when there is none or
    /// it has expired.
    Token {
        #[command(flatten)]
        common: Common,
        /// When the token is missing, expired or expires within 5 minutes, sign in first (as `login`; the code
        /// and link go to stderr).
        #[arg(long)]
        renew: bool,
    },
    /// Print shell exports of the proxy's URLs and the token for the OpenAI and Anthropic SDKs and agents:
    /// eval "$(llm-sso-proxy env)".
    Env {
        #[command(flatten)]
        common: Common,
    },
    /// Revoke the kept token at the proxy and forget it.
    Logout {
        #[command(flatten)]
        common: Common,
    },
}

/// Runs a terminal command; errors are printed to stderr with what to do.
pub fn run(command: &Command) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("llm-sso-proxy: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    match runtime.block_on(dispatch(command, &env)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("llm-sso-proxy: {message}");
            ExitCode::from(1)
        }
    }
}

/// The state every command starts from: where the file is, what it holds, which proxy.
struct Session {
    path: PathBuf,
    credentials: Credentials,
    proxy: Option<String>,
}

fn session(common: &Common, env: &dyn Fn(&str) -> Option<String>) -> Result<Session, String> {
    let path = match &common.credentials {
        Some(p) => p.clone(),
        None => credentials::default_path(env)
            .ok_or("no place for the credentials file: set HOME, XDG_CONFIG_HOME or LLM_SSO_CREDENTIALS")?,
    };
    let credentials = Credentials::load(&path)?;
    let named = common.proxy.clone().or_else(|| env("LLM_SSO_PROXY_URL").filter(|u| !u.trim().is_empty()));
    let proxy = credentials.proxy_for(named.as_deref());
    Ok(Session { path, credentials, proxy })
}

fn now() -> i64 {
    crate::clock::Clock.now()
}

fn http(common: &Common) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("llm-sso-proxy/", env!("CARGO_PKG_VERSION"), " (terminal sign-in)"))
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30));
    if let Some(path) = &common.ca_cert {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read --ca-cert {}: {e}", path.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("--ca-cert {} is not a PEM certificate: {e}", path.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| format!("cannot set up HTTPS: {e}"))
}

async fn dispatch(command: &Command, env: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
    match command {
        Command::Login { common, no_browser } => {
            let mut s = session(common, env)?;
            let entry = login(common, &mut s, !no_browser, env).await?;
            eprintln!(
                "Signed in. The token is kept in {} until {} UTC.",
                s.path.display(),
                crate::clock::to_sqlite(entry.expires_at)
            );
            eprintln!("Next: eval \"$(llm-sso-proxy env)\", or see docs/agents.md for each agent.");
            Ok(())
        }
        Command::Token { common, renew } => {
            let mut s = session(common, env)?;
            let entry = match current(&s) {
                Ok(entry) if !*renew || entry.expires_at - now() > RENEW_MARGIN_SECONDS => entry,
                Ok(_) => login(common, &mut s, false, env).await?,
                Err(_) if *renew => login(common, &mut s, false, env).await?,
                Err(message) => return Err(message),
            };
            println!("{}", entry.token);
            Ok(())
        }
        Command::Env { common } => {
            let s = session(common, env)?;
            let entry = current(&s)?;
            let proxy = s.proxy.unwrap_or_default();
            print!("{}", exports(&proxy, &entry.token));
            Ok(())
        }
        Command::Logout { common } => logout(common, session(common, env)?).await,
    }
}

/// The kept, unexpired token of the session's proxy, or what to run to get one.
fn current(s: &Session) -> Result<Entry, String> {
    let Some(proxy) = &s.proxy else {
        return Err("no token: sign in first with `llm-sso-proxy login --proxy URL`".into());
    };
    let Some(entry) = s.credentials.proxies.get(proxy) else {
        return Err(format!("no token for {proxy}: sign in first with `llm-sso-proxy login --proxy {proxy}`"));
    };
    if entry.expires_at <= now() {
        return Err(format!(
            "the token for {proxy} expired at {} UTC: run `llm-sso-proxy login` (or `token --renew`) to renew it",
            crate::clock::to_sqlite(entry.expires_at)
        ));
    }
    Ok(entry.clone())
}

/// The device sign-in; renews the kept token when there is one (the agents configured with it keep working).
async fn login(
    common: &Common,
    s: &mut Session,
    browser: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Entry, String> {
    let Some(proxy) = s.proxy.clone() else {
        return Err("which proxy? Give --proxy URL (the proxy's public URL) or set LLM_SSO_PROXY_URL".into());
    };
    if !(proxy.starts_with("http://") || proxy.starts_with("https://")) {
        return Err(format!("--proxy {proxy}: give the URL with http:// or https://"));
    }
    let http = http(common)?;
    let flow = Flow { http: &http, proxy: &proxy };
    let kept = s.credentials.proxies.get(&proxy).map(|e| e.token.clone());
    let code = match flow.request(kept.as_deref()).await {
        Err(FlowError::NotRenewable(why)) => {
            eprintln!("The kept token cannot be renewed ({why}); signing in for a new one.");
            flow.request(None).await
        }
        other => other,
    }
    .map_err(|e| e.to_string())?;
    let link = code.verification_uri_complete.clone().unwrap_or_else(|| code.verification_uri.clone());
    eprintln!("To sign in, open {} on any device and enter the code:", code.verification_uri);
    eprintln!();
    eprintln!("    {}", code.user_code);
    eprintln!();
    eprintln!("or open {link}");
    eprintln!(
        "Check that the page shows this code. Waiting for the sign-in (up to {} minutes)...",
        code.expires_in / 60
    );
    if browser && device_flow::open_browser(&link, env) {
        eprintln!("(opened in your browser)");
    }
    let granted = flow.wait(&code).await.map_err(|e| e.to_string())?;
    let token = match (granted.access_token, kept) {
        (Some(token), _) => token,
        (None, Some(kept)) if granted.renewed => kept,
        (None, _) => return Err("the proxy answered without a token".into()),
    };
    let now = now();
    let entry = Entry { token, expires_at: now.saturating_add(granted.expires_in), obtained_at: now };
    s.credentials.proxies.insert(proxy.clone(), entry.clone());
    s.credentials.default = Some(proxy);
    s.credentials.save(&s.path)?;
    Ok(entry)
}

async fn logout(common: &Common, mut s: Session) -> Result<(), String> {
    let Some(proxy) = s.proxy.clone() else {
        return Err("not signed in (no proxy given and no earlier login)".into());
    };
    let Some(entry) = s.credentials.proxies.remove(&proxy) else {
        return Err(format!("not signed in to {proxy}"));
    };
    if s.credentials.default.as_deref() == Some(proxy.as_str()) {
        s.credentials.default = s.credentials.proxies.keys().next().cloned();
    }
    // Forget first: the local copy goes whatever the proxy answers.
    s.credentials.save(&s.path)?;
    let http = http(common)?;
    let url = format!("{proxy}/auth/revoke");
    let answer = http.post(&url).form(&[("token", entry.token.as_str())]).send().await;
    match answer {
        Ok(r) if r.status().is_success() => {
            eprintln!("Signed out of {proxy}: the token is revoked and forgotten.");
            Ok(())
        }
        Ok(r) => Err(format!(
            "the token is forgotten here, but {proxy} answered {} to the revocation: it stays valid until it \
             expires unless an operator revokes it (`llm-sso-proxy tokens revoke`)",
            r.status()
        )),
        Err(e) => Err(format!(
            "the token is forgotten here, but {proxy} could not be reached to revoke it ({}): it stays valid until \
             it expires unless an operator revokes it",
            crate::logging::chain(&e)
        )),
    }
}

/// POSIX shell exports for the OpenAI and Anthropic clients (values single-quoted).
pub fn exports(proxy: &str, token: &str) -> String {
    let quote = |v: &str| format!("'{}'", v.replace('\'', r"'\''"));
    let openai = format!("{proxy}/v1");
    [
        ("OPENAI_BASE_URL", openai.as_str()),
        ("OPENAI_API_BASE", openai.as_str()),
        ("OPENAI_API_KEY", token),
        ("ANTHROPIC_BASE_URL", proxy),
        ("ANTHROPIC_API_KEY", token),
    ]
    .iter()
    .map(|(name, value)| format!("export {name}={}\n", quote(value)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_quoted_for_the_shell() {
        let text = exports("http://p:1", "llmsso_x'y");
        assert!(text.contains("export OPENAI_BASE_URL='http://p:1/v1'\n"));
        assert!(text.contains("export ANTHROPIC_BASE_URL='http://p:1'\n"));
        assert!(text.contains(r"export ANTHROPIC_API_KEY='llmsso_x'\''y'"));
    }
}
