//! The two cookies of a sign-in. The *browser* cookie binds an OIDC flow to the
//! browser that started it: its SHA-256 is stored with the flow and checked at
//! the callback, so a callback URL opened elsewhere (login CSRF, a shared link)
//! signs nobody in. The *confirmation* cookie names the pending confirmation.
//! Both are HttpOnly, SameSite=Lax (the callback is a top-level navigation from
//! the IdP), and Secure with the `__Host-` prefix when the proxy is on HTTPS.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use sha2::{Digest, Sha256};

const BROWSER: &str = "llmsso_browser";
const CONFIRM: &str = "llmsso_confirm";

/// A cookie's name as sent: `__Host-` on HTTPS.
fn name(base: &str, https: bool) -> String {
    if https { format!("__Host-{base}") } else { base.to_string() }
}

/// The value of cookie `base` (in its HTTPS or HTTP name), if it looks like one of ours.
fn read(headers: &HeaderMap, base: &str, https: bool) -> Option<String> {
    let wanted = name(base, https);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == wanted)
        .map(|(_, v)| v.to_string())
        .filter(|v| {
            (16..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn set(response: &mut Response, base: &str, value: &str, max_age: u32, https: bool) {
    let secure = if https { "; Secure" } else { "" };
    let cookie = format!("{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}", name(base, https));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The browser's binding secret: the one it already has, or a new one (`true`: set it).
pub fn browser(headers: &HeaderMap, https: bool) -> (String, bool) {
    match read(headers, BROWSER, https) {
        Some(v) => (v, false),
        None => (super::random::random(32), true),
    }
}

/// What the store keeps of a binding secret.
pub fn browser_hash(secret: &str) -> String {
    crate::tokens::hex_lower(&Sha256::digest(secret.as_bytes()))
}

/// The browser's binding secret if it sent one (no new one is made up).
pub fn presented_browser(headers: &HeaderMap, https: bool) -> Option<String> {
    read(headers, BROWSER, https)
}

/// The CSRF token of `form` for the browser whose binding secret is `secret`: derived from the secret, so
/// only a page this proxy served to that browser carries it (another site can neither read the HttpOnly
/// cookie nor the page), and nothing needs storing.
pub fn form_token(secret: &str, form: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"llm-sso form token\n");
    hasher.update(form.as_bytes());
    hasher.update(b"\n");
    hasher.update(secret.as_bytes());
    crate::tokens::hex_lower(&hasher.finalize())
}

/// Whether `presented` is the browser's token for `form` (compared in constant time).
pub fn form_token_matches(headers: &HeaderMap, https: bool, form: &str, presented: &str) -> bool {
    let Some(secret) = presented_browser(headers, https) else { return false };
    let expected = form_token(&secret, form);
    expected.len() == presented.len()
        && expected.bytes().zip(presented.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The stored hash to match at the callback; a browser without the cookie matches nothing.
pub fn presented_browser_hash(headers: &HeaderMap, https: bool) -> String {
    read(headers, BROWSER, https).map_or_else(|| "-".to_string(), |v| browser_hash(&v))
}

/// Remembers the browser for a day (several sign-ins in parallel tabs share it).
pub fn set_browser(response: &mut Response, secret: &str, https: bool) {
    set(response, BROWSER, secret, 24 * 3600, https);
}

pub fn confirmation(headers: &HeaderMap, https: bool) -> Option<String> {
    read(headers, CONFIRM, https)
}

pub fn set_confirmation(response: &mut Response, id: &str, max_age: u32, https: bool) {
    set(response, CONFIRM, id, max_age, https);
}

pub fn clear_confirmation(response: &mut Response, https: bool) {
    set(response, CONFIRM, "", 0, https);
}
