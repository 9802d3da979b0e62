//! Requests the proxy makes itself (identity providers, the authorization API,
//! and the doctor's probes): bounded in time by the client, and in size by
//! [`read_bounded`], so a misbehaving endpoint cannot exhaust memory.

use std::time::Duration;

/// Largest response body read from an identity provider or the authorization
/// API: discovery documents and key sets are a few KiB.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// How long the serving proxy gives an IdP or the authorization API per request.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The client for identity providers and the authorization API: no redirects
/// (OIDC safety), bounded time, proxy settings from the environment.
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .build()
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

impl BodyError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, BodyError::Http(e) if e.is_timeout())
    }
}

/// The body, chunk by chunk, refusing more than `limit` bytes (declared or sent).
pub async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An error with its causes (`error sending request: connection refused`):
/// reqwest's own message alone does not say what went wrong.
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers one request with `body_len` bytes, chunked (no Content-Length).
    async fn serve_once(body_len: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
            let _ = socket.write_all(head.as_bytes()).await;
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = body_len;
            while left > 0 {
                let n = left.min(chunk.len());
                let _ = socket.write_all(format!("{n:x}\r\n").as_bytes()).await;
                let _ = socket.write_all(&chunk[..n]).await;
                let _ = socket.write_all(b"\r\n").await;
                left -= n;
            }
            let _ = socket.write_all(b"0\r\n\r\n").await;
        });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused_without_reading_them_all() {
        let http = reqwest::Client::new();
        let small = http.get(serve_once(1000).await).send().await.unwrap();
        assert_eq!(read_bounded(small, 4096).await.unwrap().len(), 1000);
        let huge = http.get(serve_once(8 * 1024 * 1024).await).send().await.unwrap();
        assert!(matches!(read_bounded(huge, MAX_RESPONSE_BYTES).await, Err(BodyError::TooLarge(_))));
    }
}
