//! The control plane every mock shares, under `/__control`: the journal of
//! what it received, refusing connections for a while, its fault switches and
//! its clock. A mock implements the traits for what it has and merges the
//! routes; what is its own (users, keys, policy, stream settings) it adds itself.

use crate::{ConnectionControls, Journal};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Longest a refuse-connections window may last through the HTTP API.
pub const MAX_REFUSE_MS: u64 = 600_000;
/// Ten years either way: enough to expire anything, far from overflow.
pub const MAX_CLOCK_OFFSET_SECONDS: i64 = 10 * 365 * 86_400;

/// An error of the control API: `{"error": code, "error_description": ...}`.
pub fn error(status: StatusCode, code: &str, description: &str) -> Response {
    (status, Json(json!({"error": code, "error_description": description}))).into_response()
}

/// Every mock: a journal and its connections.
pub trait Controlled: Send + Sync + 'static {
    type Entry: Serialize + Clone + Send + 'static;
    fn journal(&self) -> &Journal<Self::Entry>;
    fn connections(&self) -> &ConnectionControls;
}

/// `GET`/`DELETE /journal` and `POST /refuse {"for_ms"}`.
pub fn routes<A: Controlled>() -> Router<Arc<A>> {
    Router::new().route("/journal", get(journal::<A>).delete(clear_journal::<A>)).route("/refuse", post(refuse::<A>))
}

async fn journal<A: Controlled>(State(app): State<Arc<A>>) -> Json<Vec<A::Entry>> {
    Json(app.journal().entries())
}

async fn clear_journal<A: Controlled>(State(app): State<Arc<A>>) -> StatusCode {
    app.journal().clear();
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Refuse {
    for_ms: u64,
}

/// Stops listening for `for_ms`. It starts 50 ms after this reply, so the reply
/// itself is delivered; the connection it came on is closed with the others.
async fn refuse<A: Controlled>(State(app): State<Arc<A>>, Json(req): Json<Refuse>) -> Response {
    if req.for_ms == 0 || req.for_ms > MAX_REFUSE_MS {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "for_ms must be 1..=600000");
    }
    app.connections().refuse_for(Duration::from_millis(50), Duration::from_millis(req.for_ms));
    StatusCode::ACCEPTED.into_response()
}

/// A mock with one set of fault switches.
pub trait Faulty: Send + Sync + 'static {
    type Faults: Serialize + DeserializeOwned + Default + Send + 'static;
    fn faults(&self) -> Self::Faults;
    /// Checks and applies; `Err` leaves the current faults in place.
    fn set_faults(&self, faults: Self::Faults) -> Result<(), String>;
}

/// `GET`/`PUT`/`DELETE /faults`.
pub fn fault_routes<A: Faulty>() -> Router<Arc<A>> {
    Router::new().route("/faults", get(faults::<A>).put(set_faults::<A>).delete(clear_faults::<A>))
}

async fn faults<A: Faulty>(State(app): State<Arc<A>>) -> Json<A::Faults> {
    Json(app.faults())
}

async fn set_faults<A: Faulty>(State(app): State<Arc<A>>, Json(faults): Json<A::Faults>) -> Response {
    match app.set_faults(faults) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, "invalid_request", &e),
    }
}

async fn clear_faults<A: Faulty>(State(app): State<Arc<A>>) -> StatusCode {
    let _ = app.set_faults(A::Faults::default());
    StatusCode::NO_CONTENT
}

/// A mock whose clock can be moved (token expiry, time windows).
pub trait Clocked: Send + Sync + 'static {
    fn clock_offset(&self) -> i64;
    fn set_clock_offset(&self, seconds: i64);
    /// Seconds since the epoch, offset applied.
    fn now(&self) -> i64;
}

/// `GET /clock` (offset and now) and `POST /clock {"offset_seconds"}`.
pub fn clock_routes<A: Clocked>() -> Router<Arc<A>> {
    Router::new().route("/clock", get(clock::<A>).post(set_clock::<A>))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Clock {
    offset_seconds: i64,
}

async fn clock<A: Clocked>(State(app): State<Arc<A>>) -> Response {
    Json(json!({ "offset_seconds": app.clock_offset(), "now": app.now() })).into_response()
}

async fn set_clock<A: Clocked>(State(app): State<Arc<A>>, Json(req): Json<Clock>) -> Response {
    if req.offset_seconds.abs() > MAX_CLOCK_OFFSET_SECONDS {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "offset_seconds out of range");
    }
    app.set_clock_offset(req.offset_seconds);
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicI64, Ordering};

    /// A mock with nothing of its own: only the shared control plane.
    struct Toy {
        journal: Journal<u32>,
        connections: ConnectionControls,
        faults: Mutex<Vec<u32>>,
        offset: AtomicI64,
    }

    impl Controlled for Toy {
        type Entry = u32;
        fn journal(&self) -> &Journal<u32> {
            &self.journal
        }
        fn connections(&self) -> &ConnectionControls {
            &self.connections
        }
    }

    impl Faulty for Toy {
        type Faults = Vec<u32>;
        fn faults(&self) -> Vec<u32> {
            self.faults.lock().map(|f| f.clone()).unwrap_or_default()
        }
        fn set_faults(&self, faults: Vec<u32>) -> Result<(), String> {
            if faults.contains(&0) {
                return Err("0 is not a fault".into());
            }
            *self.faults.lock().map_err(|e| e.to_string())? = faults;
            Ok(())
        }
    }

    impl Clocked for Toy {
        fn clock_offset(&self) -> i64 {
            self.offset.load(Ordering::Relaxed)
        }
        fn set_clock_offset(&self, seconds: i64) {
            self.offset.store(seconds, Ordering::Relaxed);
        }
        fn now(&self) -> i64 {
            1_000 + self.clock_offset()
        }
    }

    #[tokio::test]
    async fn the_shared_routes_read_check_and_change_the_mock() {
        let connections = ConnectionControls::new();
        let toy = Arc::new(Toy {
            journal: Journal::new(10),
            connections: connections.clone(),
            faults: Mutex::new(Vec::new()),
            offset: AtomicI64::new(0),
        });
        toy.journal.record(7);
        let router = Router::new()
            .nest("/__control", routes::<Toy>().merge(fault_routes::<Toy>()).merge(clock_routes::<Toy>()))
            .with_state(toy.clone());
        let listener = crate::bind("127.0.0.1", 0).await.unwrap();
        let server = crate::Server::start(listener, router, connections).unwrap();
        let base = format!("http://{}/__control", server.addr());
        let http = reqwest::Client::new();

        let journal: Vec<u32> = http.get(format!("{base}/journal")).send().await.unwrap().json().await.unwrap();
        assert_eq!(journal, [7]);
        assert_eq!(http.delete(format!("{base}/journal")).send().await.unwrap().status(), 204);
        assert!(toy.journal.entries().is_empty());

        let put = |body: serde_json::Value| http.put(format!("{base}/faults")).json(&body).send();
        assert_eq!(put(json!([3, 4])).await.unwrap().status(), 204);
        let refused = put(json!([0])).await.unwrap();
        assert_eq!(refused.status(), 400);
        assert_eq!(toy.faults(), [3, 4], "a refused change keeps the faults in place");
        assert_eq!(http.delete(format!("{base}/faults")).send().await.unwrap().status(), 204);
        assert!(toy.faults().is_empty());

        let clock = |offset: i64| http.post(format!("{base}/clock")).json(&json!({"offset_seconds": offset})).send();
        assert_eq!(clock(60).await.unwrap().status(), 204);
        assert_eq!(clock(MAX_CLOCK_OFFSET_SECONDS + 1).await.unwrap().status(), 400);
        let now: serde_json::Value = http.get(format!("{base}/clock")).send().await.unwrap().json().await.unwrap();
        assert_eq!(now, json!({"offset_seconds": 60, "now": 1060}));

        let refuse = |ms: u64| http.post(format!("{base}/refuse")).json(&json!({"for_ms": ms})).send();
        assert_eq!(refuse(0).await.unwrap().status(), 400);
        assert_eq!(refuse(MAX_REFUSE_MS + 1).await.unwrap().status(), 400);
        server.shutdown().await;
    }
}
