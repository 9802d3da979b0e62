//! Sign-in from a terminal (RFC 8628 device authorization). A terminal asks for
//! a code (`POST /auth/device/code`), shows the user code and the link, and
//! polls (`POST /auth/device/token`). The user opens the link on any device,
//! types the code, sees who asked (address, program, time) and signs in with
//! SSO; the same authorization as the browser flow follows, and its end
//! approves the request instead of showing a token ([`approve`]). The next poll
//! takes the approved request (single use) and receives the agent token. Only
//! the browser that entered the code (and so saw who asked) can sign in for the
//! request: it is bound to that browser's cookie, like an OIDC flow.
//!
//! What is stored: a [`DeviceRequest`] row, never a code or a token. It lives
//! until it is collected or expires, under the caps every sign-in in progress
//! meets. A wrong user code counts as a failure for the browser's backoff.
//!
//! What an anonymous client controls here, and its bound: the body
//! ([`MAX_FORM_BYTES`](super::MAX_FORM_BYTES); `/auth/device/code` reads none),
//! stored rows ([`PendingCaps`]), new codes per network
//! ([`CODE_REQUESTS_PER_NETWORK`]), user-code guesses (the backoff and
//! [`CODE_ENTRIES_PER_NETWORK`], [`CODE_ENTRIES_IN_TOTAL`] against a code space of
//! [`USER_CODE_ALPHABET`]^[`USER_CODE_LENGTH`]), polls (one statement each, and
//! `slow_down`), and the program name shown to the user
//! ([`MAX_USER_AGENT_CHARS`], no control characters, escaped by the template).

use super::cookies;
use super::error::SignInError;
use super::flow::{self, Refused};
use super::grant;
use super::guard::{self, Client};
use super::oauth::{oauth, oauth_error, unavailable};
use super::pages;
use super::providers::{Claims, Identity};
use super::random::random;
use super::state::SsoState;
use crate::clock::to_sqlite;
use crate::store::{
    DeviceDecision, DevicePoll, DeviceRequest, DeviceStatus, Pending, PendingCaps, RequestLimit, Store, StoreError,
};
use crate::tokens;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;

/// The grant type a terminal polls with (RFC 8628 section 3.4).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Consonants without look-alikes (RFC 8628 section 6.1): 20^8 codes, about 34 bits.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LENGTH: usize = 8;

/// How much of a terminal's `User-Agent` is kept and shown.
const MAX_USER_AGENT_CHARS: usize = 200;

/// Anonymous code requests per network (IPv4 /24, IPv6 /48): 20 at once, 20 more every 10 minutes.
pub const CODE_REQUESTS_PER_NETWORK: RequestLimit = RequestLimit { capacity: 20.0, window_seconds: 600.0 };
/// Code entries per network: 20 an hour. A right code gives its entry back, so this counts wrong ones.
pub const CODE_ENTRIES_PER_NETWORK: RequestLimit = RequestLimit { capacity: 20.0, window_seconds: 3600.0 };
/// Code entries from everyone together: 1 000 an hour. With at most 20 000 requests in progress
/// ([`crate::store::MAX_PENDING_IDENTIFIED`]) and 20^8 codes, all the wrong guesses anyone can make in an
/// hour hit a live code with a chance below 1 000 × 20 000 / 20^8 ≈ 1 in 1 280 (RFC 8628 section 5.1).
pub const CODE_ENTRIES_IN_TOTAL: RequestLimit = RequestLimit { capacity: 1000.0, window_seconds: 3600.0 };

/// A new user code, uniformly drawn (rejection sampling keeps every letter equally likely).
pub fn new_user_code() -> String {
    use rand::RngCore;
    let n = USER_CODE_ALPHABET.len();
    let limit = 256 - 256 % n;
    let mut code = String::with_capacity(USER_CODE_LENGTH);
    let mut byte = [0u8; 1];
    while code.len() < USER_CODE_LENGTH {
        rand::rngs::OsRng.fill_bytes(&mut byte);
        let b = usize::from(byte[0]);
        if b < limit {
            code.push(char::from(USER_CODE_ALPHABET[b % n]));
        }
    }
    code
}

/// A typed code in its stored form: case, dashes and spaces do not matter; anything else makes it no code.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String =
        typed.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
    let valid = code.len() == USER_CODE_LENGTH && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// `BCDFGHJK` as people read it: `BCDF-GHJK`.
pub fn display_user_code(code: &str) -> String {
    let (a, b) = code.split_at(code.len() / 2);
    format!("{a}-{b}")
}

fn sha256_hex(domain: &str, value: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(domain.as_bytes());
    hasher.update(value.as_bytes());
    tokens::hex_lower(&hasher.finalize())
}

/// What the store keeps of a user code.
pub fn user_code_hash(normalized: &str) -> String {
    sha256_hex("llm-sso user code\n", normalized)
}

/// The request's id: what the store keeps of its device code.
pub fn device_id(device_code: &str) -> String {
    sha256_hex("", device_code)
}

/// The token in `Authorization: Bearer`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The terminal's program as it says, without control characters, bounded.
fn user_agent(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::USER_AGENT)?.to_str().ok()?;
    let clean: String = raw.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT_CHARS).collect();
    Some(clean).filter(|s| !s.is_empty())
}

/// `POST /auth/device/code`: a new request. With `Authorization: Bearer <token>`,
/// the sign-in renews that token instead of issuing a new one.
pub async fn request_code(
    State(state): State<Arc<SsoState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let client = Client::of(&state, peer, &headers);
    let renew = match bearer(&headers) {
        None => None,
        Some(token) => {
            let hash = tokens::hash(token);
            match state.store.find_token(hash.clone()).await {
                Ok(Some(record)) if record.is_active => Some(hash),
                Ok(_) => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The token to renew was revoked or does not exist: sign in without it for a new one.",
                    );
                }
                Err(e) => return unavailable(&e),
            }
        }
    };
    let now = state.clock.now();
    // A terminal that holds a token is someone: neither its network's budget nor the global cap refuses it.
    let caps = if renew.is_some() { PendingCaps::identified() } else { PendingCaps::anonymous() };
    if renew.is_none() {
        let bucket = format!("device-code {}", client.network);
        match state.store.take_request(bucket, CODE_REQUESTS_PER_NETWORK, now).await {
            Ok(true) => {}
            Ok(false) => {
                state.metrics.event("device_code_network_limit");
                tracing::warn!(network = %client.network, "terminal sign-in codes requested too fast from one network");
                return oauth_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "slow_down",
                    "Too many sign-in codes were requested from your network: wait a few minutes and try again.",
                );
            }
            Err(e) => return unavailable(&e),
        }
    }
    let d = &state.config.sso.device;
    let (device_code, user_code) = (random(32), new_user_code());
    let ttl = i64::from(d.code_expiry_minutes) * 60;
    let pending = Pending::Device(DeviceRequest {
        id: device_id(&device_code),
        user_code_hash: user_code_hash(&user_code),
        status: DeviceStatus::Pending,
        renew_token_hash: renew,
        user_agent: user_agent(&headers),
        browser_hash: None,
        approved_by: None,
        rate_key: client.key.clone(),
        created_at: now,
        expires_at: now + ttl,
    });
    match flow::admit(&state, pending, &client, caps, now).await {
        Ok(()) => {}
        Err(Refused::ClientCap | Refused::NetworkCap) => {
            return oauth_error(
                StatusCode::TOO_MANY_REQUESTS,
                "slow_down",
                "Too many sign-ins in progress from your address or network: finish one, or wait until they expire.",
            );
        }
        Err(Refused::TotalCap) => {
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "The proxy has too many sign-ins in progress. Try again in a few minutes.",
            );
        }
        Err(Refused::Store(e)) => return unavailable(&e),
    }
    tracing::info!(client = %client.key, "terminal sign-in requested");
    let uri = format!("{}/auth/device", state.config.base_url());
    let shown = display_user_code(&user_code);
    oauth(
        StatusCode::OK,
        json!({
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": uri,
            "verification_uri_complete": format!("{uri}?user_code={shown}"),
            "expires_in": ttl,
            "interval": d.poll_interval_seconds,
        }),
    )
}

#[derive(Deserialize)]
pub struct TokenRequest {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    device_code: String,
}

/// `POST /auth/device/token`: the terminal's poll, answered with RFC 8628's errors
/// until the request is approved; then the token, exactly once.
pub async fn poll(State(state): State<Arc<SsoState>>, form: Result<Form<TokenRequest>, FormRejection>) -> Response {
    let Ok(Form(request)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Send grant_type and device_code as application/x-www-form-urlencoded.",
        );
    };
    if request.grant_type != GRANT_TYPE {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("This endpoint takes grant_type={GRANT_TYPE}."),
        );
    }
    if request.device_code.is_empty() {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "device_code is missing.");
    }
    let (now, interval) = (state.clock.now(), state.config.sso.device.poll_interval_seconds);
    let polled = state.store.poll_device(device_id(&request.device_code), now, interval).await;
    let bad = |error: &str, description: &str| oauth_error(StatusCode::BAD_REQUEST, error, description);
    match polled {
        Err(e) => unavailable(&e),
        Ok(DevicePoll::Unknown) => bad("invalid_grant", "Unknown device_code, or its token was already delivered."),
        Ok(DevicePoll::Expired) => bad("expired_token", "The sign-in expired before it was finished: start again."),
        Ok(DevicePoll::SlowDown) => bad("slow_down", "Polling too fast: wait 5 seconds longer between polls."),
        Ok(DevicePoll::Pending) => bad("authorization_pending", "The sign-in is not finished yet."),
        Ok(DevicePoll::Denied) => bad("access_denied", "The sign-in was refused."),
        Ok(DevicePoll::Approved(row)) => deliver(&state, *row, now).await,
    }
}

/// The approved request was taken: a renewal is done already; a new token is issued now.
async fn deliver(state: &SsoState, row: DeviceRequest, now: i64) -> Response {
    let lifetime = flow::token_lifetime_seconds(state);
    if row.renew_token_hash.is_some() {
        return oauth(StatusCode::OK, json!({ "token_type": "Bearer", "expires_in": lifetime, "renewed": true }));
    }
    // The store refuses to read an approved row that names nobody, so an approver is always here.
    let Some(approver) = row.approved_by else {
        return oauth_error(StatusCode::BAD_REQUEST, "access_denied", "The sign-in has no identity.");
    };
    // What the browser's sign-in vouched for goes on to the token as it was stored (never re-read).
    let claims = match Claims::from_stored(approver.claims.as_deref()) {
        Ok(claims) => claims,
        Err(e) => return unavailable(&StoreError::Corrupt(e)),
    };
    let identity =
        Identity { user_id: approver.user_id, email: approver.user_email, provider: approver.provider, claims };
    match grant::issue(state, &identity, now, now + lifetime).await {
        Ok(token) => {
            oauth(StatusCode::OK, json!({ "access_token": token, "token_type": "Bearer", "expires_in": lifetime }))
        }
        Err(e) => unavailable(&e),
    }
}

#[derive(Deserialize, Default)]
pub struct CodeQuery {
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    csrf_token: String,
}

/// The names the two device forms' CSRF tokens are derived under ([`cookies::form_token`]).
const CODE_FORM: &str = "device code";
const REFUSE_FORM: &str = "device refuse";

/// The code form, with this browser's CSRF token (and its binding cookie when it has none yet).
fn entry_form(
    state: &SsoState,
    headers: &HeaderMap,
    status: StatusCode,
    typed: &str,
    message: Option<&str>,
) -> Response {
    let https = state.https();
    let (browser, new_browser) = cookies::browser(headers, https);
    let user_code: String = typed.chars().filter(|c| !c.is_control()).take(16).collect();
    let csrf_token = cookies::form_token(&browser, CODE_FORM);
    let mut page = pages::render(status, "device.html", context! { user_code, message, csrf_token });
    if new_browser {
        cookies::set_browser(&mut page, &browser, https);
    }
    page
}

/// `GET /auth/device` (the verification URI; `?user_code=` fills the form in).
pub async fn entry_page(
    State(state): State<Arc<SsoState>>,
    headers: HeaderMap,
    Query(q): Query<CodeQuery>,
) -> Response {
    entry_form(&state, &headers, StatusCode::OK, &q.user_code, None)
}

/// The network's or everyone's budget of code entries is spent: no lookup is made.
fn too_many_guesses(state: &SsoState, client: &Client, everyone: bool) -> SignInError {
    if everyone {
        state.metrics.event("user_code_total_limit");
        tracing::error!(
            "{} wrong terminal codes were entered on this proxy within the hour: code entry is paused until the \
             budget refills (someone is guessing codes from many networks)",
            CODE_ENTRIES_IN_TOTAL.capacity
        );
    } else {
        state.metrics.event("user_code_network_limit");
        tracing::warn!(network = %client.network, "too many terminal codes entered from one network");
    }
    SignInError::TooManyGuesses { everyone }
}

/// `POST /auth/device`: a typed code. The right one shows who asked and how to sign
/// in; a wrong one counts toward the client's backoff.
pub async fn verify(
    State(state): State<Arc<SsoState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<CodeQuery>, FormRejection>,
) -> Result<Response, SignInError> {
    let client = Client::of(&state, peer, &headers);
    guard::blocked(&state, &client).await?;
    let https = state.https();
    let CodeQuery { user_code: typed, csrf_token } = form.map(|Form(f)| f).unwrap_or_default();
    // A device form posted without this browser's token: another site's form, or a page from before the
    // cookie was cleared. Nothing is looked up.
    if !cookies::form_token_matches(&headers, https, CODE_FORM, &csrf_token) {
        return Err(SignInError::Forged);
    }
    let now = state.clock.now();
    // Every entry takes from its network's and everyone's budget before the lookup (so concurrent guesses
    // cannot overshoot); a right code gives both back.
    let budgets = [
        (format!("user-code {}", client.network), CODE_ENTRIES_PER_NETWORK),
        ("user-code *".to_string(), CODE_ENTRIES_IN_TOTAL),
    ];
    for (n, (bucket, limit)) in budgets.iter().enumerate() {
        if !state.store.take_request(bucket.clone(), *limit, now).await? {
            for (taken, limit) in &budgets[..n] {
                let _ = state.store.give_back_request(taken.clone(), *limit).await;
            }
            return Err(too_many_guesses(&state, &client, n == 1));
        }
    }
    let found = match normalize_user_code(&typed) {
        None => None,
        Some(code) => state.store.find_device(user_code_hash(&code), now).await?.map(|p| (code, p)),
    };
    let Some((code, request)) = found else {
        guard::fail(&state, &client).await;
        let message = "Unknown or expired code. Check the code in your terminal, or run the sign-in there again.";
        return Ok(entry_form(&state, &headers, StatusCode::UNPROCESSABLE_ENTITY, &typed, Some(message)));
    };
    for (bucket, limit) in &budgets {
        if let Err(e) = state.store.give_back_request(bucket.clone(), *limit).await {
            tracing::error!("cannot give a code entry back: {e}");
        }
    }
    // The first browser to enter the code holds the request: only it, which saw who asked, can sign in for
    // it or refuse it. A sign-in link sent to someone else (remote phishing, RFC 8628 section 5.4) signs
    // nobody in, and whoever learns the code later cannot take the request over.
    let browser = cookies::presented_browser(&headers, https).ok_or(SignInError::Forged)?;
    let browser_hash = cookies::browser_hash(&browser);
    if !state.store.bind_device(request.id.clone(), browser_hash.clone(), now).await? {
        return match state.store.get_pending::<DeviceRequest>(request.id.clone()).await? {
            Some(p)
                if p.status == DeviceStatus::Pending
                    && p.expires_at > now
                    && p.browser_hash.as_deref().is_some_and(|h| h != browser_hash) =>
            {
                tracing::warn!(
                    client = %client.key,
                    "a terminal's code was entered in a second browser: refused, the first browser holds it"
                );
                Err(SignInError::CodeInUse)
            }
            _ => Err(SignInError::TerminalGone),
        };
    }
    let providers: Vec<String> = state.providers.keys().cloned().collect();
    Ok(pages::render(
        StatusCode::OK,
        "device_confirm.html",
        context! {
            user_code => display_user_code(&code),
            device => request.id,
            client_ip => request.rate_key,
            user_agent => request.user_agent.unwrap_or_else(|| "not given".into()),
            requested_at => to_sqlite(request.created_at),
            renewal => request.renew_token_hash.is_some(),
            providers,
            csrf_token => cookies::form_token(&browser, REFUSE_FORM),
        },
    ))
}

#[derive(Deserialize, Default)]
pub struct RefuseForm {
    #[serde(default)]
    device: String,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /auth/device/refuse`: "this was not me", from the browser that holds the request. The terminal
/// hears `access_denied`.
pub async fn refuse(
    State(state): State<Arc<SsoState>>,
    headers: HeaderMap,
    form: Result<Form<RefuseForm>, FormRejection>,
) -> Result<Response, SignInError> {
    let https = state.https();
    let RefuseForm { device: id, csrf_token } = form.map(|Form(f)| f).unwrap_or_default();
    if !cookies::form_token_matches(&headers, https, REFUSE_FORM, &csrf_token) {
        return Err(SignInError::Forged);
    }
    // The binding never changes once made, so checking it before the decision is not a race.
    let presented = cookies::presented_browser_hash(&headers, https);
    let now = state.clock.now();
    match state.store.get_pending::<DeviceRequest>(id.clone()).await? {
        Some(p) if p.browser_hash.as_deref() == Some(presented.as_str()) => {}
        Some(p) if p.status == DeviceStatus::Pending && p.expires_at > now => {
            return Err(SignInError::CodeInUse);
        }
        _ => return Err(SignInError::TerminalGone),
    }
    if !state.store.decide_device(id, DeviceDecision::Deny, now).await? {
        return Err(SignInError::TerminalGone);
    }
    tracing::warn!("a terminal sign-in was refused by the person it was shown to");
    Ok(grant::terminal_done("Sign-in refused", "The terminal that asked was refused and gets no token."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_use_the_alphabet_and_normalize_forgivingly() {
        for _ in 0..200 {
            let code = new_user_code();
            assert_eq!(code.len(), USER_CODE_LENGTH);
            assert_eq!(normalize_user_code(&display_user_code(&code)).as_deref(), Some(code.as_str()));
            assert_eq!(normalize_user_code(&code.to_lowercase()).as_deref(), Some(code.as_str()));
        }
        assert_eq!(normalize_user_code(" bcdf - ghjk ").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize_user_code("BCDF-GHJA"), None, "vowels are not in the alphabet");
        assert_eq!(normalize_user_code("BCDF-GHJ"), None);
        assert_eq!(normalize_user_code("BCDF-GHJKL"), None);
        assert_eq!(normalize_user_code("ВCDF-GHJK"), None, "a Cyrillic look-alike is no code");
    }

    #[test]
    fn every_letter_is_drawn() {
        let seen: std::collections::BTreeSet<char> =
            (0..400).flat_map(|_| new_user_code().chars().collect::<Vec<_>>()).collect();
        assert_eq!(seen.len(), USER_CODE_ALPHABET.len());
    }

    #[test]
    fn the_stored_forms_are_hashes() {
        let id = device_id("abc");
        assert_eq!(id.len(), 64);
        assert_ne!(user_code_hash("BCDFGHJK"), device_id("BCDFGHJK"), "separate domains");
    }
}
