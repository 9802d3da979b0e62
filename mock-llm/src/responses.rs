//! The OpenAI Responses API (`POST /v1/responses`), which Codex CLI speaks
//! exclusively: a `response` object, or the streamed event sequence
//! (`response.created` ... `response.completed`, each event with its
//! `sequence_number`), with the same faults as chat completions.

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
use serde_json::{Value, json};
use std::sync::Arc;

/// The user's text from `input`: a string, or the last `user` item (message items
/// with string content or `input_text` parts).
fn input_text(input: &Value) -> Option<String> {
    match input {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let user = items.iter().rev().find(|i| i.get("role").and_then(Value::as_str) == Some("user"))?;
            Some(match user.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter(|p| matches!(p.get("type").and_then(Value::as_str), Some("input_text" | "text")))
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => String::new(),
            })
        }
        _ => None,
    }
}

fn message(id: &str, text: Option<&str>) -> Value {
    let (status, content) = match text {
        Some(t) => ("completed", json!([{"type": "output_text", "text": t, "annotations": []}])),
        None => ("in_progress", json!([])),
    };
    json!({"type": "message", "id": id, "status": status, "role": "assistant", "content": content})
}

pub async fn create(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    admission::record(&app, "POST", "/v1/responses", &headers, &body);
    let Admitted { body, model, reset_mid_stream } = match admission::admit(&app, Api::OpenAi, &headers, &body) {
        Ok(a) => a,
        Err(rejection) => return rejection.into_response(Api::OpenAi),
    };
    let Some(prompt) = body.get("input").and_then(input_text) else {
        return errors::error(Api::OpenAi, 400, "input: a string or an array of input items is required", None);
    };
    let text = reply::reply_text(&model, &prompt, app.settings.large_reply_bytes());
    let n = app.next_id();
    let (id, item_id) = (format!("resp_mock{n}"), format!("msg_mock{n}"));
    let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let usage = json!({
        "input_tokens": reply::tokens(&prompt), "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": reply::tokens(&text), "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": reply::tokens(&prompt) + reply::tokens(&text),
    });
    let response = |done: bool| {
        json!({
            "id": id, "object": "response", "created_at": created,
            "status": if done { "completed" } else { "in_progress" },
            "model": model,
            "output": if done { json!([message(&item_id, Some(&text))]) } else { json!([]) },
            "usage": if done { usage.clone() } else { Value::Null },
            "error": null, "incomplete_details": null, "instructions": body.get("instructions").cloned(),
            "metadata": {}, "parallel_tool_calls": true, "temperature": null, "tool_choice": "auto",
            "tools": [], "top_p": null,
        })
    };
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        return Json(response(true)).into_response();
    }
    let part = |t: &str| json!({"type": "output_text", "text": t, "annotations": []});
    let at = |mut v: Value| {
        v["item_id"] = json!(item_id);
        v["output_index"] = json!(0);
        v["content_index"] = json!(0);
        v
    };
    let mut events: Vec<(&str, Value)> = vec![
        ("response.created", json!({"response": response(false)})),
        ("response.in_progress", json!({"response": response(false)})),
        ("response.output_item.added", json!({"output_index": 0, "item": message(&item_id, None)})),
        ("response.content_part.added", at(json!({"part": part("")}))),
    ];
    for piece in reply::split(&text, app.settings.chunks()) {
        events.push(("response.output_text.delta", at(json!({"delta": piece, "logprobs": []}))));
    }
    events.push(("response.output_text.done", at(json!({"text": text, "logprobs": []}))));
    events.push(("response.content_part.done", at(json!({"part": part(&text)}))));
    events.push(("response.output_item.done", json!({"output_index": 0, "item": message(&item_id, Some(&text))})));
    events.push(("response.completed", json!({"response": response(true)})));
    let events = events
        .into_iter()
        .enumerate()
        .map(|(sequence, (name, mut data))| {
            data["type"] = json!(name);
            data["sequence_number"] = json!(sequence);
            sse::event(Some(name), &data.to_string())
        })
        .collect();
    sse::stream(events, app.settings.chunk_delay(), reset_mid_stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_text_comes_from_a_string_or_the_last_user_item() {
        assert_eq!(input_text(&json!("hi")).as_deref(), Some("hi"));
        let items = json!([
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "x"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "second"}]},
        ]);
        assert_eq!(input_text(&items).as_deref(), Some("second"));
        assert_eq!(input_text(&json!(5)), None);
    }
}
