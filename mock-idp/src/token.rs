//! The token endpoint (code exchange) and the userinfo endpoint.
//!
//! Client authentication accepts `client_secret_basic` and `client_secret_post`
//! (not both at once). Codes are single-use, short-lived, bound to the client,
//! the redirect URI and, when PKCE was used, to the verifier.

use crate::config::IssuerKind;
use crate::faults::Faults;
use crate::issuers::{self, Layout, TokenContext};
use crate::jwt;
use crate::state::{Grant, Idp, random_token};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// An OAuth error response: status, `error`, `error_description`.
#[derive(Debug, PartialEq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status, error, description: description.into() }
    }

    pub fn body(&self) -> Value {
        json!({ "error": self.error, "error_description": self.description })
    }
}

/// Client credentials as presented, before checking.
fn client_credentials(
    authorization: Option<&str>,
    form: &HashMap<String, String>,
) -> Result<(String, String), OAuthError> {
    let posted = form.get("client_secret").map(|s| (form.get("client_id").cloned().unwrap_or_default(), s.clone()));
    let basic = authorization.and_then(|h| h.strip_prefix("Basic ").or_else(|| h.strip_prefix("basic ")));
    match (basic, posted) {
        (Some(_), Some(_)) => {
            Err(OAuthError::new(400, "invalid_request", "Use one client authentication method, not both."))
        }
        (Some(b64), None) => {
            let bad = || OAuthError::new(401, "invalid_client", "Malformed Basic authorization header.");
            let decoded = STANDARD.decode(b64.trim()).map_err(|_| bad())?;
            let text = String::from_utf8(decoded).map_err(|_| bad())?;
            let (id, secret) = text.split_once(':').ok_or_else(bad)?;
            // RFC 6749 2.3.1: both halves are form-urlencoded before base64.
            let decode = |s: &str| {
                serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
                    .ok()
                    .and_then(|mut v| v.pop())
                    .map(|(_, v)| v)
                    .ok_or_else(bad)
            };
            Ok((decode(id)?, decode(secret)?))
        }
        (None, Some(pair)) => Ok(pair),
        (None, None) => Err(OAuthError::new(401, "invalid_client", "Client authentication is required.")),
    }
}

/// `POST` token: exchanges an authorization code for tokens.
pub fn exchange(
    idp: &Idp,
    issuer: &str,
    kind: IssuerKind,
    authorization: Option<&str>,
    form: &HashMap<String, String>,
) -> Result<Value, OAuthError> {
    let (client_id, secret) = client_credentials(authorization, form)?;
    let mut state = idp.lock();
    match state.client(issuer, &client_id) {
        Some(c) if c.client_secret == secret => {}
        known => {
            let description = issuers::invalid_client_description(kind, &client_id, known.is_some());
            return Err(OAuthError::new(401, "invalid_client", description));
        }
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return Err(OAuthError::new(400, "unsupported_grant_type", "Only grant_type=authorization_code is supported."));
    }
    let invalid_grant =
        |why: &str| OAuthError::new(400, "invalid_grant", issuers::invalid_grant_description(kind, why));
    let code = form.get("code").map(String::as_str).unwrap_or_default();
    let now = idp.now();
    // Removed before any other check: a code is spent by its first use, right or wrong.
    let Some(issued) = state.codes.remove(code) else {
        return Err(if state.redeemed.contains(code) {
            invalid_grant("the code has already been redeemed")
        } else {
            invalid_grant("Malformed auth code.")
        });
    };
    state.redeemed.insert(code.to_string());
    let request = &issued.request;
    if request.issuer != issuer || request.client_id != client_id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if issued.expires_at <= now {
        return Err(invalid_grant("the code has expired"));
    }
    if form.get("redirect_uri").map(String::as_str) != Some(request.redirect_uri.as_str()) {
        return Err(OAuthError::new(
            400,
            "redirect_uri_mismatch",
            "Bad Request: redirect_uri does not match the one used at authorize.",
        ));
    }
    match (&request.code_challenge, form.get("code_verifier")) {
        (None, None) => {}
        (Some(challenge), Some(verifier)) => {
            if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
                return Err(invalid_grant("code_verifier does not match the code_challenge"));
            }
        }
        (Some(_), None) => return Err(invalid_grant("code_verifier is required (PKCE)")),
        (None, Some(_)) => return Err(invalid_grant("code_verifier sent but no code_challenge was")),
    }

    state.prune(now);
    let access_token = random_token(32);
    let root = idp.issuer_root(issuer);
    let layout = Layout { kind, root: &root };
    let ctx = TokenContext {
        layout: &layout,
        user: &issued.user,
        client_id: &client_id,
        nonce: request.nonce.as_deref(),
        access_token: &access_token,
        now,
        ttl: idp.token_ttl,
    };
    let mut claims = issuers::id_token_claims(&ctx);
    let Some(issuer_state) = state.issuers.get(issuer) else {
        return Err(OAuthError::new(500, "server_error", "issuer vanished"));
    };
    jwt::spoil_claims(&mut claims, &issuer_state.faults, now, idp.token_ttl);
    // Another issuer's published key, for the ForeignIssuerKey fault.
    let foreign = state.issuers.iter().find(|(name, _)| name.as_str() != issuer).map(|(_, other)| other.keys.active());
    let id_token = jwt::encode(&claims, &issuer_state.keys, foreign, &issuer_state.faults);
    let scope = request.scope.clone();
    if state.grants.len() < crate::state::MAX_ENTRIES {
        let grant = Grant {
            issuer: issuer.to_string(),
            client_id: client_id.clone(),
            user: issued.user.clone(),
            expires_at: now + idp.token_ttl,
        };
        state.grants.insert(access_token.clone(), grant);
    }
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": idp.token_ttl,
        "scope": scope,
        "id_token": id_token,
    }))
}

/// `GET`/`POST` userinfo with a Bearer access token.
pub fn userinfo(idp: &Idp, issuer: &str, kind: IssuerKind, authorization: Option<&str>) -> Result<Value, OAuthError> {
    let token = authorization.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim).unwrap_or_default();
    let state = idp.lock();
    let grant = state
        .grants
        .get(token)
        .filter(|g| g.issuer == issuer && g.expires_at > idp.now())
        .ok_or_else(|| OAuthError::new(401, "invalid_token", "The access token is missing, invalid or expired."))?;
    let mut info = issuers::userinfo(kind, &grant.user, &grant.client_id);
    let faults = state.issuers.get(issuer).map(|i| i.faults.clone()).unwrap_or_default();
    if faults.userinfo_sub_mismatch {
        info.insert("sub".into(), json!("someone-else-entirely"));
    }
    Ok(Value::Object(info))
}

/// Whether `faults` asks this JSON endpoint to answer garbage.
pub fn malformed(faults: &Faults, endpoint: crate::faults::Endpoint) -> bool {
    faults.malformed_json.contains(&endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret"));
        let got = client_credentials(Some(&header), &HashMap::new()).unwrap();
        assert_eq!(got, ("my app".to_string(), "s:cret".to_string()));
    }

    #[test]
    fn both_methods_or_none_are_refused() {
        let form: HashMap<String, String> =
            [("client_id".to_string(), "a".to_string()), ("client_secret".to_string(), "b".to_string())].into();
        let header = format!("Basic {}", STANDARD.encode("a:b"));
        assert_eq!(client_credentials(Some(&header), &form).unwrap_err().error, "invalid_request");
        assert_eq!(client_credentials(None, &HashMap::new()).unwrap_err().status, 401);
        assert_eq!(client_credentials(Some("Basic !!!"), &HashMap::new()).unwrap_err().error, "invalid_client");
    }
}
