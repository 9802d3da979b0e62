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
    /// `POST /v1/responses`: a sandbox response of the Responses API (Codex CLI speaks only this).
    OpenAiResponses,
    /// `POST /v1/completions`: a sandbox legacy text completion (editors' autocomplete).
    OpenAiCompletions,
    /// `POST /v1/messages`: a sandbox message.
    AnthropicMessages,
    /// Anything else under `/v1`: 401 in the API's error shape.
    Other(Api),
}

impl Route {
    pub fn api(self) -> Api {
        match self {
            Route::OpenAiChat | Route::OpenAiResponses | Route::OpenAiCompletions => Api::OpenAi,
            Route::AnthropicMessages => Api::Anthropic,
            Route::Other(api) => api,
        }
    }

    /// A stable label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Route::OpenAiChat => "openai_chat",
            Route::OpenAiResponses => "openai_responses",
            Route::OpenAiCompletions => "openai_completions",
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

/// Whether a raw request path could climb out of where it points: a segment
/// that is `.` or `..` (also percent-encoded, in any case), or that hides a
/// slash or backslash (`%2f`, `%5c`, `\`). Such paths are refused before
/// authentication; legitimate API paths never contain them.
pub fn escapes_base(raw_path: &str) -> bool {
    raw_path.split('/').any(|segment| {
        let decoded = percent_decode(segment);
        decoded == b"." || decoded == b".." || decoded.iter().any(|b| matches!(b, b'/' | b'\\'))
    })
}

fn percent_decode(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Classifies a normalized path under `/v1`; `None` for paths outside the APIs.
pub fn classify(path: &str) -> Option<Route> {
    match path {
        "/v1/chat/completions" => Some(Route::OpenAiChat),
        "/v1/responses" => Some(Route::OpenAiResponses),
        "/v1/completions" => Some(Route::OpenAiCompletions),
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
        assert_eq!(classify("/v1/responses"), Some(Route::OpenAiResponses));
        assert_eq!(classify("/v1/completions"), Some(Route::OpenAiCompletions));
        assert_eq!(classify("/v1/responses/resp_1"), Some(Route::Other(Api::OpenAi)));
        assert_eq!(classify("/v1/messages/count_tokens"), Some(Route::Other(Api::Anthropic)));
        assert_eq!(classify("/v1/models"), Some(Route::Other(Api::OpenAi)));
        assert_eq!(classify("/chat/completions"), None);
        assert_eq!(classify("/v1"), None);
    }

    #[test]
    fn dot_segments_and_hidden_slashes_are_caught() {
        for bad in [
            "/v1/../x",
            "/v1/./models",
            "/v1/%2e%2e/%2e%2e/x",
            "/v1/%2E%2e/x",
            "/v1/.%2e/x",
            "/v1/messages/%2e%2e/y",
            "/v1/a%2fb",
            "/v1/a%5Cb",
            "/v1/a\\b",
            "/v1/..",
        ] {
            assert!(escapes_base(bad), "{bad}");
        }
        for good in ["/v1/chat/completions", "/v1/models/gpt-4.1", "/v1/files/file-abc.jsonl", "/v1/x%20y", "/v1/...x"]
        {
            assert!(!escapes_base(good), "{good}");
        }
    }
}
