//! single_user mode: after a verified sign-in, a one-time code is printed in the
//! server console and typed into the confirmation page. Each submission first
//! claims an attempt (one statement that cannot pass the maximum), and a right
//! code then takes the confirmation (`DELETE ... RETURNING`): of concurrent
//! submissions of the right code exactly one is granted a token, the others are
//! told the code was already used.

use super::grant::Outcome;
use super::guard::{self, Client};
use super::pages::secure;
use super::providers::Identity;
use super::{SsoState, cookies, random};
use crate::authz::single_user;
use crate::logging::outside;
use crate::store::{Pending, PendingKind};
use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

fn https(state: &SsoState) -> bool {
    state.config.base_url().starts_with("https://")
}

/// Stores the confirmation, prints the code once at WARNING, and sends the browser to the form.
pub async fn begin(state: &SsoState, identity: Identity, outcome: Outcome, client: Client) -> Response {
    let a = &state.config.sso.authorization;
    let (id, csrf, code) = (random(32), random(32), single_user::new_code());
    let now = state.clock.now();
    let expires_at = now + i64::from(a.confirmation_code_expiry_minutes) * 60;
    let mut pending = Pending {
        provider: Some(identity.provider.clone()),
        user_id: Some(identity.user_id.clone()),
        user_email: Some(identity.email.clone()),
        code_hash: Some(single_user::hash(&id, &code)),
        client_ip: Some(client.key.clone()),
        csrf_token: Some(csrf),
        ..Pending::new(id.clone(), PendingKind::Confirmation, now, expires_at)
    };
    outcome.carry(&mut pending);
    // Back from the IdP with a verified identity: strangers filling the table do not refuse this step.
    let caps = crate::store::PendingCaps::identified();
    if let Err(r) = super::login::store_pending(state, pending, &client, caps, now).await {
        return r;
    }
    // The one place the code appears: the server console, at WARNING. The email is
    // escaped, so no claim can forge a line of its own.
    let email = outside(&identity.email);
    tracing::warn!("==== Confirmation required for {email} (provider {}) ====", identity.provider);
    tracing::warn!("Confirmation Code: {code} for {email} (expires in {} minutes)", a.confirmation_code_expiry_minutes);
    let mut response = secure(Redirect::to("/auth/confirm").into_response());
    cookies::set_confirmation(&mut response, &id, a.confirmation_code_expiry_minutes * 60, https(state));
    response
}

fn expired_page(state: &SsoState) -> Response {
    state.pages.error(
        StatusCode::GONE,
        "Confirmation code expired",
        "Confirmation code expired. Sign in again to get a new code.",
        None,
        true,
    )
}

fn exceeded_page(state: &SsoState) -> Response {
    state.pages.error(
        StatusCode::FORBIDDEN,
        "Maximum attempts exceeded",
        "Maximum attempts exceeded. Sign in again to get a new code (the counter starts again).",
        None,
        true,
    )
}

/// This browser's confirmation, if it is still running.
async fn current(state: &SsoState, headers: &HeaderMap) -> Result<Pending, Response> {
    let id = cookies::confirmation(headers, https(state)).ok_or_else(|| expired_page(state))?;
    match state.store.get_pending(id, PendingKind::Confirmation).await {
        Ok(Some(p)) if p.expires_at > state.clock.now() => Ok(p),
        Ok(_) => Err(expired_page(state)),
        Err(e) => Err(state.store_error(&e)),
    }
}

fn form(state: &SsoState, p: &Pending, message: Option<String>) -> Response {
    let a = &state.config.sso.authorization;
    let attempts_left = a.max_confirmation_attempts.saturating_sub(p.attempts);
    let status = if message.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    state.pages.render(
        status,
        "confirm.html",
        context! {
            email => p.user_email.clone().unwrap_or_default(),
            csrf_token => p.csrf_token.clone().unwrap_or_default(),
            expiry_minutes => a.confirmation_code_expiry_minutes,
            attempts_left,
            message,
        },
    )
}

/// `GET /auth/confirm`.
pub async fn page(State(state): State<Arc<SsoState>>, headers: HeaderMap) -> Response {
    match current(&state, &headers).await {
        Ok(p) => form(&state, &p, None),
        Err(r) => r,
    }
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
) -> Response {
    let client = Client::of(&state, peer, &headers);
    if let Err(r) = guard::blocked(&state, &client).await {
        return r;
    }
    let p = match current(&state, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if entered.csrf_token.is_empty() || p.csrf_token.as_deref() != Some(entered.csrf_token.as_str()) {
        return state.pages.error(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form is not valid any more. Reload the page.",
            None,
            false,
        );
    }
    let (max, now) = (state.config.sso.authorization.max_confirmation_attempts, state.clock.now());
    let id = p.id.clone();
    let claimed = match state.store.claim_attempt(id, max, now).await {
        Ok(Some(claimed)) => claimed,
        // No attempt left, or the confirmation ended meanwhile.
        Ok(None) => return if p.attempts >= max { exceeded_page(&state) } else { gone(&state, &p).await },
        Err(e) => return state.store_error(&e),
    };
    let correct = claimed.code_hash.as_deref().is_some_and(|h| single_user::matches(&claimed.id, &entered.code, h));
    if !correct {
        guard::fail(&state, &client).await;
        if claimed.attempts >= max {
            let id = claimed.id.clone();
            if let Err(e) = state.store.delete_pending(id).await {
                return state.store_error(&e);
            }
            tracing::warn!(user = ?claimed.user_email.as_deref().map(outside), "maximum confirmation attempts exceeded");
            return exceeded_page(&state);
        }
        let left = max - claimed.attempts;
        let message = format!("Wrong code. {left} attempt{} left.", if left == 1 { "" } else { "s" });
        return form(&state, &claimed, Some(message));
    }
    // The right code: take the confirmation; only one submission can.
    let id = claimed.id.clone();
    let taken = match state.store.take_pending(id, PendingKind::Confirmation, None, now).await {
        Ok(Some(taken)) => taken,
        Ok(None) => return already_used(&state),
        Err(e) => return state.store_error(&e),
    };
    let identity = Identity {
        user_id: taken.user_id.clone().unwrap_or_default(),
        email: taken.user_email.clone().unwrap_or_default(),
        provider: taken.provider.clone().unwrap_or_default(),
    };
    let mut response = super::grant::grant(&state, identity, Outcome::of(&taken), &client).await;
    cookies::clear_confirmation(&mut response, https(&state));
    response
}

fn already_used(state: &SsoState) -> Response {
    state.pages.error(
        StatusCode::CONFLICT,
        "Code already used",
        "This confirmation code was already used (the form was sent twice?). If no token was shown, sign in again.",
        None,
        true,
    )
}

/// The confirmation disappeared between reading and claiming: used, or expired.
async fn gone(state: &SsoState, p: &Pending) -> Response {
    if p.expires_at <= state.clock.now() {
        return expired_page(state);
    }
    let id = p.id.clone();
    match state.store.get_pending(id, PendingKind::Confirmation).await {
        Ok(Some(now)) if now.attempts >= state.config.sso.authorization.max_confirmation_attempts => {
            exceeded_page(state)
        }
        Ok(Some(_)) => expired_page(state),
        Ok(None) => already_used(state),
        Err(e) => state.store_error(&e),
    }
}
