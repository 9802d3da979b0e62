//! Sign-in from a terminal, for the person running the agents (no configuration
//! file needed): `login` runs RFC 8628 device authorization against a proxy and
//! keeps the token (in the user's credential store, [`vault`], or else in a
//! private file, [`credentials`]); `token` prints it for scripts and Claude
//! Code's `apiKeyHelper`; `env` prints the shell exports the agents and SDKs read;
//! `logout` revokes it at the proxy and forgets it. Messages go to stderr, so
//! stdout carries only the token or the exports.

pub mod credentials;
pub mod device_flow;
pub mod origin;
pub mod screen;
pub mod vault;

use credentials::{Credentials, Entry};
use device_flow::{Flow, FlowError};
use origin::ProxyOrigin;
use std::path::PathBuf;
use std::process::ExitCode;

/// A token this close to its expiry counts as expired for `token --renew`.
const RENEW_MARGIN_SECONDS: i64 = 300;

#[derive(Debug, clap::Args)]
pub struct Common {
    /// The proxy's URL (its public URL, e.g. https://llm.example.com). Default: the proxy of the last login
    /// (or LLM_SSO_PROXY_URL).
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Keep everything, the token included, in this file (0600) rather than in the credential store.
    /// Default: the credential store (Keychain, Credential Manager, Secret Service) when there is one, and
    /// $XDG_CONFIG_HOME/llm-sso-proxy/credentials.json (or ~/.config/...) for the rest; LLM_SSO_CREDENTIALS
    /// does the same as this option.
    #[arg(long, value_name = "PATH")]
    pub credentials: Option<PathBuf>,
    /// A PEM certificate to trust for the proxy's HTTPS (an internal CA), besides the public roots.
    #[arg(long, value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,
    /// INSECURE: allow a plain http:// proxy URL on another machine. The agent token then crosses the network
    /// in clear, where anyone on the path can read and reuse it; a warning is printed on every use. Without
    /// it, http:// is accepted only for this machine (localhost, 127.0.0.0/8, ::1).
    #[arg(long)]
    pub allow_insecure_http: bool,
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
    proxy: Option<ProxyOrigin>,
    /// Try the user's credential store for the token (not when a file was named).
    keyring: bool,
}

/// A kept token, read back from wherever it is.
struct Held {
    token: String,
    expires_at: i64,
}

fn session(common: &Common, env: &dyn Fn(&str) -> Option<String>) -> Result<Session, String> {
    let named_file =
        common.credentials.clone().or_else(|| env("LLM_SSO_CREDENTIALS").filter(|p| !p.is_empty()).map(PathBuf::from));
    let keyring = named_file.is_none();
    let path = match named_file {
        Some(p) => p,
        None => credentials::default_path(env)
            .ok_or("no place for the credentials file: set HOME, XDG_CONFIG_HOME or LLM_SSO_CREDENTIALS")?,
    };
    let credentials = Credentials::load(&path)?;
    let named = common.proxy.clone().or_else(|| env("LLM_SSO_PROXY_URL").filter(|u| !u.trim().is_empty()));
    let proxy = match named.as_deref().or(credentials.default.as_deref()) {
        Some(text) => Some(ProxyOrigin::parse(text)?),
        None => None,
    };
    Ok(Session { path, credentials, proxy, keyring })
}

fn now() -> i64 {
    crate::clock::Clock.now()
}

/// The client for one proxy: no redirect is ever followed (every request carries a token, a device code or
/// both), and this machine is reached directly, never through an `HTTP_PROXY` that would see it in clear.
fn http(common: &Common, proxy: &ProxyOrigin) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("llm-sso-proxy/", env!("CARGO_PKG_VERSION"), " (terminal sign-in)"))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30));
    if proxy.is_loopback() {
        builder = builder.no_proxy();
    }
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
            let (held, place) = login(common, &mut s, !no_browser, env).await?;
            eprintln!(
                "Signed in. The token is kept in {place} until {} UTC.",
                crate::clock::to_sqlite(held.expires_at)
            );
            eprintln!("Next: eval \"$(llm-sso-proxy env)\", or see docs/agents.md for each agent.");
            Ok(())
        }
        Command::Token { common, renew } => {
            let mut s = session(common, env)?;
            let held = match current(&s).await {
                Ok(held) if !*renew || held.expires_at - now() > RENEW_MARGIN_SECONDS => held,
                Ok(_) => login(common, &mut s, false, env).await?.0,
                Err(_) if *renew => login(common, &mut s, false, env).await?.0,
                Err(message) => return Err(message),
            };
            println!("{}", held.token);
            Ok(())
        }
        Command::Env { common } => {
            let s = session(common, env)?;
            let held = current(&s).await?;
            let Some(proxy) = &s.proxy else { return Err("no proxy: sign in first".into()) };
            proxy.warn_insecure();
            print!("{}", exports(proxy.base(), &held.token));
            Ok(())
        }
        Command::Logout { common } => logout(common, session(common, env)?).await,
    }
}

/// The kept token of the session's proxy, expired or not: only ever the one issued by that very URL.
async fn kept(s: &Session, proxy: &ProxyOrigin) -> Result<Option<Held>, String> {
    let proxy = proxy.base();
    let Some(entry) = s.credentials.proxies.get(proxy) else { return Ok(None) };
    let token = match (&entry.token, entry.in_keyring) {
        (Some(token), _) => token.clone(),
        (None, true) => vault::load(proxy).await.map_err(|e| {
            format!("the credential store did not give the token for {proxy} back ({e}): run `llm-sso-proxy login`")
        })?,
        (None, false) => return Ok(None),
    };
    Ok(Some(Held { token, expires_at: entry.expires_at }))
}

/// The kept, unexpired token of the session's proxy, or what to run to get one.
async fn current(s: &Session) -> Result<Held, String> {
    let Some(proxy) = &s.proxy else {
        return Err("no token: sign in first with `llm-sso-proxy login --proxy URL`".into());
    };
    let Some(held) = kept(s, proxy).await? else {
        let proxy = proxy.base();
        return Err(format!("no token for {proxy}: sign in first with `llm-sso-proxy login --proxy {proxy}`"));
    };
    if held.expires_at <= now() {
        return Err(format!(
            "the token for {} expired at {} UTC: run `llm-sso-proxy login` (or `token --renew`) to renew it",
            proxy.base(),
            crate::clock::to_sqlite(held.expires_at)
        ));
    }
    proxy.warn_insecure();
    Ok(held)
}

/// The device sign-in; renews the kept token when there is one (the agents configured with it keep working).
/// Returns the token and where it is kept.
async fn login(
    common: &Common,
    s: &mut Session,
    browser: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Held, String), String> {
    let Some(proxy) = s.proxy.clone() else {
        return Err("which proxy? Give --proxy URL (the proxy's public URL) or set LLM_SSO_PROXY_URL".into());
    };
    proxy.check_transport(common.allow_insecure_http)?;
    let http = http(common, &proxy)?;
    let flow = Flow { http: &http, proxy: &proxy };
    // A kept token that cannot be read back is simply not renewed.
    let kept = kept(s, &proxy).await.ok().flatten().map(|h| h.token);
    let code = match flow.request(kept.as_deref()).await {
        Err(FlowError::NotRenewable(why)) => {
            eprintln!("The kept token cannot be renewed ({why}); signing in for a new one.");
            flow.request(None).await
        }
        other => other,
    }
    .map_err(|e| e.to_string())?;
    // Every text here was sanitized by the flow (`screen::line`); the browser gets only a link of this origin.
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
    if browser {
        match proxy.browser_link(&link) {
            Some(url) if device_flow::open_browser(&url, env) => eprintln!("(opened in your browser)"),
            Some(_) => {}
            None => eprintln!("(not opened in a browser: the link is not on {})", proxy.base()),
        }
    }
    let granted = flow.wait(&code).await.map_err(|e| e.to_string())?;
    let token = match (granted.access_token, kept) {
        (Some(token), _) if plausible_token(&token) => token,
        (Some(_), _) => return Err("the proxy answered with something that is not a token".into()),
        (None, Some(kept)) if granted.renewed => kept,
        (None, _) => return Err("the proxy answered without a token".into()),
    };
    let now = now();
    let expires_at = now.saturating_add(granted.expires_in);
    let mut entry = Entry { token: None, in_keyring: false, expires_at, obtained_at: now };
    let place = match s.keyring {
        false => None,
        true => match vault::store(proxy.base(), &token).await {
            Ok(()) => Some("your credential store".to_string()),
            Err(why) => {
                eprintln!("(no credential store to keep the token in: {why}; using a private file instead)");
                None
            }
        },
    };
    match place {
        Some(_) => entry.in_keyring = true,
        None => {
            entry.token = Some(token.clone());
            if s.keyring {
                // An older copy in the credential store would shadow nothing, but should not linger.
                let _ = vault::forget(proxy.base()).await;
            }
        }
    }
    s.credentials.proxies.insert(proxy.base().to_string(), entry);
    s.credentials.default = Some(proxy.base().to_string());
    s.credentials.save(&s.path)?;
    let place = place.unwrap_or_else(|| format!("{} (readable only by you)", s.path.display()));
    Ok((Held { token, expires_at }, place))
}

async fn logout(common: &Common, mut s: Session) -> Result<(), String> {
    let Some(origin) = s.proxy.clone() else {
        return Err("not signed in (no proxy given and no earlier login)".into());
    };
    // Checked before anything is forgotten: a refused revocation leaves the token where it was.
    origin.check_transport(common.allow_insecure_http)?;
    let held = kept(&s, &origin).await;
    let proxy = origin.base().to_string();
    let Some(entry) = s.credentials.proxies.remove(&proxy) else {
        return Err(format!("not signed in to {proxy}"));
    };
    if s.credentials.default.as_deref() == Some(proxy.as_str()) {
        s.credentials.default = s.credentials.proxies.keys().next().cloned();
    }
    // Forget first: the local copy goes whatever the proxy answers.
    s.credentials.save(&s.path)?;
    if entry.in_keyring {
        vault::forget(&proxy).await.map_err(|e| format!("cannot remove the token from the credential store: {e}"))?;
    }
    let token = match held {
        Ok(Some(held)) => held.token,
        _ => return Err(format!("forgotten here, but the token could not be read to revoke it at {proxy}")),
    };
    let http = http(common, &origin)?;
    let url = origin.endpoint("/auth/revoke");
    let answer = http.post(&url).form(&[("token", token.as_str())]).send().await;
    match answer {
        Ok(r) if r.status().is_redirection() => Err(format!(
            "the token is forgotten here, but {proxy} did not revoke it: {}. It stays valid until it expires \
             unless an operator revokes it (`llm-sso-proxy tokens revoke`)",
            device_flow::redirected(&r).map(|e| e.to_string()).unwrap_or_default()
        )),
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

/// A token as the proxy issues them: printable ASCII without spaces or quotes, at most 512 bytes (it is
/// printed by `token` and `env` and read by shells and agents).
fn plausible_token(token: &str) -> bool {
    (1..=512).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic() && b != b'\'' && b != b'"')
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
