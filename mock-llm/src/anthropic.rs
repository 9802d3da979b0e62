//! Anthropic-compatible routes: messages (JSON and the full SSE event sequence) and count_tokens.

use crate::App;
use crate::admission::{self, Admitted};
use crate::errors::{self, Api};
use crate::reply;
use crate::sse;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

/// Anthropic's model listing (`GET /v1/models` with `anthropic-version`).
pub async fn models(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    admission::record(&app, "GET", "/v1/models", &headers, b"");
    if let Err(rejection) = admission::check_credentials(&app, Api::Anthropic, &headers) {
        return rejection.into_response(Api::Anthropic);
    }
    let data: Vec<Value> = app
        .models
        .iter()
        .map(|id| json!({"type": "model", "id": id, "display_name": id, "created_at": "2025-01-01T00:00:00Z"}))
        .collect();
    let first = data.first().and_then(|m| m.get("id")).cloned().unwrap_or(Value::Null);
    let last = data.last().and_then(|m| m.get("id")).cloned().unwrap_or(Value::Null);
    Json(json!({"data": data, "has_more": false, "first_id": first, "last_id": last})).into_response()
}

pub async fn messages(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    admission::record(&app, "POST", "/v1/messages", &headers, &body);
    let Admitted { body, model, reset_mid_stream } = match admission::admit(&app, Api::Anthropic, &headers, &body) {
        Ok(a) => a,
        Err(rejection) => return rejection.into_response(Api::Anthropic),
    };
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return errors::error(Api::Anthropic, 400, "messages: Field required", None);
    };
    if body.get("max_tokens").and_then(Value::as_u64).is_none() {
        return errors::error(Api::Anthropic, 400, "max_tokens: Field required", None);
    }
    let prompt = reply::last_user_text(messages);
    let text = reply::reply_text(&model, &prompt, app.settings.large_reply_bytes());
    let id = format!("msg_mock{}", app.next_id());
    let (input_tokens, output_tokens) = (reply::tokens(&prompt), reply::tokens(&text));

    let mut response = if body.get("stream").and_then(Value::as_bool) != Some(true) {
        Json(json!({
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }))
        .into_response()
    } else {
        let pieces = reply::split(&text, app.settings.chunks());
        let mut events = Vec::with_capacity(pieces.len() + 6);
        let start = json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        }});
        events.push(sse::event(Some("message_start"), &start.to_string()));
        let block = json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}});
        events.push(sse::event(Some("content_block_start"), &block.to_string()));
        events.push(sse::event(Some("ping"), "{\"type\": \"ping\"}"));
        for piece in pieces {
            let delta =
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}});
            events.push(sse::event(Some("content_block_delta"), &delta.to_string()));
        }
        events.push(sse::event(Some("content_block_stop"), "{\"type\":\"content_block_stop\",\"index\":0}"));
        let end = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"output_tokens": output_tokens}});
        events.push(sse::event(Some("message_delta"), &end.to_string()));
        events.push(sse::event(Some("message_stop"), "{\"type\":\"message_stop\"}"));
        sse::stream(events, app.settings.chunk_delay(), reset_mid_stream)
    };
    response.headers_mut().insert(
        "request-id",
        HeaderValue::from_str(&format!("req_{id}")).unwrap_or(HeaderValue::from_static("req_mock")),
    );
    response
}

pub async fn count_tokens(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    admission::record(&app, "POST", "/v1/messages/count_tokens", &headers, &body);
    let Admitted { body, .. } = match admission::admit(&app, Api::Anthropic, &headers, &body) {
        Ok(a) => a,
        Err(rejection) => return rejection.into_response(Api::Anthropic),
    };
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return errors::error(Api::Anthropic, 400, "messages: Field required", None);
    };
    let all: u64 =
        messages.iter().map(|m| reply::tokens(&reply::content_text(m.get("content").unwrap_or(&Value::Null)))).sum();
    Json(json!({"input_tokens": all})).into_response()
}
