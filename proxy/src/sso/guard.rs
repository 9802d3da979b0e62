//! Who the browser is (client IP, the backoff key) and the per-client backoff
//! every abusable step sits behind: login start, callback, confirmation.

use super::error::SignInError;
use super::state::SsoState;
use crate::authz::backoff;
use crate::client_ip;
use crate::store::Store;
use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The browser's address as far as the proxy can tell, and the key it is counted by.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    /// The IPv4 address or IPv6 /64 ([`client_ip::rate_key`]).
    pub key: String,
    /// The IPv4 /24 or IPv6 /48 ([`client_ip::network_key`]).
    pub network: String,
}

impl Client {
    pub fn of(state: &SsoState, peer: SocketAddr, headers: &HeaderMap) -> Client {
        let ip = client_ip::client_ip(peer.ip(), headers, &state.config.server.trusted_proxies);
        Client { key: client_ip::rate_key(ip), network: client_ip::network_key(ip), ip }
    }
}

/// 429 with `Retry-After` while the client is in backoff.
pub async fn blocked(state: &SsoState, client: &Client) -> Result<(), SignInError> {
    let record = state.store.rate_limit(client.key.clone()).await?;
    match backoff::wait_left(record.as_ref(), state.clock.now()) {
        None => Ok(()),
        Some(seconds) => Err(SignInError::Backoff { seconds }),
    }
}

/// Counts a failure and sets the next block, in one transaction.
pub async fn fail(state: &SsoState, client: &Client) {
    let (key, now, limits) = (client.key.clone(), state.clock.now(), state.config.sso.authorization.rate_limit.clone());
    let result = state.store.record_failure(key, now, Arc::new(move |n| backoff::delay_after(n, &limits))).await;
    if let Err(e) = result {
        tracing::error!("cannot record a failed attempt: {e}");
    }
}

/// A success ends the client's backoff.
pub async fn succeed(state: &SsoState, client: &Client) {
    let key = client.key.clone();
    if let Err(e) = state.store.clear_rate_limit(key).await {
        tracing::error!("cannot reset the backoff: {e}");
    }
}
