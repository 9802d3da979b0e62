//! The browser half end to end: a cookie-keeping client walks the OIDC flow
//! through mock-idp (Google-like and Microsoft `common`), the confirmation code
//! is read from the proxy's console as a person would, or mock-authz-api
//! decides; the issued token then works through the proxy.

use crate::common::*;
use mock_authz_api::{AuthzConfig, Faults, MockAuthzApi, Policy};
use mock_idp::{NextLogin, TokenFault};

use llm_sso_kit::browser::{Browser, Page};

fn token_on(page: &Page) -> String {
    page.token().unwrap_or_else(|| panic!("no token on the page:\n{}", page.html))
}

/// The code the proxy printed for `email`, as a person reads it from the console.
async fn code_from_console(s: &Stack, email: &str) -> String {
    let code = s.proxy.confirmation_code(email).await;
    code.unwrap_or_else(|| panic!("no confirmation code for {email} in the console:\n{}", s.proxy.console()))
}

/// Walks the login of `email` at `provider` up to the page after the callback.
async fn sign_in(s: &Stack, browser: &mut Browser, provider: &str, email: &str, path: &str) -> Page {
    let issuer = if provider == "microsoft" { "microsoft" } else { "google" };
    s.mocks.idp.set_next_login(NextLogin { email: Some(email.into()), deny: false, issuer: Some(issuer.into()) });
    browser.open(&s.url(path)).await
}

#[tokio::test]
async fn single_user_google_login_issues_a_working_token() {
    let s = stack(true).await;
    let mut browser = Browser::new();
    let list = browser.open(&s.url("/auth/login")).await;
    assert!(list.html.contains("/auth/login/google") && list.html.contains("/auth/login/microsoft"), "{}", list.html);
    assert!(list.headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(list.headers["x-frame-options"], "DENY");

    let confirm = sign_in(&s, &mut browser, "google", "alice@company.com", "/auth/login/google").await;
    assert!(
        browser
            .visited
            .iter()
            .any(|u| u.contains("/google/o/oauth2/v2/auth") && u.contains("code_challenge_method=S256"))
    );
    let code = code_from_console(&s, "alice@company.com").await;
    let console = s.proxy.console();
    assert_eq!(console.matches(&code).count(), 1, "the code appears once, in the WARNING line");
    let csrf = confirm.input("csrf_token");
    let done = browser.post(&s.url("/auth/confirm"), &[("code", &code), ("csrf_token", &csrf)]).await;
    assert_eq!(done.headers["cache-control"], "no-store");
    let token = token_on(&done);
    for snippet in [format!("{}/v1", s.proxy.base_url()), "ANTHROPIC_BASE_URL".into(), "aider --openai-api-base".into()]
    {
        assert!(done.text().contains(&snippet), "missing {snippet}");
    }
    assert!(!s.proxy.console().contains(&token), "the token is never logged");

    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");
    let user_id = s.proxy.query_text("SELECT user_id FROM agent_tokens").unwrap();
    assert!(user_id.starts_with("google:"), "{user_id}");
    // A second device: a second token for the same user.
    let second = s.sign_in("google", "alice@company.com").await;
    assert_ne!(second, token);
    assert_eq!(
        s.proxy.query_i64("SELECT COUNT(*) FROM agent_tokens WHERE user_email = 'alice@company.com'").unwrap(),
        2
    );
}

#[tokio::test]
async fn microsoft_common_login_namespaces_the_user_by_tenant() {
    let s = stack(true).await;
    let mut carol = mock_idp::User::new("carol@contoso.com");
    carol.tenant_id = Some("b9c6a2f4-1f3e-4d8a-9c3b-2e7d5f6a8b10".into());
    s.mocks.idp.add_user(carol);
    let token = s.sign_in("microsoft", "carol@contoso.com").await;
    let user_id = s.proxy.query_text("SELECT user_id FROM agent_tokens").unwrap();
    assert!(user_id.starts_with("microsoft:b9c6a2f4-1f3e-4d8a-9c3b-2e7d5f6a8b10:"), "{user_id}");
    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");
    // The same email at Google is another user.
    s.sign_in("google", "carol@contoso.com").await;
    assert_eq!(s.proxy.query_i64("SELECT COUNT(DISTINCT user_id) FROM agent_tokens").unwrap(), 2);
}

#[tokio::test]
async fn wrong_codes_count_down_back_off_and_lock_until_a_new_login() {
    let s = stack(true).await;
    let mut browser = Browser::new();
    let confirm = sign_in(&s, &mut browser, "google", "bob@example.com", "/auth/login/google").await;
    let csrf = confirm.input("csrf_token");
    let code = code_from_console(&s, "bob@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let page = browser.post(&s.url("/auth/confirm"), &[("code", wrong), ("csrf_token", &csrf)]).await;
    assert!(page.html.contains("Wrong code. 2 attempts left."), "{}", page.html);
    let page = browser.post(&s.url("/auth/confirm"), &[("code", wrong), ("csrf_token", &csrf)]).await;
    assert!(page.html.contains("1 attempt left"), "{}", page.html);
    // Two failures: 2 s of backoff.
    let page = browser.post(&s.url("/auth/confirm"), &[("code", &code), ("csrf_token", &csrf)]).await;
    assert_eq!(page.status, 429);
    assert!(page.html.contains("Please wait before trying again"));
    assert!(page.headers.contains_key("retry-after"));
    assert_eq!(s.proxy.query_i64("SELECT failed_attempts FROM rate_limits").unwrap(), 2);
    // The guide's fix.
    s.proxy.sql("DELETE FROM rate_limits").unwrap();
    let page = browser.post(&s.url("/auth/confirm"), &[("code", wrong), ("csrf_token", &csrf)]).await;
    assert!(page.html.contains("Maximum attempts exceeded"), "{}", page.html);
    s.proxy.sql("DELETE FROM rate_limits").unwrap();
    let page = browser.post(&s.url("/auth/confirm"), &[("code", &code), ("csrf_token", &csrf)]).await;
    assert!(
        page.html.contains("expired") || page.html.contains("Maximum attempts"),
        "the old code is dead: {}",
        page.html
    );
    // A new SSO login brings a new code and a fresh counter.
    let token = s.sign_in("google", "bob@example.com").await;
    assert!(token.starts_with("llmsso_"));
}

#[tokio::test]
async fn an_expired_code_or_a_forged_form_is_refused() {
    let s = stack(true).await;
    let mut browser = Browser::new();
    let confirm = sign_in(&s, &mut browser, "google", "bob@example.com", "/auth/login/google").await;
    let csrf = confirm.input("csrf_token");
    let code = code_from_console(&s, "bob@example.com").await;
    let page = browser.post(&s.url("/auth/confirm"), &[("code", &code), ("csrf_token", "forged")]).await;
    assert_eq!(page.status, 403);
    s.proxy.sql("UPDATE pending_authorizations SET expires_at = datetime('now', '-1 minute')").unwrap();
    let page = browser.post(&s.url("/auth/confirm"), &[("code", &code), ("csrf_token", &csrf)]).await;
    assert!(page.html.contains("Confirmation code expired"), "{}", page.html);
    // Without the browser's cookie there is nothing to confirm.
    let mut stranger = Browser::new();
    let page = stranger.post(&s.url("/auth/confirm"), &[("code", &code), ("csrf_token", &csrf)]).await;
    assert!(page.html.contains("Confirmation code expired"));
}

#[tokio::test]
async fn reauthentication_renews_the_same_token_for_its_owner_only() {
    let s = stack(true).await;
    let token = s.sign_in("google", "alice@company.com").await;
    s.proxy.sql("UPDATE agent_tokens SET auth_expires_at = datetime('now', '-1 minute')").unwrap();
    let text = openai_text(s.openai(Some(&token), &chat(false)).await).await;
    let reauth = text.split_whitespace().find(|w| w.contains("renew=")).expect("a re-authentication URL").to_string();

    // Someone else follows the link: refused.
    let mut mallory = Browser::new();
    let list = mallory.open(&reauth).await;
    assert!(list.html.contains("renew="), "the provider links keep the renewal: {}", list.html);
    let href = format!("/auth/login/google?renew={}", llm_sso_kit::contract::token_hash(&token));
    let confirm = sign_in(&s, &mut mallory, "google", "mallory@example.com", &href).await;
    let code = code_from_console(&s, "mallory@example.com").await;
    let page =
        mallory.post(&s.url("/auth/confirm"), &[("code", &code), ("csrf_token", &confirm.input("csrf_token"))]).await;
    assert!(page.html.contains("belongs to another account"), "{}", page.html);

    // The owner: same token, renewed, no new row.
    let mut alice = Browser::new();
    let confirm = sign_in(&s, &mut alice, "google", "alice@company.com", &href).await;
    let code = code_from_console(&s, "alice@company.com").await;
    let page =
        alice.post(&s.url("/auth/confirm"), &[("code", &code), ("csrf_token", &confirm.input("csrf_token"))]).await;
    assert!(page.html.contains("Session restored"), "{}", page.html);
    assert!(!page.html.contains("llmsso_"), "no new token is shown");
    assert_eq!(s.proxy.query_i64("SELECT COUNT(*) FROM agent_tokens").unwrap(), 1);
    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");
}

async fn enterprise_stack(policy: Policy, secret: Option<&str>, timeout: u32) -> (Stack, MockAuthzApi) {
    let api = MockAuthzApi::spawn(AuthzConfig { policy, secret: secret.map(str::to_string), ..AuthzConfig::default() })
        .await
        .unwrap();
    let mut lines = vec![
        "    mode: \"enterprise\"".to_string(),
        format!("    api_url: \"{}\"", api.authorize_url()),
        format!("    api_timeout_seconds: {timeout}"),
    ];
    if let Some(secret) = secret {
        lines.push(format!("    api_secret: \"{secret}\""));
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    (Stack::builder().authorization(&lines).start().await, api)
}

fn allow(emails: &[&str]) -> Policy {
    Policy { allowed_emails: emails.iter().map(|e| e.to_string()).collect(), ..Policy::default() }
}

#[tokio::test]
async fn enterprise_mode_asks_the_api_once_and_signs_the_call() {
    let (s, api) = enterprise_stack(allow(&["alice@company.com"]), Some("shared-hmac-secret"), 5).await;
    let mut browser = Browser::new();
    let done = sign_in(&s, &mut browser, "google", "alice@company.com", "/auth/login/google").await;
    let token = token_on(&done);
    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");
    let journal = api.journal();
    assert_eq!(journal.len(), 1, "one call per login");
    assert_eq!(journal[0].status, 200, "the mock verified X-Signature: {:?}", journal[0]);
    let body: serde_json::Value = serde_json::from_str(&journal[0].body).unwrap();
    for field in ["user_id", "user_email", "provider", "client_ip", "timestamp"] {
        assert!(body[field].is_string(), "{field} missing in {body}");
    }
    assert_eq!(body["client_ip"], "127.0.0.1");

    let mut other = Browser::new();
    let denied = sign_in(&s, &mut other, "google", "bob@example.com", "/auth/login/google").await;
    assert_eq!(denied.status, 403);
    assert!(denied.html.contains("Access denied: User bob@example.com is not in the allowed list"), "{}", denied.html);
    assert!(denied.html.contains("administrator"));
}

#[tokio::test]
async fn every_authorization_api_failure_denies_with_its_named_message() {
    let (s, api) = enterprise_stack(allow(&["alice@company.com"]), None, 1).await;
    let cases: Vec<(Faults, &str)> = vec![
        (Faults { delay_ms: 2_500, ..Faults::default() }, "Authorization API timeout"),
        (Faults { status: Some(500), ..Faults::default() }, "Authorization API error: HTTP 500"),
        (Faults { status: Some(503), ..Faults::default() }, "Authorization API error: HTTP 503"),
        (Faults { malformed_json: true, ..Faults::default() }, "Authorization API error: the reply is not JSON"),
        (Faults { authorized_as_string: true, ..Faults::default() }, "must be a JSON boolean"),
        (Faults { drop_connection: true, ..Faults::default() }, "Authorization API error"),
    ];
    for (faults, logged) in cases {
        api.set_faults(faults).unwrap();
        s.proxy.sql("DELETE FROM rate_limits").unwrap();
        let mut browser = Browser::new();
        let page = sign_in(&s, &mut browser, "google", "alice@company.com", "/auth/login/google").await;
        assert_eq!(page.status, 503, "{logged}: {}", page.html);
        assert!(page.html.contains("Access denied") && page.html.contains("administrator"));
        assert!(s.proxy.console_shows(logged).await, "log lacks {logged:?}:\n{}", s.proxy.console());
    }
    api.clear_faults();
    api.refuse_connections(true);
    llm_sso_kit::until_refused(api.addr()).await;
    s.proxy.sql("DELETE FROM rate_limits").unwrap();
    let mut browser = Browser::new();
    let page = sign_in(&s, &mut browser, "google", "alice@company.com", "/auth/login/google").await;
    assert_eq!(page.status, 503);
    assert!(s.proxy.console_shows("Failed to connect to authorization API").await);
    assert_eq!(s.proxy.query_i64("SELECT COUNT(*) FROM agent_tokens").unwrap(), 0, "fail closed");
}

#[tokio::test]
async fn identity_provider_errors_become_pages_a_user_understands() {
    let s = stack(true).await;
    let mut browser = Browser::new();
    let page = browser.open(&s.url("/auth/login/Google")).await;
    assert_eq!(page.status, 404);
    assert!(page.text().contains("Provider 'Google' not configured"), "{}", page.html);

    s.mocks.idp.set_next_login(NextLogin { email: None, deny: true, issuer: None });
    let page = browser.open(&s.url("/auth/login/google")).await;
    assert!(page.html.contains("Access denied") && page.html.contains("access_denied"), "{}", page.html);

    // A rotated client secret at the IdP: the proxy's is now wrong.
    let mut client = mock_idp::Client::new(llm_sso_kit::proxy::CLIENT_ID, "rotated", &s.url("/auth/callback"));
    client.require_pkce = true;
    s.mocks.idp.add_client(client);
    let page = sign_in(&s, &mut browser, "google", "alice@company.com", "/auth/login/google").await;
    assert!(page.html.contains("Invalid client") && page.html.contains("stray spaces"), "{}", page.html);
    let mut client = mock_idp::Client::new(
        llm_sso_kit::proxy::CLIENT_ID,
        llm_sso_kit::proxy::CLIENT_SECRET,
        &s.url("/auth/callback"),
    );
    client.require_pkce = true;
    s.mocks.idp.add_client(client);

    for fault in [
        TokenFault::WrongNonce,
        TokenFault::BadSignature,
        TokenFault::Expired,
        TokenFault::WrongAudience,
        TokenFault::AlgNone,
        TokenFault::IatInFuture,
    ] {
        s.mocks.idp.set_faults("google", mock_idp::Faults { id_token: [fault].into(), ..Default::default() }).unwrap();
        s.proxy.sql("DELETE FROM rate_limits").unwrap();
        let page = sign_in(&s, &mut browser, "google", "alice@company.com", "/auth/login/google").await;
        assert!(page.html.contains("could not be verified"), "{fault:?}: {}", page.html);
    }
    s.mocks
        .idp
        .set_faults(
            "google",
            mock_idp::Faults { id_token: [TokenFault::EmailNotVerified].into(), ..Default::default() },
        )
        .unwrap();
    s.proxy.sql("DELETE FROM rate_limits").unwrap();
    let page = sign_in(&s, &mut browser, "google", "alice@company.com", "/auth/login/google").await;
    assert!(page.html.contains("not verified"), "{}", page.html);
    // Google's scheme-less issuer spelling is accepted.
    s.mocks
        .idp
        .set_faults(
            "google",
            mock_idp::Faults { id_token: [TokenFault::IssuerWithoutScheme].into(), ..Default::default() },
        )
        .unwrap();
    s.proxy.sql("DELETE FROM rate_limits").unwrap();
    let page = sign_in(&s, &mut browser, "google", "alice@company.com", "/auth/login/google").await;
    assert!(page.html.contains("server console"), "{}", page.html);
    s.mocks.idp.clear_faults("google").unwrap();
    assert_eq!(s.proxy.query_i64("SELECT COUNT(*) FROM agent_tokens").unwrap(), 0);
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched_and_an_unreachable_idp_is_named() {
    let s = stack(true).await;
    // Let discovery happen, then rotate without keeping the old key.
    s.sign_in("google", "alice@company.com").await;
    s.mocks.idp.rotate_keys("google", false).await.unwrap();
    s.sign_in("google", "alice@company.com").await;

    // The IdP goes away between its redirect and the code exchange.
    // One browser (cookies shared): the flow is bound to the browser that started it.
    let mut browser = Browser::new();
    s.mocks.idp.set_next_login(NextLogin { email: Some("alice@company.com".into()), deny: false, issuer: None });
    let client = browser.client();
    let to_idp = client.get(s.url("/auth/login/google")).send().await.unwrap();
    let idp_url = to_idp.headers()["location"].to_str().unwrap().to_string();
    let back = client.get(&idp_url).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_string();
    s.mocks.idp.refuse_connections(true);
    llm_sso_kit::until_refused(s.mocks.idp.addr()).await;
    let page = browser.open(&callback).await;
    assert!(page.html.contains("Failed to connect to identity provider 127.0.0.1"), "{}", page.html);
    assert!(page.html.contains("HTTPS_PROXY"));
}

#[tokio::test]
async fn state_is_single_use_and_reflected_input_is_escaped() {
    let s = stack(true).await;
    let client = Browser::new().client();
    s.mocks.idp.set_next_login(NextLogin { email: Some("alice@company.com".into()), deny: false, issuer: None });
    let to_idp = client.get(s.url("/auth/login/google")).send().await.unwrap();
    let idp_url = to_idp.headers()["location"].to_str().unwrap().to_string();
    assert!(idp_url.starts_with(s.mocks.idp.base_url()), "redirects only go to the IdP: {idp_url}");
    let callback = client.get(&idp_url).send().await.unwrap().headers()["location"].to_str().unwrap().to_string();
    assert_eq!(client.get(&callback).send().await.unwrap().status(), 303);
    let replay = client.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), 400);
    assert!(replay.text().await.unwrap().contains("expired or was already used"));

    let payload = "<script>alert(1)</script>";
    for url in [
        s.url(&format!("/auth/login/{}", urlencode(payload))),
        s.url(&format!("/auth/callback?state=x&error={}&error_description={}", urlencode(payload), urlencode(payload))),
        s.url(&format!("/auth/login?renew={}", urlencode(payload))),
    ] {
        let html = client.get(&url).send().await.unwrap().text().await.unwrap();
        assert!(!html.contains(payload), "{url}: {html}");
    }
    // An unknown state with an IdP error is answered, never reflected raw.
    let mut browser = Browser::new();
    let page = browser.open(&s.url(&format!("/auth/callback?error={}", urlencode(payload)))).await;
    assert!(!page.html.contains(payload));
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn starting_a_login_is_blocked_during_backoff() {
    let s = stack(true).await;
    s.proxy
        .sql("INSERT INTO rate_limits (identifier, failed_attempts, last_attempt_at, blocked_until) VALUES ('127.0.0.1', 3, datetime('now'), datetime('now', '+30 seconds'))")
        .unwrap();
    let mut browser = Browser::new();
    let page = browser.open(&s.url("/auth/login/google")).await;
    assert_eq!(page.status, 429);
    assert!(page.html.contains("Please wait before trying again"));
    let left: i64 = page.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&left), "{left}");
    s.proxy.sql("DELETE FROM rate_limits WHERE identifier = '127.0.0.1'").unwrap();
    let page = sign_in(&s, &mut browser, "google", "alice@company.com", "/auth/login/google").await;
    assert_eq!(page.status, 200);
}

#[tokio::test]
async fn a_sign_in_started_before_a_restart_finishes_after_it() {
    let Stack { mocks, proxy } = stack(true).await;
    let mut browser = Browser::new();
    let client = browser.client();
    mocks.idp.set_next_login(NextLogin { email: Some("alice@company.com".into()), deny: false, issuer: None });
    let to_idp = client.get(format!("{}/auth/login/google", proxy.base_url())).send().await.unwrap();
    let idp_url = to_idp.headers()["location"].to_str().unwrap().to_string();
    let callback = client.get(&idp_url).send().await.unwrap().headers()["location"].to_str().unwrap().to_string();
    // The flow state is in the database, not in the process.
    let proxy = proxy.restart().await.unwrap();
    let s = Stack { mocks, proxy };
    let confirm = browser.open(&callback).await;
    assert_eq!(confirm.status, 200, "{}", confirm.html);
    let code = code_from_console(&s, "alice@company.com").await;
    let done =
        browser.post(&s.url("/auth/confirm"), &[("code", &code), ("csrf_token", &confirm.input("csrf_token"))]).await;
    let token = token_on(&done);
    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");
}

#[tokio::test]
async fn https_proxy_settings_are_honoured_for_the_identity_provider() {
    // A proxy that does not exist: every IdP call through it fails, and the page says where to look.
    let dead = format!("http://127.0.0.1:{}", llm_sso_kit::proxy::free_port());
    let s = Stack::builder().env("HTTP_PROXY", &dead).env("HTTPS_PROXY", &dead).env("NO_PROXY", "").start().await;
    let mut browser = Browser::new();
    let page = browser.open(&s.url("/auth/login/google")).await;
    assert_eq!(page.status, 502, "{}", page.html);
    assert!(page.text().contains("Failed to connect to identity provider 127.0.0.1"), "{}", page.html);
    assert!(page.text().contains("HTTPS_PROXY"));

    // NO_PROXY exempts the IdP's host again.
    let s =
        Stack::builder().env("HTTP_PROXY", &dead).env("HTTPS_PROXY", &dead).env("NO_PROXY", "127.0.0.1").start().await;
    let token = s.sign_in("google", "alice@company.com").await;
    assert!(token.starts_with("llmsso_"));
}
