//! The load generator: keep-alive connections hammering one URL for a while, one
//! request at a time for latency, and streamed requests timed to their first
//! chunk and their end.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// What to send and how to recognise a right answer.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub body: &'static str,
    pub headers: Vec<(&'static str, String)>,
    /// A right answer's body contains this.
    pub expect: &'static str,
}

/// One keep-alive connection per client (the load generator gives each simulated agent its own).
pub fn client() -> HttpClient {
    pooled(1)
}

/// A client keeping up to `idle` connections per host (the forwarder's, towards the stub).
pub fn pooled(idle: usize) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(idle).build(connector)
}

fn request(t: &Target) -> Result<hyper::Request<Full<Bytes>>, String> {
    let mut r = hyper::Request::post(&t.url).header("content-type", "application/json");
    for (k, v) in &t.headers {
        r = r.header(*k, v);
    }
    r.body(Full::new(Bytes::from_static(t.body.as_bytes()))).map_err(|e| e.to_string())
}

/// One request; its body if it is a right answer.
pub async fn once(client: &HttpClient, t: &Target) -> Result<Bytes, String> {
    let response = client.request(request(t)?).await.map_err(|e| format!("{}: {e}", t.url))?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    if !status.is_success() || !String::from_utf8_lossy(&body).contains(t.expect) {
        return Err(format!("{}: HTTP {status}: {}", t.url, String::from_utf8_lossy(&body)));
    }
    Ok(body)
}

pub struct Throughput {
    pub requests: u64,
    pub per_second: f64,
}

/// `connections` keep-alive connections, each sending back to back for `seconds`.
pub async fn throughput(t: &Target, connections: usize, seconds: f64) -> Result<Throughput, String> {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let t = t.clone();
            tokio::spawn(async move {
                let client = client();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    once(&client, &t).await?;
                    n += 1;
                }
                Ok::<u64, String>(n)
            })
        })
        .collect();
    let mut requests = 0;
    for task in tasks {
        requests += task.await.map_err(|e| e.to_string())??;
    }
    Ok(Throughput { requests, per_second: requests as f64 / started.elapsed().as_secs_f64() })
}

/// Latencies of `n` requests sent one at a time, sorted.
pub async fn serial(t: &Target, n: usize) -> Result<Vec<Duration>, String> {
    let client = client();
    once(&client, t).await?; // connect first
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        once(&client, t).await?;
        out.push(started.elapsed());
    }
    out.sort();
    Ok(out)
}

/// Time to the first body chunk and to the end of a streamed reply, `n` times, each sorted.
pub async fn stream_timings(t: &Target, n: usize) -> Result<(Vec<Duration>, Vec<Duration>), String> {
    let client = client();
    let (mut first, mut end) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let started = Instant::now();
        let response = client.request(request(t)?).await.map_err(|e| e.to_string())?;
        let mut body = response.into_body();
        let mut text = Vec::new();
        let mut seen_first = false;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Ok(data) = frame.into_data() {
                if !seen_first && !data.is_empty() {
                    first.push(started.elapsed());
                    seen_first = true;
                }
                text.extend_from_slice(&data);
            }
        }
        end.push(started.elapsed());
        if !String::from_utf8_lossy(&text).contains(t.expect) {
            return Err(format!("{}: the stream lacks {:?}", t.url, t.expect));
        }
    }
    first.sort();
    end.sort();
    Ok((first, end))
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
