//! The accept loop, with the limits a server facing the internet needs before
//! any request is parsed: at most `server.max_connections` open connections
//! (more wait in the kernel's backlog), a deadline for each request's headers
//! that also closes kept-alive connections left idle (slowloris), Nagle off
//! (small SSE writes leave at once), and a graceful shutdown with a deadline
//! after which in-flight streams are cut.
//!
//! It replaces `axum::serve`, which offers none of these knobs.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Largest read buffer per connection (and so the largest request head).
const MAX_BUFFER_BYTES: usize = 64 * 1024;

/// What bounds the connections of one server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub shutdown_timeout: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then lets in-flight
/// requests finish for at most `limits.shutdown_timeout`.
pub async fn serve<L>(mut listener: L, app: Router, limits: Limits, shutdown: impl Future<Output = ()>)
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    // hyper's read buffer per connection (default ~400 KiB): 64 KiB holds any real request head
    // and keeps thousands of connections cheap.
    http.max_buf_size(MAX_BUFFER_BYTES);
    tokio::pin!(shutdown);
    loop {
        // A free slot first: at the cap, connections wait in the backlog instead of
        // being accepted and starving the process of file descriptors.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let router = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(io), service));
        tokio::spawn(async move {
            // Errors here are the client's (reset, header timeout): nothing to report.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    let in_flight = limits.max_connections.max(1) - slots.available_permits();
    tracing::info!("shutting down: no new connections, {in_flight} open, waiting for in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_timeout) => {
            let open = limits.max_connections.max(1) - slots.available_permits();
            tracing::warn!(
                "server.shutdown_timeout_seconds ({} s) reached: cutting {open} connection(s) still in flight",
                limits.shutdown_timeout.as_secs()
            );
        }
    }
}

/// Raises the soft open-file limit to the hard one (as Go's runtime does) and
/// returns the connection cap that fits under it, leaving room for the
/// database, the log file and outbound connections.
pub fn fit_connections(wanted: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        limit.current = Some(maximum);
        if setrlimit(Resource::Nofile, limit).is_err() {
            limit = getrlimit(Resource::Nofile);
        }
    }
    let Some(files) = limit.current else { return wanted };
    // Each agent connection may pair with one upstream connection.
    let fits = usize::try_from(files.saturating_sub(128) / 2).unwrap_or(usize::MAX).max(16);
    if wanted > fits {
        tracing::warn!(
            "server.max_connections {wanted} does not fit the open-file limit {files}: using {fits} \
             (raise LimitNOFILE / ulimit -n to allow more)"
        );
        return fits;
    }
    wanted
}
