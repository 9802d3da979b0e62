//! Provider selection, the start of the OIDC code flow (state, nonce and PKCE
//! verifier stored with the browser's binding, under per-client and global
//! caps), and the callback: the flow is taken once, only by the browser that
//! started it, the code exchanged and the ID token verified. Then authorization
//! follows the configured mode.

use super::grant::Outcome;
use super::guard::{self, Client};
use super::pages::secure;
use super::providers::SsoError;
use super::{SsoState, cookies, random};
use crate::config::AuthMode;
use crate::logging::outside;
use crate::store::{Admission, DeviceStatus, Pending, PendingCaps, PendingKind};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// How long a started sign-in may take at the IdP.
const FLOW_TTL_SECONDS: i64 = 600;

#[derive(Deserialize)]
pub struct RenewQuery {
    renew: Option<String>,
    /// A terminal's request this sign-in approves (from the device verification page).
    device: Option<String>,
}

/// A SHA-256 in hex (a token hash, a device request id); anything else is ignored.
fn valid_hash(value: Option<String>) -> Option<String> {
    value.filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn valid_renew(renew: Option<String>) -> Option<String> {
    valid_hash(renew)
}

/// What the sign-in being started is for. A terminal's request must still be waiting for an answer, and
/// this browser must be the one that entered its code.
async fn outcome(state: &SsoState, q: RenewQuery, presented_browser: String) -> Result<Outcome, Response> {
    if let Some(device) = q.device {
        let Some(id) = valid_hash(Some(device)) else {
            return Err(super::device::gone_page(state));
        };
        return match state.store.get_pending(id.clone(), PendingKind::Device).await {
            Ok(Some(p)) if p.device_status == Some(DeviceStatus::Pending) && p.expires_at > state.clock.now() => {
                if p.browser_hash.as_deref() == Some(presented_browser.as_str()) {
                    Ok(Outcome::Device(id))
                } else {
                    Err(super::device::unbound_page(state))
                }
            }
            Ok(_) => Err(super::device::gone_page(state)),
            Err(e) => Err(state.store_error(&e)),
        };
    }
    Ok(valid_renew(q.renew).map_or(Outcome::NewToken, Outcome::Renew))
}

pub async fn providers_page(State(state): State<Arc<SsoState>>, Query(q): Query<RenewQuery>) -> Response {
    let providers: Vec<String> = state.providers.keys().cloned().collect();
    let renew = valid_renew(q.renew);
    state.pages.render(StatusCode::OK, "providers.html", context! { providers, renew })
}

/// `GET /auth/login/{provider}`: remember state, nonce and PKCE verifier, then go to the IdP.
pub async fn start(
    State(state): State<Arc<SsoState>>,
    Path(name): Path<String>,
    Query(q): Query<RenewQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let Some(provider) = state.providers.get(&name).cloned() else {
        let configured: Vec<&str> = state.providers.keys().map(String::as_str).collect();
        let detail = format!("Configured providers (names are case-sensitive): {}", configured.join(", "));
        return state.pages.error(
            StatusCode::NOT_FOUND,
            "Provider not configured",
            &format!("Provider '{name}' not configured"),
            Some(&detail),
            true,
        );
    };
    let client = Client::of(&state, peer, &headers);
    if let Err(r) = guard::blocked(&state, &client).await {
        return r;
    }
    let https = state.config.base_url().starts_with("https://");
    let outcome = match outcome(&state, q, cookies::presented_browser_hash(&headers, https)).await {
        Ok(outcome) => outcome,
        Err(r) => return r,
    };
    let (browser, new_browser) = cookies::browser(&headers, https);
    let (id, nonce, verifier) = (random(32), random(32), random(32));
    let now = state.clock.now();
    let mut pending = Pending {
        provider: Some(name.clone()),
        nonce: Some(nonce.clone()),
        pkce_verifier: Some(verifier.clone()),
        client_ip: Some(client.key.clone()),
        browser_hash: Some(cookies::browser_hash(&browser)),
        ..Pending::new(id.clone(), PendingKind::Oidc, now, now + FLOW_TTL_SECONDS)
    };
    outcome.carry(&mut pending);
    let url = match provider.authorize_url(&id, &nonce, &verifier).await {
        Ok(url) => url,
        Err(e) => return sso_error_page(&state, &e),
    };
    if let Err(r) = store_pending(&state, pending, &client, PendingCaps::anonymous(), now).await {
        return r;
    }
    let mut response = secure(Redirect::to(&url).into_response());
    if new_browser {
        cookies::set_browser(&mut response, &browser, https);
    }
    response
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
    Store(crate::store::StoreError),
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

/// Stores a sign-in step under the caps; the page to show when it cannot be.
pub async fn store_pending(
    state: &SsoState,
    pending: Pending,
    client: &Client,
    caps: PendingCaps,
    now: i64,
) -> Result<(), Response> {
    admit(state, pending, client, caps, now).await.map_err(|refused| match refused {
        Refused::ClientCap | Refused::NetworkCap => state.pages.error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-ins in progress",
            "Too many sign-ins were started from your address or network and not finished. Finish one, or wait \
             ten minutes and start again.",
            None,
            false,
        ),
        Refused::TotalCap => state.pages.error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many sign-ins in progress",
            "The proxy has too many sign-ins in progress. Try again in a few minutes.",
            None,
            false,
        ),
        Refused::Store(e) => state.store_error(&e),
    })
}

pub fn sso_error_page(state: &SsoState, e: &SsoError) -> Response {
    tracing::warn!("sign-in failed: {}", outside(&e.to_string()));
    let redirect_uri = state.config.redirect_uri();
    match e {
        SsoError::Unreachable { host, detail } => state.pages.error(
            StatusCode::BAD_GATEWAY,
            "Failed to connect to identity provider",
            &format!("Failed to connect to identity provider {host}."),
            Some(&format!(
                "{detail}. If this server reaches the internet through a proxy, set HTTPS_PROXY (and NO_PROXY) for the proxy process."
            )),
            true,
        ),
        SsoError::InvalidClient { detail } => state.pages.error(
            StatusCode::BAD_GATEWAY,
            "Invalid client",
            "The identity provider rejected this proxy's client credentials. Check client_id and client_secret for stray spaces or line breaks, and that the secret has not expired.",
            Some(detail),
            false,
        ),
        SsoError::RedirectUri { detail, .. } => state.pages.error(
            StatusCode::BAD_GATEWAY,
            "Redirect URI mismatch",
            &format!("Register exactly this redirect URI at the identity provider: {redirect_uri}"),
            Some(detail),
            false,
        ),
        SsoError::Refused(detail) => state.pages.error(StatusCode::FORBIDDEN, "Sign-in refused", detail, None, true),
        SsoError::Verification(detail) => state.pages.error(
            StatusCode::BAD_GATEWAY,
            "Sign-in could not be verified",
            "The identity provider's answer did not pass verification, so you were not signed in.",
            Some(detail),
            true,
        ),
    }
}

/// Why a callback found no flow to finish, worded for the person holding the URL.
async fn no_flow(state: &SsoState, flow_id: String) -> Response {
    let now = state.clock.now();
    let found = state.store.get_pending(flow_id.clone(), PendingKind::Oidc).await;
    match found {
        Ok(Some(p)) if p.expires_at > now => state.pages.error(
            StatusCode::BAD_REQUEST,
            "Sign-in started in another browser",
            "This sign-in was started in another browser (or its cookies were cleared), so it cannot be finished \
             here. Start the sign-in again in this browser.",
            None,
            true,
        ),
        Ok(_) => state.pages.error(
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "This sign-in has expired or was already used. Start again.",
            None,
            true,
        ),
        Err(e) => state.store_error(&e),
    }
}

/// `GET /auth/callback`: back from the IdP.
pub async fn callback(
    State(state): State<Arc<SsoState>>,
    Query(q): Query<HashMap<String, String>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let client = Client::of(&state, peer, &headers);
    if let Err(r) = guard::blocked(&state, &client).await {
        return r;
    }
    let now = state.clock.now();
    let Some(flow_id) = q.get("state").cloned() else {
        return state.pages.error(
            StatusCode::BAD_REQUEST,
            "Sign-in link incomplete",
            "The identity provider's answer has no state. Start the sign-in again.",
            None,
            true,
        );
    };
    let https = state.config.base_url().starts_with("https://");
    let binding = cookies::presented_browser_hash(&headers, https);
    let id = flow_id.clone();
    let taken = state.store.take_pending(id, PendingKind::Oidc, Some(binding), now).await;
    let pending = match taken {
        Ok(Some(p)) => p,
        Ok(None) => return no_flow(&state, flow_id).await,
        Err(e) => return state.store_error(&e),
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
        tracing::warn!(provider = ?pending.provider, "identity provider error: {}", outside(&detail));
        return state.pages.error(StatusCode::FORBIDDEN, title, message, Some(&detail), true);
    }
    let (Some(code), Some(name), Some(verifier), Some(nonce)) =
        (q.get("code"), pending.provider.as_ref(), pending.pkce_verifier.as_ref(), pending.nonce.as_ref())
    else {
        return state.pages.error(
            StatusCode::BAD_REQUEST,
            "Sign-in link incomplete",
            "The answer has no code.",
            None,
            true,
        );
    };
    let Some(provider) = state.providers.get(name).cloned() else {
        return state.pages.error(
            StatusCode::NOT_FOUND,
            "Provider not configured",
            &format!("Provider '{name}' not configured"),
            None,
            true,
        );
    };
    let identity = match provider.finish(code, verifier, nonce, now).await {
        Ok(identity) => identity,
        Err(e) => {
            guard::fail(&state, &client).await;
            return sso_error_page(&state, &e);
        }
    };
    tracing::info!(user = %outside(&identity.email), provider = %identity.provider, "SSO login verified");
    let outcome = Outcome::of(&pending);
    match state.config.sso.authorization.mode {
        AuthMode::SingleUser => super::confirm::begin(&state, identity, outcome, client).await,
        AuthMode::Enterprise => super::grant::ask_enterprise(&state, identity, outcome, client).await,
    }
}
