//! Sandbox replies: what an agent without a valid, authenticated token gets.
//! A well-formed answer in the API's own format (JSON or SSE), whose text tells
//! the user where to sign in, so the message shows up in the agent's chat.
//! Pure functions: no I/O, no clock.
//!
//! Every banner carries [`MARKER`]. A conversation that contains it was started
//! before the user signed in; it is answered with a sandbox reply again (the
//! agent would otherwise keep replaying the banner to the model).

use super::routes::{Api, Route};
use super::shape::Shape;
use crate::tokens::FormatError;
use bytes::Bytes;
use serde_json::{Value, json};

/// A tag no one types by accident: 12 random base62 characters after a fixed label.
pub const MARKER: &str = "llmsso-sandbox-R7x2Vb9kLm4T";

/// Why the agent is in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No token, or one the store does not know or that was revoked (indistinguishable on purpose).
    NoValidToken,
    /// Not a well-formed token: the user gets a hint, which reveals nothing about stored tokens.
    Malformed(FormatError),
    /// A known token whose session ended; `reauth_url` renews that same token.
    Expired { reauth_url: String },
    /// The conversation history contains a sandbox banner.
    History,
    /// A live token whose holder the access policy no longer lets in: why, for the person.
    Refused(String),
}

impl Reason {
    /// A stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Reason::NoValidToken => "no_valid_token",
            Reason::Malformed(_) => "malformed_token",
            Reason::Expired { .. } => "session_expired",
            Reason::History => "history_contains_banner",
            Reason::Refused(_) => "access_policy_refused",
        }
    }
}

/// The banner text for `reason`.
pub fn message(reason: &Reason, login_url: &str) -> String {
    let body = match reason {
        Reason::NoValidToken => format!(
            "Sign-in required. This LLM proxy uses single sign-on.\n\n\
             1. Open {login_url} in your browser and sign in.\n\
             2. Copy the agent token shown after sign-in.\n\
             3. Set it as this agent's API key, then send your request again."
        ),
        Reason::Malformed(problem) => format!(
            "The API key this agent sent is not a complete agent token: {}.\n\n\
             Check the agent's API key setting (no truncation, extra spaces or line breaks), \
             or open {login_url} to sign in and get a new token.",
            problem.hint()
        ),
        Reason::Expired { reauth_url } => format!(
            "Session expired. Open {reauth_url} in your browser and sign in again.\n\n\
             Your agent keeps its token: once you have signed in, send your request again."
        ),
        Reason::History => format!(
            "This conversation contains a sign-in notice from before you were authenticated. \
             Start a new conversation (or clear the history) and send your request again. \
             To sign in: {login_url}"
        ),
        Reason::Refused(reason) => format!(
            "Access denied: {reason}\n\n\
             This agent's token is no longer accepted. Once your access has been sorted out, \
             sign in again at {login_url} and use the new token."
        ),
    };
    format!("🔒 {body}\n\n[{MARKER}]")
}

/// Whether a request body replays a banner (a substring search: no JSON parse on the hot path).
pub fn contains_marker(body: &[u8]) -> bool {
    memchr::memmem::find(body, MARKER.as_bytes()).is_some()
}

/// A finished reply: status, content type and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
}

const JSON: &str = "application/json";
const SSE: &str = "text/event-stream; charset=utf-8";

/// The sandbox reply for a route. `created` is the Unix time to stamp OpenAI replies with.
pub fn reply(route: Route, shape: &Shape, text: &str, created: u64) -> Reply {
    match route {
        Route::OpenAiChat if shape.stream => {
            Reply { status: 200, content_type: SSE, body: openai_stream(shape, text, created) }
        }
        Route::OpenAiChat => Reply { status: 200, content_type: JSON, body: openai_json(shape, text, created) },
        Route::OpenAiResponses if shape.stream => {
            Reply { status: 200, content_type: SSE, body: responses_stream(shape, text, created) }
        }
        Route::OpenAiResponses => Reply { status: 200, content_type: JSON, body: responses_json(shape, text, created) },
        Route::OpenAiCompletions if shape.stream => {
            Reply { status: 200, content_type: SSE, body: completions_stream(shape, text, created) }
        }
        Route::OpenAiCompletions => {
            Reply { status: 200, content_type: JSON, body: completions_json(shape, text, created) }
        }
        Route::AnthropicMessages if shape.stream => {
            Reply { status: 200, content_type: SSE, body: anthropic_stream(shape, text) }
        }
        Route::AnthropicMessages => Reply { status: 200, content_type: JSON, body: anthropic_json(shape, text) },
        Route::Other(api) => Reply { status: 401, content_type: JSON, body: unauthorized(api, text) },
    }
}

/// 401 in the API's error shape, the banner as its message.
pub fn unauthorized(api: Api, text: &str) -> Bytes {
    Bytes::from(super::errors::body(api, 401, text).to_string())
}

fn tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

fn openai_json(shape: &Shape, text: &str, created: u64) -> Bytes {
    let body = json!({
        "id": "chatcmpl-llmsso-sandbox",
        "object": "chat.completion",
        "created": created,
        "model": shape.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 0, "completion_tokens": tokens(text), "total_tokens": tokens(text)},
    });
    Bytes::from(body.to_string())
}

fn openai_stream(shape: &Shape, text: &str, created: u64) -> Bytes {
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({
            "id": "chatcmpl-llmsso-sandbox", "object": "chat.completion.chunk", "created": created,
            "model": shape.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if shape.include_usage {
            c["usage"] = Value::Null;
        }
        format!("data: {c}\n\n")
    };
    let mut out = String::new();
    out.push_str(&chunk(json!({"role": "assistant", "content": ""}), Value::Null));
    out.push_str(&chunk(json!({"content": text}), Value::Null));
    out.push_str(&chunk(json!({}), json!("stop")));
    if shape.include_usage {
        let usage = json!({
            "id": "chatcmpl-llmsso-sandbox", "object": "chat.completion.chunk", "created": created,
            "model": shape.model, "choices": [],
            "usage": {"prompt_tokens": 0, "completion_tokens": tokens(text), "total_tokens": tokens(text)},
        });
        out.push_str(&format!("data: {usage}\n\n"));
    }
    out.push_str("data: [DONE]\n\n");
    Bytes::from(out)
}

const RESPONSE_ID: &str = "resp_llmsso_sandbox";
const MESSAGE_ID: &str = "msg_llmsso_sandbox";

/// A Responses API `response` object; `output_text` empty while in progress.
fn response_object(shape: &Shape, text: Option<&str>, created: u64) -> Value {
    let (status, output, usage) = match text {
        Some(text) => (
            "completed",
            json!([message_item(text, "completed")]),
            json!({"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": tokens(text),
                   "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": tokens(text)}),
        ),
        None => ("in_progress", json!([]), Value::Null),
    };
    json!({
        "id": RESPONSE_ID, "object": "response", "created_at": created, "status": status,
        "model": shape.model, "output": output, "usage": usage,
        "error": null, "incomplete_details": null, "instructions": null, "metadata": {},
        "parallel_tool_calls": true, "temperature": null, "tool_choice": "auto", "tools": [], "top_p": null,
    })
}

/// The assistant message output item.
fn message_item(text: &str, status: &str) -> Value {
    let content = if status == "completed" { json!([output_text(text)]) } else { json!([]) };
    json!({"type": "message", "id": MESSAGE_ID, "status": status, "role": "assistant", "content": content})
}

fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": []})
}

fn responses_json(shape: &Shape, text: &str, created: u64) -> Bytes {
    Bytes::from(response_object(shape, Some(text), created).to_string())
}

/// The event sequence the official SDKs and Codex CLI parse, each with its `sequence_number`.
fn responses_stream(shape: &Shape, text: &str, created: u64) -> Bytes {
    let events: Vec<(&str, Value)> = vec![
        ("response.created", json!({"response": response_object(shape, None, created)})),
        ("response.in_progress", json!({"response": response_object(shape, None, created)})),
        ("response.output_item.added", json!({"output_index": 0, "item": message_item(text, "in_progress")})),
        (
            "response.content_part.added",
            json!({"item_id": MESSAGE_ID, "output_index": 0, "content_index": 0, "part": output_text("")}),
        ),
        (
            "response.output_text.delta",
            json!({"item_id": MESSAGE_ID, "output_index": 0, "content_index": 0, "delta": text, "logprobs": []}),
        ),
        (
            "response.output_text.done",
            json!({"item_id": MESSAGE_ID, "output_index": 0, "content_index": 0, "text": text, "logprobs": []}),
        ),
        (
            "response.content_part.done",
            json!({"item_id": MESSAGE_ID, "output_index": 0, "content_index": 0, "part": output_text(text)}),
        ),
        ("response.output_item.done", json!({"output_index": 0, "item": message_item(text, "completed")})),
        ("response.completed", json!({"response": response_object(shape, Some(text), created)})),
    ];
    let mut out = String::new();
    for (sequence, (name, mut data)) in events.into_iter().enumerate() {
        data["type"] = json!(name);
        data["sequence_number"] = json!(sequence);
        out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    }
    Bytes::from(out)
}

fn completion_chunk(shape: &Shape, text: &str, finish: Value, created: u64) -> Value {
    json!({
        "id": "cmpl-llmsso-sandbox", "object": "text_completion", "created": created, "model": shape.model,
        "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}],
    })
}

fn completions_json(shape: &Shape, text: &str, created: u64) -> Bytes {
    let mut body = completion_chunk(shape, text, json!("stop"), created);
    body["usage"] = json!({"prompt_tokens": 0, "completion_tokens": tokens(text), "total_tokens": tokens(text)});
    Bytes::from(body.to_string())
}

fn completions_stream(shape: &Shape, text: &str, created: u64) -> Bytes {
    let mut out = format!("data: {}\n\n", completion_chunk(shape, text, Value::Null, created));
    out.push_str(&format!("data: {}\n\n", completion_chunk(shape, "", json!("stop"), created)));
    out.push_str("data: [DONE]\n\n");
    Bytes::from(out)
}

fn anthropic_json(shape: &Shape, text: &str) -> Bytes {
    let body = json!({
        "id": "msg_llmsso_sandbox",
        "type": "message",
        "role": "assistant",
        "model": shape.model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {"input_tokens": 0, "output_tokens": tokens(text)},
    });
    Bytes::from(body.to_string())
}

fn anthropic_stream(shape: &Shape, text: &str) -> Bytes {
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut out = String::new();
    out.push_str(&event(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": "msg_llmsso_sandbox", "type": "message", "role": "assistant", "model": shape.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }}),
    ));
    out.push_str(&event(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ));
    out.push_str(&event(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
    ));
    out.push_str(&event("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
    out.push_str(&event(
        "message_delta",
        json!({"type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": tokens(text)}}),
    ));
    out.push_str(&event("message_stop", json!({"type": "message_stop"})));
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LOGIN: &str = "https://proxy.example/auth/login";

    fn text(reason: &Reason) -> String {
        message(reason, LOGIN)
    }

    fn shape(stream: bool, include_usage: bool) -> Shape {
        Shape { model: "gpt-4o".into(), stream, include_usage }
    }

    fn body(reply: &Reply) -> String {
        String::from_utf8(reply.body.to_vec()).unwrap()
    }

    #[test]
    fn every_banner_has_the_marker_and_the_right_url() {
        let expired = Reason::Expired { reauth_url: "https://proxy.example/auth/login?renew=ab".into() };
        let refused = Reason::Refused("not in the policy.".into());
        for reason in [
            Reason::NoValidToken,
            Reason::Malformed(FormatError::Truncated),
            expired.clone(),
            Reason::History,
            refused.clone(),
        ] {
            let t = text(&reason);
            assert!(contains_marker(t.as_bytes()), "{t}");
        }
        assert!(text(&expired).contains("Session expired") && text(&expired).contains("renew=ab"));
        assert!(text(&Reason::NoValidToken).contains(LOGIN));
        assert!(text(&Reason::Malformed(FormatError::Truncated)).contains("truncated"));
        assert!(text(&refused).contains("Access denied: not in the policy.") && text(&refused).contains(LOGIN));
    }

    #[test]
    fn history_detection_finds_the_marker_in_json_and_nothing_else() {
        let banner = text(&Reason::NoValidToken);
        let history =
            json!({"messages": [{"role": "assistant", "content": banner}, {"role": "user", "content": "hi"}]});
        assert!(contains_marker(history.to_string().as_bytes()));
        let innocent = json!({"messages": [{"role": "user", "content": "sign in sandbox llmsso please"}]});
        assert!(!contains_marker(innocent.to_string().as_bytes()));
    }

    #[test]
    fn shapes_are_read_leniently() {
        assert_eq!(
            Shape::of(br#"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#),
            Shape { model: "m".into(), stream: true, include_usage: true }
        );
        assert_eq!(
            Shape::of(b"not json"),
            Shape { model: "llm-sso-sandbox".into(), stream: false, include_usage: false }
        );
    }

    #[test]
    fn snapshot_openai_chat_json() {
        insta::assert_snapshot!(body(&reply(
            Route::OpenAiChat,
            &shape(false, false),
            &text(&Reason::NoValidToken),
            1_700_000_000
        )));
    }

    #[test]
    fn snapshot_openai_chat_stream_with_usage() {
        let r = reply(Route::OpenAiChat, &shape(true, true), &text(&Reason::NoValidToken), 1_700_000_000);
        assert_eq!(r.content_type, SSE);
        insta::assert_snapshot!(body(&r));
    }

    #[test]
    fn snapshot_openai_chat_stream_expired() {
        let reason = Reason::Expired { reauth_url: "https://proxy.example/auth/login?renew=0123abcd".into() };
        insta::assert_snapshot!(body(&reply(Route::OpenAiChat, &shape(true, false), &text(&reason), 1_700_000_000)));
    }

    #[test]
    fn snapshot_anthropic_messages_json_malformed() {
        let reason = Reason::Malformed(FormatError::BadCharacters);
        insta::assert_snapshot!(body(&reply(Route::AnthropicMessages, &shape(false, false), &text(&reason), 0)));
    }

    #[test]
    fn snapshot_anthropic_messages_stream_history() {
        insta::assert_snapshot!(body(&reply(
            Route::AnthropicMessages,
            &shape(true, false),
            &text(&Reason::History),
            0
        )));
    }

    #[test]
    fn snapshot_responses_api_stream() {
        insta::assert_snapshot!(body(&reply(Route::OpenAiResponses, &shape(true, false), "Sign in", 0)));
    }

    #[test]
    fn responses_and_completions_are_valid_json_with_the_text() {
        let t = text(&Reason::NoValidToken);
        let r: Value =
            serde_json::from_slice(&reply(Route::OpenAiResponses, &shape(false, false), &t, 7).body).unwrap();
        assert_eq!((r["object"].as_str(), r["status"].as_str()), (Some("response"), Some("completed")));
        assert_eq!(r["output"][0]["content"][0]["text"].as_str(), Some(t.as_str()));
        let c = reply(Route::OpenAiCompletions, &shape(false, false), &t, 7);
        let c: Value = serde_json::from_slice(&c.body).unwrap();
        assert_eq!(c["choices"][0]["text"].as_str(), Some(t.as_str()));
        let stream = body(&reply(Route::OpenAiCompletions, &shape(true, false), &t, 7));
        assert!(stream.ends_with("data: [DONE]\n\n") && stream.contains("text_completion"));
        // Every event of a Responses stream carries its type and an increasing sequence number.
        let events = body(&reply(Route::OpenAiResponses, &shape(true, false), &t, 7));
        let data: Vec<Value> =
            events.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect();
        let numbers: Vec<u64> = data.iter().map(|d| d["sequence_number"].as_u64().unwrap()).collect();
        assert_eq!(numbers, (0..data.len() as u64).collect::<Vec<_>>());
        assert_eq!(data.last().unwrap()["type"], "response.completed");
    }

    #[test]
    fn snapshot_non_chat_routes_are_401_in_each_apis_shape() {
        let t = text(&Reason::NoValidToken);
        let openai = reply(Route::Other(Api::OpenAi), &shape(false, false), &t, 0);
        let anthropic = reply(Route::Other(Api::Anthropic), &shape(false, false), &t, 0);
        assert_eq!((openai.status, anthropic.status), (401, 401));
        insta::assert_snapshot!(format!("{}\n{}", body(&openai), body(&anthropic)));
    }

    proptest! {
        #[test]
        fn replies_are_always_valid_json_or_sse(model in ".{0,40}", stream: bool, usage: bool, t in ".{0,200}") {
            let s = Shape { model, stream, include_usage: usage };
            for route in [Route::OpenAiChat, Route::AnthropicMessages, Route::Other(Api::OpenAi)] {
                let r = reply(route, &s, &t, 0);
                let b = body(&r);
                if r.content_type == JSON {
                    prop_assert!(serde_json::from_str::<Value>(&b).is_ok());
                } else {
                    for event in b.split("\n\n").filter(|e| !e.is_empty()) {
                        let data = event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                        prop_assert!(data == "[DONE]" || serde_json::from_str::<Value>(data).is_ok());
                    }
                }
            }
        }
    }
}
