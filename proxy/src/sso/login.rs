//! Provider selection, the start of the OIDC code flow (state, nonce and PKCE
//! verifier stored with the browser's binding, under per-client and global
//! caps), and the callback: the flow is taken once, only by the browser that
//! started it, the code exchanged and the ID token verified. Then the
//! configured mode decides ([`authorize`](super::authorize)).

use super::authorize;
use super::cookies;
use super::error::SignInError;
use super::flow::{self, FLOW_TTL_SECONDS, Outcome, valid_hash};
use super::guard::{self, Client};
use super::pages::{self, secure};
use super::random::random;
use super::state::SsoState;
use crate::logging::outside;
use crate::store::{DeviceRequest, DeviceStatus, OidcFlow, Pending, PendingCaps, Store};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct RenewQuery {
    renew: Option<String>,
    /// A terminal's request this sign-in approves (from the device verification page).
    device: Option<String>,
}

/// What the sign-in being started is for. A terminal's request must still be waiting for an answer, and
/// this browser must be the one that entered its code.
async fn outcome(state: &SsoState, q: RenewQuery, presented_browser: String) -> Result<Outcome, SignInError> {
    let Some(device) = q.device else {
        return Ok(valid_hash(q.renew).map_or(Outcome::NewToken, Outcome::Renew));
    };
    let id = valid_hash(Some(device)).ok_or(SignInError::TerminalGone)?;
    match state.store.get_pending::<DeviceRequest>(id.clone()).await? {
        Some(p) if p.status == DeviceStatus::Pending && p.expires_at > state.clock.now() => {
            if p.browser_hash.as_deref() == Some(presented_browser.as_str()) {
                Ok(Outcome::Device(id))
            } else {
                Err(SignInError::Unbound)
            }
        }
        _ => Err(SignInError::TerminalGone),
    }
}

pub async fn providers_page(State(state): State<Arc<SsoState>>, Query(q): Query<RenewQuery>) -> Response {
    let providers: Vec<String> = state.providers.keys().cloned().collect();
    let renew = valid_hash(q.renew);
    pages::render(StatusCode::OK, "providers.html", context! { providers, renew })
}

/// `GET /auth/login/{provider}`: remember state, nonce and PKCE verifier, then go to the IdP.
pub async fn start(
    State(state): State<Arc<SsoState>>,
    Path(name): Path<String>,
    Query(q): Query<RenewQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, SignInError> {
    let Some(provider) = state.providers.get(&name).cloned() else {
        let configured = Some(state.providers.keys().cloned().collect());
        return Err(SignInError::ProviderNotConfigured { name, configured });
    };
    let client = Client::of(&state, peer, &headers);
    guard::blocked(&state, &client).await?;
    let https = state.https();
    let outcome = outcome(&state, q, cookies::presented_browser_hash(&headers, https)).await?;
    let (browser, new_browser) = cookies::browser(&headers, https);
    let (id, nonce, verifier) = (random(32), random(32), random(32));
    let now = state.clock.now();
    let pending = Pending::Oidc(OidcFlow {
        id: id.clone(),
        provider: name.clone(),
        nonce: nonce.clone(),
        pkce_verifier: verifier.clone(),
        browser_hash: cookies::browser_hash(&browser),
        outcome,
        rate_key: client.key.clone(),
        created_at: now,
        expires_at: now + FLOW_TTL_SECONDS,
    });
    let url = provider.authorize_url(&id, &nonce, &verifier).await.map_err(|e| provider_error(&state, e))?;
    flow::admit(&state, pending, &client, PendingCaps::anonymous(), now).await?;
    let mut response = secure(Redirect::to(&url).into_response());
    if new_browser {
        cookies::set_browser(&mut response, &browser, https);
    }
    Ok(response)
}

/// The identity provider failed: logged here, shown with the guide's fix.
fn provider_error(state: &SsoState, error: super::providers::SsoError) -> SignInError {
    tracing::warn!("sign-in failed: {}", outside(&error.to_string()));
    SignInError::Provider { error, redirect_uri: state.config.redirect_uri() }
}

/// Why a callback found no flow to finish, worded for the person holding the URL.
async fn no_flow(state: &SsoState, flow_id: String) -> SignInError {
    let now = state.clock.now();
    match state.store.get_pending::<OidcFlow>(flow_id).await {
        Ok(Some(p)) if p.expires_at > now => SignInError::OtherBrowser,
        Ok(_) => SignInError::FlowExpired,
        Err(e) => e.into(),
    }
}

/// `GET /auth/callback`: back from the IdP.
pub async fn callback(
    State(state): State<Arc<SsoState>>,
    Query(q): Query<HashMap<String, String>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, SignInError> {
    let client = Client::of(&state, peer, &headers);
    guard::blocked(&state, &client).await?;
    let now = state.clock.now();
    let flow_id = q.get("state").cloned().ok_or(SignInError::MissingState)?;
    let binding = cookies::presented_browser_hash(&headers, state.https());
    let Some(flow) = state.store.take_pending::<OidcFlow>(flow_id.clone(), Some(binding), now).await? else {
        return Err(no_flow(&state, flow_id).await);
    };
    if let Some(error) = q.get("error") {
        let description = q.get("error_description").map(String::as_str);
        let (title, message) = match error.as_str() {
            "access_denied" => ("Access denied", "You declined, or the identity provider did not allow this sign-in."),
            "invalid_client" | "unauthorized_client" => (
                "Invalid client",
                "The identity provider does not know this proxy's client. Check client_id and client_secret for stray spaces.",
            ),
            _ => ("Sign-in failed", "The identity provider returned an error."),
        };
        let detail = format!("{error}{}", description.map(|d| format!(": {d}")).unwrap_or_default());
        tracing::warn!(provider = %flow.provider, "identity provider error: {}", outside(&detail));
        return Err(SignInError::ProviderRefused { title, message, detail });
    }
    let Some(code) = q.get("code") else {
        return Err(SignInError::MissingCode);
    };
    let Some(provider) = state.providers.get(&flow.provider).cloned() else {
        return Err(SignInError::ProviderNotConfigured { name: flow.provider, configured: None });
    };
    let identity = match provider.finish(code, &flow.pkce_verifier, &flow.nonce, now).await {
        Ok(identity) => identity,
        Err(e) => {
            guard::fail(&state, &client).await;
            return Err(provider_error(&state, e));
        }
    };
    tracing::info!(user = %outside(&identity.email), provider = %identity.provider, "SSO login verified");
    authorize::decide(&state, identity, flow.outcome, client).await
}
