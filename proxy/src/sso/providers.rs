//! One configured identity provider at run time: discovery (cached; retried in
//! the background with capped backoff until it succeeds; fetched by one caller
//! at a time; refreshed when a token names an unknown key, at most once per
//! [`JWKS_REFRESH_INTERVAL`]), the authorization URL and the
//! code exchange with the `openidconnect` crate, and the ID token checks
//! (signature against the JWKS, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`) with
//! `jsonwebtoken`: openidconnect cannot even parse a token whose `iss` is not a
//! URL, and Google does send `accounts.google.com` without the scheme.
//!
//! Issuer rules beyond the standard verifier: Entra's multi-tenant discovery
//! publishes the issuer template `.../{tenantid}/v2.0`, so each token's `iss` is
//! checked against the template filled with its own (signed) `tid`, and against
//! `allowed_tenants`; Google sometimes spells its issuer without `https://`.
//!
//! An email address is used only when the provider vouches for it:
//! `email_verified: true`, or an Entra tenant listed in `allowed_tenants` (and
//! `xms_edov` true where the token carries it). `preferred_username` is a
//! display name that a user of any tenant may set: it never stands in for `email`.

use crate::config::Provider;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreJsonWebKeySet, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope,
};
use serde_json::Value;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Seconds an `iat` may lie in the future (clock skew) before the token is refused.
const MAX_CLOCK_SKEW: i64 = 300;
/// Least time between two JWKS refreshes caused by an unknown `kid`.
pub const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// Longest wait between two background discovery attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// Who signed in, namespaced by provider (and Entra tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `{provider}:{sub}`, or `{provider}:{tid}:{oid}` for Entra.
    pub user_id: String,
    pub email: String,
    pub provider: String,
    /// What the ID token says beyond who: directory, groups, roles (for `policy` mode).
    pub claims: Claims,
}

pub use crate::authz::policy::Claims;

/// Most groups or roles read from one token; more are an overage (unknown), not a partial list.
pub const MAX_CLAIM_ITEMS: usize = 1000;

impl Claims {
    fn read(claims: &Value, tenant: Option<String>, groups_claim: &str, roles_claim: &str) -> Self {
        let (groups, too_many) = names(claims, groups_claim);
        let (roles, _) = names(claims, roles_claim);
        // Entra: "groups" moved to `_claim_names` (a Graph call away) when the user has more than 200.
        let elsewhere = claims.get("_claim_names").and_then(|n| n.get(groups_claim)).is_some();
        Claims { tenant, groups, roles, groups_overage: too_many || elsewhere }
    }
}

/// The strings of a claim (a dotted path reaches into objects): a list, or one string. `true` when
/// the list is longer than [`MAX_CLAIM_ITEMS`] (then it is not read).
fn names(claims: &Value, path: &str) -> (Vec<String>, bool) {
    let mut value = claims;
    for part in path.split('.') {
        match value.get(part) {
            Some(v) => value = v,
            None => return (Vec::new(), false),
        }
    }
    match value {
        Value::String(s) => (vec![s.clone()], false),
        Value::Array(items) if items.len() > MAX_CLAIM_ITEMS => (Vec::new(), true),
        Value::Array(items) => (items.iter().filter_map(Value::as_str).map(str::to_string).collect(), false),
        _ => (Vec::new(), false),
    }
}

/// Why a sign-in failed, worded for the page and the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsoError {
    #[error("Failed to connect to identity provider {host}: {detail}")]
    Unreachable { host: String, detail: String },
    #[error("Invalid client: the identity provider rejected client_id/client_secret ({detail})")]
    InvalidClient { detail: String },
    #[error("The identity provider rejected the redirect URI {redirect_uri} ({detail})")]
    RedirectUri { redirect_uri: String, detail: String },
    #[error("The identity provider refused the sign-in: {0}")]
    Refused(String),
    #[error("The identity provider's answer could not be verified: {0}")]
    Verification(String),
}

struct Discovered {
    metadata: CoreProviderMetadata,
    /// The discovery document's issuer (possibly Entra's `{tenantid}` template).
    issuer: String,
    /// The same JWKS, for the verification done with jsonwebtoken.
    keys: JwkSet,
}

pub struct ProviderRuntime {
    pub name: String,
    config: Provider,
    redirect_uri: String,
    http: reqwest::Client,
    discovered: RwLock<Option<Arc<Discovered>>>,
    /// Held while fetching, so concurrent sign-ins cause one fetch, not one each.
    fetching: tokio::sync::Mutex<()>,
    /// When an unknown `kid` last caused a refresh.
    last_kid_refresh: std::sync::Mutex<Option<std::time::Instant>>,
}

fn host_of(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_else(|| url.to_string())
}

impl ProviderRuntime {
    pub fn new(name: &str, config: Provider, redirect_uri: &str, http: reqwest::Client) -> Self {
        ProviderRuntime {
            name: name.to_string(),
            config,
            redirect_uri: redirect_uri.to_string(),
            http,
            discovered: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
            last_kid_refresh: std::sync::Mutex::new(None),
        }
    }

    fn unreachable(&self, url: &str, detail: impl std::fmt::Display) -> SsoError {
        SsoError::Unreachable { host: host_of(url), detail: detail.to_string() }
    }

    async fn get_json(&self, url: &str) -> Result<Vec<u8>, SsoError> {
        let response = self.http.get(url).send().await.map_err(|e| self.unreachable(url, e))?;
        if !response.status().is_success() {
            return Err(self.unreachable(url, format!("HTTP {}", response.status())));
        }
        crate::outbound::read_bounded(response, crate::outbound::MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| self.unreachable(url, e))
    }

    fn cached(&self) -> Option<Arc<Discovered>> {
        self.discovered.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Fetches again, unless another caller fetched while this one waited its turn.
    async fn refresh(&self, stale: Option<&Arc<Discovered>>) -> Result<Arc<Discovered>, SsoError> {
        let _turn = self.fetching.lock().await;
        match self.cached() {
            Some(current) if stale.is_none_or(|s| !Arc::ptr_eq(s, &current)) => Ok(current),
            _ => self.discover().await,
        }
    }

    /// Fetches the discovery document and the JWKS (no cache).
    async fn discover(&self) -> Result<Arc<Discovered>, SsoError> {
        let url = &self.config.discovery_url;
        let body = self.get_json(url).await?;
        let metadata: CoreProviderMetadata = serde_json::from_slice(&body)
            .map_err(|e| self.unreachable(url, format!("the discovery document is not valid: {e}")))?;
        let issuer = metadata.issuer().as_str().to_string();
        let jwks_url = metadata.jwks_uri().url().to_string();
        let jwks_body = self.get_json(&jwks_url).await?;
        let invalid = |e: serde_json::Error| self.unreachable(&jwks_url, format!("the JWKS is not valid: {e}"));
        let jwks: CoreJsonWebKeySet = serde_json::from_slice(&jwks_body).map_err(invalid)?;
        let keys: JwkSet = serde_json::from_slice(&jwks_body).map_err(invalid)?;
        let metadata = metadata.set_jwks(jwks);
        let found = Arc::new(Discovered { metadata, issuer, keys });
        *self.discovered.write().unwrap_or_else(|p| p.into_inner()) = Some(found.clone());
        Ok(found)
    }

    async fn discovered(&self) -> Result<Arc<Discovered>, SsoError> {
        match self.cached() {
            Some(d) => Ok(d),
            None => self.refresh(None).await,
        }
    }

    /// Discovery in the background from startup: retried with doubling delays
    /// (capped at 30 s) until it succeeds, so `/ready` turns 200 soon after an
    /// IdP that was down comes back.
    pub async fn warm_up(&self) {
        let mut delay = Duration::from_secs(1);
        for attempt in 1u64.. {
            if self.is_ready() {
                return;
            }
            match self.refresh(None).await {
                Ok(_) => {
                    tracing::info!(provider = %self.name, "discovery document loaded");
                    return;
                }
                Err(e) => {
                    let e = crate::logging::outside(&e.to_string());
                    tracing::warn!(provider = %self.name, "discovery failed (attempt {attempt}, next in {delay:?}): {e}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_RETRY_DELAY);
                }
            }
        }
    }

    /// Whether a token's unknown `kid` may trigger a JWKS refresh now (and, if so, books it).
    fn may_refresh_for_kid(&self) -> bool {
        let mut last = self.last_kid_refresh.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < JWKS_REFRESH_INTERVAL) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// Whether discovery has succeeded (for `/ready`).
    pub fn is_ready(&self) -> bool {
        self.discovered.read().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    fn client(
        &self,
        d: &Discovered,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        SsoError,
    > {
        let redirect = RedirectUrl::new(self.redirect_uri.clone())
            .map_err(|e| SsoError::Verification(format!("redirect URI {}: {e}", self.redirect_uri)))?;
        Ok(CoreClient::from_provider_metadata(
            d.metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.expose().to_string())),
        )
        .set_redirect_uri(redirect))
    }

    /// The IdP URL to send the browser to (PKCE S256, state, nonce).
    pub async fn authorize_url(&self, state: &str, nonce: &str, pkce_verifier: &str) -> Result<String, SsoError> {
        let d = self.discovered().await?;
        let client = self.client(&d)?;
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(pkce_verifier.to_string()));
        let (state, nonce) = (state.to_string(), nonce.to_string());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(challenge);
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        Ok(request.url().0.to_string())
    }

    /// Exchanges the code and verifies the ID token; returns who signed in.
    pub async fn finish(&self, code: &str, pkce_verifier: &str, nonce: &str, now: i64) -> Result<Identity, SsoError> {
        let d = self.discovered().await?;
        let client = self.client(&d)?;
        let token_url = d.metadata.token_endpoint().map(|u| u.url().to_string()).unwrap_or_default();
        let exchanged = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| SsoError::Verification(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await;
        let raw = match exchanged {
            Ok(tokens) => match openidconnect::TokenResponse::id_token(&tokens) {
                Some(id_token) => id_token.to_string(),
                None => return Err(SsoError::Verification("the token response has no ID token".into())),
            },
            // openidconnect refuses an ID token whose claims it cannot parse (an `iss` that is
            // not a URL): take it from the raw response and verify it ourselves below.
            Err(RequestTokenError::Parse(e, body)) => match raw_id_token(&body) {
                Some(raw) => raw,
                None => return Err(SsoError::Verification(format!("the token response could not be read: {e}"))),
            },
            Err(RequestTokenError::ServerResponse(r)) => {
                let detail =
                    format!("{}{}", r.error(), r.error_description().map(|d| format!(": {d}")).unwrap_or_default());
                return Err(match r.error() {
                    CoreErrorResponseType::InvalidClient | CoreErrorResponseType::UnauthorizedClient => {
                        SsoError::InvalidClient { detail }
                    }
                    CoreErrorResponseType::Extension(e) if e == "redirect_uri_mismatch" => {
                        SsoError::RedirectUri { redirect_uri: self.redirect_uri.clone(), detail }
                    }
                    _ => SsoError::Refused(detail),
                });
            }
            Err(RequestTokenError::Request(e)) => return Err(self.unreachable(&token_url, e)),
            Err(e) => return Err(SsoError::Refused(e.to_string())),
        };
        // A key id the JWKS does not have: maybe a rotated key. Refresh once, rate-limited;
        // a bad signature or a refused algorithm never causes a fetch.
        let unknown_kid =
            jsonwebtoken::decode_header(&raw).ok().and_then(|h| h.kid).is_some_and(|kid| d.keys.find(&kid).is_none());
        let d = if unknown_kid && self.may_refresh_for_kid() { self.refresh(Some(&d)).await? } else { d };
        self.verify(&d, &raw, nonce, now)
    }

    fn verify(&self, d: &Discovered, raw: &str, nonce: &str, now: i64) -> Result<Identity, SsoError> {
        let bad = |m: String| SsoError::Verification(m);
        let header = jsonwebtoken::decode_header(raw).map_err(|e| bad(format!("unusable ID token header: {e}")))?;
        const ALLOWED: &[Algorithm] = &[
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::ES256,
            Algorithm::ES384,
        ];
        if !ALLOWED.contains(&header.alg) {
            return Err(bad(format!("signature algorithm {:?} is not accepted", header.alg)));
        }
        let jwk = match &header.kid {
            Some(kid) => d.keys.find(kid),
            None if d.keys.keys.len() == 1 => d.keys.keys.first(),
            None => None,
        }
        .ok_or_else(|| bad(format!("signature: no published key has kid {:?}", header.kid)))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| bad(format!("signature: unusable key: {e}")))?;

        // Which issuer to expect: Entra's template is filled with the token's `tid`,
        // read before verification only to choose; the signature then covers it.
        let tid = unverified_payload(raw)?.get("tid").and_then(Value::as_str).map(str::to_string);
        let expected_issuer = match (&tid, d.issuer.contains("{tenantid}")) {
            (Some(tid), true) => d.issuer.replace("{tenantid}", tid),
            (None, true) => return Err(bad("the ID token has no tid for the Entra issuer template".into())),
            _ => d.issuer.clone(),
        };
        let bare = expected_issuer.trim_start_matches("https://").trim_start_matches("http://").to_string();
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[self.config.client_id.as_str()]);
        validation.set_issuer(&[expected_issuer.as_str(), bare.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 60;
        // A token not valid yet (`nbf` in the future, past the leeway) is refused.
        validation.validate_nbf = true;
        let claims = jsonwebtoken::decode::<Value>(raw, &key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    bad("signature: does not match the published key".into())
                }
                _ => bad(format!("{e}")),
            })?
            .claims;

        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(bad("nonce mismatch: the ID token was not issued for this sign-in".into()));
        }
        let Some(iat) = claims.get("iat").and_then(Value::as_i64) else {
            return Err(bad("the ID token has no iat".into()));
        };
        if iat > now + MAX_CLOCK_SKEW {
            return Err(bad(
                "the ID token was issued in the future: check the clocks of this server and the IdP".into()
            ));
        }
        let several_audiences = claims.get("aud").and_then(Value::as_array).is_some_and(|a| a.len() > 1);
        if several_audiences && claims.get("azp").and_then(Value::as_str) != Some(self.config.client_id.as_str()) {
            return Err(bad("azp does not name this client".into()));
        }
        let tenants = &self.config.allowed_tenants;
        if let Some(tid) = &tid
            && !tenants.is_empty()
            && !tenants.iter().any(|t| t.eq_ignore_ascii_case(tid))
        {
            return Err(SsoError::Refused(format!(
                "accounts of the Microsoft Entra tenant {tid} may not sign in here (it is not in allowed_tenants)"
            )));
        }
        let text = |name: &str| claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
        let email = text("email").ok_or_else(|| {
            SsoError::Refused("the identity provider sent no email address (add the email scope)".into())
        })?;
        if !plausible_email(&email) {
            return Err(SsoError::Refused("the identity provider sent an unusable email address".into()));
        }
        let flag = |name: &str| match claims.get(name) {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => Some(s == "true" || s == "1"),
            Some(Value::Number(n)) => Some(n.as_i64() == Some(1)),
            Some(_) => Some(false),
            None => None,
        };
        let verified_claim = flag("email_verified") == Some(true);
        let tenant_vouches = tid.is_some() && !tenants.is_empty() && flag("xms_edov") != Some(false);
        if !(verified_claim || tenant_vouches) {
            let why = if tid.is_some() {
                "the identity provider does not vouch for this email address: list your Microsoft Entra tenant ID \
                 in allowed_tenants so that addresses of that tenant are trusted"
            } else {
                "the email address is not verified at the identity provider (email_verified is not true)"
            };
            return Err(SsoError::Refused(why.into()));
        }
        let subject = text("sub").ok_or_else(|| bad("the ID token has no sub".into()))?;
        let user_id = match (&tid, text("oid")) {
            (Some(tid), Some(oid)) => format!("{}:{tid}:{oid}", self.name),
            (Some(tid), None) => format!("{}:{tid}:{subject}", self.name),
            _ => format!("{}:{subject}", self.name),
        };
        let claims = Claims::read(&claims, tid, self.config.groups_claim(), self.config.roles_claim());
        Ok(Identity { user_id, email, provider: self.name.clone(), claims })
    }
}

/// An address that can be shown and logged: one `@`, no spaces or control characters.
fn plausible_email(email: &str) -> bool {
    email.len() <= 320 && email.matches('@').count() == 1 && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The `id_token` of a raw token response.
fn raw_id_token(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.get("access_token")?;
    value.get("id_token").and_then(Value::as_str).map(str::to_string)
}

/// The claims of a JWT before verification (only to pick the issuer to verify against).
fn unverified_payload(raw: &str) -> Result<Value, SsoError> {
    let part = raw.split('.').nth(1).ok_or_else(|| SsoError::Verification("malformed ID token".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| SsoError::Verification("malformed ID token".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| SsoError::Verification("malformed ID token".into()))
}
