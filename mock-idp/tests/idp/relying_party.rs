//! An ordinary relying party (the `openidconnect` crate, as the proxy will use
//! it) signs in against the mock with no special cases: discovery, PKCE S256,
//! nonce, code exchange with client_secret_basic, ID token verification.

use crate::common::*;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};

/// Follows the authorize URL headlessly (login_hint) and returns (code, state) from the redirect.
async fn sign_in(url: &url::Url, email: &str) -> (String, String) {
    let mut url = url.clone();
    url.query_pairs_mut().append_pair("login_hint", email);
    let response = http().get(url).send().await.expect("authorize answers");
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap_or_default());
    let back = location_params(&response);
    (back["code"].clone(), back["state"].clone())
}

#[tokio::test]
async fn openidconnect_logs_in_against_the_google_issuer_with_pkce() {
    let idp = spawn().await;
    let http = http();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(idp.issuer_url("google")).unwrap(), &http)
        .await
        .expect("discovery, issuer matching the document");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(CLIENT_ID.into()),
        Some(ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let (code, state) = sign_in(&auth_url, "alice@company.com").await;
    assert_eq!(&state, csrf.secret());
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&client.id_token_verifier(), &nonce).expect("ID token verifies");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("alice@company.com"));
    assert_eq!(claims.email_verified(), Some(true));
    // at_hash is checked the way a careful RP checks it.
    let expected = openidconnect::AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&client.id_token_verifier()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));

    // A wrong nonce is refused by the library: the mock really binds the nonce.
    assert!(id_token.claims(&client.id_token_verifier(), &Nonce::new("other".into())).is_err());
}

/// Entra's `common` endpoint publishes `issuer: .../{tenantid}/v2.0`, so standard
/// discovery (which requires the document's issuer to equal the URL it was
/// fetched from) fails. A relying party fetches the document itself and checks
/// each token's `iss` against the template filled with the token's own `tid`,
/// for tenants it allows: here, one verifier per allowed tenant.
#[tokio::test]
async fn openidconnect_logs_in_against_microsoft_common_validating_the_tenant_issuer() {
    let idp = spawn().await;
    let http = http();
    let common_root = format!("{}/common/v2.0", idp.issuer_url("microsoft"));
    assert!(
        CoreProviderMetadata::discover_async(IssuerUrl::new(common_root.clone()).unwrap(), &http).await.is_err(),
        "standard discovery rejects the {{tenantid}} template, as against real Entra"
    );
    let document = http.get(format!("{common_root}/.well-known/openid-configuration")).send().await.unwrap();
    let metadata: CoreProviderMetadata = serde_json::from_str(&document.text().await.unwrap()).unwrap();
    let template = metadata.issuer().as_str().to_string();
    assert!(template.ends_with("/{tenantid}/v2.0"));
    let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &http).await.expect("JWKS");
    let metadata = metadata.set_jwks(jwks.clone());
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(CLIENT_ID.into()),
        Some(ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let (code, _) = sign_in(&auth_url, "carol@contoso.com").await;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().unwrap();

    // The metadata's verifier expects the literal template and refuses the real issuer.
    assert!(id_token.claims(&client.id_token_verifier(), &nonce).is_err());

    let tenant_verifier = |tenant: &str| {
        CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(CLIENT_ID.into()),
            ClientSecret::new(SECRET.into()),
            IssuerUrl::new(template.replace("{tenantid}", tenant)).unwrap(),
            jwks.clone(),
        )
    };
    let claims = id_token.claims(&tenant_verifier(CONTOSO), &nonce).expect("verifies for the allowed tenant");
    assert_eq!(claims.issuer().as_str(), template.replace("{tenantid}", CONTOSO));
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("carol@contoso.com"));
    // A tenant not on the allow list does not verify.
    assert!(id_token.claims(&tenant_verifier(mock_idp::config::DEFAULT_TENANT), &nonce).is_err());
}
