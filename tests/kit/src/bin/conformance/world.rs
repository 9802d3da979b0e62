//! The stack of one scenario: a private directory, the mocks on ephemeral
//! loopback ports (started on first use), the proxy process with its captured
//! console, and what the last step observed. Dropped, it tears everything down,
//! also when a step failed.

use llm_sso_kit::proxy::{ProxyProcess, TempDir, free_port};
use llm_sso_kit::stack::{Mocks, ProxySetup};

/// An HTTP answer as a step saw it.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    /// A whole answer, its body read to the end.
    pub async fn of(r: reqwest::Response) -> Reply {
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        Reply { status, headers, body: r.text().await.unwrap_or_default() }
    }
}

/// A finished command (`--validate-only`, `--version`, a failed start).
pub struct CommandRun {
    pub code: Option<i32>,
    pub output: String,
}

/// How the scenario's proxy is to be started (the `Given` steps fill it in).
#[derive(Default)]
pub struct Launch {
    /// The config file of the scenario, with `{placeholders}` already filled; `None` = the kit's standard one.
    pub config_yaml: Option<String>,
    /// Start without a configuration file at all.
    pub no_config: bool,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    /// What the kit's standard configuration says beyond the mocks' addresses.
    pub setup: ProxySetup,
}

/// What the last steps observed.
#[derive(Default)]
pub struct Seen {
    pub reply: Option<Reply>,
    pub command: Option<CommandRun>,
    /// A streamed reply in progress.
    pub stream: Option<reqwest::Response>,
    /// Rows the guide's SQL returned.
    pub rows: Vec<Vec<String>>,
}

/// The agent's side: the token it was given and the credential it last presented.
#[derive(Default)]
pub struct Agent {
    pub token: Option<String>,
    /// Maybe a cut or padded token.
    pub presented: Option<String>,
}

/// The person's browser and where its sign-in stands.
#[derive(Default)]
pub struct Web {
    pub browser: llm_sso_kit::browser::Browser,
    pub page: Option<llm_sso_kit::browser::Page>,
    /// Where the identity provider sent the browser back to.
    pub callback: Option<String>,
    /// The replica whose confirmation form the browser has open.
    pub confirm_at: Option<String>,
    /// The last form that asked for a code (kept across pages that have none, e.g. a 429).
    pub confirm_form: Option<llm_sso_kit::browser::EntryForm>,
    /// The sign-in link of the sandbox reply.
    pub login_link: Option<String>,
}

/// A terminal's device sign-in.
#[derive(Default)]
pub struct Terminal {
    /// The last answer of the device-code endpoint.
    pub device: Option<serde_json::Value>,
    /// The terminal's request as the verification page named it (kept across a refusal).
    pub request: Option<String>,
}

#[derive(cucumber::World)]
#[world(init = Self::new)]
pub struct KitWorld {
    pub dir: Option<TempDir>,
    pub port: u16,
    pub launch: Launch,
    pub mocks: Option<Mocks>,
    pub proxy: Option<ProxyProcess>,
    /// A second replica on the same database (`replicas.feature`).
    pub replica: Option<ProxyProcess>,
    /// How the proxy exited when a step stopped it.
    pub stopped: Option<std::process::ExitStatus>,
    pub seen: Seen,
    pub agent: Agent,
    pub web: Web,
    pub terminal: Terminal,
}

impl std::fmt::Debug for KitWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KitWorld").field("port", &self.port).field("proxy_running", &self.proxy.is_some()).finish()
    }
}

impl KitWorld {
    fn new() -> Self {
        KitWorld {
            dir: Some(TempDir::new("scenario")),
            port: free_port(),
            launch: Launch::default(),
            mocks: None,
            proxy: None,
            replica: None,
            stopped: None,
            seen: Seen::default(),
            agent: Agent::default(),
            web: Web::default(),
            terminal: Terminal::default(),
        }
    }

    /// The mocks, started on first use; the IdP knows the kit's client for this scenario's port and demands
    /// PKCE when the profile claims it.
    pub async fn mocks(&mut self) -> &Mocks {
        if self.mocks.is_none() {
            let pkce = llm_sso_kit::profile::Profile::get().claims("pkce");
            let mocks = Mocks::start(self.port, pkce).await.unwrap_or_else(|e| panic!("{e}"));
            self.mocks = Some(mocks);
        }
        self.mocks.as_ref().expect("just started")
    }

    /// Fills the mocks' addresses and the port into a scenario's text ([`Mocks::fill`]).
    pub async fn fill(&mut self, text: &str) -> String {
        let port = self.port;
        self.mocks().await.fill(text, port)
    }

    /// The kit's standard config: SSO on, the mocks as upstream and IdPs.
    pub async fn standard_config(&mut self) -> String {
        let port = self.port;
        self.mocks().await;
        let mocks = self.mocks.as_ref().expect("just started");
        mocks.config(port, &self.launch.setup)
    }

    /// Starts the proxy with the scenario's config; panics with its console if it does not get ready.
    pub async fn start_proxy(&mut self) {
        let yaml = match (&self.launch.config_yaml, self.launch.no_config) {
            (_, true) => None,
            (Some(y), false) => Some(y.clone()),
            (None, false) => Some(self.standard_config().await),
        };
        // Later commands (`--validate-only`, `db recover`, ...) use the same file.
        if yaml.is_some() {
            self.launch.config_yaml = yaml.clone();
        }
        self.mocks().await;
        let dir = self.dir.take().unwrap_or_else(|| TempDir::new("scenario"));
        let envs: Vec<(&str, &str)> = self.launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args: Vec<&str> = self.launch.args.iter().map(String::as_str).collect();
        let proxy = ProxyProcess::launch(dir, yaml.as_deref(), self.port, &args, &envs)
            .await
            .unwrap_or_else(|e| panic!("the proxy did not start: {e}"));
        self.proxy = Some(proxy);
    }

    pub fn proxy(&self) -> &ProxyProcess {
        self.proxy.as_ref().expect("a step started the proxy first")
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where the scenario's files are (before and after the proxy starts).
    pub fn dir_path(&self) -> std::path::PathBuf {
        match (&self.proxy, &self.dir) {
            (Some(p), _) => p.dir.path().to_path_buf(),
            (None, Some(d)) => d.path().to_path_buf(),
            (None, None) => std::env::temp_dir(),
        }
    }

    /// What a failure report shows: the last reply or command, and the tail of the proxy's console.
    pub fn failure_report(&self) -> String {
        let mut out = String::new();
        if let Some(r) = &self.seen.reply {
            out.push_str(&format!(
                "last reply: HTTP {}\n{}\n",
                r.status,
                r.body.chars().take(2000).collect::<String>()
            ));
        }
        if let Some(p) = &self.web.page {
            out.push_str(&format!(
                "last page: HTTP {}\n{}\n",
                p.status,
                p.text().chars().take(2000).collect::<String>()
            ));
        }
        if let Some(c) = &self.seen.command {
            out.push_str(&format!("last command exit {:?}:\n{}\n", c.code, c.output));
        }
        if let Some(p) = &self.proxy {
            let console = p.console();
            let tail: Vec<&str> = console.lines().rev().take(40).collect();
            out.push_str("proxy console (tail):\n");
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}
