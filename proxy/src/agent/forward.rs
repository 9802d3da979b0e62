//! Forwarding to the upstream APIs: the proxy's own key replaces the agent's
//! token (which is never forwarded); hop-by-hop headers, headers named in
//! `Connection`, credentials and billing-scope headers are dropped; the target
//! URL can never leave the configured base path; and the response (streaming
//! included) is passed through chunk by chunk, never buffered whole.
//!
//! Time: a non-streamed call has one deadline for everything
//! (`upstreams.timeout_seconds`); a streamed reply (`text/event-stream`) may run
//! as long as chunks keep coming, and is cut after
//! `upstreams.stream_idle_timeout_seconds` of silence.

use super::errors;
use super::routes::{Api, Route};
use crate::config::{Upstream, Upstreams};
use crate::metrics::Metrics;
use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;
use futures_util::{Stream, StreamExt};
use std::time::{Duration, Instant};

/// Header names listed in `Connection` (they are hop-by-hop for this message).
fn connection_named(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

/// The upstream's body, cut when it overruns its time (the agent sees a broken stream).
fn bounded(
    body: impl Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static,
    time: BodyTime,
) -> impl Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    futures_util::stream::unfold((Box::pin(body), false), move |(mut body, done)| async move {
        if done {
            return None;
        }
        let until = match time {
            BodyTime::Until(t) => tokio::time::Instant::from_std(t),
            BodyTime::Idle(d) => tokio::time::Instant::now() + d,
        };
        match tokio::time::timeout_at(until, body.next()).await {
            Ok(None) => None,
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), (body, false))),
            Ok(Some(Err(e))) => Some((Err(std::io::Error::other(e)), (body, true))),
            Err(_) => {
                tracing::warn!("upstream reply cut: it overran its time limit");
                Some((Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "upstream time limit")), (body, true)))
            }
        }
    })
}

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
    // Other credentials an agent may send (Azure, Google): never the upstream's business.
    "api-key",
    "x-goog-api-key",
    // Billing scope is the operator's choice, not the agent's: the proxy's key pays.
    "openai-organization",
    "openai-project",
];
const DROPPED_RESPONSE_HEADERS: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "set-cookie"];

pub struct Forwarder {
    client: reqwest::Client,
    openai: Upstream,
    anthropic: Upstream,
    /// Whole-request deadline for a non-streamed call.
    deadline: Duration,
    /// Longest silence within a streamed reply.
    stream_idle: Duration,
    /// Origin and path (no trailing slash) of each base URL, parsed once: a target must stay under them.
    openai_base: (url::Origin, String),
    anthropic_base: (url::Origin, String),
}

/// The origin and path prefix of a base URL (an unparsable one matches nothing).
fn base_of(base_url: &str) -> (url::Origin, String) {
    match url::Url::parse(base_url) {
        Ok(u) => (u.origin(), u.path().trim_end_matches('/').to_string()),
        Err(_) => (url::Origin::new_opaque(), String::from("/\u{0}")),
    }
}

/// How long the body of a response may take.
#[derive(Clone, Copy)]
enum BodyTime {
    /// A fixed end (the request's deadline).
    Until(Instant),
    /// At most this long between two chunks.
    Idle(Duration),
}

impl Forwarder {
    pub fn new(upstreams: &Upstreams) -> Result<Forwarder, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()?;
        Ok(Forwarder {
            client,
            openai: upstreams.openai.clone(),
            anthropic: upstreams.anthropic.clone(),
            deadline: Duration::from_secs(upstreams.timeout_seconds),
            stream_idle: Duration::from_secs(upstreams.stream_idle_timeout_seconds),
            openai_base: base_of(&upstreams.openai.base_url),
            anthropic_base: base_of(&upstreams.anthropic.base_url),
        })
    }

    fn upstream(&self, api: Api) -> (&'static str, &Upstream) {
        match api {
            Api::OpenAi => ("openai", &self.openai),
            Api::Anthropic => ("anthropic", &self.anthropic),
        }
    }

    /// The upstream URL for a normalized agent path (and its query); `None` when
    /// the result would leave the upstream's base path (dot segments are refused
    /// before this, see [`super::routes::escapes_base`]; this is the second lock).
    pub fn target(&self, api: Api, path: &str, query: Option<&str>) -> Option<url::Url> {
        let (_, upstream) = self.upstream(api);
        // OpenAI base URLs end in /v1 (as agents are configured); Anthropic's do not.
        let suffix = match api {
            Api::OpenAi => path.strip_prefix("/v1").unwrap_or(path),
            Api::Anthropic => path,
        };
        let url = match query {
            Some(q) => format!("{}{suffix}?{q}", upstream.base_url),
            None => format!("{}{suffix}", upstream.base_url),
        };
        // One parse per request; the result goes to the client as it is (no second parse there).
        let parsed = url::Url::parse(&url).ok()?;
        let (origin, base_path) = match api {
            Api::OpenAi => &self.openai_base,
            Api::Anthropic => &self.anthropic_base,
        };
        let inside = parsed.origin() == *origin
            && parsed
                .path()
                .strip_prefix(base_path.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        inside.then_some(parsed)
    }

    /// Sends the agent's request (`parts` as received, normalized path) upstream.
    pub async fn send(&self, route: Route, parts: &Parts, body: Bytes, metrics: &Metrics) -> Response {
        let api = route.api();
        let (name, upstream) = self.upstream(api);
        let Some(url) = self.target(api, parts.uri.path(), parts.uri.query()) else {
            metrics.request(route.label(), "bad_path");
            return errors::response(api, 400, "This path cannot be forwarded.");
        };
        let (method, headers) = (parts.method.clone(), &parts.headers);
        let mut outgoing = HeaderMap::new();
        let named = connection_named(headers);
        for (k, v) in headers {
            let name = k.as_str();
            if !DROPPED_REQUEST_HEADERS.contains(&name) && !named.iter().any(|n| n == name) {
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
                    tracing::error!(upstream = name, "upstreams.{name}.api_key is not a valid header value");
                    return errors::response(
                        api,
                        500,
                        &format!("upstreams.{name}.api_key is not a valid header value"),
                    );
                }
            }
        }
        let started = Instant::now();
        let deadline = started + self.deadline;
        let host = url.host_str().unwrap_or_default().to_string();
        let request = self.client.request(method, url).headers(outgoing).body(body).send();
        let sent = match tokio::time::timeout_at(deadline.into(), request).await {
            Ok(sent) => sent.map_err(|e| (e.is_timeout(), e.to_string())),
            Err(_) => {
                Err((true, format!("no answer within upstreams.timeout_seconds ({} s)", self.deadline.as_secs())))
            }
        };
        let upstream_response = match sent {
            Ok(r) => r,
            Err((timed_out, e)) => {
                metrics.request(route.label(), "upstream_unreachable");
                let (status, what) = if timed_out { (504, "did not answer in time") } else { (502, "is unreachable") };
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
        if status.is_server_error() {
            tracing::error!(upstream = name, %host, status = status.as_u16(), "the upstream answered with an error");
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
        let time = if streaming { BodyTime::Idle(self.stream_idle) } else { BodyTime::Until(deadline) };
        let stream = bounded(upstream_response.bytes_stream(), time);
        response
            .body(Body::from_stream(stream))
            .unwrap_or_else(|e| errors::response(api, 502, &format!("bad upstream response: {e}")))
    }
}
