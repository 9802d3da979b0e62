//! What a sign-in carries from its start to its end: what it is for
//! ([`Outcome`]), how long each step may take, and its admission under the
//! caps on sign-ins in progress ([`admit`]), one store statement that a
//! browser's and a terminal's sign-in share.

use super::error::SignInError;
use super::guard::Client;
use super::state::SsoState;
use crate::store::{Admission, Pending, PendingCaps, Store, StoreError};

/// How long a started sign-in may take at the IdP.
pub const FLOW_TTL_SECONDS: i64 = 600;

/// What a sign-in is for (a new token, a renewal, a terminal's request), carried on its rows.
pub use crate::store::Outcome;

/// When an agent token issued or renewed `now` expires (`sso.authorization.session_lifetime_hours`).
pub fn token_expiry(state: &SsoState, now: i64) -> i64 {
    now + token_lifetime_seconds(state)
}

pub fn token_lifetime_seconds(state: &SsoState) -> i64 {
    i64::from(state.config.sso.authorization.session_lifetime_hours) * 3600
}

/// A SHA-256 in hex (a token hash, a device request id); anything else is ignored.
pub fn valid_hash(value: Option<String>) -> Option<String> {
    value.filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Why a sign-in step was not stored. The metric and the log line are written already; the caller
/// only chooses the answer's shape (a page, or JSON for a terminal).
pub enum Refused {
    /// This client has too many sign-ins in progress.
    ClientCap,
    /// This client's network (IPv4 /24, IPv6 /48) has.
    NetworkCap,
    /// The whole store has: many clients start sign-ins without finishing them.
    TotalCap,
    Store(StoreError),
}

impl From<Refused> for SignInError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::ClientCap | Refused::NetworkCap => SignInError::TooManySignIns,
            Refused::TotalCap => SignInError::SignInsFull,
            Refused::Store(e) => e.into(),
        }
    }
}

/// Stores a sign-in step (a browser's or a terminal's) under the caps: one decision, one place. `caps` is
/// [`PendingCaps::anonymous`] unless the client has proven an identity.
pub async fn admit(
    state: &SsoState,
    pending: Pending,
    client: &Client,
    caps: PendingCaps,
    now: i64,
) -> Result<(), Refused> {
    match state.store.insert_pending(pending, client.network.clone(), now, caps).await {
        Ok(Admission::Stored) => Ok(()),
        Ok(Admission::ClientCapReached) => {
            state.metrics.event("pending_cap_client");
            tracing::debug!(client = %client.key, "too many sign-ins in progress from one client");
            Err(Refused::ClientCap)
        }
        Ok(Admission::NetworkCapReached) => {
            state.metrics.event("pending_cap_network");
            tracing::warn!(network = %client.network, "too many sign-ins in progress from one network");
            Err(Refused::NetworkCap)
        }
        Ok(Admission::TotalCapReached) => {
            state.metrics.event("pending_cap_total");
            tracing::error!(
                "{} sign-ins in progress: the global cap is reached and new anonymous sign-ins are refused until \
                 some expire (many networks are starting sign-ins without finishing them)",
                caps.total
            );
            Err(Refused::TotalCap)
        }
        Err(e) => Err(Refused::Store(e)),
    }
}
