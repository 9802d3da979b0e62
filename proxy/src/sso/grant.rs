//! The end of an authorized sign-in, whatever it was for ([`Outcome`]): a new
//! agent token, the renewal of the token being re-authenticated (only its
//! owner can, one conditional update), or the approval of a terminal's request
//! (which the terminal's next poll collects); and the refusal of a terminal's
//! request when authorization said no.

use super::error::SignInError;
use super::flow::{self, Outcome};
use super::guard::{self, Client};
use super::pages;
use super::providers::Identity;
use super::state::SsoState;
use crate::clock::to_sqlite;
use crate::logging::outside;
use crate::store::{Approver, DeviceDecision, DeviceRequest, DeviceStatus, NewToken, Store, StoreError};
use crate::tokens;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

/// Authorized: issue a new token, renew the one being re-authenticated (owner
/// only), or approve the terminal's request.
pub async fn grant(
    state: &SsoState,
    identity: Identity,
    outcome: Outcome,
    client: &Client,
) -> Result<Response, SignInError> {
    guard::succeed(state, client).await;
    let now = state.clock.now();
    let expires_at = flow::token_expiry(state, now);
    match outcome {
        Outcome::Device(id) => approve(state, identity, id, now, expires_at).await,
        Outcome::Renew(hash) => {
            renew(state, &identity, hash, now, expires_at).await?;
            tracing::info!(user = %outside(&identity.email), "session renewed");
            Ok(pages::render(
                StatusCode::OK,
                "renewed.html",
                context! { email => identity.email, expires_at => to_sqlite(expires_at) },
            ))
        }
        Outcome::NewToken => {
            let token = issue(state, &identity, now, expires_at).await?;
            let base = state.config.base_url();
            Ok(pages::render(
                StatusCode::OK,
                "success.html",
                context! {
                    email => identity.email, provider => identity.provider, token,
                    openai_base => format!("{base}/v1"), anthropic_base => base,
                    lifetime_hours => state.config.sso.authorization.session_lifetime_hours,
                },
            ))
        }
    }
}

/// A new agent token for `identity`, stored as its hash; the token itself goes only to the caller.
pub async fn issue(state: &SsoState, identity: &Identity, now: i64, expires_at: i64) -> Result<String, StoreError> {
    let token = tokens::generate();
    let new = NewToken {
        token_hash: tokens::hash(&token),
        user_id: identity.user_id.clone(),
        user_email: identity.email.clone(),
        provider: identity.provider.clone(),
        claims: Some(identity.claims.to_stored()),
        now,
        expires_at,
    };
    let id = state.store.insert_token(new).await?;
    tracing::info!(user = %outside(&identity.email), token_id = id, "agent token issued");
    Ok(token)
}

/// Renews the token with `hash` if `identity` owns it (one conditional update); otherwise says why not.
async fn renew(
    state: &SsoState,
    identity: &Identity,
    hash: String,
    now: i64,
    expires_at: i64,
) -> Result<(), SignInError> {
    if state
        .store
        .renew_token(hash.clone(), identity.user_id.clone(), Some(identity.claims.to_stored()), now, expires_at)
        .await?
    {
        return Ok(());
    }
    match state.store.find_token(hash).await? {
        Some(r) if r.is_active => {
            tracing::warn!(
                user = %outside(&identity.email), token_id = r.id,
                "re-authentication by someone who does not own the token"
            );
            Err(SignInError::NotYourToken)
        }
        _ => Err(SignInError::TokenNotFound),
    }
}

/// The end of the browser's sign-in for a terminal: renew its token (owner only) or
/// approve it; the terminal's next poll collects the answer.
async fn approve(
    state: &SsoState,
    identity: Identity,
    id: String,
    now: i64,
    expires_at: i64,
) -> Result<Response, SignInError> {
    let request = match state.store.get_pending::<DeviceRequest>(id.clone()).await? {
        Some(p) if p.status == DeviceStatus::Pending && p.expires_at > now => p,
        _ => return Err(SignInError::TerminalGone),
    };
    if let Some(hash) = request.renew_token_hash {
        if let Err(e) = renew(state, &identity, hash, now, expires_at).await {
            deny_terminal(state, id).await;
            return Err(e);
        }
        tracing::info!(user = %outside(&identity.email), "session renewed (terminal sign-in)");
    }
    let decision = DeviceDecision::Approve(Approver {
        user_id: identity.user_id.clone(),
        user_email: identity.email.clone(),
        provider: identity.provider.clone(),
        claims: Some(identity.claims.to_stored()),
    });
    if !state.store.decide_device(id, decision, now).await? {
        return Err(SignInError::TerminalGone);
    }
    let asked_from = request.rate_key;
    tracing::info!(user = %outside(&identity.email), client = %asked_from, "terminal sign-in approved");
    let message = format!(
        "Signed in as {}. Return to your terminal: it receives its token within a few seconds.",
        identity.email
    );
    Ok(terminal_done("Terminal signed in", &message))
}

/// After authorization said no: a terminal waiting on this sign-in hears `access_denied` too.
pub async fn refuse(state: &SsoState, outcome: &Outcome) {
    if let Outcome::Device(id) = outcome {
        deny_terminal(state, id.clone()).await;
    }
}

async fn deny_terminal(state: &SsoState, id: String) {
    if let Err(e) = state.store.decide_device(id, DeviceDecision::Deny, state.clock.now()).await {
        tracing::error!("cannot record a refused terminal sign-in: {e}");
    }
}

/// The page that ends a browser's part in a terminal's sign-in.
pub fn terminal_done(title: &str, message: &str) -> Response {
    pages::render(StatusCode::OK, "device_done.html", context! { title, message })
}
