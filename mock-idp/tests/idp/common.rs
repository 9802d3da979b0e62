//! Shared fixtures: a running mock with one client and a few users, and an
//! HTTP client that, like a browser test harness, does not follow redirects.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mock_idp::{Client, IdpConfig, MockIdp, User};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub const CLIENT_ID: &str = "app-123.apps.example";
pub const SECRET: &str = "s3cret-value";
pub const REDIRECT: &str = "http://127.0.0.1:8080/auth/callback";
pub const CONTOSO: &str = "b9c6a2f4-1f3e-4d8a-9c3b-2e7d5f6a8b10";

pub async fn spawn() -> MockIdp {
    let mut config = IdpConfig::default();
    config.clients.push(Client::new(CLIENT_ID, SECRET, REDIRECT));
    let mut alice = User::new("alice@company.com");
    alice.hd = Some("company.com".into());
    alice.name = Some("Alice Admin".into());
    let mut carol = User::new("carol@contoso.com");
    carol.tenant_id = Some(CONTOSO.into());
    let mut dave = User::new("dave@contoso.com");
    dave.tenant_id = Some(CONTOSO.into());
    dave.omit_email = true;
    config.users = vec![alice, User::new("bob@example.com"), carol, dave];
    MockIdp::spawn(config).await.expect("mock idp starts")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// The authorize URL of an issuer (Microsoft: through `tenant`).
pub fn authorize_url(idp: &MockIdp, issuer: &str, tenant: &str) -> String {
    let root = idp.issuer_url(issuer);
    match issuer {
        "google" => format!("{root}/o/oauth2/v2/auth"),
        "microsoft" => format!("{root}/{tenant}/oauth2/v2.0/authorize"),
        _ => format!("{root}/authorize"),
    }
}

pub fn token_url(idp: &MockIdp, issuer: &str, tenant: &str) -> String {
    let root = idp.issuer_url(issuer);
    match issuer {
        "microsoft" => format!("{root}/{tenant}/oauth2/v2.0/token"),
        _ => format!("{root}/token"),
    }
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_string();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Standard authorize parameters, to be overridden per test.
pub fn params(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p: HashMap<String, String> = [
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "st-1"),
        ("nonce", "n-1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        if v.is_empty() {
            p.remove(*k);
        } else {
            p.insert(k.to_string(), v.to_string());
        }
    }
    p.into_iter().collect()
}

pub async fn get_authorize(idp: &MockIdp, issuer: &str, tenant: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    http().get(authorize_url(idp, issuer, tenant)).query(&params(extra)).send().await.expect("authorize answers")
}

/// Query parameters of a redirect `Location`.
pub fn location_params(response: &reqwest::Response) -> HashMap<String, String> {
    let location = response.headers().get("location").expect("a Location header").to_str().expect("ascii");
    url::Url::parse(location).expect("absolute URL").query_pairs().into_owned().collect()
}

/// Signs `email` in headlessly (login_hint) and returns the code.
pub async fn code_for(idp: &MockIdp, issuer: &str, tenant: &str, email: &str, extra: &[(&str, &str)]) -> String {
    let mut all = vec![("login_hint", email)];
    all.extend_from_slice(extra);
    let response = get_authorize(idp, issuer, tenant, &all).await;
    assert_eq!(response.status(), 302, "headless sign-in redirects back");
    let params = location_params(&response);
    assert_eq!(params.get("state").map(String::as_str), Some("st-1"));
    params.get("code").cloned().unwrap_or_else(|| panic!("no code in {params:?}"))
}

/// Exchanges a code with client_secret_post.
pub async fn exchange(idp: &MockIdp, issuer: &str, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let mut all: HashMap<&str, &str> = [
        ("grant_type", "authorization_code"),
        ("redirect_uri", REDIRECT),
        ("client_id", CLIENT_ID),
        ("client_secret", SECRET),
    ]
    .into();
    for (k, v) in form {
        if v.is_empty() {
            all.remove(k);
        } else {
            all.insert(k, v);
        }
    }
    let response = http().post(token_url(idp, issuer, tenant)).form(&all).send().await.expect("token answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("token endpoint answers JSON"))
}

/// Fetches the issuer's JWKS from the URL its discovery document names.
pub async fn jwks(idp: &MockIdp, issuer: &str) -> JwkSet {
    let discovery: Value =
        http().get(idp.discovery_url(issuer, None).expect("issuer")).send().await.unwrap().json().await.unwrap();
    let uri = discovery["jwks_uri"].as_str().expect("jwks_uri");
    http().get(uri).send().await.unwrap().json().await.expect("a JWK set")
}

/// Verifies an ID token with the jsonwebtoken crate against the published JWKS.
pub fn verify(id_token: &str, jwks: &JwkSet, issuer: &str) -> jsonwebtoken::errors::Result<Value> {
    let header = jsonwebtoken::decode_header(id_token)?;
    let kid = header.kid.unwrap_or_default();
    let jwk = jwks.find(&kid).ok_or(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    Ok(jsonwebtoken::decode::<Value>(id_token, &key, &validation)?.claims)
}

/// The claims of a JWT without verifying it (to look at what a broken token carries).
pub fn peek(id_token: &str) -> Value {
    let payload = id_token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON claims")
}
