//! The accept loop. Written by hand (rather than `axum::serve`) for one fault
//! mode: "refuse connections" really closes the listening socket, so clients
//! get ECONNREFUSED as from a provider that is down, and open keep-alive
//! connections are closed too; when the window ends the same port is bound again.

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `router` until `shutdown` turns true; closes the socket while `refusing` is true.
pub async fn serve(
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
        let for_connections = refusing.clone();
        tokio::select! {
            accepted = active.accept() => match accepted {
                Ok((stream, _peer)) => spawn_connection(stream, router.clone(), for_connections),
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
    tokio::spawn(async move {
        let service = TowerToHyperService::new(router);
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

/// Binds `addr` again after a refuse window; retries briefly if the port is still held.
async fn rebind(addr: SocketAddr, shutdown: &mut watch::Receiver<bool>) -> Option<TcpListener> {
    for _ in 0..100 {
        match TcpListener::bind(addr).await {
            Ok(l) => return Some(l),
            Err(e) => tracing::warn!("rebinding {addr} failed: {e}; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = until(shutdown, true) => return None,
        }
    }
    tracing::error!("could not bind {addr} again; the mock stays down");
    None
}

/// Resolves when the flag equals `want` (or its sender is gone).
async fn until(flag: &mut watch::Receiver<bool>, want: bool) {
    let _ = flag.wait_for(|v| *v == want).await;
}
