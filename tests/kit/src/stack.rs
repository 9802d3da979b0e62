//! One offline stack, built one way for everyone who needs it: the conformance world, the workspace's
//! end-to-end tests and the agent tests. The mocks on ephemeral loopback ports (the LLM upstream, the
//! identity provider with the kit's client registered, the authorization API), the configuration that
//! points a proxy at them with the kit's upstream keys, the proxy as a process, and a sign-in helper.
//!
//! ```ignore
//! let s = Stack::builder().authorization(&["    mode: \"enterprise\""]).start().await;
//! let token = s.sign_in("google", "alice@company.com").await;
//! ```

use crate::browser::Browser;
use crate::proxy::{CLIENT_ID, CLIENT_SECRET, DEVICE_POLL_INTERVAL, KIT_TENANTS, ProxyProcess, Setup, TempDir};
use mock_authz_api::{AuthzConfig, MockAuthzApi};
use mock_idp::{IdpConfig, MockIdp, NextLogin};
use mock_llm::{LlmConfig, MockLlm};
use serde_json::{Value, json};

/// The key the proxy presents to the OpenAI-compatible upstream (mock-llm accepts it).
pub const OPENAI_KEY: &str = "sk-mock-openai-upstream";
/// The key the proxy presents to the Anthropic upstream.
pub const ANTHROPIC_KEY: &str = "sk-ant-mock-upstream";

/// The outside world a proxy talks to.
pub struct Mocks {
    pub llm: MockLlm,
    pub idp: MockIdp,
    pub authz: MockAuthzApi,
}

impl Mocks {
    /// The mocks for a proxy that will listen on `port`: the identity provider knows the kit's client with
    /// that port's callback, and demands PKCE from it when `require_pkce`.
    pub async fn start(port: u16, require_pkce: bool) -> Result<Mocks, String> {
        let llm = MockLlm::spawn(LlmConfig::default()).await.map_err(|e| format!("mock LLM: {e}"))?;
        let mut idp_config = IdpConfig::default();
        let redirect = format!("http://127.0.0.1:{port}/auth/callback");
        let mut client = mock_idp::Client::new(CLIENT_ID, CLIENT_SECRET, &redirect);
        client.require_pkce = require_pkce;
        idp_config.clients.push(client);
        let idp = MockIdp::spawn(idp_config).await.map_err(|e| format!("mock IdP: {e}"))?;
        let authz =
            MockAuthzApi::spawn(AuthzConfig::default()).await.map_err(|e| format!("mock authorization API: {e}"))?;
        Ok(Mocks { llm, idp, authz })
    }

    /// Fills `{port}`, `{openai_url}`, `{anthropic_url}`, `{google_discovery}`, `{microsoft_discovery}` and
    /// `{authz_url}` in a scenario's text.
    pub fn fill(&self, text: &str, port: u16) -> String {
        text.replace("{port}", &port.to_string())
            .replace("{openai_url}", &self.llm.openai_base_url())
            .replace("{anthropic_url}", &self.llm.base_url())
            .replace("{google_discovery}", &self.google_discovery())
            .replace("{microsoft_discovery}", &self.microsoft_discovery())
            .replace("{authz_url}", &self.authz.authorize_url())
    }

    fn google_discovery(&self) -> String {
        self.idp.discovery_url("google", None).unwrap_or_default()
    }

    fn microsoft_discovery(&self) -> String {
        self.idp.discovery_url("microsoft", Some("common")).unwrap_or_default()
    }

    /// The kit's configuration for a proxy on `port` in front of these mocks.
    pub fn config(&self, port: u16, setup: &ProxySetup) -> String {
        let (openai, anthropic) = (self.llm.openai_base_url(), self.llm.base_url());
        let mut providers = vec![("google", self.google_discovery(), Vec::new())];
        if setup.microsoft {
            providers.push(("microsoft", self.microsoft_discovery(), setup.entra_tenants.clone()));
        }
        let written = crate::proxy::config(
            &Setup {
                sso_enabled: setup.sso_enabled,
                openai_base_url: &openai,
                openai_key: OPENAI_KEY,
                anthropic_base_url: &anthropic,
                anthropic_key: ANTHROPIC_KEY,
                providers,
                authorization: setup.authorization.clone(),
            },
            port,
        );
        let lines = |lines: &[String]| lines.iter().map(|l| format!("  {l}\n")).collect::<String>();
        let yaml = written.replacen("server:\n", &format!("server:\n{}", lines(&setup.server_lines)), 1).replacen(
            "upstreams:\n",
            &format!("upstreams:\n{}", lines(&setup.upstream_lines)),
            1,
        );
        yaml.replace(
            &format!("poll_interval_seconds: {DEVICE_POLL_INTERVAL}"),
            &format!("poll_interval_seconds: {}", setup.device_interval),
        )
    }
}

/// What the kit's configuration of one proxy says beyond the mocks' addresses.
#[derive(Debug, Clone)]
pub struct ProxySetup {
    pub sso_enabled: bool,
    /// Lines under `sso.authorization:` (each indented by four spaces); none: single_user.
    pub authorization: Vec<String>,
    /// Whether the Microsoft provider is configured beside Google.
    pub microsoft: bool,
    /// The Entra tenants the Microsoft provider allows.
    pub entra_tenants: Vec<String>,
    /// Lines under `server:` and `upstreams:` (each indented by two spaces in the file).
    pub server_lines: Vec<String>,
    pub upstream_lines: Vec<String>,
    /// `sso.device.poll_interval_seconds`.
    pub device_interval: u32,
}

impl Default for ProxySetup {
    fn default() -> Self {
        ProxySetup {
            sso_enabled: true,
            authorization: Vec::new(),
            microsoft: true,
            entra_tenants: KIT_TENANTS.iter().map(|t| t.to_string()).collect(),
            server_lines: Vec::new(),
            upstream_lines: Vec::new(),
            device_interval: DEVICE_POLL_INTERVAL,
        }
    }
}

/// The mocks and one proxy in front of them.
pub struct Stack {
    pub mocks: Mocks,
    pub proxy: ProxyProcess,
}

/// How a [`Stack`] is started; [`Stack::builder`].
#[derive(Default)]
pub struct StackBuilder {
    setup: ProxySetup,
    envs: Vec<(String, String)>,
    args: Vec<String>,
}

impl StackBuilder {
    pub fn sso(mut self, enabled: bool) -> Self {
        self.setup.sso_enabled = enabled;
        self
    }

    /// Lines under `sso.authorization:` (each indented by four spaces), e.g. `    mode: "enterprise"`.
    pub fn authorization(mut self, lines: &[&str]) -> Self {
        self.setup.authorization = lines.iter().map(|l| l.to_string()).collect();
        self
    }

    /// Google only, as most single-person setups are.
    pub fn google_only(mut self) -> Self {
        self.setup.microsoft = false;
        self
    }

    /// An environment variable for the proxy process.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Extra command-line arguments for the proxy.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Starts the mocks and the proxy; panics with the proxy's console if it does not get ready.
    pub async fn start(self) -> Stack {
        let port = crate::proxy::free_port();
        let mocks = Mocks::start(port, true).await.unwrap_or_else(|e| panic!("{e}"));
        let yaml = mocks.config(port, &self.setup);
        let envs: Vec<(&str, &str)> = self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let proxy = ProxyProcess::start_in(TempDir::new("stack"), &yaml, port, &args, &envs)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Stack { mocks, proxy }
    }
}

impl Stack {
    pub fn builder() -> StackBuilder {
        StackBuilder::default()
    }

    /// SSO on, single_user, both providers.
    pub async fn start() -> Stack {
        Stack::builder().start().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.proxy.base_url())
    }

    pub fn llm(&self) -> &MockLlm {
        &self.mocks.llm
    }

    pub fn idp(&self) -> &MockIdp {
        &self.mocks.idp
    }

    /// `POST /v1/chat/completions` with the token as Bearer (none when `None`).
    pub async fn openai(&self, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut r = reqwest::Client::new().post(self.url("/v1/chat/completions")).json(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("proxy answers")
    }

    /// `POST /v1/messages` with the token as `x-api-key`, as older Anthropic clients send it.
    pub async fn anthropic(&self, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut r =
            reqwest::Client::new().post(self.url("/v1/messages")).header("anthropic-version", "2023-06-01").json(body);
        if let Some(t) = token {
            r = r.header("x-api-key", t);
        }
        r.send().await.expect("proxy answers")
    }

    /// A whole single_user sign-in of `email` at `provider` in a fresh browser: the provider's sign-in, the
    /// code read from the console and typed into the page's form; the token from the success page.
    pub async fn sign_in(&self, provider: &str, email: &str) -> String {
        let mut browser = Browser::new();
        let issuer = if provider == "microsoft" { "microsoft" } else { "google" };
        self.mocks.idp.set_next_login(NextLogin {
            email: Some(email.into()),
            deny: false,
            issuer: Some(issuer.into()),
        });
        let confirm = browser.open(&self.url(&format!("/auth/login/{provider}"))).await;
        let form = confirm.entry_form().unwrap_or_else(|| panic!("no form for the code:\n{}", confirm.html));
        let code = self.proxy.confirmation_code(email).await;
        let code = code.unwrap_or_else(|| panic!("no confirmation code for {email}:\n{}", self.proxy.console()));
        let mut fields: Vec<(&str, &str)> = form.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        fields.push((form.field.as_str(), &code));
        let done = browser.post(&self.url(&form.action), &fields).await;
        let token = done.token().unwrap_or_else(|| panic!("no token on the page:\n{}", done.html));
        assert!(browser.visited.iter().all(|u| !u.contains(&token)), "the token never appears in a URL");
        token
    }

    /// Every request the upstream saw carried one of the proxy's keys and never `token`.
    pub fn assert_upstream_saw_only_the_proxy_key(&self, token: &str) {
        let journal = self.mocks.llm.journal();
        assert!(!journal.is_empty(), "the upstream received the agent's requests");
        for r in &journal {
            let key =
                r.headers.get("x-api-key").or_else(|| r.headers.get("authorization")).cloned().unwrap_or_default();
            assert!(
                key.contains(OPENAI_KEY) || key.contains(ANTHROPIC_KEY),
                "{} {}: {:?}",
                r.method,
                r.path,
                r.headers
            );
            assert!(!format!("{:?}{}", r.headers, r.body).contains(token), "the agent token reached the upstream");
        }
    }
}

/// An OpenAI chat completion request the mock upstream echoes ("ping through the proxy").
pub fn chat(stream: bool) -> Value {
    json!({"model": "mock-gpt", "stream": stream, "messages": [{"role": "user", "content": "ping through the proxy"}]})
}

/// An Anthropic messages request the mock upstream echoes.
pub fn message(stream: bool) -> Value {
    json!({"model": "mock-claude", "max_tokens": 32, "stream": stream,
           "messages": [{"role": "user", "content": "ping through the proxy"}]})
}

/// The assistant text of an OpenAI chat completion.
pub async fn openai_text(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap_or_default();
    body["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_string()
}
