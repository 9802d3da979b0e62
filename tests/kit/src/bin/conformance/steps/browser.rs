//! What a person does in the browser: sign in, type the code, read the page.

use crate::world::KitWorld;
use cucumber::{given, then, when};

#[when("I open the login page")]
async fn login_page(world: &mut KitWorld) {
    let url = format!("{}/auth/login", world.base_url());
    world.web.page = Some(world.web.browser.open(&url).await);
}

/// The sign-in link of this proxy's sandbox reply, as the guide's user finds it: asked once per scenario.
async fn login_link(world: &mut KitWorld) -> String {
    if let Some(link) = &world.web.login_link {
        return link.clone();
    }
    let base = world.base_url();
    let body = serde_json::json!({"model": "gpt-4", "messages": [{"role": "user", "content": "test"}]});
    let reply = reqwest::Client::new().post(format!("{base}/v1/chat/completions")).json(&body).send().await;
    let text = match reply {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => panic!("the sandbox reply with the sign-in link: {e}"),
    };
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let content = value["choices"][0]["message"]["content"].as_str().unwrap_or(&text).to_string();
    let link = llm_sso_kit::browser::link_in(&content, &base)
        .unwrap_or_else(|| panic!("the sandbox reply has no sign-in link on {base}:\n{content}"));
    world.web.login_link = Some(link.clone());
    link
}

/// Opens the sandbox reply's sign-in link and follows the provider's link there; a provider the page does
/// not offer is asked for as the next path segment after the sign-in link (what a person types).
#[when(expr = "I sign in with {string}")]
async fn sign_in(world: &mut KitWorld, provider: String) {
    let link = login_link(world).await;
    let page = world.web.browser.open(&link).await;
    let url = match page.link_ending(&provider) {
        Some(href) => url::Url::parse(&link).and_then(|l| l.join(&href)).map(String::from).unwrap_or(href),
        None => format!("{}/{provider}", link.split(['?', '#']).next().unwrap_or(&link).trim_end_matches('/')),
    };
    world.web.page = Some(world.web.browser.open(&url).await);
}

/// The re-authentication URL is whatever link on this proxy the sandbox reply carries; its page's link to the
/// provider is followed as a person would.
#[when("I open the re-authentication URL from the sandbox reply and sign in with \"google\"")]
async fn reauth(world: &mut KitWorld) {
    let body = world.seen.reply.as_ref().expect("a sandbox reply").body.clone();
    let value: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let text = value["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_string();
    let base = world.base_url();
    let url = llm_sso_kit::browser::link_in(&text, &base).expect("a re-authentication URL on this proxy");
    let list = world.web.browser.open(&url).await;
    let href = list.link_ending("google").unwrap_or_else(|| panic!("the page links to the provider:\n{}", list.text()));
    let start = url::Url::parse(&url).and_then(|u| u.join(&href)).map(String::from).unwrap_or(href);
    world.web.page = Some(world.web.browser.open(&start).await);
}

async fn console_code(world: &KitWorld, email: &str) -> String {
    let code = world.proxy().confirmation_code(email).await;
    code.unwrap_or_else(|| panic!("no confirmation code for {email} in the console"))
}

/// Types `code` into the page's form (the last one seen, when the page has none, e.g. a "please wait").
async fn submit(world: &mut KitWorld, code: &str) {
    if let Some(form) = world.web.page.as_ref().and_then(llm_sso_kit::browser::Page::entry_form) {
        world.web.confirm_form = Some(form);
    }
    let form = world.web.confirm_form.clone().unwrap_or_else(|| panic!("no form to type the code into"));
    let base = world.base_url();
    let url = url::Url::parse(&base).and_then(|b| b.join(&form.action)).map(String::from).unwrap_or(form.action);
    let mut fields: Vec<(&str, &str)> = form.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    fields.push((form.field.as_str(), code));
    world.web.page = Some(world.web.browser.post(&url, &fields).await);
}

#[when(expr = "I enter the confirmation code printed for {string}")]
async fn enter_code(world: &mut KitWorld, email: String) {
    let code = console_code(world, &email).await;
    submit(world, &code).await;
}

/// Where a proxy may refuse before or after the code: a printed code is entered, none is no failure.
#[when(expr = "I enter the confirmation code printed for {string}, if one was printed")]
async fn enter_code_if_any(world: &mut KitWorld, email: String) {
    if let Some(code) = world.proxy().confirmation_code(&email).await {
        submit(world, &code).await;
    }
}

#[when(expr = "I enter a wrong confirmation code for {string}")]
async fn wrong_code(world: &mut KitWorld, email: String) {
    let code = console_code(world, &email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    // Keep the form of the page that asked for the code.
    submit(world, wrong).await;
}

#[when(expr = "I enter the code {string}")]
async fn enter_literal(world: &mut KitWorld, code: String) {
    submit(world, &code).await;
}

#[then(expr = "the page says {string}")]
async fn page_says(world: &mut KitWorld, words: String) {
    let words = world.fill(&words).await;
    let page = world.web.page.as_ref().expect("a page");
    assert!(page.text().contains(&words), "page lacks {words:?}:\n{}", page.text());
}

#[then(expr = "the page does not say {string}")]
async fn page_lacks(world: &mut KitWorld, words: String) {
    let page = world.web.page.as_ref().expect("a page");
    assert!(!page.text().contains(&words), "page says {words:?}");
}

/// On the raw HTML: reflected input must arrive escaped, not merely absent from the text.
#[then(expr = "the page source does not contain {string}")]
async fn source_lacks(world: &mut KitWorld, raw: String) {
    let page = world.web.page.as_ref().expect("a page");
    assert!(!page.html.contains(&raw), "unescaped in the page source: {raw}");
}

#[then(expr = "the page status is {int}")]
async fn page_status(world: &mut KitWorld, status: u16) {
    let page = world.web.page.as_ref().expect("a page");
    assert_eq!(page.status.as_u16(), status, "{}", page.text());
}

#[then(expr = "the page header {word} is present")]
async fn page_header(world: &mut KitWorld, name: String) {
    let page = world.web.page.as_ref().expect("a page");
    assert!(page.headers.contains_key(name.as_str()), "{name} missing");
}

#[then("I receive an agent token")]
async fn receive_token(world: &mut KitWorld) {
    let page = world.web.page.as_ref().expect("a page");
    let token = page.token().unwrap_or_else(|| panic!("no token on the page:\n{}", page.text()));
    assert!(world.web.browser.visited.iter().all(|u| !u.contains(&token)), "the token is never in a URL");
    world.agent.token = Some(token);
}

/// Refused, however the implementation words it: an error status, no token, no code printed.
#[then("the sign-in is refused")]
async fn refused(world: &mut KitWorld) {
    let page = world.web.page.as_ref().expect("a page");
    assert!(page.status.as_u16() >= 400, "an error page, not HTTP {}:\n{}", page.status, page.text());
    assert!(page.token().is_none(), "a token on the page:\n{}", page.text());
    let profile = llm_sso_kit::profile::Profile::get();
    assert!(!profile.shows_a_code(&world.proxy().console()), "a confirmation code was printed");
}

#[then("the page shows no agent token")]
async fn no_token(world: &mut KitWorld) {
    let page = world.web.page.as_ref().expect("a page");
    assert!(page.token().is_none(), "a token on the page:\n{}", page.text());
}

#[when("I open the callback URL of that sign-in again")]
async fn replay(world: &mut KitWorld) {
    let callback = world
        .web
        .browser
        .visited
        .iter()
        .rev()
        .find(|u| u.contains("/auth/callback?"))
        .cloned()
        .expect("a callback URL");
    world.web.page = Some(world.web.browser.open(&callback).await);
}

#[given(expr = "{string} has signed in with {string} and holds the token from the success page")]
async fn signed_in(world: &mut KitWorld, email: String, provider: String) {
    let issuer = provider.clone();
    world.mocks().await.idp.set_next_login(mock_idp::NextLogin {
        email: Some(email.clone()),
        deny: false,
        issuer: Some(issuer),
    });
    sign_in(world, provider).await;
    enter_code(world, email).await;
    receive_token(world).await;
}

#[then(expr = "the page asks to wait {int} seconds")]
async fn wait_seconds(world: &mut KitWorld, seconds: i64) {
    let page = world.web.page.as_ref().expect("a page");
    assert_eq!(page.status.as_u16(), 429, "{}", page.text());
    let left: i64 = page
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a Retry-After header: {:?}", page.headers));
    // The block started a moment ago: one second may have passed.
    assert!((seconds - 1..=seconds).contains(&left), "Retry-After {left}, expected {seconds}");
}

#[when("the block has passed")]
async fn block_passed(world: &mut KitWorld) {
    // Time moves through the documented database contract, as the guide's own SQL does.
    let changed = world
        .proxy()
        .sql(
            "UPDATE rate_limits SET blocked_until = datetime('now', '-1 second') WHERE blocked_until > datetime('now')",
        )
        .expect("move the block into the past");
    assert!(changed >= 1, "a client was blocked");
}

#[when(expr = "a browser starts a sign-in with {string} sending the Host header {string}")]
async fn start_with_host(world: &mut KitWorld, provider: String, host: String) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let url = format!("{}/auth/login/{provider}", world.base_url());
    let r = client.get(url).header("host", host).send().await.expect("an answer");
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    world.seen.reply = Some(crate::world::Reply { status, headers, body: r.text().await.unwrap_or_default() });
}

#[then(expr = "the identity provider is asked to redirect to {string}")]
async fn redirect_asked(world: &mut KitWorld, expected: String) {
    let expected = world.fill(&expected).await;
    let r = world.seen.reply.as_ref().expect("a reply");
    let location = r.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let url = url::Url::parse(location).unwrap_or_else(|e| panic!("a redirect to the IdP ({e}): {location:?}"));
    let redirect_uri = url.query_pairs().find(|(k, _)| k == "redirect_uri").map(|(_, v)| v.to_string());
    assert_eq!(redirect_uri.as_deref(), Some(expected.as_str()), "{location}");
}
