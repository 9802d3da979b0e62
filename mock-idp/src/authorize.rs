//! The authorization endpoint and the login page behind it.
//!
//! Validation follows the real providers' order: an unknown client or a
//! redirect URI that is not registered *exactly* gets an error page and never a
//! redirect (that would be an open redirector); every later problem is sent back
//! to the client as `error=...` on its redirect URI, with `state` echoed.

use crate::config::{IssuerKind, User};
use crate::issuers::{self, ErrorPage};
use crate::state::{AuthRequest, Idp, IssuedCode, State, random_token};
use std::collections::HashMap;

/// Longest accepted email address (RFC 5321 path limit).
const MAX_EMAIL_LEN: usize = 254;

/// What the browser gets back from the authorize or login endpoint.
#[derive(Debug)]
pub enum Outcome {
    /// The provider's own error page; the user stays at the provider.
    ErrorPage(ErrorPage),
    /// A 302 back to the client.
    Redirect(String),
    /// The sign-in page for a stored request.
    LoginPage { request_id: String, users: Vec<User>, client_id: String },
}

/// `GET` authorize with the query parameters.
pub fn authorize(
    idp: &Idp,
    issuer: &str,
    kind: IssuerKind,
    tenant: Option<&str>,
    q: &HashMap<String, String>,
) -> Outcome {
    if let Some(t) = tenant
        && !issuers::is_valid_tenant(t)
    {
        return Outcome::ErrorPage(ErrorPage {
            status: 400,
            title: "AADSTS90002".into(),
            detail: format!("AADSTS90002: Tenant '{t}' not found. Check to make sure you have the correct tenant ID."),
        });
    }
    let client_id = q.get("client_id").map(String::as_str).unwrap_or_default();
    let mut state = idp.lock();
    let Some(client) = state.client(issuer, client_id) else {
        return Outcome::ErrorPage(issuers::unknown_client_page(kind, client_id));
    };
    let redirect_uri = q.get("redirect_uri").map(String::as_str).unwrap_or_default();
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Outcome::ErrorPage(issuers::redirect_mismatch_page(kind, client_id, redirect_uri));
    }
    let require_pkce = client.require_pkce;
    let client_id = client.client_id.clone();
    let back = |error: &str, description: &str| {
        Outcome::Redirect(error_redirect(redirect_uri, error, description, q.get("state").map(String::as_str)))
    };

    if q.get("response_type").map(String::as_str) != Some("code") {
        return back("unsupported_response_type", "Only response_type=code is supported.");
    }
    let scope = q.get("scope").cloned().unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return back("invalid_scope", "The scope must include 'openid'.");
    }
    let challenge = q.get("code_challenge").filter(|c| !c.is_empty());
    match (q.get("code_challenge_method").map(String::as_str), challenge) {
        (Some("S256"), Some(_)) | (None, None) => {}
        (Some("S256"), None) => {
            return back("invalid_request", "code_challenge is required with code_challenge_method.");
        }
        (None, Some(_)) | (Some("plain"), _) => {
            return back("invalid_request", "Only code_challenge_method=S256 is accepted; 'plain' is refused.");
        }
        (Some(_), _) => return back("invalid_request", "Unsupported code_challenge_method."),
    }
    if let Some(c) = challenge {
        // RFC 7636: the S256 challenge is 43 base64url characters.
        let well_formed = c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return back("invalid_request", "code_challenge must be a base64url SHA-256 digest (43 characters).");
        }
    } else if require_pkce {
        return back(
            "invalid_request",
            "PKCE is required for this client: send code_challenge and code_challenge_method=S256.",
        );
    }

    let request = AuthRequest {
        issuer: issuer.to_string(),
        tenant: tenant.map(str::to_string),
        client_id: client_id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scope,
        state: q.get("state").cloned(),
        nonce: q.get("nonce").cloned(),
        code_challenge: challenge.cloned(),
        created_at: idp.now(),
    };

    // Headless paths: a decision made in advance, or a login_hint naming a known user.
    let preselected = state.next_login.as_ref().is_some_and(|n| n.issuer.as_deref().is_none_or(|i| i == issuer));
    if preselected && let Some(next) = state.next_login.take() {
        if next.deny {
            return Outcome::Redirect(deny_redirect(&request));
        }
        let email = next.email.unwrap_or_default();
        return sign_in(idp, &mut state, request, &email, kind);
    }
    if let Some(hint) = q.get("login_hint")
        && idp.auto_approve_login_hint
        && state.user(hint).is_some()
    {
        return sign_in(idp, &mut state, request, hint, kind);
    }
    if q.get("prompt").is_some_and(|p| p.split(' ').any(|p| p == "none")) {
        return back("login_required", "The user must sign in interactively.");
    }

    state.prune(idp.now());
    if state.is_full() {
        return back("temporarily_unavailable", "Too many sign-ins in progress; try again later.");
    }
    let request_id = random_token(24);
    state.pending.insert(request_id.clone(), request);
    Outcome::LoginPage { request_id, users: state.users.clone(), client_id }
}

/// `POST` login: the user picked or typed an email, or cancelled.
pub fn login(idp: &Idp, issuer: &str, kind: IssuerKind, form: &HashMap<String, String>) -> Outcome {
    let mut state = idp.lock();
    let id = form.get("request_id").map(String::as_str).unwrap_or_default();
    let request = match state.pending.remove(id) {
        Some(r) if r.issuer == issuer && idp.now() - r.created_at < crate::state::LOGIN_PAGE_TTL_SECONDS => r,
        _ => {
            return Outcome::ErrorPage(ErrorPage {
                status: 400,
                title: "Sign-in request expired".into(),
                detail: "This sign-in request is unknown or has expired. Go back to the application and start again."
                    .into(),
            });
        }
    };
    if form.get("action").map(String::as_str) == Some("cancel") {
        return Outcome::Redirect(deny_redirect(&request));
    }
    let email = form.get("email").map(|e| e.trim()).unwrap_or_default().to_string();
    sign_in(idp, &mut state, request, &email, kind)
}

/// Issues a code for `email` (creating a verified user for an unknown but well-formed
/// address, for offline work) and redirects back to the client.
fn sign_in(idp: &Idp, state: &mut State, request: AuthRequest, email: &str, kind: IssuerKind) -> Outcome {
    if email.is_empty() || email.len() > MAX_EMAIL_LEN || !email.contains('@') || email.chars().any(char::is_whitespace)
    {
        return Outcome::ErrorPage(ErrorPage {
            status: 400,
            title: "Couldn't find your account".into(),
            detail: format!("Enter a valid email address (at most {MAX_EMAIL_LEN} characters)."),
        });
    }
    let user = match state.user(email) {
        Some(u) => u.clone(),
        None => {
            let user = User::new(email);
            state.users.push(user.clone());
            user
        }
    };
    if let (IssuerKind::Microsoft, Some(tenant)) = (kind, request.tenant.as_deref())
        && !issuers::tenant_admits(tenant, &user)
    {
        return Outcome::ErrorPage(ErrorPage {
            status: 400,
            title: "AADSTS50020".into(),
            detail: format!(
                "AADSTS50020: User account '{email}' from identity provider does not exist in tenant '{tenant}' \
                 and cannot access the application '{}' in that tenant.",
                request.client_id
            ),
        });
    }
    let now = idp.now();
    state.prune(now);
    if state.is_full() {
        return Outcome::Redirect(error_redirect(
            &request.redirect_uri,
            "temporarily_unavailable",
            "Too many codes outstanding; try again later.",
            request.state.as_deref(),
        ));
    }
    let code = random_token(32);
    let mut params = vec![("code", code.clone())];
    if let Some(s) = &request.state {
        params.push(("state", s.clone()));
    }
    let url = with_params(&request.redirect_uri, &params);
    state.codes.insert(code, IssuedCode { request, user, expires_at: now + idp.code_ttl });
    Outcome::Redirect(url)
}

fn deny_redirect(request: &AuthRequest) -> String {
    error_redirect(&request.redirect_uri, "access_denied", "The user denied the request.", request.state.as_deref())
}

fn error_redirect(redirect_uri: &str, error: &str, description: &str, state: Option<&str>) -> String {
    let mut params = vec![("error", error.to_string()), ("error_description", description.to_string())];
    if let Some(s) = state {
        params.push(("state", s.to_string()));
    }
    with_params(redirect_uri, &params)
}

/// Appends query parameters, keeping any the registered URI already has.
fn with_params(base: &str, params: &[(&str, String)]) -> String {
    match url::Url::parse(base) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
            url.to_string()
        }
        // Registered URIs are compared as strings, so an unparsable one can still match; encode by hand.
        Err(_) => {
            let query = serde_urlencoded::to_string(params).unwrap_or_default();
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}{query}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_appended_and_encoded() {
        assert_eq!(with_params("http://a/cb", &[("code", "x y".into())]), "http://a/cb?code=x+y");
        assert_eq!(with_params("http://a/cb?k=1", &[("state", "s&t".into())]), "http://a/cb?k=1&state=s%26t");
        assert_eq!(with_params("not a url", &[("code", "c".into())]), "not a url?code=c");
    }
}
