//! The kit's stack (`llm_sso_kit::stack`) and what the tests here ask of it most.

pub use llm_sso_kit::stack::{ANTHROPIC_KEY, Mocks, OPENAI_KEY, Stack, chat, message, openai_text};

/// SSO on or off, single_user, both providers.
pub async fn stack(sso_enabled: bool) -> Stack {
    Stack::builder().sso(sso_enabled).start().await
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}
