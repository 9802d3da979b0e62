//! The accept loop. Written by hand (rather than `axum::serve`) for the
//! connection-level faults real servers show:
//! - "refuse connections" really closes the listening socket, so clients get
//!   ECONNREFUSED as from a service that is down, and open keep-alive
//!   connections are closed too; when the window ends the same port is bound again;
//! - a handler can ask for its connection to be closed without any response
//!   (return a response carrying the [`DropConnection`] extension).

use axum::Router;
use axum::response::Response;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// Binds `host:port` (port 0 picks a free one).
pub async fn bind(host: &str, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind((host, port)).await
}

/// Marker extension: a response carrying it is never sent; its connection is closed instead.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

impl DropConnection {
    /// A response that makes the server hang up without answering.
    pub fn response() -> Response {
        let mut response = Response::new(axum::body::Body::empty());
        response.extensions_mut().insert(DropConnection);
        response
    }
}

#[derive(Debug)]
struct DroppedOnPurpose;

impl std::fmt::Display for DroppedOnPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose (fault injection)")
    }
}

impl std::error::Error for DroppedOnPurpose {}

/// Switches shared between the accept loop and a mock's control API.
#[derive(Clone)]
pub struct ConnectionControls {
    refusing: Arc<watch::Sender<bool>>,
}

impl Default for ConnectionControls {
    fn default() -> Self {
        ConnectionControls { refusing: Arc::new(watch::channel(false).0) }
    }
}

impl ConnectionControls {
    pub fn new() -> Self {
        Self::default()
    }

    /// Closes the listening socket and open connections (`true`) or listens again (`false`).
    pub fn refuse_connections(&self, refuse: bool) {
        self.refusing.send_replace(refuse);
    }

    /// Refuses for `window`, starting after `lead` (so a control reply can still be delivered).
    pub fn refuse_for(&self, lead: Duration, window: Duration) {
        let controls = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(lead).await;
            controls.refuse_connections(true);
            tokio::time::sleep(window).await;
            controls.refuse_connections(false);
        });
    }
}

/// A running server. Dropping it stops accepting.
pub struct Server {
    addr: SocketAddr,
    controls: ConnectionControls,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Serves `router` on `listener` in a background task.
    pub fn start(listener: TcpListener, router: Router, controls: ConnectionControls) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, router, controls.refusing.subscribe(), shutdown_rx));
        Ok(Server { addr, controls, shutdown, task: Some(task) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn controls(&self) -> &ConnectionControls {
        &self.controls
    }

    /// Stops accepting and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

async fn serve(
    listener: TcpListener,
    router: Router,
    mut refusing: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("listener has no address: {e}");
            return;
        }
    };
    let mut listener = Some(listener);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let Some(active) = listener.as_ref() else {
            // Refusing: wait for the window to end (or shutdown), then listen again.
            tokio::select! {
                _ = until(&mut refusing, false) => {}
                _ = until(&mut shutdown, true) => return,
            }
            listener = rebind(addr, &mut shutdown).await;
            continue;
        };
        let for_connection = refusing.clone();
        tokio::select! {
            accepted = active.accept() => match accepted {
                Ok((stream, _peer)) => spawn_connection(stream, router.clone(), for_connection),
                // Out of file descriptors and the like: back off instead of spinning.
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = until(&mut refusing, true) => listener = None,
            _ = until(&mut shutdown, true) => return,
        }
    }
}

fn spawn_connection(stream: tokio::net::TcpStream, router: Router, mut refusing: watch::Receiver<bool>) {
    // Mocks answer small requests; Nagle would only add latency to streamed chunks.
    let _ = stream.set_nodelay(true);
    tokio::spawn(async move {
        let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let router = router.clone();
            async move {
                let response = match router.oneshot(request).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
                // An error from the service makes hyper close the connection without answering.
                if response.extensions().get::<DropConnection>().is_some() {
                    return Err(DroppedOnPurpose);
                }
                Ok(response)
            }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .serve_connection(TokioIo::new(stream), service);
        tokio::select! {
            result = connection => {
                if let Err(e) = result {
                    tracing::debug!("connection ended: {e}");
                }
            }
            // Dropping the connection future closes the socket.
            _ = until(&mut refusing, true) => {}
        }
    });
}

/// Binds `addr` again after a refuse window; retries while the port is still held.
async fn rebind(addr: SocketAddr, shutdown: &mut watch::Receiver<bool>) -> Option<TcpListener> {
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return Some(l),
            Err(e) => tracing::warn!("rebinding {addr} failed: {e}; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = until(shutdown, true) => return None,
        }
    }
}

/// Resolves when the flag equals `want` (or its sender is gone).
async fn until(flag: &mut watch::Receiver<bool>, want: bool) {
    let _ = flag.wait_for(|v| *v == want).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    async fn start() -> Server {
        let router = Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route("/drop", get(|| async { DropConnection::response() }));
        Server::start(bind("127.0.0.1", 0).await.unwrap(), router, ConnectionControls::new()).unwrap()
    }

    #[tokio::test]
    async fn drop_connection_closes_without_a_response() {
        let server = start().await;
        let client = reqwest::Client::new();
        let base = format!("http://{}", server.addr());
        assert_eq!(client.get(format!("{base}/ok")).send().await.unwrap().text().await.unwrap(), "ok");
        let err = client.get(format!("{base}/drop")).send().await.unwrap_err();
        assert!(!err.is_timeout() && err.status().is_none(), "no HTTP response at all: {err:?}");
        assert_eq!(client.get(format!("{base}/ok")).send().await.unwrap().status(), 200);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn refusing_closes_the_port_and_listening_resumes() {
        let server = start().await;
        server.controls().refuse_connections(true);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(tokio::net::TcpStream::connect(server.addr()).await.is_err());
        server.controls().refuse_connections(false);
        let mut back = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(server.addr()).await.is_ok() {
                back = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(back);
    }
}
