//! Discovery documents and JWKS, laid out like each real provider's.

use crate::common::*;
use serde_json::Value;

async fn discovery(url: &str) -> Value {
    let response = http().get(url).send().await.expect("discovery answers");
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.expect("JSON")
}

#[tokio::test]
async fn google_discovery_has_googles_layout_and_every_endpoint_answers() {
    let idp = spawn().await;
    let root = idp.issuer_url("google");
    let doc = discovery(&format!("{root}/.well-known/openid-configuration")).await;
    assert_eq!(doc["issuer"], root.as_str());
    assert_eq!(doc["authorization_endpoint"], format!("{root}/o/oauth2/v2/auth"));
    assert_eq!(doc["token_endpoint"], format!("{root}/token"));
    assert_eq!(doc["userinfo_endpoint"], format!("{root}/v1/userinfo"));
    assert_eq!(doc["jwks_uri"], format!("{root}/oauth2/v3/certs"));
    assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert!(doc["claims_supported"].as_array().unwrap().contains(&"hd".into()));
    let keys = jwks(&idp, "google").await;
    assert_eq!(keys.keys.len(), 1);
    let key = &keys.keys[0];
    assert!(key.common.key_id.as_deref().is_some_and(|k| !k.is_empty()));
}

#[tokio::test]
async fn microsoft_common_issuer_is_the_tenantid_template_and_tenants_are_real() {
    let idp = spawn().await;
    let root = idp.issuer_url("microsoft");
    let common = discovery(&format!("{root}/common/v2.0/.well-known/openid-configuration")).await;
    assert_eq!(common["issuer"], format!("{root}/{{tenantid}}/v2.0"));
    assert_eq!(common["authorization_endpoint"], format!("{root}/common/oauth2/v2.0/authorize"));
    assert_eq!(common["jwks_uri"], format!("{root}/common/discovery/v2.0/keys"));
    assert_eq!(common["userinfo_endpoint"], format!("{root}/oidc/userinfo"));
    let orgs = discovery(&format!("{root}/organizations/v2.0/.well-known/openid-configuration")).await;
    assert_eq!(orgs["issuer"], format!("{root}/{{tenantid}}/v2.0"));
    let tenant = discovery(&format!("{root}/{CONTOSO}/v2.0/.well-known/openid-configuration")).await;
    assert_eq!(tenant["issuer"], format!("{root}/{CONTOSO}/v2.0"));
    let consumers = discovery(&format!("{root}/consumers/v2.0/.well-known/openid-configuration")).await;
    assert_eq!(consumers["issuer"], format!("{root}/{}/v2.0", mock_idp::config::MSA_CONSUMER_TENANT));
    let keys: Value =
        http().get(format!("{root}/common/discovery/v2.0/keys")).send().await.unwrap().json().await.unwrap();
    assert_eq!(keys["keys"][0]["alg"], "RS256");
}

#[tokio::test]
async fn generic_discovery_and_unknown_paths() {
    let idp = spawn().await;
    let root = idp.issuer_url("generic");
    let doc = discovery(&format!("{root}/.well-known/openid-configuration")).await;
    assert_eq!(doc["issuer"], root.as_str());
    assert_eq!(doc["jwks_uri"], format!("{root}/jwks"));
    for path in ["/nope/.well-known/openid-configuration", "/google/authorize", "/microsoft/common/nothing"] {
        let response = http().get(format!("{}{path}", idp.base_url())).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "not_found");
    }
    let wrong_method = http().post(format!("{root}/jwks")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
}

#[tokio::test]
async fn issuers_have_distinct_keys() {
    let idp = spawn().await;
    let google = jwks(&idp, "google").await;
    let generic = jwks(&idp, "generic").await;
    assert_ne!(google.keys[0].common.key_id, generic.keys[0].common.key_id);
}

#[tokio::test]
async fn a_key_file_keeps_the_jwks_stable_across_restarts_and_bad_ones_fail_startup() {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let dir = std::env::temp_dir().join(format!("mock-idp-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let path = dir.join("google.pem");
    std::fs::write(&path, private.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();

    let mut kids = Vec::new();
    for _ in 0..2 {
        let mut config = mock_idp::IdpConfig::default();
        config.issuers[0].key_file = Some(path.clone());
        let idp = mock_idp::MockIdp::spawn(config).await.expect("starts with the key file");
        kids.push(jwks(&idp, "google").await.keys[0].common.key_id.clone().unwrap());
    }
    assert_eq!(kids[0], kids[1], "same key after a restart");

    std::fs::write(&path, "not a key").unwrap();
    let mut config = mock_idp::IdpConfig::default();
    config.issuers[0].key_file = Some(path.clone());
    let err = mock_idp::MockIdp::spawn(config).await.err().expect("refuses to start").to_string();
    assert!(err.contains("issuer google") && err.contains("google.pem"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
