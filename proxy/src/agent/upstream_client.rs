//! The HTTP client that carries agents' requests to the upstreams, and the
//! body of their replies, bounded in time.
//!
//! Direct connections use a hyper-util client (HTTP/1.1 and HTTP/2 over rustls
//! with the webpki roots): no per-request URL parsing, header rebuilding or
//! retry layer between the agent and the upstream. An upstream that the
//! environment routes through an outbound proxy (`HTTPS_PROXY`, `HTTP_PROXY`,
//! `NO_PROXY`, decided once at start with the same rules reqwest uses) is
//! reached through reqwest, which speaks to proxies.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Why a request got no answer.
#[derive(Debug)]
pub struct SendError {
    /// The upstream did not answer within the deadline (or the client's own timeout).
    pub timed_out: bool,
    pub message: String,
}

/// The two ways to an upstream: direct, or through the environment's outbound proxy.
pub struct UpstreamClient {
    direct: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    proxied: reqwest::Client,
}

impl UpstreamClient {
    pub fn new(connect_timeout: Duration) -> Result<UpstreamClient, String> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| format!("TLS client: {e}"))?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let direct = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        let proxied = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(UpstreamClient { direct, proxied })
    }

    /// Sends `request`, directly or through the outbound proxy, until `deadline`.
    pub async fn send(
        &self,
        request: axum::http::Request<Bytes>,
        via_proxy: bool,
        deadline: Instant,
    ) -> Result<axum::http::Response<UpstreamBody>, SendError> {
        let timed_out = || SendError { timed_out: true, message: "no answer in time".into() };
        if via_proxy {
            let request = match reqwest::Request::try_from(request.map(reqwest::Body::from)) {
                Ok(r) => r,
                Err(e) => return Err(SendError { timed_out: false, message: e.to_string() }),
            };
            let sent =
                tokio::time::timeout_at(deadline, self.proxied.execute(request)).await.map_err(|_| timed_out())?;
            return match sent {
                Ok(response) => Ok(axum::http::Response::from(response).map(UpstreamBody::Proxied)),
                Err(e) => Err(SendError { timed_out: e.is_timeout(), message: e.to_string() }),
            };
        }
        let sent = tokio::time::timeout_at(deadline, self.direct.request(request.map(Full::new)))
            .await
            .map_err(|_| timed_out())?;
        match sent {
            Ok(response) => Ok(response.map(UpstreamBody::Direct)),
            Err(e) => Err(SendError { timed_out: false, message: crate::logging::chain(&e) }),
        }
    }
}

/// An upstream reply's body, from either client.
pub enum UpstreamBody {
    Direct(hyper::body::Incoming),
    Proxied(reqwest::Body),
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            UpstreamBody::Direct(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            UpstreamBody::Proxied(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Direct(b) => b.is_end_stream(),
            UpstreamBody::Proxied(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::Direct(b) => b.size_hint(),
            UpstreamBody::Proxied(b) => b.size_hint(),
        }
    }
}

/// How long a reply's body may take.
#[derive(Clone, Copy)]
pub enum BodyTime {
    /// A fixed end (the request's deadline).
    Until(Instant),
    /// At most this long between two chunks.
    Idle(Duration),
}

/// The upstream's body, cut when it overruns its time (the agent sees a broken
/// stream). One timer per body, moved forward after each chunk.
pub struct Bounded<B> {
    inner: B,
    time: BodyTime,
    timer: Pin<Box<Sleep>>,
    done: bool,
}

impl<B> Bounded<B> {
    pub fn new(inner: B, time: BodyTime) -> Self {
        let until = match time {
            BodyTime::Until(t) => t,
            BodyTime::Idle(d) => Instant::now() + d,
        };
        Bounded { inner, time, timer: Box::pin(tokio::time::sleep_until(until)), done: false }
    }
}

impl<B> Body for Bounded<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let BodyTime::Idle(d) = this.time {
                    this.timer.as_mut().reset(Instant::now() + d);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.done = true;
                    tracing::warn!("upstream reply cut: it overran its time limit");
                    let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "upstream time limit");
                    Poll::Ready(Some(Err(e.into())))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

use std::future::Future;
