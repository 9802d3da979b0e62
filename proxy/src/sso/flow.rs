//! `/auth/*`: provider selection, the OIDC authorization code flow (PKCE S256,
//! state, nonce; state kept in the database so it survives restarts and works
//! across processes), authorization (single_user code or enterprise API), and
//! token issuance or renewal. Every step that can be abused is behind the
//! per-IP backoff; every page is escaped and carries strict headers.

use super::pages::{COPY_JS, secure};
use super::providers::{Identity, SsoError};
use crate::authz::{backoff, enterprise, single_user};
use crate::clock::to_sqlite;
use crate::config::AuthMode;
use crate::server::AppState;
use crate::store::{NewToken, Pending, PendingKind, StoreError};
use crate::tokens;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::context;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a started sign-in may take at the IdP.
const FLOW_TTL_SECONDS: i64 = 600;
const CONFIRM_COOKIE: &str = "llmsso_confirm";

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/auth/login", get(providers_page))
        .route("/auth/login/{provider}", get(start))
        .route("/auth/callback", get(callback))
        .route("/auth/confirm", get(confirm_page).post(confirm_submit))
        .route("/auth/static/copy.js", get(copy_js))
}

fn random(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

fn store_error(state: &AppState, e: &StoreError) -> Response {
    tracing::error!("token store: {e}");
    state.pages.error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The proxy's database could not be used. Try again in a moment.",
        None,
        false,
    )
}

fn client(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> String {
    crate::client_ip::client_ip(peer.ip(), headers, &state.config.server.trusted_proxies).to_string()
}

/// 429 with `Retry-After` while the client is in backoff.
async fn blocked(state: &AppState, ip: &str) -> Result<(), Response> {
    let store = state.store.as_ref().ok_or_else(|| not_enabled(state))?;
    let ip_owned = ip.to_string();
    let record = store.call(move |s| s.rate_limit(&ip_owned)).await.map_err(|e| store_error(state, &e))?;
    match backoff::wait_left(record.as_ref(), state.clock.now()) {
        None => Ok(()),
        Some(seconds) => {
            let message = format!("Please wait before trying again: {seconds} seconds left.");
            let mut r = state.pages.error(
                StatusCode::TOO_MANY_REQUESTS,
                "Please wait before trying again",
                &message,
                None,
                false,
            );
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Err(r)
        }
    }
}

async fn fail(state: &AppState, ip: &str) {
    let Some(store) = &state.store else { return };
    let (ip, now, limits) = (ip.to_string(), state.clock.now(), state.config.sso.authorization.rate_limit.clone());
    let result = store
        .call(move |s| {
            let failures = s.rate_limit(&ip)?.map_or(0, |r| r.failed_attempts) + 1;
            s.record_failure(&ip, now, now + backoff::delay_after(failures, &limits))
        })
        .await;
    if let Err(e) = result {
        tracing::error!("cannot record a failed attempt: {e}");
    }
}

fn not_enabled(state: &AppState) -> Response {
    state.pages.error(
        StatusCode::NOT_FOUND,
        "SSO is not enabled",
        "This proxy runs without sign-in (sso.enabled is false).",
        None,
        false,
    )
}

#[derive(Deserialize)]
struct RenewQuery {
    renew: Option<String>,
}

fn valid_renew(renew: Option<String>) -> Option<String> {
    renew.filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn providers_page(State(state): State<Arc<AppState>>, Query(q): Query<RenewQuery>) -> Response {
    if state.store.is_none() {
        return not_enabled(&state);
    }
    let providers: Vec<String> = state.providers.keys().cloned().collect();
    let renew = valid_renew(q.renew);
    state.pages.render(StatusCode::OK, "providers.html", context! { providers, renew })
}

/// `GET /auth/login/{provider}`: remember state, nonce and PKCE verifier, then go to the IdP.
async fn start(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(q): Query<RenewQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let Some(store) = state.store.clone() else { return not_enabled(&state) };
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
    let ip = client(&state, peer, &headers);
    if let Err(r) = blocked(&state, &ip).await {
        return r;
    }
    let (id, nonce, verifier) = (random(32), random(32), random(32));
    let now = state.clock.now();
    let pending = Pending {
        id: id.clone(),
        kind: PendingKind::Oidc,
        provider: Some(name.clone()),
        user_id: None,
        user_email: None,
        nonce: Some(nonce.clone()),
        pkce_verifier: Some(verifier.clone()),
        code_hash: None,
        attempts: 0,
        renew_token_hash: valid_renew(q.renew),
        client_ip: Some(ip),
        csrf_token: None,
        expires_at: now + FLOW_TTL_SECONDS,
    };
    let url = match provider.authorize_url(&id, &nonce, &verifier).await {
        Ok(url) => url,
        Err(e) => return sso_error_page(&state, &e),
    };
    if let Err(e) = store.call(move |s| s.insert_pending(&pending, now)).await {
        return store_error(&state, &e);
    }
    secure(Redirect::to(&url).into_response())
}

fn sso_error_page(state: &AppState, e: &SsoError) -> Response {
    tracing::warn!("sign-in failed: {e}");
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
        SsoError::Refused(detail) => {
            state.pages.error(StatusCode::FORBIDDEN, "Sign-in refused", detail, None, true)
        }
        SsoError::Verification(detail) => state.pages.error(
            StatusCode::BAD_GATEWAY,
            "Sign-in could not be verified",
            "The identity provider's answer did not pass verification, so you were not signed in.",
            Some(detail),
            true,
        ),
    }
}

/// `GET /auth/callback`: back from the IdP.
async fn callback(
    State(state): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let Some(store) = state.store.clone() else { return not_enabled(&state) };
    let ip = client(&state, peer, &headers);
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
    let pending = match store.call(move |s| s.take_pending(&flow_id, PendingKind::Oidc, now)).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return state.pages.error(
                StatusCode::BAD_REQUEST,
                "Sign-in expired",
                "This sign-in has expired or was already used. Start again.",
                None,
                true,
            );
        }
        Err(e) => return store_error(&state, &e),
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
        tracing::warn!(provider = ?pending.provider, "identity provider error: {detail}");
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
            fail(&state, &ip).await;
            return sso_error_page(&state, &e);
        }
    };
    tracing::info!(user = %identity.email, provider = %identity.provider, "SSO login verified");
    match state.config.sso.authorization.mode {
        AuthMode::SingleUser => start_confirmation(&state, identity, pending.renew_token_hash, ip).await,
        AuthMode::Enterprise => enterprise_decision(&state, identity, pending.renew_token_hash, ip).await,
    }
}

async fn start_confirmation(state: &AppState, identity: Identity, renew: Option<String>, ip: String) -> Response {
    let Some(store) = state.store.clone() else { return not_enabled(state) };
    let a = &state.config.sso.authorization;
    let (id, csrf, code) = (random(32), random(32), single_user::new_code());
    let now = state.clock.now();
    let pending = Pending {
        id: id.clone(),
        kind: PendingKind::Confirmation,
        provider: Some(identity.provider.clone()),
        user_id: Some(identity.user_id.clone()),
        user_email: Some(identity.email.clone()),
        nonce: None,
        pkce_verifier: None,
        code_hash: Some(single_user::hash(&id, &code)),
        attempts: 0,
        renew_token_hash: renew,
        client_ip: Some(ip),
        csrf_token: Some(csrf),
        expires_at: now + i64::from(a.confirmation_code_expiry_minutes) * 60,
    };
    if let Err(e) = store.call(move |s| s.insert_pending(&pending, now)).await {
        return store_error(state, &e);
    }
    // The one place the code appears: the server console, at WARNING.
    tracing::warn!("==== Confirmation required for {} (provider {}) ====", identity.email, identity.provider);
    tracing::warn!(
        "Confirmation Code: {code} for {} (expires in {} minutes)",
        identity.email,
        a.confirmation_code_expiry_minutes
    );
    let mut response = secure(Redirect::to("/auth/confirm").into_response());
    if let Ok(v) = HeaderValue::from_str(&cookie(state, &id, a.confirmation_code_expiry_minutes * 60)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

fn cookie(state: &AppState, value: &str, max_age: u32) -> String {
    let secure = state.config.base_url().starts_with("https://");
    format!(
        "{CONFIRM_COOKIE}={value}; Path=/auth; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

fn confirmation_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == CONFIRM_COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

fn expired_page(state: &AppState) -> Response {
    state.pages.error(
        StatusCode::GONE,
        "Confirmation code expired",
        "Confirmation code expired. Sign in again to get a new code.",
        None,
        true,
    )
}

/// Looks up the confirmation of this browser, expired ones included (to say so).
async fn current_confirmation(state: &AppState, headers: &HeaderMap) -> Result<Pending, Response> {
    let store = state.store.clone().ok_or_else(|| not_enabled(state))?;
    let id = confirmation_id(headers).ok_or_else(|| expired_page(state))?;
    let found = store.call(move |s| s.get_pending(&id, PendingKind::Confirmation, i64::MIN)).await;
    match found {
        Ok(Some(p)) if p.expires_at > state.clock.now() => Ok(p),
        Ok(_) => Err(expired_page(state)),
        Err(e) => Err(store_error(state, &e)),
    }
}

fn confirm_form(state: &AppState, p: &Pending, message: Option<String>) -> Response {
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

async fn confirm_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match current_confirmation(&state, &headers).await {
        Ok(p) => confirm_form(&state, &p, None),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf_token: String,
}

async fn confirm_submit(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let Some(store) = state.store.clone() else { return not_enabled(&state) };
    let ip = client(&state, peer, &headers);
    if let Err(r) = blocked(&state, &ip).await {
        return r;
    }
    let p = match current_confirmation(&state, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if p.csrf_token.as_deref() != Some(form.csrf_token.as_str()) || form.csrf_token.is_empty() {
        return state.pages.error(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form is not valid any more. Reload the page.",
            None,
            false,
        );
    }
    let max = state.config.sso.authorization.max_confirmation_attempts;
    let exceeded = |state: &AppState| {
        state.pages.error(
            StatusCode::FORBIDDEN,
            "Maximum attempts exceeded",
            "Maximum attempts exceeded. Sign in again to get a new code (the counter starts again).",
            None,
            true,
        )
    };
    if p.attempts >= max {
        return exceeded(&state);
    }
    let correct = p.code_hash.as_deref().is_some_and(|h| single_user::matches(&p.id, &form.code, h));
    if !correct {
        fail(&state, &ip).await;
        let id = p.id.clone();
        let attempts = match store.call(move |s| s.count_attempt(&id)).await {
            Ok(n) => n,
            Err(e) => return store_error(&state, &e),
        };
        if attempts >= max {
            let id = p.id.clone();
            let _ = store.call(move |s| s.delete_pending(&id)).await;
            tracing::warn!(user = ?p.user_email, "maximum confirmation attempts exceeded");
            return exceeded(&state);
        }
        let left = max - attempts;
        let updated = Pending { attempts, ..p };
        return confirm_form(
            &state,
            &updated,
            Some(format!("Wrong code. {left} attempt{} left.", if left == 1 { "" } else { "s" })),
        );
    }
    let id = p.id.clone();
    if let Err(e) = store.call(move |s| s.delete_pending(&id)).await {
        return store_error(&state, &e);
    }
    let identity = Identity {
        user_id: p.user_id.clone().unwrap_or_default(),
        email: p.user_email.clone().unwrap_or_default(),
        provider: p.provider.clone().unwrap_or_default(),
    };
    let mut response = grant(&state, identity, p.renew_token_hash, &ip).await;
    if let Ok(v) = HeaderValue::from_str(&cookie(&state, "", 0)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

async fn enterprise_decision(state: &AppState, identity: Identity, renew: Option<String>, ip: String) -> Response {
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
    let request = enterprise::Request {
        user_id: &identity.user_id,
        user_email: &identity.email,
        provider: &identity.provider,
        client_ip: &ip,
        timestamp: crate::clock::rfc3339(now),
    };
    let timeout = Duration::from_secs(u64::from(a.api_timeout_seconds));
    match enterprise::authorize(&state.http, url, a.api_secret.as_ref(), timeout, &request).await {
        enterprise::Decision::Allowed => {
            tracing::info!(user = %identity.email, "authorization API allowed access");
            grant(state, identity, renew, &ip).await
        }
        enterprise::Decision::Denied(reason) => {
            fail(state, &ip).await;
            let reason = reason.unwrap_or_else(|| "no reason given".into());
            tracing::warn!(user = %identity.email, "Access denied by the authorization API: {reason}");
            state.pages.error(
                StatusCode::FORBIDDEN,
                "Access denied",
                &format!("Access denied: {reason}"),
                Some("If you should have access, contact your administrator and mention this message."),
                false,
            )
        }
        enterprise::Decision::Failed(message) => {
            tracing::error!(user = %identity.email, "{message}");
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

/// Authorized: renew the token being re-authenticated (owner only), or issue a new one.
async fn grant(state: &AppState, identity: Identity, renew: Option<String>, ip: &str) -> Response {
    let Some(store) = state.store.clone() else { return not_enabled(state) };
    let ip_owned = ip.to_string();
    if let Err(e) = store.call(move |s| s.clear_rate_limit(&ip_owned)).await {
        tracing::error!("cannot reset the backoff: {e}");
    }
    let now = state.clock.now();
    let expires_at = now + i64::from(state.config.sso.authorization.session_lifetime_hours) * 3600;
    if let Some(hash) = renew {
        let h = hash.clone();
        let record = match store.call(move |s| s.find_token(&h)).await {
            Ok(r) => r,
            Err(e) => return store_error(state, &e),
        };
        return match record {
            Some(r) if r.is_active && r.user_id == identity.user_id => {
                if let Err(e) = store.call(move |s| s.renew_token(&hash, now, expires_at)).await {
                    return store_error(state, &e);
                }
                tracing::info!(user = %identity.email, token_id = r.id, "session renewed");
                state.pages.render(
                    StatusCode::OK,
                    "renewed.html",
                    context! {
                        email => identity.email, expires_at => to_sqlite(expires_at),
                    },
                )
            }
            Some(r) if r.is_active => {
                tracing::warn!(user = %identity.email, token_id = r.id, "re-authentication by someone who does not own the token");
                state.pages.error(StatusCode::FORBIDDEN, "Not your token", "This re-authentication link belongs to another account. Sign in with the account the agent's token was issued to.", None, true)
            }
            _ => state.pages.error(
                StatusCode::NOT_FOUND,
                "Token not found",
                "That token was revoked or does not exist. Sign in to get a new one.",
                None,
                true,
            ),
        };
    }
    let token = tokens::generate();
    let new = NewToken {
        token_hash: tokens::hash(&token),
        user_id: identity.user_id.clone(),
        user_email: identity.email.clone(),
        provider: identity.provider.clone(),
        now,
        expires_at,
    };
    let id = match store.call(move |s| s.insert_token(&new)).await {
        Ok(id) => id,
        Err(e) => return store_error(state, &e),
    };
    tracing::info!(user = %identity.email, token_id = id, "agent token issued");
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

async fn copy_js() -> Response {
    secure(([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], COPY_JS).into_response())
}
