//! The end of a sign-in: the enterprise authorization API's decision (enterprise
//! mode), then what the sign-in was for ([`Outcome`]): a new agent token, the
//! renewal of the token being re-authenticated, which only its owner can renew
//! (one conditional update), or the approval of a terminal's request.

use super::SsoState;
use super::guard::{self, Client};
use super::providers::Identity;
use crate::authz::enterprise;
use crate::clock::to_sqlite;
use crate::logging::outside;
use crate::store::{NewToken, Pending};
use crate::tokens;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use std::time::Duration;

/// What a sign-in is for, carried from its start to its end on the pending rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new agent token, shown on the page.
    NewToken,
    /// Re-authenticate the token with this hash (only its owner can).
    Renew(String),
    /// Approve the terminal request with this id; the terminal collects its token.
    Device(String),
}

impl Outcome {
    /// The outcome a pending row carries.
    pub fn of(p: &Pending) -> Outcome {
        match (&p.device_id, &p.renew_token_hash) {
            (Some(device), _) => Outcome::Device(device.clone()),
            (None, Some(hash)) => Outcome::Renew(hash.clone()),
            (None, None) => Outcome::NewToken,
        }
    }

    /// Writes the outcome on the next pending row of the sign-in.
    pub fn carry(&self, p: &mut Pending) {
        match self {
            Outcome::NewToken => {}
            Outcome::Renew(hash) => p.renew_token_hash = Some(hash.clone()),
            Outcome::Device(id) => p.device_id = Some(id.clone()),
        }
    }
}

/// Enterprise mode: only an explicit `authorized: true` from the API grants access.
pub async fn ask_enterprise(state: &SsoState, identity: Identity, outcome: Outcome, client: Client) -> Response {
    let a = &state.config.sso.authorization;
    let Some(url) = a.api_url.as_deref() else {
        return state.pages.error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Authorization not configured",
            "Contact your administrator.",
            None,
            false,
        );
    };
    let now = state.clock.now();
    let ip = client.ip.to_string();
    let request = enterprise::Request {
        user_id: &identity.user_id,
        user_email: &identity.email,
        provider: &identity.provider,
        client_ip: &ip,
        timestamp: crate::clock::rfc3339(now),
    };
    let timeout = Duration::from_secs(u64::from(a.api_timeout_seconds));
    let user = outside(&identity.email);
    match enterprise::authorize(&state.http, url, a.api_secret.as_ref(), timeout, &request).await {
        enterprise::Decision::Allowed => {
            tracing::info!(user = %user, "authorization API allowed access");
            grant(state, identity, outcome, &client).await
        }
        enterprise::Decision::Denied(reason) => {
            guard::fail(state, &client).await;
            super::device::refuse_after_denial(state, &outcome).await;
            let reason = reason.unwrap_or_else(|| "no reason given".into());
            tracing::warn!(user = %user, "Access denied by the authorization API: {}", outside(&reason));
            state.pages.error(
                StatusCode::FORBIDDEN,
                "Access denied",
                &format!("Access denied: {reason}"),
                Some("If you should have access, contact your administrator and mention this message."),
                false,
            )
        }
        enterprise::Decision::Failed(failure) => {
            tracing::error!(user = %user, "{}", outside(&failure.to_string()));
            state.pages.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Access denied",
                "The authorization service could not be reached or answered wrongly, so access was denied.",
                Some("Contact your administrator: the proxy's log names the problem."),
                true,
            )
        }
    }
}

/// Authorized: issue a new token, renew the one being re-authenticated (owner
/// only), or approve the terminal's request.
pub async fn grant(state: &SsoState, identity: Identity, outcome: Outcome, client: &Client) -> Response {
    guard::succeed(state, client).await;
    let now = state.clock.now();
    let expires_at = now + i64::from(state.config.sso.authorization.session_lifetime_hours) * 3600;
    let hash = match outcome {
        Outcome::NewToken => None,
        Outcome::Renew(hash) => Some(hash),
        Outcome::Device(id) => return super::device::approve(state, identity, id, now, expires_at).await,
    };
    if let Some(hash) = hash {
        return renew_token(state, identity, hash, now, expires_at).await;
    }
    let token = match issue(state, &identity, now, expires_at).await {
        Ok(token) => token,
        Err(e) => return state.store_error(&e),
    };
    let base = state.config.base_url();
    state.pages.render(
        StatusCode::OK,
        "success.html",
        context! {
            email => identity.email, provider => identity.provider, token,
            openai_base => format!("{base}/v1"), anthropic_base => base,
            lifetime_hours => state.config.sso.authorization.session_lifetime_hours,
        },
    )
}

/// A new agent token for `identity`, stored as its hash; the token itself goes only to the caller.
pub async fn issue(
    state: &SsoState,
    identity: &Identity,
    now: i64,
    expires_at: i64,
) -> Result<String, crate::store::StoreError> {
    let token = tokens::generate();
    let new = NewToken {
        token_hash: tokens::hash(&token),
        user_id: identity.user_id.clone(),
        user_email: identity.email.clone(),
        provider: identity.provider.clone(),
        now,
        expires_at,
    };
    let id = state.store.insert_token(new).await?;
    tracing::info!(user = %outside(&identity.email), token_id = id, "agent token issued");
    Ok(token)
}

async fn renew_token(state: &SsoState, identity: Identity, hash: String, now: i64, expires_at: i64) -> Response {
    let (h, owner) = (hash.clone(), identity.user_id.clone());
    let renewed = state.store.renew_token(h, owner, now, expires_at).await;
    let user = outside(&identity.email);
    match renewed {
        Ok(true) => {
            tracing::info!(user = %user, "session renewed");
            return state.pages.render(
                StatusCode::OK,
                "renewed.html",
                context! { email => identity.email, expires_at => to_sqlite(expires_at) },
            );
        }
        Ok(false) => {}
        Err(e) => return state.store_error(&e),
    }
    not_renewed(state, &identity, hash).await
}

/// The page for a renewal that did not happen: someone else's token, or none.
pub async fn not_renewed(state: &SsoState, identity: &Identity, hash: String) -> Response {
    let user = outside(&identity.email);
    match state.store.find_token(hash).await {
        Ok(Some(r)) if r.is_active => {
            tracing::warn!(user = %user, token_id = r.id, "re-authentication by someone who does not own the token");
            state.pages.error(
                StatusCode::FORBIDDEN,
                "Not your token",
                "This re-authentication link belongs to another account. Sign in with the account the agent's token \
                 was issued to.",
                None,
                true,
            )
        }
        Ok(_) => state.pages.error(
            StatusCode::NOT_FOUND,
            "Token not found",
            "That token was revoked or does not exist. Sign in to get a new one.",
            None,
            true,
        ),
        Err(e) => state.store_error(&e),
    }
}
