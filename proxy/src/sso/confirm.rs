//! The confirmation page of `single_user` mode: the code printed in the server
//! console ([`authorize`](super::authorize)) is typed here. Each submission
//! first claims an attempt (one statement that cannot pass the maximum), and a
//! right code then takes the confirmation (`DELETE ... RETURNING`): of
//! concurrent submissions of the right code exactly one is granted a token, the
//! others are told the code was already used.

use super::cookies;
use super::error::SignInError;
use super::grant;
use super::guard::{self, Client};
use super::pages;
use super::providers::{Claims, Identity};
use super::state::SsoState;
use crate::authz::single_user;
use crate::logging::outside;
use crate::store::{Confirmation, Store};
use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

/// This browser's confirmation, if it is still running.
async fn current(state: &SsoState, headers: &HeaderMap) -> Result<Confirmation, SignInError> {
    let id = cookies::confirmation(headers, state.https()).ok_or(SignInError::CodeExpired)?;
    match state.store.get_pending::<Confirmation>(id).await? {
        Some(p) if p.expires_at > state.clock.now() => Ok(p),
        _ => Err(SignInError::CodeExpired),
    }
}

fn form(state: &SsoState, p: &Confirmation, message: Option<String>) -> Response {
    let a = &state.config.sso.authorization;
    let attempts_left = a.max_confirmation_attempts.saturating_sub(p.attempts);
    let status = if message.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    pages::render(
        status,
        "confirm.html",
        context! {
            email => &p.user_email,
            csrf_token => &p.csrf_token,
            expiry_minutes => a.confirmation_code_expiry_minutes,
            attempts_left,
            message,
        },
    )
}

/// `GET /auth/confirm`.
pub async fn page(State(state): State<Arc<SsoState>>, headers: HeaderMap) -> Result<Response, SignInError> {
    Ok(form(&state, &current(&state, &headers).await?, None))
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /auth/confirm`.
pub async fn submit(
    State(state): State<Arc<SsoState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(entered): Form<ConfirmForm>,
) -> Result<Response, SignInError> {
    let client = Client::of(&state, peer, &headers);
    guard::blocked(&state, &client).await?;
    let p = current(&state, &headers).await?;
    if entered.csrf_token.is_empty() || p.csrf_token != entered.csrf_token {
        return Err(SignInError::FormExpired);
    }
    let (max, now) = (state.config.sso.authorization.max_confirmation_attempts, state.clock.now());
    let Some(claimed) = state.store.claim_attempt(p.id.clone(), max, now).await? else {
        // No attempt left, or the confirmation ended meanwhile.
        return Err(if p.attempts >= max { SignInError::MaxAttempts } else { gone(&state, &p).await });
    };
    let correct = single_user::matches(&claimed.id, &entered.code, &claimed.code_hash);
    if !correct {
        guard::fail(&state, &client).await;
        if claimed.attempts >= max {
            state.store.delete_pending(claimed.id.clone()).await?;
            tracing::warn!(user = %outside(&claimed.user_email), "maximum confirmation attempts exceeded");
            return Err(SignInError::MaxAttempts);
        }
        let left = max - claimed.attempts;
        let message = format!("Wrong code. {left} attempt{} left.", if left == 1 { "" } else { "s" });
        return Ok(form(&state, &claimed, Some(message)));
    }
    // The right code: take the confirmation; only one submission can.
    let Some(taken) = state.store.take_pending::<Confirmation>(claimed.id.clone(), None, now).await? else {
        return Err(SignInError::CodeAlreadyUsed);
    };
    let identity = Identity {
        user_id: taken.user_id,
        email: taken.user_email,
        provider: taken.provider,
        claims: Claims::default(),
    };
    // The confirmation is over whatever the grant's answer: its cookie goes with either page.
    let mut response = grant::grant(&state, identity, taken.outcome, &client).await.into_response();
    cookies::clear_confirmation(&mut response, state.https());
    Ok(response)
}

/// The confirmation disappeared between reading and claiming: used, or expired.
async fn gone(state: &SsoState, p: &Confirmation) -> SignInError {
    if p.expires_at <= state.clock.now() {
        return SignInError::CodeExpired;
    }
    match state.store.get_pending::<Confirmation>(p.id.clone()).await {
        Ok(Some(now)) if now.attempts >= state.config.sso.authorization.max_confirmation_attempts => {
            SignInError::MaxAttempts
        }
        Ok(Some(_)) => SignInError::CodeExpired,
        Ok(None) => SignInError::CodeAlreadyUsed,
        Err(e) => e.into(),
    }
}
