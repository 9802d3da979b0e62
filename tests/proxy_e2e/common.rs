//! One stack per test: the mock upstream in-process, the proxy as a process.

use llm_sso_kit::proxy::{CLIENT_ID, CLIENT_SECRET, ProxyProcess, Setup, config, free_port};
use mock_idp::{IdpConfig, MockIdp};
use mock_llm::{LlmConfig, MockLlm};
use serde_json::{Value, json};

pub const OPENAI_KEY: &str = "sk-mock-openai-upstream";
pub const ANTHROPIC_KEY: &str = "sk-ant-mock-upstream";

pub struct Stack {
    pub llm: MockLlm,
    pub idp: MockIdp,
    pub proxy: ProxyProcess,
}

/// The mock IdP with the kit's client registered for a proxy on `port`.
pub async fn idp_for(port: u16) -> MockIdp {
    let mut config = IdpConfig::default();
    let redirect = format!("http://127.0.0.1:{port}/auth/callback");
    let mut client = mock_idp::Client::new(CLIENT_ID, CLIENT_SECRET, &redirect);
    client.require_pkce = true;
    config.clients.push(client);
    MockIdp::spawn(config).await.expect("mock IdP starts")
}

pub async fn stack(sso_enabled: bool) -> Stack {
    stack_with(sso_enabled, Vec::new()).await
}

/// A stack whose `sso.authorization` block has `authorization` lines (single_user when empty).
pub async fn stack_with(sso_enabled: bool, authorization: Vec<String>) -> Stack {
    stack_env(sso_enabled, authorization, &[]).await
}

/// As [`stack_with`], with environment variables for the proxy process.
pub async fn stack_env(sso_enabled: bool, authorization: Vec<String>, envs: &[(&str, &str)]) -> Stack {
    let llm = MockLlm::spawn(LlmConfig::default()).await.expect("mock upstream starts");
    let port = free_port();
    let idp = idp_for(port).await;
    let yaml = kit_config(&llm, &idp, sso_enabled, authorization, port);
    let dir = llm_sso_kit::proxy::TempDir::new("proxy");
    let proxy = ProxyProcess::start_in(dir, &yaml, port, &[], envs).await.unwrap_or_else(|e| panic!("{e}"));
    Stack { llm, idp, proxy }
}

/// The kit's configuration for a proxy on `port` in front of these mocks (single_user when
/// `authorization` is empty).
pub fn kit_config(llm: &MockLlm, idp: &MockIdp, sso_enabled: bool, authorization: Vec<String>, port: u16) -> String {
    let (openai, anthropic) = (llm.openai_base_url(), llm.base_url());
    let google = idp.discovery_url("google", None).expect("google issuer");
    let microsoft = idp.discovery_url("microsoft", Some("common")).expect("microsoft issuer");
    let setup = Setup {
        sso_enabled,
        openai_base_url: &openai,
        openai_key: OPENAI_KEY,
        anthropic_base_url: &anthropic,
        anthropic_key: ANTHROPIC_KEY,
        providers: vec![
            ("google", google, Vec::new()),
            ("microsoft", microsoft, llm_sso_kit::proxy::KIT_TENANTS.iter().map(|t| t.to_string()).collect()),
        ],
        authorization,
    };
    config(&setup, port)
}

pub fn chat(stream: bool) -> Value {
    json!({"model": "mock-gpt", "stream": stream, "messages": [{"role": "user", "content": "ping through the proxy"}]})
}

pub fn message(stream: bool) -> Value {
    json!({"model": "mock-claude", "max_tokens": 32, "stream": stream,
           "messages": [{"role": "user", "content": "ping through the proxy"}]})
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

impl Stack {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.proxy.base_url())
    }

    /// `POST /v1/chat/completions` with the token as Bearer (none when `None`).
    pub async fn openai(&self, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut r = client().post(self.url("/v1/chat/completions")).json(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("proxy answers")
    }

    /// `POST /v1/messages` with the token as `x-api-key`, as older Anthropic clients send it.
    pub async fn anthropic(&self, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut r = client().post(self.url("/v1/messages")).header("anthropic-version", "2023-06-01").json(body);
        if let Some(t) = token {
            r = r.header("x-api-key", t);
        }
        r.send().await.expect("proxy answers")
    }
}

/// The assistant text of an OpenAI chat completion.
pub async fn openai_text(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("JSON");
    body["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_string()
}
