//! The stack of one scenario: a private directory, the mocks on ephemeral
//! loopback ports (started on first use), the proxy process with its captured
//! console, and what the last step observed. Dropped, it tears everything down,
//! also when a step failed.

use llm_sso_kit::proxy::{CLIENT_ID, CLIENT_SECRET, ProxyProcess, Setup, TempDir, config, free_port};
use mock_authz_api::{AuthzConfig, MockAuthzApi};
use mock_idp::{IdpConfig, MockIdp};
use mock_llm::{LlmConfig, MockLlm};

/// The outside world the proxy talks to.
pub struct Mocks {
    pub llm: MockLlm,
    pub idp: MockIdp,
    pub authz: MockAuthzApi,
}

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

#[derive(cucumber::World)]
#[world(init = Self::new)]
pub struct KitWorld {
    pub dir: Option<TempDir>,
    pub port: u16,
    /// The config file of the scenario, with `{placeholders}` already filled; `None` = the kit's standard one.
    pub config_yaml: Option<String>,
    /// Start without `--sso-config` at all.
    pub no_config: bool,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub mocks: Option<Mocks>,
    pub proxy: Option<ProxyProcess>,
    /// A second replica on the same database (`replicas.feature`).
    pub replica: Option<ProxyProcess>,
    /// A streamed reply in progress.
    pub stream: Option<reqwest::Response>,
    /// Where the identity provider sent the browser back to.
    pub callback: Option<String>,
    /// The replica whose confirmation form the browser has open.
    pub confirm_at: Option<String>,
    pub reply: Option<Reply>,
    pub command: Option<CommandRun>,
    pub token: Option<String>,
    /// The last form that asked for a code (kept across pages that have none, e.g. a 429).
    pub confirm_form: Option<llm_sso_kit::browser::EntryForm>,
    /// The sign-in link of the sandbox reply.
    pub login_link: Option<String>,
    /// The credential the agent last presented (maybe a cut or padded token).
    pub presented: Option<String>,
    pub rows: Vec<Vec<String>>,
    /// Lines under `sso.authorization:` of the standard config.
    pub authorization: Vec<String>,
    pub browser: llm_sso_kit::browser::Browser,
    pub page: Option<llm_sso_kit::browser::Page>,
    /// The last answer of `/auth/device/code` a terminal received.
    pub device: Option<serde_json::Value>,
    /// `sso.device.poll_interval_seconds` instead of the kit's.
    pub device_interval: Option<u32>,
    /// The terminal's request as the verification page named it (kept across a refusal).
    pub device_request: Option<String>,
    /// Lines under `server:` and `upstreams:` of the standard config (each indented by two spaces).
    pub server_lines: Vec<String>,
    pub upstream_lines: Vec<String>,
    /// How the proxy exited when a step stopped it.
    pub stopped: Option<std::process::ExitStatus>,
    /// The Entra tenants the Microsoft provider allows, instead of the kit's.
    pub entra_tenants: Option<Vec<String>>,
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
            config_yaml: None,
            no_config: false,
            env: Vec::new(),
            args: Vec::new(),
            mocks: None,
            proxy: None,
            replica: None,
            stream: None,
            callback: None,
            confirm_at: None,
            reply: None,
            command: None,
            token: None,
            presented: None,
            confirm_form: None,
            login_link: None,
            rows: Vec::new(),
            authorization: Vec::new(),
            browser: llm_sso_kit::browser::Browser::new(),
            page: None,
            device: None,
            device_interval: None,
            device_request: None,
            server_lines: Vec::new(),
            upstream_lines: Vec::new(),
            entra_tenants: None,
            stopped: None,
        }
    }

    /// The mocks, started on first use; the IdP knows the kit's client for this scenario's port.
    pub async fn mocks(&mut self) -> &Mocks {
        if self.mocks.is_none() {
            let llm = MockLlm::spawn(LlmConfig::default()).await.expect("mock LLM starts");
            let mut idp_config = IdpConfig::default();
            let mut client = mock_idp::Client::new(
                CLIENT_ID,
                CLIENT_SECRET,
                &format!("http://127.0.0.1:{}/auth/callback", self.port),
            );
            client.require_pkce = llm_sso_kit::profile::Profile::get().claims("pkce");
            idp_config.clients.push(client);
            let idp = MockIdp::spawn(idp_config).await.expect("mock IdP starts");
            let authz = MockAuthzApi::spawn(AuthzConfig::default()).await.expect("mock authorization API starts");
            self.mocks = Some(Mocks { llm, idp, authz });
        }
        self.mocks.as_ref().expect("just started")
    }

    /// Fills `{port}`, `{openai_url}`, `{anthropic_url}`, `{google_discovery}`,
    /// `{microsoft_discovery}` and `{authz_url}` in a scenario's text.
    pub async fn fill(&mut self, text: &str) -> String {
        let port = self.port;
        let m = self.mocks().await;
        text.replace("{port}", &port.to_string())
            .replace("{openai_url}", &m.llm.openai_base_url())
            .replace("{anthropic_url}", &m.llm.base_url())
            .replace("{google_discovery}", &m.idp.discovery_url("google", None).unwrap_or_default())
            .replace("{microsoft_discovery}", &m.idp.discovery_url("microsoft", Some("common")).unwrap_or_default())
            .replace("{authz_url}", &m.authz.authorize_url())
    }

    /// The kit's standard config: SSO on, the mocks as upstream and IdPs.
    pub async fn standard_config(&mut self) -> String {
        let port = self.port;
        let authorization = self.authorization.clone();
        let tenants = self
            .entra_tenants
            .clone()
            .unwrap_or_else(|| llm_sso_kit::proxy::KIT_TENANTS.iter().map(|t| t.to_string()).collect());
        let extra = |lines: &[String]| lines.iter().map(|l| format!("  {l}\n")).collect::<String>();
        let (server_lines, upstream_lines) = (extra(&self.server_lines), extra(&self.upstream_lines));
        let m = self.mocks().await;
        let (openai, anthropic) = (m.llm.openai_base_url(), m.llm.base_url());
        let setup = Setup {
            sso_enabled: true,
            openai_base_url: &openai,
            openai_key: "sk-mock-openai-upstream",
            anthropic_base_url: &anthropic,
            anthropic_key: "sk-ant-mock-upstream",
            providers: vec![
                ("google", m.idp.discovery_url("google", None).unwrap_or_default(), Vec::new()),
                ("microsoft", m.idp.discovery_url("microsoft", Some("common")).unwrap_or_default(), tenants),
            ],
            authorization,
        };
        let yaml = config(&setup, port).replacen("server:\n", &format!("server:\n{server_lines}"), 1).replacen(
            "upstreams:\n",
            &format!("upstreams:\n{upstream_lines}"),
            1,
        );
        match self.device_interval {
            Some(seconds) => yaml.replace(
                &format!("poll_interval_seconds: {}", llm_sso_kit::proxy::DEVICE_POLL_INTERVAL),
                &format!("poll_interval_seconds: {seconds}"),
            ),
            None => yaml,
        }
    }

    /// Starts the proxy with the scenario's config; panics with its console if it does not listen.
    pub async fn start_proxy(&mut self) {
        let yaml = match (&self.config_yaml, self.no_config) {
            (_, true) => None,
            (Some(y), false) => Some(y.clone()),
            (None, false) => Some(self.standard_config().await),
        };
        // Later commands (`--validate-only`, `db recover`, ...) use the same file.
        if yaml.is_some() {
            self.config_yaml = yaml.clone();
        }
        self.mocks().await;
        let dir = self.dir.take().unwrap_or_else(|| TempDir::new("scenario"));
        let envs: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
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
        if let Some(r) = &self.reply {
            out.push_str(&format!(
                "last reply: HTTP {}\n{}\n",
                r.status,
                r.body.chars().take(2000).collect::<String>()
            ));
        }
        if let Some(p) = &self.page {
            out.push_str(&format!(
                "last page: HTTP {}\n{}\n",
                p.status,
                p.text().chars().take(2000).collect::<String>()
            ));
        }
        if let Some(c) = &self.command {
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
