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
use super::upstream_client::{BodyTime, Bounded, UpstreamClient};
use crate::config::{Upstream, Upstreams};
use crate::metrics::Metrics;
use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri, header};
use axum::response::Response;
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
    client: UpstreamClient,
    openai: Destination,
    anthropic: Destination,
    /// Whole-request deadline for a non-streamed call.
    deadline: Duration,
    /// Longest silence within a streamed reply.
    stream_idle: Duration,
}

/// One upstream, with everything about it that does not change per request worked out once.
struct Destination {
    name: &'static str,
    /// The base URL as parsed and normalized once (no trailing slash).
    base: String,
    /// Scheme and authority a target must keep, and the path it must stay under.
    origin: Option<(axum::http::uri::Scheme, axum::http::uri::Authority)>,
    base_path: String,
    /// The proxy's key as a header, or why it cannot be one.
    key: Result<Option<(HeaderName, HeaderValue)>, ()>,
    /// Whether the environment sends it through an outbound proxy.
    via_proxy: bool,
}

impl Destination {
    fn new(
        name: &'static str,
        api: Api,
        upstream: &Upstream,
        proxies: &hyper_util::client::proxy::matcher::Matcher,
    ) -> Self {
        let parsed = url::Url::parse(&upstream.base_url).ok();
        let base = parsed.as_ref().map_or_else(String::new, |u| u.as_str().trim_end_matches('/').to_string());
        let uri: Option<Uri> = base.parse().ok();
        let origin = uri.as_ref().and_then(|u| Some((u.scheme()?.clone(), u.authority()?.clone())));
        let base_path = parsed.map_or_else(|| "/\u{0}".to_string(), |u| u.path().trim_end_matches('/').to_string());
        let key = match &upstream.api_key {
            None => Ok(None),
            Some(key) => {
                let (header_name, value) = match api {
                    Api::OpenAi => (header::AUTHORIZATION, format!("Bearer {}", key.expose())),
                    Api::Anthropic => (HeaderName::from_static("x-api-key"), key.expose().to_string()),
                };
                HeaderValue::from_str(&value)
                    .map(|mut v| {
                        v.set_sensitive(true);
                        Some((header_name, v))
                    })
                    .map_err(|_| ())
            }
        };
        let via_proxy = uri.as_ref().is_some_and(|u| proxies.intercept(u).is_some());
        Destination { name, base, origin, base_path, key, via_proxy }
    }
}

impl Forwarder {
    pub fn new(upstreams: &Upstreams) -> Result<Forwarder, String> {
        let proxies = hyper_util::client::proxy::matcher::Matcher::from_env();
        Ok(Forwarder {
            client: UpstreamClient::new(Duration::from_secs(upstreams.connect_timeout_seconds))?,
            openai: Destination::new("openai", Api::OpenAi, &upstreams.openai, &proxies),
            anthropic: Destination::new("anthropic", Api::Anthropic, &upstreams.anthropic, &proxies),
            deadline: Duration::from_secs(upstreams.timeout_seconds),
            stream_idle: Duration::from_secs(upstreams.stream_idle_timeout_seconds),
        })
    }

    fn destination(&self, api: Api) -> &Destination {
        match api {
            Api::OpenAi => &self.openai,
            Api::Anthropic => &self.anthropic,
        }
    }

    /// The upstream URL for a normalized agent path (and its query); `None` when
    /// the result would leave the upstream's base path (dot segments are refused
    /// before this, see [`super::routes::escapes_base`]; this is the second lock).
    pub fn target(&self, api: Api, path: &str, query: Option<&str>) -> Option<Uri> {
        let destination = self.destination(api);
        // OpenAI base URLs end in /v1 (as agents are configured); Anthropic's do not.
        let suffix = match api {
            Api::OpenAi => path.strip_prefix("/v1").unwrap_or(path),
            Api::Anthropic => path,
        };
        let mut url = String::with_capacity(destination.base.len() + suffix.len() + query.map_or(0, |q| q.len() + 1));
        url.push_str(&destination.base);
        url.push_str(suffix);
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        let uri: Uri = url.parse().ok()?;
        let (scheme, authority) = destination.origin.as_ref()?;
        let inside = uri.scheme() == Some(scheme)
            && uri.authority() == Some(authority)
            && uri
                .path()
                .strip_prefix(destination.base_path.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        inside.then_some(uri)
    }

    /// Sends the agent's request (`parts` as received, normalized path) upstream.
    pub async fn send(&self, route: Route, parts: Parts, body: Bytes, metrics: &Metrics) -> Response {
        let api = route.api();
        let destination = self.destination(api);
        let name = destination.name;
        let Some(uri) = self.target(api, parts.uri.path(), parts.uri.query()) else {
            metrics.request(route.label(), "bad_path");
            return errors::response(api, 400, "This path cannot be forwarded.");
        };
        let key = match &destination.key {
            Ok(key) => key,
            Err(()) => {
                tracing::error!(upstream = name, "upstreams.{name}.api_key is not a valid header value");
                let message = format!("upstreams.{name}.api_key is not a valid header value");
                return errors::response(api, 500, &message);
            }
        };
        let mut request = axum::http::Request::new(body);
        *request.method_mut() = parts.method;
        *request.uri_mut() = uri;
        let headers = parts.headers;
        let named = connection_named(&headers);
        let outgoing = request.headers_mut();
        outgoing.reserve(headers.len() + 1);
        let mut last: Option<HeaderName> = None;
        for (k, v) in headers {
            // `HeaderMap::into_iter` names a header once, before all of its values.
            if let Some(k) = k {
                last = Some(k);
            }
            let Some(k) = &last else { continue };
            let name = k.as_str();
            if !DROPPED_REQUEST_HEADERS.contains(&name) && !named.iter().any(|n| n == name) {
                outgoing.append(k.clone(), v);
            }
        }
        if let Some((header_name, value)) = key {
            outgoing.insert(header_name.clone(), value.clone());
        }
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + self.deadline);
        let upstream_response = match self.client.send(request, destination.via_proxy, deadline).await {
            Ok(r) => r,
            Err(e) => {
                metrics.request(route.label(), "upstream_unreachable");
                let host = destination.origin.as_ref().map_or("", |(_, a)| a.host());
                let (status, what) =
                    if e.timed_out { (504, "did not answer in time") } else { (502, "is unreachable") };
                let detail = if e.timed_out {
                    format!("no answer within upstreams.timeout_seconds ({} s)", self.deadline.as_secs())
                } else {
                    e.message
                };
                tracing::error!(upstream = name, %host, "upstream {what}: {detail}");
                let message =
                    format!("The {name} upstream ({host}) {what}. Try again later or tell the proxy's operator.");
                return errors::response(api, status, &message);
            }
        };
        metrics.upstream_latency(started.elapsed());
        let (mut head, body) = upstream_response.into_parts();
        let status = head.status;
        if status == axum::http::StatusCode::UNAUTHORIZED || status == axum::http::StatusCode::FORBIDDEN {
            tracing::error!(
                upstream = name,
                status = status.as_u16(),
                "the upstream rejected the proxy's API key (upstreams.{name}.api_key)"
            );
        }
        if status.is_server_error() {
            let host = destination.origin.as_ref().map_or("", |(_, a)| a.host());
            tracing::error!(upstream = name, %host, status = status.as_u16(), "the upstream answered with an error");
        }
        metrics.request(route.label(), if status.is_success() { "forwarded" } else { "upstream_error" });
        let streaming = head
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        // The upstream's own header map, minus what belongs to its connection.
        for dropped in DROPPED_RESPONSE_HEADERS {
            head.headers.remove(*dropped);
        }
        if streaming {
            // Tell nginx and friends not to buffer the stream.
            head.headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
            head.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        let time = if streaming { BodyTime::Idle(self.stream_idle) } else { BodyTime::Until(deadline) };
        let mut response = Response::new(Body::new(Bounded::new(body, time)));
        *response.status_mut() = status;
        *response.headers_mut() = head.headers;
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn forwarder(openai: &str, anthropic: &str) -> Forwarder {
        let mut config = Config::default();
        config.upstreams.openai.base_url = openai.into();
        config.upstreams.anthropic.base_url = anthropic.into();
        Forwarder::new(&config.upstreams).unwrap()
    }

    fn target(f: &Forwarder, api: Api, path: &str, query: Option<&str>) -> Option<String> {
        f.target(api, path, query).map(|u| u.to_string())
    }

    #[tokio::test]
    async fn targets_stay_under_the_base_url() {
        let f = forwarder("https://api.example.com/v1", "http://localhost:9100");
        let chat = target(&f, Api::OpenAi, "/v1/chat/completions", Some("a=1"));
        assert_eq!(chat.as_deref(), Some("https://api.example.com/v1/chat/completions?a=1"));
        let messages = target(&f, Api::Anthropic, "/v1/messages", None);
        assert_eq!(messages.as_deref(), Some("http://localhost:9100/v1/messages"));
        // A path that only starts like the base path is not under it.
        assert_eq!(target(&f, Api::OpenAi, "/v1evil/x", None), None);
        // Nothing an agent sends can change the host.
        let g = forwarder("http://localhost", "http://localhost");
        assert_eq!(target(&g, Api::OpenAi, "/v1.evil.com/x", None), None);
        assert_eq!(target(&g, Api::OpenAi, "/v1@evil.com/x", None), None);
        // An unusable base URL forwards nothing.
        let h = forwarder("not a url", "http://localhost");
        assert_eq!(target(&h, Api::OpenAi, "/v1/chat/completions", None), None);
    }
}
