//! The API families and formats the contract names, as a dimension: each step
//! takes the format's name (`openai-json`, `openai-stream`, `responses-json`,
//! `responses-stream`, `anthropic-json`, `anthropic-stream`), sends what that family's clients send, and reads the
//! reply as those clients do. For streams: the content type, every event in
//! order, the text of the deltas, and the terminal event.

use crate::world::{KitWorld, Reply};
use cucumber::{then, when};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    OpenAiJson,
    OpenAiStream,
    ResponsesJson,
    ResponsesStream,
    AnthropicJson,
    AnthropicStream,
}

impl Format {
    fn parse(name: &str) -> Format {
        match name {
            "openai-json" => Format::OpenAiJson,
            "openai-stream" => Format::OpenAiStream,
            "responses-json" => Format::ResponsesJson,
            "responses-stream" => Format::ResponsesStream,
            "anthropic-json" => Format::AnthropicJson,
            "anthropic-stream" => Format::AnthropicStream,
            other => panic!(
                "unknown format {other:?} (openai-json, openai-stream, responses-json, responses-stream, \
                 anthropic-json, anthropic-stream)"
            ),
        }
    }

    fn streamed(self) -> bool {
        matches!(self, Format::OpenAiStream | Format::ResponsesStream | Format::AnthropicStream)
    }

    fn anthropic(self) -> bool {
        matches!(self, Format::AnthropicJson | Format::AnthropicStream)
    }
}

async fn send(world: &mut KitWorld, format: Format, token: Option<String>) {
    let model = if format.anthropic() { "mock-claude" } else { "mock-gpt" };
    send_for(world, format, model, token).await;
}

async fn send_for(world: &mut KitWorld, format: Format, model: &str, token: Option<String>) {
    let base = world.base_url();
    let client = reqwest::Client::new();
    let request = if format.anthropic() {
        let body = json!({"model": model, "max_tokens": 64, "stream": format.streamed(),
                          "messages": [{"role": "user", "content": "test"}]});
        let r = client.post(format!("{base}/v1/messages")).header("anthropic-version", "2023-06-01").json(&body);
        match token {
            Some(t) => r.header("x-api-key", t),
            None => r,
        }
    } else if matches!(format, Format::ResponsesJson | Format::ResponsesStream) {
        // What Codex CLI sends: `input` items, `instructions`, streamed.
        let body = json!({"model": model, "stream": format.streamed(), "instructions": "You are a coding agent.",
                          "input": [{"type": "message", "role": "user",
                                     "content": [{"type": "input_text", "text": "test"}]}]});
        let r = client.post(format!("{base}/v1/responses")).json(&body);
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    } else {
        let body = json!({"model": model, "stream": format.streamed(),
                          "messages": [{"role": "user", "content": "test"}]});
        let r = client.post(format!("{base}/v1/chat/completions")).json(&body);
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    };
    let response = request.send().await.expect("the proxy answers");
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body = response.text().await.unwrap_or_default();
    world.seen.reply = Some(Reply { status, headers, body });
}

#[when(expr = "the agent sends an {word} request without a token")]
async fn without_token(world: &mut KitWorld, format: String) {
    send(world, Format::parse(&format), None).await;
}

#[when(expr = "the agent sends an {word} request with its token")]
async fn with_token(world: &mut KitWorld, format: String) {
    let token = world.agent.token.clone();
    send(world, Format::parse(&format), token).await;
}

#[when(expr = "the agent sends an {word} request for the model {string} with its token")]
async fn with_token_for(world: &mut KitWorld, format: String, model: String) {
    let token = world.agent.token.clone();
    send_for(world, Format::parse(&format), &model, token).await;
}

/// `(event name, data)` of every SSE event, in order.
fn events(body: &str) -> Vec<(String, String)> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|event| {
            let mut name = String::from("message");
            let mut data = Vec::new();
            for line in event.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push(d.trim_start().to_string());
                }
            }
            (name, data.join("\n"))
        })
        .collect()
}

fn json(data: &str) -> Value {
    serde_json::from_str(data).unwrap_or_else(|e| panic!("an event's data is not JSON ({e}): {data}"))
}

/// The assistant text as the format's client assembles it; panics where that client would fail.
fn client_reads(format: Format, reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "a well-formed reply in the API's format: {}", reply.body);
    let content_type = reply.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if format.streamed() {
        assert!(content_type.starts_with("text/event-stream"), "a stream's content type, not {content_type:?}");
    } else {
        assert!(content_type.starts_with("application/json"), "JSON's content type, not {content_type:?}");
    }
    match format {
        Format::OpenAiJson => {
            let v = json(&reply.body);
            assert_eq!(v["object"], "chat.completion", "{v}");
            assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
            v["choices"][0]["message"]["content"].as_str().expect("message content").to_string()
        }
        Format::OpenAiStream => {
            let events = events(&reply.body);
            let (last, chunks) = events.split_last().expect("events");
            assert_eq!(last.1, "[DONE]", "an OpenAI stream ends with data: [DONE]");
            let mut text = String::new();
            let mut finished = false;
            for (_, data) in chunks {
                let v = json(data);
                assert_eq!(v["object"], "chat.completion.chunk", "{v}");
                if let Some(choice) = v["choices"].get(0) {
                    text.push_str(choice["delta"]["content"].as_str().unwrap_or_default());
                    finished |= choice["finish_reason"] == "stop";
                }
            }
            assert!(finished, "one chunk carries finish_reason stop");
            text
        }
        Format::ResponsesJson => {
            let v = json(&reply.body);
            assert_eq!((v["object"].as_str(), v["status"].as_str()), (Some("response"), Some("completed")), "{v}");
            let message = v["output"].as_array().and_then(|o| o.iter().find(|i| i["type"] == "message"));
            let message = message.unwrap_or_else(|| panic!("a message output item: {v}"));
            message["content"][0]["text"].as_str().expect("output_text").to_string()
        }
        Format::ResponsesStream => {
            let events = events(&reply.body);
            let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names.first(), Some(&"response.created"), "{names:?}");
            assert_eq!(names.last(), Some(&"response.completed"), "{names:?}");
            for required in ["response.output_item.added", "response.output_text.delta", "response.output_item.done"] {
                assert!(names.contains(&required), "{required} missing: {names:?}");
            }
            let mut text = String::new();
            for (sequence, (name, data)) in events.iter().enumerate() {
                let v = json(data);
                assert_eq!(v["type"].as_str(), Some(name.as_str()), "event name and data type agree");
                assert_eq!(v["sequence_number"].as_u64(), Some(sequence as u64), "sequence numbers count up");
                if name == "response.output_text.delta" {
                    text.push_str(v["delta"].as_str().unwrap_or_default());
                }
            }
            let done = json(&events.last().map(|(_, d)| d.clone()).unwrap_or_default());
            assert_eq!(done["response"]["status"], "completed", "{done}");
            text
        }
        Format::AnthropicJson => {
            let v = json(&reply.body);
            assert_eq!((v["type"].as_str(), v["role"].as_str()), (Some("message"), Some("assistant")), "{v}");
            assert!(v["stop_reason"].is_string(), "{v}");
            v["content"][0]["text"].as_str().expect("a text block").to_string()
        }
        Format::AnthropicStream => {
            let events = events(&reply.body);
            let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names.first(), Some(&"message_start"), "{names:?}");
            assert_eq!(names.last(), Some(&"message_stop"), "{names:?}");
            let position = |name: &str| names.iter().position(|n| *n == name).unwrap_or(usize::MAX);
            assert!(position("content_block_start") < position("content_block_delta"), "{names:?}");
            assert!(position("content_block_stop") < position("message_delta"), "{names:?}");
            let mut text = String::new();
            for (name, data) in &events {
                let v = json(data);
                assert_eq!(v["type"].as_str(), Some(name.as_str()), "event name and data type agree");
                if name == "content_block_delta" {
                    text.push_str(v["delta"]["text"].as_str().unwrap_or_default());
                }
            }
            text
        }
    }
}

#[then(expr = "its {word} client reads a reply that names the login URL")]
async fn reads_login(world: &mut KitWorld, format: String) {
    let text = client_reads(Format::parse(&format), world.seen.reply.as_ref().expect("a reply"));
    let login = format!("{}/auth/login", world.base_url());
    assert!(text.contains(&login), "the user sees where to sign in ({login}):\n{text}");
}

#[then(expr = "its {word} client reads the model's answer")]
async fn reads_answer(world: &mut KitWorld, format: String) {
    let text = client_reads(Format::parse(&format), world.seen.reply.as_ref().expect("a reply"));
    assert_eq!(text, "test", "the mock upstream echoes the prompt");
}

/// What the family's SDK raises on an error reply: a client error status (not "unauthorized": the token is
/// good), and the message where that SDK reads it: `error.message`, in OpenAI's and in Anthropic's shape.
#[then(expr = "its {word} client raises an API error that names the model {string}")]
async fn raises_error(world: &mut KitWorld, format: String, model: String) {
    let format = Format::parse(&format);
    let reply = world.seen.reply.as_ref().expect("a reply");
    assert!((400..500).contains(&reply.status) && reply.status != 401, "HTTP {}: {}", reply.status, reply.body);
    let v = json(&reply.body);
    if format.anthropic() {
        assert_eq!(v["type"], "error", "Anthropic's error shape: {v}");
    }
    let message = v["error"]["message"].as_str().unwrap_or_else(|| panic!("error.message in {v}"));
    assert!(message.contains(&model), "the message names the model {model:?}: {message}");
}

#[then("the upstream saw the proxy's key and never the agent's token")]
async fn upstream_key(world: &mut KitWorld) {
    let token = world.agent.token.clone().expect("a token");
    let journal = world.mocks().await.llm.journal();
    let last = journal.last().expect("the request reached the upstream");
    let key = last
        .headers
        .get("x-api-key")
        .cloned()
        .or_else(|| last.headers.get("authorization").cloned())
        .unwrap_or_default();
    assert!(key.contains("sk-mock-openai-upstream") || key.contains("sk-ant-mock-upstream"), "{:?}", last.headers);
    let everything = format!("{:?} {}", last.headers, last.body);
    assert!(!everything.contains(&token), "the agent token reached the upstream");
}
