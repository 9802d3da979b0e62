//! The authorization endpoint: client and redirect URI checks with each
//! provider's own error pages, protocol errors sent back, PKCE rules, and the
//! login page and headless sign-in paths.

use crate::common::*;
use mock_idp::NextLogin;

/// Status, whether it redirects, and the page text with HTML entities decoded.
async fn page(response: reqwest::Response) -> (u16, bool, String) {
    let status = response.status().as_u16();
    let redirected = response.headers().contains_key("location");
    let html = response.text().await.unwrap();
    assert!(!html.contains("<script>"), "values are escaped in the page");
    let text = html.replace("&#x2f;", "/").replace("&#x27;", "'").replace("&quot;", "\"").replace("&amp;", "&");
    (status, redirected, text)
}

#[tokio::test]
async fn unknown_client_gets_the_providers_error_page() {
    let idp = spawn().await;
    let (status, redirected, body) = page(get_authorize(&idp, "google", "", &[("client_id", "nope")]).await).await;
    assert_eq!((status, redirected), (401, false));
    assert!(body.contains("Error 401: invalid_client"), "{body}");
    let (status, redirected, body) =
        page(get_authorize(&idp, "microsoft", "common", &[("client_id", "nope")]).await).await;
    assert_eq!((status, redirected), (400, false));
    assert!(body.contains("AADSTS700016"), "{body}");
}

#[tokio::test]
async fn redirect_uri_must_match_exactly_and_mismatch_never_redirects() {
    let idp = spawn().await;
    for wrong in [
        format!("{REDIRECT}/"),
        REDIRECT.replace("127.0.0.1", "localhost"),
        REDIRECT.replace("http:", "https:"),
        REDIRECT.replace("callback", "Callback"),
    ] {
        let (status, redirected, body) =
            page(get_authorize(&idp, "google", "", &[("redirect_uri", wrong.as_str())]).await).await;
        assert_eq!((status, redirected), (400, false), "{wrong}");
        assert!(body.contains("Error 400: redirect_uri_mismatch"), "{body}");
        assert!(body.contains(&format!("redirect_uri={wrong}")), "the page names the URI sent");

        let (status, redirected, body) =
            page(get_authorize(&idp, "microsoft", "common", &[("redirect_uri", wrong.as_str())]).await).await;
        assert_eq!((status, redirected), (400, false));
        assert!(body.contains("AADSTS50011"), "{body}");
        assert!(body.contains(&format!("The redirect URI '{wrong}'")), "{body}");
    }
    let (_, _, body) = page(get_authorize(&idp, "google", "", &[("redirect_uri", "http://x/<script>")]).await).await;
    assert!(body.contains("&lt;script&gt;"), "the URI is shown, escaped");
}

#[tokio::test]
async fn protocol_errors_go_back_to_the_client_with_state() {
    let idp = spawn().await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("response_type", "")], "unsupported_response_type"),
        (&[("scope", "email profile")], "invalid_scope"),
        (&[("code_challenge", "abc"), ("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")], "invalid_request"),
        (&[("code_challenge_method", "S256")], "invalid_request"),
        (&[("code_challenge", "short"), ("code_challenge_method", "S256")], "invalid_request"),
        (&[("prompt", "none")], "login_required"),
    ];
    for (extra, error) in cases {
        let response = get_authorize(&idp, "generic", "", extra).await;
        assert_eq!(response.status(), 302, "{extra:?}");
        let params = location_params(&response);
        assert_eq!(params.get("error").map(String::as_str), Some(*error), "{extra:?}");
        assert_eq!(params.get("state").map(String::as_str), Some("st-1"));
        assert!(response.headers()["location"].to_str().unwrap().starts_with(REDIRECT));
    }
}

#[tokio::test]
async fn pkce_can_be_required_per_client() {
    let idp = spawn().await;
    let mut client = mock_idp::Client::new("strict", "x", REDIRECT);
    client.require_pkce = true;
    idp.add_client(client);
    let response =
        get_authorize(&idp, "google", "", &[("client_id", "strict"), ("login_hint", "alice@company.com")]).await;
    assert_eq!(location_params(&response)["error"], "invalid_request");
    let (_, challenge) = pkce();
    let response = get_authorize(
        &idp,
        "google",
        "",
        &[
            ("client_id", "strict"),
            ("login_hint", "alice@company.com"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert!(location_params(&response).contains_key("code"));
}

#[tokio::test]
async fn login_page_lists_users_and_signs_in_the_chosen_or_typed_email() {
    let idp = spawn().await;
    let response = get_authorize(&idp, "google", "", &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("alice@company.com") && html.contains("bob@example.com"));
    let request_id = html
        .split("name=\"request_id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form carries a request id")
        .to_string();
    let login = format!("{}/login", idp.issuer_url("google"));
    let form = [("request_id", request_id.as_str()), ("email", "newcomer@example.org")];
    let response = http().post(&login).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert!(location_params(&response).contains_key("code"));
    // A request id is single-use.
    let again = http().post(&login).form(&form).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("expired"));
}

#[tokio::test]
async fn cancel_on_the_login_page_is_access_denied() {
    let idp = spawn().await;
    let html = get_authorize(&idp, "generic", "", &[]).await.text().await.unwrap();
    let request_id = html.split("name=\"request_id\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let response = http()
        .post(format!("{}/login", idp.issuer_url("generic")))
        .form(&[("request_id", request_id), ("action", "cancel")])
        .send()
        .await
        .unwrap();
    let params = location_params(&response);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st-1");
}

#[tokio::test]
async fn bad_emails_on_the_login_page_are_refused_with_a_page() {
    let idp = spawn().await;
    for email in ["", "not-an-email", "a b@c.d", &format!("{}@x.y", "a".repeat(300))] {
        let html = get_authorize(&idp, "generic", "", &[]).await.text().await.unwrap();
        let request_id = html.split("name=\"request_id\" value=\"").nth(1).unwrap().split('"').next().unwrap();
        let response = http()
            .post(format!("{}/login", idp.issuer_url("generic")))
            .form(&[("request_id", request_id), ("email", email)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{email:?}");
    }
}

#[tokio::test]
async fn next_login_decides_headlessly_including_denial() {
    let idp = spawn().await;
    idp.set_next_login(NextLogin { email: Some("bob@example.com".into()), deny: false, issuer: None });
    let response = get_authorize(&idp, "google", "", &[]).await;
    let code = location_params(&response)["code"].clone();
    let (status, tokens) = exchange(&idp, "google", "", &[("code", code.as_str())]).await;
    assert_eq!(status, 200);
    assert_eq!(peek(tokens["id_token"].as_str().unwrap())["email"], "bob@example.com");
    // Used once: the next request shows the page again.
    assert_eq!(get_authorize(&idp, "google", "", &[]).await.status(), 200);

    idp.set_next_login(NextLogin { email: None, deny: true, issuer: Some("microsoft".into()) });
    assert_eq!(get_authorize(&idp, "google", "", &[]).await.status(), 200, "scoped to another issuer");
    let response = get_authorize(&idp, "microsoft", "common", &[]).await;
    assert_eq!(location_params(&response)["error"], "access_denied");
}

#[tokio::test]
async fn microsoft_tenants_admit_only_their_users() {
    let idp = spawn().await;
    let response = get_authorize(&idp, "microsoft", "consumers", &[("login_hint", "carol@contoso.com")]).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("AADSTS50020"));
    let response = get_authorize(&idp, "microsoft", CONTOSO, &[("login_hint", "carol@contoso.com")]).await;
    assert!(location_params(&response).contains_key("code"));
    let response = get_authorize(&idp, "microsoft", "contoso.example", &[]).await;
    assert!(response.text().await.unwrap().contains("AADSTS90002"));
}

#[tokio::test]
async fn repeated_or_undecodable_parameters_are_rejected() {
    let idp = spawn().await;
    let url = format!("{}?client_id={CLIENT_ID}&client_id=other", authorize_url(&idp, "google", ""));
    assert_eq!(http().get(url).send().await.unwrap().status(), 400);
    let url = format!("{}?client_id=%FF%FE", authorize_url(&idp, "google", ""));
    let status = http().get(url).send().await.unwrap().status();
    assert!(status.is_client_error(), "{status}");
}
