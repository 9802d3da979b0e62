//! The `/__control` HTTP API: the same operations as the library handle, for
//! tests in other processes and for developers with curl.

use crate::common::*;
use serde_json::{Value, json};

fn control(idp: &mock_idp::MockIdp, path: &str) -> String {
    format!("{}/__control{path}", idp.base_url())
}

#[tokio::test]
async fn key_rotation_publishes_the_new_key_and_signs_with_it() {
    let idp = spawn().await;
    let old = jwks(&idp, "google").await.keys[0].common.key_id.clone().unwrap();
    let response = http().post(control(&idp, "/keys/rotate")).json(&json!({"issuer": "google"})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let new_kid = response.json::<Value>().await.unwrap()["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old);
    let keys = jwks(&idp, "google").await;
    assert_eq!(keys.keys.len(), 2, "the previous key stays published");
    let code = code_for(&idp, "google", "", "bob@example.com", &[]).await;
    let (_, tokens) = exchange(&idp, "google", "", &[("code", code.as_str())]).await;
    let token = tokens["id_token"].as_str().unwrap();
    assert_eq!(jsonwebtoken::decode_header(token).unwrap().kid.as_deref(), Some(new_kid.as_str()));
    verify(token, &keys, &idp.issuer_url("google")).expect("verifies with the refreshed JWKS");
    // A verifier holding only the old JWKS sees an unknown kid: what a relying party must refresh on.
    assert!(jwks_without(&keys, &new_kid).find(&new_kid).is_none());

    let body = json!({"issuer": "google", "keep_previous": false});
    assert_eq!(http().post(control(&idp, "/keys/rotate")).json(&body).send().await.unwrap().status(), 200);
    assert_eq!(jwks(&idp, "google").await.keys.len(), 1);
    let bad = http().post(control(&idp, "/keys/rotate")).json(&json!({"issuer": "nope"})).send().await.unwrap();
    assert_eq!(bad.status(), 400);
}

fn jwks_without(keys: &jsonwebtoken::jwk::JwkSet, kid: &str) -> jsonwebtoken::jwk::JwkSet {
    jsonwebtoken::jwk::JwkSet {
        keys: keys.keys.iter().filter(|k| k.common.key_id.as_deref() != Some(kid)).cloned().collect(),
    }
}

#[tokio::test]
async fn journal_records_requests_without_secrets() {
    let idp = spawn().await;
    let (verifier, challenge) = pkce();
    let code = code_for(
        &idp,
        "google",
        "",
        "bob@example.com",
        &[("code_challenge", &challenge), ("code_challenge_method", "S256")],
    )
    .await;
    let (status, tokens) =
        exchange(&idp, "google", "", &[("code", code.as_str()), ("code_verifier", verifier.as_str())]).await;
    assert_eq!(status, 200);
    let text = http().get(control(&idp, "/journal")).send().await.unwrap().text().await.unwrap();
    for secret in [SECRET, code.as_str(), verifier.as_str(), tokens["access_token"].as_str().unwrap()] {
        assert!(!text.contains(secret), "journal leaks a secret");
    }
    let journal: Vec<mock_idp::JournalEntry> = serde_json::from_str(&text).unwrap();
    let authorize = journal.iter().find(|e| e.endpoint == Some(mock_idp::Endpoint::Authorize)).unwrap();
    assert_eq!(authorize.query["code_challenge_method"], "S256");
    assert_eq!(authorize.status, 302);
    let token = journal.iter().find(|e| e.endpoint == Some(mock_idp::Endpoint::Token)).unwrap();
    assert_eq!(token.form["client_secret"], mock_idp::journal::REDACTED);
    assert_eq!(token.form["client_id"], CLIENT_ID);
    assert_eq!(http().delete(control(&idp, "/journal")).send().await.unwrap().status(), 204);
    assert!(idp.journal().is_empty());
}

#[tokio::test]
async fn users_clients_clock_next_login_and_faults_over_http() {
    let idp = spawn().await;
    let user = json!({"email": "zed@corp.example", "hd": "corp.example", "email_verified": false});
    assert_eq!(http().post(control(&idp, "/users")).json(&user).send().await.unwrap().status(), 204);
    let client =
        json!({"client_id": "c2", "client_secret": "s2", "redirect_uris": ["http://localhost:3000/auth/callback"]});
    assert_eq!(http().post(control(&idp, "/clients")).json(&client).send().await.unwrap().status(), 204);
    let response = get_authorize(
        &idp,
        "google",
        "",
        &[
            ("client_id", "c2"),
            ("redirect_uri", "http://localhost:3000/auth/callback"),
            ("login_hint", "zed@corp.example"),
        ],
    )
    .await;
    assert!(location_params(&response).contains_key("code"));

    assert_eq!(
        http().post(control(&idp, "/clock")).json(&json!({"offset_seconds": 120})).send().await.unwrap().status(),
        204
    );
    let clock: Value = http().get(control(&idp, "/clock")).send().await.unwrap().json().await.unwrap();
    assert_eq!(clock["offset_seconds"], 120);

    let next = json!({"email": "bob@example.com"});
    assert_eq!(http().put(control(&idp, "/next-login")).json(&next).send().await.unwrap().status(), 204);
    assert_eq!(get_authorize(&idp, "generic", "", &[]).await.status(), 302);

    let faults = json!({"id_token": ["wrong_audience"], "http_status": {"userinfo": 503}});
    assert_eq!(http().put(control(&idp, "/faults/generic")).json(&faults).send().await.unwrap().status(), 204);
    let read: Value = http().get(control(&idp, "/faults/generic")).send().await.unwrap().json().await.unwrap();
    assert_eq!(read["id_token"], json!(["wrong_audience"]));
    assert_eq!(http().delete(control(&idp, "/faults/generic")).send().await.unwrap().status(), 204);
    assert_eq!(idp.faults("generic"), Some(mock_idp::Faults::default()));
}

#[tokio::test]
async fn control_api_rejects_bad_input_cleanly() {
    let idp = spawn().await;
    let cases = [
        ("/users", json!({"mail": "typo"})),
        ("/faults/google", json!({"id_token": ["no_such_fault"]})),
        ("/faults/google", json!({"delay_ms": 10_000_000})),
        ("/clock", json!({"offset_seconds": i64::MAX})),
        ("/next-login", json!({})),
        ("/refuse", json!({"for_ms": 0})),
    ];
    for (path, body) in cases {
        let method = if path.starts_with("/faults") || path == "/next-login" {
            reqwest::Method::PUT
        } else {
            reqwest::Method::POST
        };
        let status = http().request(method, control(&idp, path)).json(&body).send().await.unwrap().status();
        assert!(status.is_client_error(), "{path} {body}: {status}");
    }
    let status = http()
        .post(control(&idp, "/users"))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_client_error());
}

#[tokio::test]
async fn refuse_over_http_answers_first_then_refuses_for_the_window() {
    let idp = spawn().await;
    let response = http().post(control(&idp, "/refuse")).json(&json!({"for_ms": 400})).send().await.unwrap();
    assert_eq!(response.status(), 202);
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert!(tokio::net::TcpStream::connect(idp.addr()).await.is_err(), "refusing during the window");
    let mut back = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if tokio::net::TcpStream::connect(idp.addr()).await.is_ok() {
            back = true;
            break;
        }
    }
    assert!(back, "listening again after the window");
}
