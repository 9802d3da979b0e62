//! Which API a path belongs to, and the path as agents meant it
//! (`/v1//chat/completions` and trailing slashes are tolerated).

/// The API family of a route: decides the upstream, the reply and error shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAi,
    Anthropic,
}

/// What kind of reply a route gets when the agent is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/chat/completions`: a sandbox chat completion.
    OpenAiChat,
    /// `POST /v1/messages`: a sandbox message.
    AnthropicMessages,
    /// Anything else under `/v1`: 401 in the API's error shape.
    Other(Api),
}

impl Route {
    pub fn api(self) -> Api {
        match self {
            Route::OpenAiChat => Api::OpenAi,
            Route::AnthropicMessages => Api::Anthropic,
            Route::Other(api) => api,
        }
    }

    /// A stable label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Route::OpenAiChat => "openai_chat",
            Route::AnthropicMessages => "anthropic_messages",
            Route::Other(Api::OpenAi) => "openai_other",
            Route::Other(Api::Anthropic) => "anthropic_other",
        }
    }
}

/// Collapses repeated slashes and drops a trailing one (but keeps `/`).
pub fn normalize(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() { "/".into() } else { out }
}

/// Classifies a normalized path under `/v1`; `None` for paths outside the APIs.
pub fn classify(path: &str) -> Option<Route> {
    match path {
        "/v1/chat/completions" => Some(Route::OpenAiChat),
        "/v1/messages" => Some(Route::AnthropicMessages),
        p if p.starts_with("/v1/messages/") => Some(Route::Other(Api::Anthropic)),
        p if p.starts_with("/v1/") => Some(Route::Other(Api::OpenAi)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_and_classified() {
        assert_eq!(normalize("/v1//chat/completions/"), "/v1/chat/completions");
        assert_eq!(normalize("//"), "/");
        assert_eq!(classify("/v1/chat/completions"), Some(Route::OpenAiChat));
        assert_eq!(classify("/v1/messages"), Some(Route::AnthropicMessages));
        assert_eq!(classify("/v1/messages/count_tokens"), Some(Route::Other(Api::Anthropic)));
        assert_eq!(classify("/v1/models"), Some(Route::Other(Api::OpenAi)));
        assert_eq!(classify("/chat/completions"), None);
        assert_eq!(classify("/v1"), None);
    }
}
