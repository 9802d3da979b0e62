//! OpenAI-compatible routes: chat completions (JSON and SSE chunks), models, embeddings.

use crate::App;
use crate::admission::{self, Admitted};
use crate::errors::{self, Api};
use crate::reply;
use crate::sse;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Dimensions of the fake embeddings.
pub const EMBEDDING_DIMENSIONS: usize = 16;

pub async fn chat_completions(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    admission::record(&app, "POST", "/v1/chat/completions", &headers, &body);
    let Admitted { body, model, reset_mid_stream } = match admission::admit(&app, Api::OpenAi, &headers, &body) {
        Ok(a) => a,
        Err(rejection) => return rejection.into_response(Api::OpenAi),
    };
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return errors::error(Api::OpenAi, 400, "messages: field required (an array)", None);
    };
    let prompt = reply::last_user_text(messages);
    let text = reply::reply_text(&model, &prompt, app.settings.large_reply_bytes());
    let id = format!("chatcmpl-mock{}", app.next_id());
    let created = unix_now();
    let usage = json!({
        "prompt_tokens": reply::tokens(&prompt),
        "completion_tokens": reply::tokens(&text),
        "total_tokens": reply::tokens(&prompt) + reply::tokens(&text),
    });
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        let reply = json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": usage,
        });
        if errors::model_fault(&model) == errors::ModelFault::Trickle {
            return sse::trickle(reply.to_string().as_bytes(), std::time::Duration::from_millis(200));
        }
        return Json(reply).into_response();
    }

    let include_usage = body.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        sse::event(None, &c.to_string())
    };
    let pieces = reply::split(&text, app.settings.chunks());
    let mut events = Vec::with_capacity(pieces.len() + 4);
    events.push(chunk(json!({"role": "assistant", "content": ""}), Value::Null));
    events.extend(pieces.iter().map(|p| chunk(json!({"content": p}), Value::Null)));
    events.push(chunk(json!({}), json!("stop")));
    if include_usage {
        let last = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_mock", "choices": [], "usage": usage,
        });
        events.push(sse::event(None, &last.to_string()));
    }
    events.push(sse::event(None, "[DONE]"));
    sse::stream(events, app.settings.chunk_delay(), reset_mid_stream)
}

/// `GET /v1/models` is both APIs' path: Anthropic clients send `anthropic-version`.
pub async fn models(state: State<Arc<App>>, headers: HeaderMap) -> Response {
    if headers.contains_key("anthropic-version") {
        return crate::anthropic::models(state, headers).await;
    }
    let State(app) = state;
    admission::record(&app, "GET", "/v1/models", &headers, b"");
    if let Err(rejection) = admission::check_credentials(&app, Api::OpenAi, &headers) {
        return rejection.into_response(Api::OpenAi);
    }
    let data: Vec<Value> = app
        .models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "mock-llm"}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

pub async fn embeddings(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    admission::record(&app, "POST", "/v1/embeddings", &headers, &body);
    let Admitted { body, model, .. } = match admission::admit(&app, Api::OpenAi, &headers, &body) {
        Ok(a) => a,
        Err(rejection) => return rejection.into_response(Api::OpenAi),
    };
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() => {
            items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect()
        }
        _ => return errors::error(Api::OpenAi, 400, "input: a string or a non-empty array is required", None),
    };
    let base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let vector = embedding(input);
            let encoded = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": encoded})
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|i| reply::tokens(i)).sum();
    Json(json!({
        "object": "list", "data": data, "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response()
}

/// A deterministic unit vector derived from the text.
pub fn embedding(text: &str) -> Vec<f32> {
    let digest = Sha256::digest(text.as_bytes());
    let raw: Vec<f32> = digest.iter().take(EMBEDDING_DIMENSIONS).map(|b| f32::from(*b) - 127.5).collect();
    let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::EPSILON);
    raw.iter().map(|x| x / norm).collect()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
