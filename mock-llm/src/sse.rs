//! Streaming bodies: prebuilt SSE events sent one by one, with an optional pause
//! between them, or cut off halfway with a broken connection.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use std::time::Duration;

/// One `data:` event (OpenAI style) or a named `event:` + `data:` pair (Anthropic style).
pub fn event(name: Option<&str>, data: &str) -> Bytes {
    match name {
        Some(name) => Bytes::from(format!("event: {name}\ndata: {data}\n\n")),
        None => Bytes::from(format!("data: {data}\n\n")),
    }
}

/// A `text/event-stream` response sending `events` in order. With `reset_mid_stream`
/// the body fails after half of them, which makes the server abort the connection.
pub fn stream(events: Vec<Bytes>, delay: Duration, reset_mid_stream: bool) -> Response {
    let cut = if reset_mid_stream { events.len() / 2 } else { usize::MAX };
    let items = futures_util::stream::iter(events.into_iter().take(cut).enumerate());
    let paced = items.then(move |(i, bytes)| async move {
        if i > 0 && !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok::<Bytes, std::io::Error>(bytes)
    });
    let body = if reset_mid_stream {
        // The pause lets what was sent reach the client before the connection is torn down.
        let reset = futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(std::io::Error::other("connection reset mid-stream (injected fault)"))
        });
        Body::from_stream(paced.chain(reset))
    } else {
        Body::from_stream(paced)
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A JSON body sent one byte every `delay` (`mock-trickle`): alive all along, finished only after
/// `delay` times its length, which outlasts any sensible whole-request deadline.
pub fn trickle(json: &[u8], delay: Duration) -> Response {
    let bytes: Vec<Bytes> = json.iter().map(|b| Bytes::copy_from_slice(&[*b])).collect();
    let paced = futures_util::stream::iter(bytes).then(move |byte| async move {
        tokio::time::sleep(delay).await;
        Ok::<Bytes, std::io::Error>(byte)
    });
    let mut response = Body::from_stream(paced).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
