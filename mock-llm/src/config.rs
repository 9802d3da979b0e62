//! How the mock upstream behaves by default; most of it can be changed at run
//! time through [`crate::MockLlm`] or `/__control/settings`.

pub use mock_server::config::{ConfigError, MockConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    /// Expected `Authorization: Bearer` on OpenAI routes; `None` accepts anything.
    pub openai_api_key: Option<String>,
    /// Expected `x-api-key` (or Bearer) on Anthropic routes; `None` accepts anything.
    pub anthropic_api_key: Option<String>,
    /// Model ids listed by `GET /v1/models`.
    pub models: Vec<String>,
    /// Pieces a streamed reply is cut into.
    pub stream_chunks: usize,
    /// Pause before each streamed piece after the first.
    pub chunk_delay_ms: u64,
    /// Size of the reply to model `mock-large` (memory and throughput tests).
    pub large_reply_bytes: usize,
    /// Requests kept in the journal; 0 disables it (for benchmarks).
    pub journal_capacity: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            host: "127.0.0.1".into(),
            port: 0,
            openai_api_key: Some("sk-mock-openai-upstream".into()),
            anthropic_api_key: Some("sk-ant-mock-upstream".into()),
            models: vec!["mock-gpt".into(), "mock-claude".into(), "mock-large".into()],
            stream_chunks: 8,
            chunk_delay_ms: 0,
            large_reply_bytes: 1024 * 1024,
            journal_capacity: 1000,
        }
    }
}

impl MockConfig for LlmConfig {
    fn validate(&self) -> Result<(), String> {
        if self.stream_chunks == 0 {
            return Err("stream_chunks must be at least 1".into());
        }
        Ok(())
    }

    fn listen(&mut self) -> (&mut String, &mut u16) {
        (&mut self.host, &mut self.port)
    }
}
