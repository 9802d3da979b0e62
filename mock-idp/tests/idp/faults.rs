//! Every fault mode: the ID token faults make a standard verifier fail the way
//! a real attack or misconfiguration would; the transport faults make the
//! endpoints slow, failing, unparsable or unreachable.

use crate::common::*;
use jsonwebtoken::errors::ErrorKind;
use mock_idp::{Endpoint, Faults, TokenFault};
use std::time::{Duration, Instant};

/// Signs bob in at the Google-like issuer with `fault` on and returns the ID token.
async fn faulty_token(idp: &mock_idp::MockIdp, fault: TokenFault) -> String {
    idp.set_faults("google", Faults { id_token: [fault].into(), ..Faults::default() }).unwrap();
    let code = code_for(idp, "google", "", "bob@example.com", &[]).await;
    let (status, tokens) = exchange(idp, "google", "", &[("code", code.as_str())]).await;
    assert_eq!(status, 200, "{fault:?}: the token endpoint still answers");
    tokens["id_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_token_fault_breaks_verification_as_it_should() {
    let idp = spawn().await;
    let keys = jwks(&idp, "google").await;
    let issuer = idp.issuer_url("google");
    let published_kid = keys.keys[0].common.key_id.clone().unwrap();

    // Each fault against what a verifier then sees.
    for fault in [TokenFault::BadSignature, TokenFault::UnpublishedKey] {
        let token = faulty_token(&idp, fault).await;
        assert_eq!(jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(), Some(published_kid.as_str()));
        let err = verify(&token, &keys, &issuer).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidSignature, "{fault:?}");
    }
    let token = faulty_token(&idp, TokenFault::UnknownKid).await;
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    assert!(keys.find(&kid).is_none(), "kid must not be published");

    let token = faulty_token(&idp, TokenFault::AlgNone).await;
    assert!(token.ends_with('.'), "empty signature");
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "none");

    let token = faulty_token(&idp, TokenFault::WrongIssuer).await;
    assert_eq!(verify(&token, &keys, &issuer).unwrap_err().kind(), &ErrorKind::InvalidIssuer);
    let token = faulty_token(&idp, TokenFault::IssuerWithoutScheme).await;
    assert_eq!(peek(&token)["iss"], issuer.trim_start_matches("http://"));
    let token = faulty_token(&idp, TokenFault::WrongAudience).await;
    assert_eq!(verify(&token, &keys, &issuer).unwrap_err().kind(), &ErrorKind::InvalidAudience);
    let token = faulty_token(&idp, TokenFault::Expired).await;
    assert_eq!(verify(&token, &keys, &issuer).unwrap_err().kind(), &ErrorKind::ExpiredSignature);
    let token = faulty_token(&idp, TokenFault::MissingSub).await;
    assert!(
        matches!(verify(&token, &keys, &issuer).unwrap_err().kind(), ErrorKind::MissingRequiredClaim(c) if c == "sub")
    );
    // jsonwebtoken cannot require `iat`; the claims show it gone while the signature is fine.
    let token = faulty_token(&idp, TokenFault::MissingIat).await;
    assert!(verify(&token, &keys, &issuer).unwrap().get("iat").is_none());

    // Faults a JWT library does not judge: the claims themselves show them, with a valid signature.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let token = faulty_token(&idp, TokenFault::IatInFuture).await;
    assert!(verify(&token, &keys, &issuer).unwrap()["iat"].as_i64().unwrap() > now + 3000);
    let token = faulty_token(&idp, TokenFault::WrongNonce).await;
    assert_eq!(verify(&token, &keys, &issuer).unwrap()["nonce"], "not-the-nonce-you-sent");
    let token = faulty_token(&idp, TokenFault::MissingEmail).await;
    assert!(verify(&token, &keys, &issuer).unwrap().get("email").is_none());
    let token = faulty_token(&idp, TokenFault::EmailNotVerified).await;
    assert_eq!(verify(&token, &keys, &issuer).unwrap()["email_verified"], false);

    // Healthy again once cleared.
    idp.clear_faults("google").unwrap();
    let code = code_for(&idp, "google", "", "bob@example.com", &[]).await;
    let (_, tokens) = exchange(&idp, "google", "", &[("code", code.as_str())]).await;
    verify(tokens["id_token"].as_str().unwrap(), &keys, &issuer).expect("verifies");
}

#[tokio::test]
async fn userinfo_sub_mismatch() {
    let idp = spawn().await;
    idp.set_faults("generic", Faults { userinfo_sub_mismatch: true, ..Faults::default() }).unwrap();
    let code = code_for(&idp, "generic", "", "bob@example.com", &[]).await;
    let (_, tokens) = exchange(&idp, "generic", "", &[("code", code.as_str())]).await;
    let info: serde_json::Value = http()
        .get(format!("{}/userinfo", idp.issuer_url("generic")))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(info["sub"], peek(tokens["id_token"].as_str().unwrap())["sub"]);
}

#[tokio::test]
async fn delay_status_and_malformed_json_faults() {
    let idp = spawn().await;
    let discovery = idp.discovery_url("google", None).unwrap();
    idp.set_faults("google", Faults { delay_ms: 300, ..Faults::default() }).unwrap();
    let started = Instant::now();
    assert_eq!(http().get(&discovery).send().await.unwrap().status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300), "the delay is applied");
    // A client with a shorter timeout gives up, as the proxy's would.
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(50)).build().unwrap();
    assert!(impatient.get(&discovery).send().await.unwrap_err().is_timeout());

    let faults = Faults {
        http_status: [(Endpoint::Discovery, 503), (Endpoint::Token, 500)].into(),
        malformed_json: [Endpoint::Jwks].into(),
        ..Faults::default()
    };
    idp.set_faults("google", faults).unwrap();
    assert_eq!(http().get(&discovery).send().await.unwrap().status(), 503);
    let (status, _) = exchange(&idp, "google", "", &[("code", "x")]).await;
    assert_eq!(status, 500);
    let jwks_body = http().get(format!("{}/oauth2/v3/certs", idp.issuer_url("google"))).send().await.unwrap();
    assert_eq!(jwks_body.status(), 200);
    assert!(serde_json::from_str::<serde_json::Value>(&jwks_body.text().await.unwrap()).is_err());
    // Other issuers are unaffected.
    assert_eq!(http().get(idp.discovery_url("generic", None).unwrap()).send().await.unwrap().status(), 200);

    assert!(
        idp.set_faults("google", Faults { http_status: [(Endpoint::Jwks, 200)].into(), ..Faults::default() }).is_err()
    );
    assert!(idp.set_faults("nope", Faults::default()).is_err());
}

#[tokio::test]
async fn discovery_issuer_fault_and_the_date_header_follow_the_providers_clock() {
    let idp = spawn().await;
    let discovery = idp.discovery_url("google", None).unwrap();
    let faults = Faults { discovery_issuer: Some("https://elsewhere.example".into()), ..Faults::default() };
    idp.set_faults("google", faults).unwrap();
    let document: serde_json::Value = http().get(&discovery).send().await.unwrap().json().await.unwrap();
    assert_eq!(document["issuer"], "https://elsewhere.example");

    // A relying party reads the provider's clock from `Date`: it moves with the offset.
    idp.set_clock_offset(-3600);
    let response = http().get(&discovery).send().await.unwrap();
    let date = response.headers()["date"].to_str().unwrap();
    let date = httpdate::parse_http_date(date).unwrap();
    let behind = std::time::SystemTime::now().duration_since(date).unwrap().as_secs();
    assert!((3590..=3610).contains(&behind), "the Date header is an hour behind: {behind}s");
}

#[tokio::test]
async fn refusing_connections_is_a_real_connection_refused() {
    let idp = spawn().await;
    let discovery = idp.discovery_url("generic", None).unwrap();
    let client = http();
    assert_eq!(client.get(&discovery).send().await.unwrap().status(), 200);
    idp.refuse_connections(true);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = client.get(&discovery).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(tokio::net::TcpStream::connect(idp.addr()).await.is_err(), "nothing listens");
    idp.refuse_connections(false);
    let mut answered = false;
    for _ in 0..50 {
        if let Ok(r) = client.get(&discovery).send().await {
            answered = r.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(answered, "the same port serves again");
}
