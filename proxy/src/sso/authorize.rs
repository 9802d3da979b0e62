//! After a verified sign-in, the configured authorization mode decides whether
//! the person gets what the sign-in was for: a one-time code printed in the
//! server console and typed into the confirmation page (`single_user`), or the
//! enterprise authorization API's explicit yes (`enterprise`), or the
//! organisation's access policy in the configuration (`policy`). A yes leads to
//! [`grant`](super::grant::grant); an enterprise no, or any failure of the API,
//! refuses (fail closed) and counts toward the browser's backoff.

use super::cookies;
use super::error::SignInError;
use super::flow::{self, Outcome};
use super::grant;
use super::guard::{self, Client};
use super::pages::secure;
use super::providers::Identity;
use super::random::random;
use super::state::SsoState;
use crate::authz::{enterprise, policy, single_user};
use crate::config::AuthMode;
use crate::logging::outside;
use crate::store::{Confirmation, Pending, PendingCaps};
use axum::response::{IntoResponse, Redirect, Response};
use std::time::Duration;

/// The configured mode's decision about `identity`.
pub async fn decide(
    state: &SsoState,
    identity: Identity,
    outcome: Outcome,
    client: Client,
) -> Result<Response, SignInError> {
    match state.config.sso.authorization.mode {
        AuthMode::SingleUser => ask_console(state, identity, outcome, client).await,
        AuthMode::Enterprise => ask_enterprise(state, identity, outcome, client).await,
        AuthMode::Policy => ask_policy(state, identity, outcome, client).await,
    }
}

/// `single_user`: stores the confirmation, prints the code once at WARNING, and sends the browser to the
/// form ([`confirm`](super::confirm) takes it from there).
async fn ask_console(
    state: &SsoState,
    identity: Identity,
    outcome: Outcome,
    client: Client,
) -> Result<Response, SignInError> {
    let a = &state.config.sso.authorization;
    let (id, csrf, code) = (random(32), random(32), single_user::new_code());
    let now = state.clock.now();
    let expires_at = now + i64::from(a.confirmation_code_expiry_minutes) * 60;
    let pending = Pending::Confirmation(Confirmation {
        id: id.clone(),
        provider: identity.provider.clone(),
        user_id: identity.user_id.clone(),
        user_email: identity.email.clone(),
        code_hash: single_user::hash(&id, &code),
        attempts: 0,
        csrf_token: csrf,
        outcome,
        rate_key: client.key.clone(),
        created_at: now,
        expires_at,
    });
    // Back from the IdP with a verified identity: strangers filling the table do not refuse this step.
    flow::admit(state, pending, &client, PendingCaps::identified(), now).await?;
    // The one place the code appears: the server console, at WARNING. The email is
    // escaped, so no claim can forge a line of its own.
    let email = outside(&identity.email);
    tracing::warn!("==== Confirmation required for {email} (provider {}) ====", identity.provider);
    tracing::warn!("Confirmation Code: {code} for {email} (expires in {} minutes)", a.confirmation_code_expiry_minutes);
    let mut response = secure(Redirect::to("/auth/confirm").into_response());
    cookies::set_confirmation(&mut response, &id, a.confirmation_code_expiry_minutes * 60, state.https());
    Ok(response)
}

/// `enterprise`: only an explicit `authorized: true` from the API grants access.
async fn ask_enterprise(
    state: &SsoState,
    identity: Identity,
    outcome: Outcome,
    client: Client,
) -> Result<Response, SignInError> {
    let a = &state.config.sso.authorization;
    let Some(url) = a.api_url.as_deref() else {
        return Err(SignInError::AuthorizationNotConfigured);
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
            grant::grant(state, identity, outcome, &client).await
        }
        enterprise::Decision::Denied(reason) => {
            guard::fail(state, &client).await;
            grant::refuse(state, &outcome).await;
            let reason = reason.unwrap_or_else(|| "no reason given".into());
            tracing::warn!(user = %user, "Access denied by the authorization API: {}", outside(&reason));
            Err(SignInError::AccessDenied { reason })
        }
        enterprise::Decision::Failed(failure) => {
            tracing::error!(user = %user, "{}", outside(&failure.to_string()));
            Err(SignInError::AuthorizationFailed)
        }
    }
}

/// `policy`: the rules of `sso.authorization.policy` decide from the verified identity alone.
async fn ask_policy(
    state: &SsoState,
    identity: Identity,
    outcome: Outcome,
    client: Client,
) -> Result<Response, SignInError> {
    let subject = policy::Subject::new(&identity.email, &identity.provider, &identity.claims);
    let decision = policy::decide(&state.config.sso.authorization.policy, &subject, &state.email_files);
    let user = outside(&identity.email);
    let rule = decision.rule().map_or_else(|| "no allow rule matches".to_string(), |r| outside(&r.label));
    match decision.reason(&identity.email) {
        None => {
            tracing::info!(user = %user, rule = %rule, "access policy allowed access");
            grant::grant(state, identity, outcome, &client).await
        }
        Some(reason) => {
            guard::fail(state, &client).await;
            grant::refuse(state, &outcome).await;
            tracing::warn!(user = %user, rule = %rule, "Access denied by the access policy: {decision:?}");
            Err(SignInError::AccessDenied { reason })
        }
    }
}
