//! Forwarding to the upstream APIs: the proxy's own key replaces the agent's
//! token (which is never forwarded), hop-by-hop headers are dropped, and the
//! response (streaming included) is passed through chunk by chunk, never
//! buffered whole. A pooled HTTP client is shared by all requests.

use super::errors;
use super::routes::{Api, Route};
use crate::config::{Upstream, Upstreams};
use crate::metrics::Metrics;
use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;
use futures_util::TryStreamExt;
use std::time::{Duration, Instant};

/// Headers that describe one connection, not the message (RFC 9110 7.6.1), plus
/// the ones the proxy sets itself.
const DROPPED_REQUEST_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "authorization",
    "x-api-key",
    "cookie",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
];
const DROPPED_RESPONSE_HEADERS: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "set-cookie"];

pub struct Forwarder {
    client: reqwest::Client,
    openai: Upstream,
    anthropic: Upstream,
}

impl Forwarder {
    pub fn new(upstreams: &Upstreams) -> Result<Forwarder, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            // Between two chunks, not for the whole (possibly long) stream.
            .read_timeout(Duration::from_secs(upstreams.timeout_seconds))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()?;
        Ok(Forwarder { client, openai: upstreams.openai.clone(), anthropic: upstreams.anthropic.clone() })
    }

    fn upstream(&self, api: Api) -> (&'static str, &Upstream) {
        match api {
            Api::OpenAi => ("openai", &self.openai),
            Api::Anthropic => ("anthropic", &self.anthropic),
        }
    }

    /// The upstream URL for a normalized agent path (and its query).
    pub fn target(&self, api: Api, path: &str, query: Option<&str>) -> String {
        let (_, upstream) = self.upstream(api);
        // OpenAI base URLs end in /v1 (as agents are configured); Anthropic's do not.
        let suffix = match api {
            Api::OpenAi => path.strip_prefix("/v1").unwrap_or(path),
            Api::Anthropic => path,
        };
        match query {
            Some(q) => format!("{}{suffix}?{q}", upstream.base_url),
            None => format!("{}{suffix}", upstream.base_url),
        }
    }

    /// Sends the agent's request (`parts` as received, normalized path) upstream.
    pub async fn send(&self, route: Route, parts: &Parts, body: Bytes, metrics: &Metrics) -> Response {
        let api = route.api();
        let (name, upstream) = self.upstream(api);
        let url = self.target(api, parts.uri.path(), parts.uri.query());
        let (method, headers) = (parts.method.clone(), &parts.headers);
        let mut outgoing = HeaderMap::new();
        for (k, v) in headers {
            if !DROPPED_REQUEST_HEADERS.contains(&k.as_str()) {
                outgoing.append(k.clone(), v.clone());
            }
        }
        if let Some(key) = &upstream.api_key {
            let (header_name, value) = match api {
                Api::OpenAi => (header::AUTHORIZATION, format!("Bearer {}", key.expose())),
                Api::Anthropic => (HeaderName::from_static("x-api-key"), key.expose().to_string()),
            };
            match HeaderValue::from_str(&value) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    outgoing.insert(header_name, v);
                }
                Err(_) => {
                    return errors::response(
                        api,
                        500,
                        &format!("upstreams.{name}.api_key is not a valid header value"),
                    );
                }
            }
        }
        let started = Instant::now();
        let sent = self.client.request(method, &url).headers(outgoing).body(body).send().await;
        let upstream_response = match sent {
            Ok(r) => r,
            Err(e) => {
                metrics.request(route.label(), "upstream_unreachable");
                let host =
                    url::Url::parse(&url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
                let (status, what) =
                    if e.is_timeout() { (504, "did not answer in time") } else { (502, "is unreachable") };
                tracing::error!(upstream = name, %host, "upstream {what}: {e}");
                let message =
                    format!("The {name} upstream ({host}) {what}. Try again later or tell the proxy's operator.");
                return errors::response(api, status, &message);
            }
        };
        metrics.upstream_latency(started.elapsed());
        let status = upstream_response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            tracing::error!(
                upstream = name,
                status = status.as_u16(),
                "the upstream rejected the proxy's API key (upstreams.{name}.api_key)"
            );
        }
        metrics.request(route.label(), if status.is_success() { "forwarded" } else { "upstream_error" });
        let mut response = Response::builder().status(status.as_u16());
        let streaming = upstream_response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if let Some(h) = response.headers_mut() {
            for (k, v) in upstream_response.headers() {
                if !DROPPED_RESPONSE_HEADERS.contains(&k.as_str()) {
                    h.append(k.clone(), v.clone());
                }
            }
            if streaming {
                // Tell nginx and friends not to buffer the stream.
                h.insert("x-accel-buffering", HeaderValue::from_static("no"));
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            }
        }
        let stream = upstream_response.bytes_stream().map_err(std::io::Error::other);
        response
            .body(Body::from_stream(stream))
            .unwrap_or_else(|e| errors::response(api, 502, &format!("bad upstream response: {e}")))
    }
}
