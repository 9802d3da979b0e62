//! A terminal signing in with RFC 8628 device authorization: the terminal's
//! requests to `/auth/device/code` and `/auth/device/token` (plain HTTP, as any
//! device-flow client sends them), and the person's side on the verification
//! page, in the kit's browser.

use crate::world::{KitWorld, Reply};
use cucumber::{given, then, when};
use serde_json::Value;

/// The grant type of RFC 8628's token request.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// What the kit's terminal calls itself, to find it again on the verification page.
const KIT_TERMINAL: &str = "kit-terminal/1.0 (conformance)";
/// The user-code alphabet RFC 8628 section 6.1 suggests, and the proxy's contract.
const ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

fn json(reply: &Reply) -> Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("not JSON ({e}): HTTP {} {}", reply.status, reply.body))
}

/// `POST /auth/device/code`, as the terminal `user_agent`, renewing `token` when given.
async fn ask(world: &mut KitWorld, user_agent: &str, token: Option<String>) {
    let url = format!("{}/auth/device/code", world.base_url());
    let mut request = reqwest::Client::new()
        .post(url)
        .header("user-agent", user_agent)
        .form(&[("client_id", "kit-terminal"), ("scope", "llm")]);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let reply = Reply::of(request.send().await.expect("the proxy answers")).await;
    world.terminal.device = (reply.status == 200).then(|| json(&reply));
    world.seen.reply = Some(reply);
}

#[given(expr = "the terminal sign-in polling interval is {int} seconds")]
async fn interval_setting(world: &mut KitWorld, seconds: u32) {
    world.launch.setup.device_interval = seconds;
}

#[when("a terminal asks for a sign-in code")]
async fn asks(world: &mut KitWorld) {
    ask(world, KIT_TERMINAL, None).await;
}

#[when(expr = "a terminal with the user agent {string} asks for a sign-in code")]
async fn asks_as(world: &mut KitWorld, user_agent: String) {
    ask(world, &user_agent, None).await;
}

#[when("the terminal asks for a sign-in code to renew its token")]
async fn asks_to_renew(world: &mut KitWorld) {
    let token = world.agent.token.clone().expect("a token to renew");
    ask(world, KIT_TERMINAL, Some(token)).await;
    assert!(
        world.terminal.device.is_some(),
        "the request was refused: {}",
        world.seen.reply.as_ref().map_or("", |r| &r.body)
    );
}

fn device(world: &KitWorld) -> &Value {
    world.terminal.device.as_ref().unwrap_or_else(|| {
        panic!("the terminal has no code: {}", world.seen.reply.as_ref().map_or(String::new(), |r| r.body.clone()))
    })
}

#[then(expr = "the terminal receives a device code, a user code like {string}, the verification URI and an interval")]
async fn receives_code(world: &mut KitWorld, _example: String) {
    let base = world.base_url();
    let reply = world.seen.reply.as_ref().expect("a reply");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let cache = reply.headers.get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(cache.contains("no-store"), "codes must not be cached: {cache:?}");
    let d = device(world);
    let device_code = d["device_code"].as_str().unwrap_or_default();
    assert!(device_code.len() >= 32, "a device code that cannot be guessed: {d}");
    let user_code = d["user_code"].as_str().unwrap_or_default();
    let (left, right) = user_code.split_once('-').unwrap_or_else(|| panic!("XXXX-XXXX: {user_code:?}"));
    assert_eq!((left.len(), right.len()), (4, 4), "{user_code:?}");
    assert!(left.chars().chain(right.chars()).all(|c| ALPHABET.contains(c)), "unambiguous letters: {user_code}");
    assert_eq!(d["verification_uri"].as_str(), Some(format!("{base}/auth/device").as_str()), "{d}");
    let complete = d["verification_uri_complete"].as_str().unwrap_or_default();
    assert!(complete.starts_with(&format!("{base}/auth/device?")) && complete.contains(user_code), "{d}");
    assert!(d["expires_in"].as_i64().is_some_and(|s| s > 0) && d["interval"].as_i64().is_some_and(|s| s > 0), "{d}");
}

#[then(expr = "the terminal is told to poll every {int} seconds")]
async fn told_interval(world: &mut KitWorld, seconds: i64) {
    assert_eq!(device(world)["interval"].as_i64(), Some(seconds));
}

#[then(expr = "the terminal's code expires in {int} seconds")]
async fn expires_in(world: &mut KitWorld, seconds: i64) {
    assert_eq!(device(world)["expires_in"].as_i64(), Some(seconds));
}

async fn poll_with(world: &mut KitWorld, grant_type: &str) {
    let url = format!("{}/auth/device/token", world.base_url());
    let device_code =
        world.terminal.device.as_ref().and_then(|d| d["device_code"].as_str()).unwrap_or("none").to_string();
    let form = [("grant_type", grant_type), ("device_code", &device_code), ("client_id", "kit-terminal")];
    let r = reqwest::Client::new().post(url).form(&form).send().await.expect("the proxy answers");
    world.seen.reply = Some(Reply::of(r).await);
}

#[when("the terminal polls")]
async fn polls(world: &mut KitWorld) {
    poll_with(world, DEVICE_GRANT).await;
}

#[when("the terminal polls after the interval")]
async fn polls_later(world: &mut KitWorld) {
    // The interval the proxy asked for (the kit configures 1 s), plus a margin for whole-second clocks.
    let seconds = device(world)["interval"].as_u64().unwrap_or(5);
    tokio::time::sleep(std::time::Duration::from_millis(seconds * 1000 + 100)).await;
    poll_with(world, DEVICE_GRANT).await;
}

#[when(expr = "a terminal polls with the grant type {string}")]
async fn polls_with(world: &mut KitWorld, grant_type: String) {
    poll_with(world, &grant_type).await;
}

#[then(expr = "the terminal is told {string}")]
async fn told(world: &mut KitWorld, error: String) {
    let reply = world.seen.reply.as_ref().expect("a reply");
    assert_eq!(reply.status, 400, "RFC 8628 section 3.5 errors are 400: {}", reply.body);
    assert_eq!(json(reply)["error"].as_str(), Some(error.as_str()), "{}", reply.body);
}

#[then("the terminal receives an agent token")]
async fn receives_token(world: &mut KitWorld) {
    let reply = world.seen.reply.as_ref().expect("a reply");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = json(reply);
    let token = body["access_token"].as_str().unwrap_or_default().to_string();
    let profile = llm_sso_kit::profile::Profile::get();
    assert!(profile.token_on(&format!("value=\"{token}\"")).is_some(), "an agent token: {body}");
    assert!(body["token_type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("bearer")), "{body}");
    assert!(body["expires_in"].as_i64().is_some_and(|s| s > 0), "{body}");
    world.agent.token = Some(token);
}

#[then("the terminal is told its token was renewed")]
async fn renewed(world: &mut KitWorld) {
    let reply = world.seen.reply.as_ref().expect("a reply");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = json(reply);
    assert_eq!(body["renewed"], Value::Bool(true), "{body}");
    assert!(body.get("access_token").is_none(), "a renewal issues no second token: {body}");
}

#[when("I open the verification link and confirm the code")]
async fn open_link(world: &mut KitWorld) {
    let (link, code) = {
        let d = device(world);
        (d["verification_uri_complete"].as_str().unwrap_or_default().to_string(), d["user_code"].to_string())
    };
    let form = world.web.browser.open(&link).await;
    assert_eq!(form.status.as_u16(), 200, "{}", form.text());
    let shown = form.input("user_code");
    assert_eq!(format!("\"{shown}\""), code, "the link fills the code in");
    let base = world.base_url();
    world.web.page = Some(world.web.browser.submit(&form, &base, "/auth/device", &[("user_code", &shown)]).await);
}

#[when("I enter a wrong user code on the verification page")]
async fn wrong_user_code(world: &mut KitWorld) {
    let real = device(world)["user_code"].as_str().unwrap_or_default().to_string();
    let wrong = if real == "BBBB-BBBB" { "CCCC-CCCC" } else { "BBBB-BBBB" };
    let base = world.base_url();
    let form = world.web.browser.open(&format!("{base}/auth/device")).await;
    world.web.page = Some(world.web.browser.submit(&form, &base, "/auth/device", &[("user_code", wrong)]).await);
}

#[then("the page shows the address and the program of the terminal that asked")]
async fn shows_requester(world: &mut KitWorld) {
    let page = world.web.page.as_ref().expect("a page");
    let text = page.text();
    assert_eq!(page.status.as_u16(), 200, "{text}");
    assert!(text.contains("127.0.0.1"), "the terminal's address: {text}");
    assert!(text.contains(KIT_TERMINAL), "the terminal's program: {text}");
    let code = device(world)["user_code"].as_str().unwrap_or_default();
    assert!(text.contains(code), "the code, to compare with the terminal's: {text}");
}

/// The request id on the verification page's provider links.
fn request_on_page(world: &mut KitWorld) -> String {
    let page = world.web.page.as_ref().expect("the verification page");
    let html = &page.html;
    let id = html.split("?device=").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default();
    assert!(!id.is_empty(), "the page offers a sign-in for the terminal:\n{}", page.text());
    world.terminal.request = Some(id.to_string());
    id.to_string()
}

#[when(expr = "I sign in with {string} for the terminal")]
async fn sign_in_for_terminal(world: &mut KitWorld, provider: String) {
    let id = request_on_page(world);
    let url = format!("{}/auth/login/{provider}?device={id}", world.base_url());
    world.web.page = Some(world.web.browser.open(&url).await);
}

#[when(expr = "another browser opens the sign-in link for the terminal with {string}")]
async fn link_elsewhere(world: &mut KitWorld, provider: String) {
    let id = request_on_page(world);
    let url = format!("{}/auth/login/{provider}?device={id}", world.base_url());
    let mut elsewhere = llm_sso_kit::browser::Browser::new();
    world.web.page = Some(elsewhere.open(&url).await);
}

#[when("I refuse the terminal's sign-in")]
async fn refuse(world: &mut KitWorld) {
    request_on_page(world);
    let page = world.web.page.take().expect("the verification page");
    assert!(!page.hidden_fields("/auth/device/refuse").is_empty(), "the page offers to refuse:\n{}", page.text());
    let base = world.base_url();
    world.web.page = Some(world.web.browser.submit(&page, &base, "/auth/device/refuse", &[]).await);
}

#[then("the diagnosis never shows the device code or the user code")]
async fn hashed(world: &mut KitWorld) {
    let d = device(world);
    let device_code = d["device_code"].as_str().unwrap_or_default();
    let user_code = d["user_code"].as_str().unwrap_or_default();
    let all = format!("{:?}", world.seen.rows).to_uppercase();
    for secret in [device_code.to_uppercase(), user_code.to_uppercase(), user_code.replace('-', "")] {
        assert!(!all.contains(&secret), "stored in the clear: {secret}");
    }
}

#[when("another browser enters the terminal's code")]
async fn other_browser_enters(world: &mut KitWorld) {
    let code = device(world)["user_code"].as_str().unwrap_or_default().to_string();
    let base = world.base_url();
    let mut other = llm_sso_kit::browser::Browser::new();
    let form = other.open(&format!("{base}/auth/device")).await;
    world.web.page = Some(other.submit(&form, &base, "/auth/device", &[("user_code", &code)]).await);
}

/// A form another site makes the user's browser send: the browser's cookie may go with it, the page's
/// hidden token cannot.
#[when("the terminal's code is posted to the verification page without the form's token")]
async fn forged_code(world: &mut KitWorld) {
    let code = device(world)["user_code"].as_str().unwrap_or_default().to_string();
    let base = world.base_url();
    world.web.browser.open(&format!("{base}/auth/device")).await;
    world.web.page = Some(world.web.browser.post(&format!("{base}/auth/device"), &[("user_code", &code)]).await);
}

#[when("a refusal is posted without the form's token")]
async fn forged_refusal(world: &mut KitWorld) {
    let page = world.web.page.as_ref().expect("the verification page");
    let fields = page.hidden_fields("/auth/device/refuse");
    assert!(!fields.is_empty(), "the page offers to refuse:\n{}", page.text());
    let without: Vec<(&str, &str)> =
        fields.iter().filter(|(k, _)| !k.contains("csrf")).map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let url = format!("{}/auth/device/refuse", world.base_url());
    world.web.page = Some(world.web.browser.post(&url, &without).await);
}

/// After a refusal the page offers nothing more: the link the verification page had offered, opened anyway.
#[when(expr = "I sign in with {string} for the refused terminal anyway")]
async fn sign_in_after_refusal(world: &mut KitWorld, provider: String) {
    let id = world.terminal.request.clone().expect("the verification page named the terminal's request");
    let url = format!("{}/auth/login/{provider}?device={id}", world.base_url());
    world.web.page = Some(world.web.browser.open(&url).await);
}

/// `POST /auth/revoke` (RFC 7009) with a value derived from the agent's token.
#[when(
    regex = r"^(the token|the token's hash|the token without its last character|the token's first half) is posted to /auth/revoke$"
)]
async fn revoke(world: &mut KitWorld, what: String) {
    let token = world.agent.token.clone().expect("a token");
    let value = match what.as_str() {
        "the token" => token,
        "the token's hash" => llm_sso_kit::contract::token_hash(&token),
        "the token without its last character" => token[..token.len() - 1].to_string(),
        _ => token[..token.len() / 2].to_string(),
    };
    let r = reqwest::Client::new()
        .post(format!("{}/auth/revoke", world.base_url()))
        .form(&[("token", value.as_str()), ("token_type_hint", "access_token")])
        .send()
        .await
        .expect("the proxy answers");
    world.seen.reply = Some(Reply::of(r).await);
}
