//! The token endpoint: client authentication, single-use codes bound to client,
//! redirect URI and PKCE verifier, ID token claims per provider, and userinfo.

use crate::common::*;
use serde_json::Value;

#[tokio::test]
async fn google_tokens_carry_googles_claims_and_verify_against_jwks() {
    let idp = spawn().await;
    let code = code_for(&idp, "google", "", "alice@company.com", &[]).await;
    let (status, tokens) = exchange(&idp, "google", "", &[("code", code.as_str())]).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = verify(id_token, &jwks(&idp, "google").await, &idp.issuer_url("google")).expect("verifies");
    for claim in ["iss", "sub", "aud", "azp", "exp", "iat", "nonce", "email", "email_verified", "hd", "name", "at_hash"]
    {
        assert!(claims.get(claim).is_some(), "missing {claim} in {claims}");
    }
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["hd"], "company.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["at_hash"], mock_idp::jwt::at_hash(tokens["access_token"].as_str().unwrap()));

    // A personal account has no hosted domain.
    let code = code_for(&idp, "google", "", "bob@example.com", &[]).await;
    let (_, tokens) = exchange(&idp, "google", "", &[("code", code.as_str())]).await;
    assert!(peek(tokens["id_token"].as_str().unwrap()).get("hd").is_none());
}

#[tokio::test]
async fn microsoft_tokens_carry_the_real_tenant_and_entra_claims() {
    let idp = spawn().await;
    let code = code_for(&idp, "microsoft", "common", "carol@contoso.com", &[]).await;
    let (status, tokens) = exchange(&idp, "microsoft", "common", &[("code", code.as_str())]).await;
    assert_eq!(status, 200, "{tokens}");
    let issuer = format!("{}/{CONTOSO}/v2.0", idp.issuer_url("microsoft"));
    let claims =
        verify(tokens["id_token"].as_str().unwrap(), &jwks(&idp, "microsoft").await, &issuer).expect("verifies");
    assert_eq!(claims["tid"], CONTOSO);
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["preferred_username"], "carol@contoso.com");
    assert_eq!(claims["email"], "carol@contoso.com");
    assert_eq!(claims["oid"].as_str().unwrap().len(), 36);
    assert_ne!(claims["sub"], claims["oid"], "Entra's sub is pairwise, not the object id");

    let code = code_for(&idp, "microsoft", "common", "dave@contoso.com", &[]).await;
    let (_, tokens) = exchange(&idp, "microsoft", "common", &[("code", code.as_str())]).await;
    let claims = peek(tokens["id_token"].as_str().unwrap());
    assert!(claims.get("email").is_none(), "email may be absent, as in Entra");
    assert_eq!(claims["preferred_username"], "dave@contoso.com");
}

#[tokio::test]
async fn client_secret_basic_works_and_both_methods_together_do_not() {
    let idp = spawn().await;
    let code = code_for(&idp, "generic", "", "bob@example.com", &[]).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    let response = http()
        .post(token_url(&idp, "generic", ""))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let journal = idp.journal();
    let token_call = journal.iter().rev().find(|e| e.endpoint == Some(mock_idp::Endpoint::Token)).unwrap();
    assert_eq!(token_call.headers["authorization"], "Basic [redacted]");

    let code = code_for(&idp, "generic", "", "bob@example.com", &[]).await;
    let both = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", CLIENT_ID),
        ("client_secret", SECRET),
    ];
    let response = http()
        .post(token_url(&idp, "generic", ""))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&both)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn wrong_or_unknown_client_credentials_are_invalid_client() {
    let idp = spawn().await;
    let code = code_for(&idp, "google", "", "bob@example.com", &[]).await;
    let (status, body) = exchange(&idp, "google", "", &[("code", code.as_str()), ("client_secret", "wrong")]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    // A secret with a stray trailing space or newline is just as wrong (the guide's classic).
    let padded = format!("{SECRET} ");
    let (status, _) = exchange(&idp, "google", "", &[("code", code.as_str()), ("client_secret", &padded)]).await;
    assert_eq!(status, 401);

    let code = code_for(&idp, "microsoft", "common", "carol@contoso.com", &[]).await;
    let (status, body) =
        exchange(&idp, "microsoft", "common", &[("code", code.as_str()), ("client_secret", "wrong")]).await;
    assert_eq!(status, 401);
    assert!(body["error_description"].as_str().unwrap().starts_with("AADSTS7000215"), "{body}");
    let (_, body) = exchange(&idp, "microsoft", "common", &[("code", code.as_str()), ("client_id", "ghost")]).await;
    assert!(body["error_description"].as_str().unwrap().starts_with("AADSTS700016"), "{body}");
    let (status, body) = exchange(&idp, "google", "", &[("client_secret", ""), ("client_id", "")]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
}

#[tokio::test]
async fn codes_are_single_use_and_expire() {
    let idp = spawn().await;
    let code = code_for(&idp, "google", "", "bob@example.com", &[]).await;
    assert_eq!(exchange(&idp, "google", "", &[("code", code.as_str())]).await.0, 200);
    let (status, body) = exchange(&idp, "google", "", &[("code", code.as_str())]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert!(body["error_description"].as_str().unwrap().contains("already been redeemed"));

    let (status, body) = exchange(&idp, "google", "", &[("code", "made-up")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    let code = code_for(&idp, "google", "", "bob@example.com", &[]).await;
    idp.set_clock_offset(301); // past the 300 s code lifetime
    let (status, body) = exchange(&idp, "google", "", &[("code", code.as_str())]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
}

#[tokio::test]
async fn the_code_is_bound_to_redirect_uri_and_grant_type() {
    let idp = spawn().await;
    let code = code_for(&idp, "generic", "", "bob@example.com", &[]).await;
    let other = format!("{REDIRECT}/");
    let (status, body) = exchange(&idp, "generic", "", &[("code", code.as_str()), ("redirect_uri", &other)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("redirect_uri_mismatch")));
    let code = code_for(&idp, "generic", "", "bob@example.com", &[]).await;
    let (status, body) = exchange(&idp, "generic", "", &[("code", code.as_str()), ("grant_type", "password")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
}

#[tokio::test]
async fn pkce_verifier_must_match_the_challenge() {
    let idp = spawn().await;
    let (verifier, challenge) = pkce();
    let with_pkce = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    for (sent, expect) in
        [(Some(verifier.as_str()), 200), (Some("wrong-verifier-wrong-verifier-wrong-verifier"), 400), (None, 400)]
    {
        let code = code_for(&idp, "google", "", "bob@example.com", &with_pkce).await;
        let mut form = vec![("code", code.as_str())];
        if let Some(v) = sent {
            form.push(("code_verifier", v));
        }
        let (status, body) = exchange(&idp, "google", "", &form).await;
        assert_eq!(status, expect, "{sent:?}: {body}");
        if expect == 400 {
            assert_eq!(body["error"], "invalid_grant");
        }
    }
    // A verifier without a challenge at authorize is refused too.
    let code = code_for(&idp, "google", "", "bob@example.com", &[]).await;
    let (status, _) =
        exchange(&idp, "google", "", &[("code", code.as_str()), ("code_verifier", verifier.as_str())]).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn userinfo_needs_the_access_token() {
    let idp = spawn().await;
    let code = code_for(&idp, "google", "", "alice@company.com", &[]).await;
    let (_, tokens) = exchange(&idp, "google", "", &[("code", code.as_str())]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let url = format!("{}/v1/userinfo", idp.issuer_url("google"));
    let info: Value = http().get(&url).bearer_auth(access).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["email"], "alice@company.com");
    assert_eq!(info["sub"], peek(tokens["id_token"].as_str().unwrap())["sub"]);
    assert_eq!(info["hd"], "company.com");

    let response = http().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    assert_eq!(http().get(&url).bearer_auth("forged").send().await.unwrap().status(), 401);
    // Tokens of one issuer are not accepted by another.
    let other = format!("{}/userinfo", idp.issuer_url("generic"));
    assert_eq!(http().get(&other).bearer_auth(access).send().await.unwrap().status(), 401);
    // And they expire.
    idp.set_clock_offset(3601);
    assert_eq!(http().get(&url).bearer_auth(access).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn token_endpoint_survives_garbage() {
    let idp = spawn().await;
    let url = token_url(&idp, "google", "");
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        (vec![0xff, 0xfe, 0x00], None),
        (b"{\"json\": true}".to_vec(), None),
        (b"code=a&code=b".to_vec(), None),
        (b"grant_type=authorization_code".to_vec(), Some("Basic !!notbase64")),
        (b"x".to_vec(), Some("Basic YTpi")),
    ];
    for (body, auth) in cases {
        let mut request =
            http().post(&url).header("content-type", "application/x-www-form-urlencoded").body(body.clone());
        if let Some(a) = auth {
            request = request.header("authorization", a);
        }
        let response = request.send().await.expect("answers, no hang or reset");
        assert!(response.status().is_client_error(), "{body:?}: {}", response.status());
        let json: Value = response.json().await.expect("protocol error JSON");
        assert!(json["error"].is_string());
    }
    let huge = vec![b'a'; 200 * 1024];
    let response = http().post(&url).body(huge).send().await.unwrap();
    assert_eq!(response.status(), 413);
}
