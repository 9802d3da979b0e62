//! The one place that decides whether an agent request is authenticated. A
//! tower middleware: it buffers the (bounded) body, reaches a [`Verdict`], and
//! either answers with a sandbox reply or passes the request on with the
//! verdict attached. Handlers never look at credentials themselves.
//!
//! Every invalid credential costs the same: one hash and one indexed lookup,
//! also for a missing or malformed one, so timing tells nothing. Nothing is
//! written to the database for unauthenticated traffic.

use super::access::{self, Access};
use super::credentials;
use super::errors;
use super::routes::{self, Route};
use super::sandbox::{self, Reason};
use super::shape::{Shape, ShapeScanner};
use super::state::AgentState;
use crate::clock::from_sqlite;
use crate::config::AuthMode;
use crate::store::{Store, TokenRecord};
use crate::tokens;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// What the auth layer decided.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// SSO is disabled (loopback only): requests pass unauthenticated.
    Open,
    /// A live token; in `policy` mode, with the models its allow rule names (`None`: any).
    Authenticated {
        record: TokenRecord,
        models: Option<Arc<[String]>>,
    },
    Sandbox(Reason),
    /// The token store could not answer: fail closed with a clear error.
    Unavailable(String),
}

/// Decides from the presented credential alone (the body is not read yet). `now` is Unix seconds.
pub async fn decide(state: &AgentState, credential: Option<&str>, now: i64) -> Verdict {
    let Some(store) = &state.store else {
        return Verdict::Open;
    };
    let format = credential.map(tokens::check_format);
    // Same work for every credential: hash something and look it up.
    let hash = tokens::hash(credential.unwrap_or(""));
    let found = match store.find_token(hash).await {
        Ok(found) => found,
        Err(e) => return Verdict::Unavailable(e.to_string()),
    };
    match (format, found) {
        (None, _) => Verdict::Sandbox(Reason::NoValidToken),
        (Some(Err(problem)), _) => Verdict::Sandbox(Reason::Malformed(problem)),
        (Some(Ok(())), None) => Verdict::Sandbox(Reason::NoValidToken),
        (Some(Ok(())), Some(record)) if !record.is_active => Verdict::Sandbox(Reason::NoValidToken),
        (Some(Ok(())), Some(record)) => {
            let expires = record.auth_expires_at.as_deref().and_then(from_sqlite);
            // Fail closed: not authenticated, no expiry, or an expiry that cannot be read.
            let live = record.is_authenticated && expires.is_some_and(|t| t > now);
            if !live {
                let reauth_url = state.links.reauth_url(&record.token_hash);
                return Verdict::Sandbox(Reason::Expired { reauth_url });
            }
            if state.config.sso.authorization.mode != AuthMode::Policy {
                return Verdict::Authenticated { record, models: None };
            }
            match access::check(&state.config.sso.authorization.policy, &record, &state.email_files) {
                Access::Any => Verdict::Authenticated { record, models: None },
                Access::Models(models) => Verdict::Authenticated { record, models: Some(models) },
                Access::Refused(reason) => Verdict::Sandbox(Reason::Refused(reason)),
            }
        }
    }
}

/// Why a body could not be read.
enum BodyError {
    TooLarge,
    TooSlow,
    Broken,
}

/// How long a client without a valid token may take to send its body.
const SANDBOX_BODY_DEADLINE: Duration = Duration::from_secs(30);

/// Reads a body to its end, keeping only its [`Shape`], within `limit` bytes and the deadline.
async fn scan(body: Body, limit: usize) -> Result<Shape, BodyError> {
    let deadline = tokio::time::Instant::now() + SANDBOX_BODY_DEADLINE;
    let mut stream = body.into_data_stream();
    let (mut scanner, mut seen) = (ShapeScanner::new(), 0usize);
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => return Err(BodyError::TooSlow),
            Ok(None) => return Ok(scanner.finish()),
            Ok(Some(Err(_))) => return Err(BodyError::Broken),
            Ok(Some(Ok(chunk))) => {
                seen = seen.saturating_add(chunk.len());
                if seen > limit {
                    return Err(BodyError::TooLarge);
                }
                scanner.feed(&chunk);
            }
        }
    }
}

fn body_error(state: &AgentState, route: Route, e: BodyError) -> Response {
    let limit = state.config.server.max_body_bytes;
    match e {
        BodyError::TooLarge => {
            state.metrics.request(route.label(), "too_large");
            let message = format!("Request body larger than {limit} bytes (server.max_body_bytes).");
            errors::response(route.api(), 413, &message)
        }
        BodyError::TooSlow => {
            state.metrics.request(route.label(), "body_timeout");
            errors::response(route.api(), 408, "The request body was not sent in time.")
        }
        BodyError::Broken => {
            state.metrics.request(route.label(), "body_error");
            errors::response(route.api(), 400, "The request body could not be read.")
        }
    }
}

/// The middleware around every `/v1/*` route. The credential is judged before
/// the body is read: without a valid token the body is only scanned as it
/// passes (never buffered); with one it is buffered up to `server.max_body_bytes`.
pub async fn layer(State(state): State<Arc<AgentState>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let Some(route) = routes::classify(&path) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let limit = state.config.server.max_body_bytes;
    let credential = credentials::presented(&parts.headers);
    let verdict = decide(&state, credential.as_deref(), state.clock.now()).await;
    match &verdict {
        Verdict::Sandbox(reason) => {
            let shape = match scan(body, limit).await {
                Ok(shape) => shape,
                Err(e) => return body_error(&state, route, e),
            };
            return sandbox(&state, route, reason, &shape);
        }
        Verdict::Unavailable(e) => {
            tracing::error!(route = route.label(), "token store unavailable: {e}");
            state.metrics.request(route.label(), "store_unavailable");
            // The driver's text stays in the log: it names hosts, ports and files the client has no business with.
            let message = "The proxy's token store is unavailable; try again shortly.";
            return errors::response(route.api(), 503, message);
        }
        Verdict::Authenticated { record, .. } => {
            tracing::debug!(user = %record.user_email, token_id = record.id, "authenticated");
        }
        Verdict::Open => {}
    }
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return body_error(&state, route, BodyError::TooLarge);
    };
    if let Verdict::Authenticated { models, .. } = &verdict {
        if sandbox::contains_marker(&bytes) {
            return sandbox(&state, route, &Reason::History, &Shape::of(&bytes));
        }
        if let Some(message) = models.as_deref().and_then(|m| access::model_refusal(m, &bytes)) {
            state.metrics.request(route.label(), "model_refused");
            return errors::response(route.api(), 403, &message);
        }
    }
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(verdict);
    next.run(request).await
}

fn sandbox(state: &AgentState, route: Route, reason: &Reason, shape: &Shape) -> Response {
    // DEBUG, not INFO: an anonymous client must not be able to flood the log (the metrics count every reply).
    tracing::debug!(route = route.label(), reason = reason.label(), "authentication failed: sandbox reply");
    state.metrics.request(route.label(), "sandbox");
    state.metrics.sandbox(reason.label());
    let text = sandbox::message(reason, &state.links.login_url());
    let created = u64::try_from(state.clock.now()).unwrap_or_default();
    let reply = sandbox::reply(route, shape, &text, created);
    let status = axum::http::StatusCode::from_u16(reply.status).unwrap_or(axum::http::StatusCode::UNAUTHORIZED);
    let mut response = (status, reply.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
