//! What an attacker does: open someone else's callback, race one code, send raw
//! paths no client would tidy, flood sign-in starts. Each leaves the outcome
//! where the ordinary `Then` steps read it (`world.web.page`, `world.seen.reply`).

use crate::world::{KitWorld, Reply};
use cucumber::{then, when};
use mock_idp::NextLogin;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn jar() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

#[when(expr = "another browser opens the callback of a sign-in started by {string}")]
async fn foreign_callback(world: &mut KitWorld, email: String) {
    let base = world.base_url();
    world.mocks().await.idp.set_next_login(NextLogin {
        email: Some(email),
        deny: false,
        issuer: Some("google".into()),
    });
    let starter = jar();
    let start = starter.get(format!("{base}/auth/login/google")).send().await.expect("start");
    let idp = start.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(!idp.is_empty(), "the sign-in start redirects to the IdP (status {})", start.status());
    let back = starter.get(&idp).send().await.expect("IdP");
    let callback = back.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(callback.contains("/auth/callback"), "the IdP redirects back: {callback}");
    world.web.page = Some(world.web.browser.open(&callback).await);
}

/// The page's code form filled with `code`, as one raw request with the browser's cookies.
fn code_form_request(world: &KitWorld, code: &str) -> String {
    let page = world.web.page.as_ref().expect("the confirmation page");
    let form = page.entry_form().unwrap_or_else(|| panic!("the page has no form for the code:\n{}", page.text()));
    let base = world.base_url();
    let url = url::Url::parse(&base).and_then(|b| b.join(&form.action)).expect("the form's action");
    let cookie = world.web.browser.cookie_header(url.as_str());
    let mut fields: Vec<(&str, &str)> = form.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    fields.push((form.field.as_str(), code));
    llm_sso_kit::form_request(&cookie, url.path(), &fields)
}

#[when(expr = "the confirmation code printed for {string} is submitted {int} times at once")]
async fn race(world: &mut KitWorld, email: String, times: usize) {
    let code = world.proxy().confirmation_code(&email).await;
    let code = code.unwrap_or_else(|| panic!("no confirmation code for {email}"));
    // Raw and synchronised on the last byte: the submissions reach the proxy together.
    let request = code_form_request(world, &code);
    for answer in llm_sso_kit::all_at_once(world.proxy().port, &request, times).await {
        let status = answer.split_whitespace().nth(1).unwrap_or("none").to_string();
        assert!(!status.starts_with('5') && status != "none", "a concurrent submission got {status}");
    }
}

#[when(expr = "the agent sends a raw request to {string} with its token")]
async fn raw(world: &mut KitWorld, path: String) {
    let token = world.agent.token.clone().unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: kit\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", world.proxy().port)).await.expect("connect");
    tcp.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    world.seen.reply = Some(Reply { status, headers: reqwest::header::HeaderMap::new(), body });
}

#[when(expr = "{int} sign-ins are started from one address without being finished")]
async fn flood(world: &mut KitWorld, count: usize) {
    let (client, url) = (jar(), format!("{}/auth/login/google", world.base_url()));
    let mut last = None;
    for _ in 0..count {
        let r = client.get(&url).send().await.expect("an answer");
        last = Some(Reply::of(r).await);
    }
    world.seen.reply = last;
}

/// A client whose requests leave from `ip` (any address of 127.0.0.0/8 is this machine): how one host with
/// many addresses looks to the proxy.
fn from(ip: std::net::IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The `n`-th address (from 1) of the loopback network `127.0.{net}.0/24`.
fn address(net: u8, n: usize) -> std::net::IpAddr {
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, net, u8::try_from(n).expect("at most 254 addresses")))
}

/// Each line of `world.seen.rows` is one answer's status.
fn statuses(world: &mut KitWorld, statuses: Vec<u16>) {
    world.seen.rows = statuses.into_iter().map(|s| vec![s.to_string()]).collect();
}

#[when(expr = "{int} addresses of one network each ask for {int} sign-in codes")]
async fn code_flood(world: &mut KitWorld, addresses: usize, each: usize) {
    let url = format!("{}/auth/device/code", world.base_url());
    let mut seen = Vec::new();
    for n in 1..=addresses {
        let client = from(address(200, n));
        for _ in 0..each {
            let r = client.post(&url).form(&[("client_id", "flood")]).send().await.expect("an answer");
            seen.push(r.status().as_u16());
        }
    }
    statuses(world, seen);
}

#[when(expr = "{int} addresses of one network each enter a wrong user code")]
async fn guess_flood(world: &mut KitWorld, addresses: usize) {
    let base = world.base_url();
    let mut seen = Vec::new();
    for n in 1..=addresses {
        let client = from(address(201, n));
        let form = client.get(format!("{base}/auth/device")).send().await.expect("the form");
        let html = form.text().await.unwrap_or_default();
        let page = llm_sso_kit::browser::Page { status: reqwest::StatusCode::OK, headers: Default::default(), html };
        let mut fields = page.hidden_fields("/auth/device");
        fields.push(("user_code".into(), "BBBB-BBBB".into()));
        let r = client.post(format!("{base}/auth/device")).form(&fields).send().await.expect("an answer");
        seen.push(r.status().as_u16());
    }
    statuses(world, seen);
}

#[then(expr = "{int} of those answers are {int}")]
async fn answers_are(world: &mut KitWorld, count: usize, status: u16) {
    let all: Vec<&str> = world.seen.rows.iter().filter_map(|r| r.first().map(String::as_str)).collect();
    let matching = all.iter().filter(|s| **s == status.to_string()).count();
    assert_eq!(matching, count, "answers: {all:?}");
}

#[when(expr = "a browser on another network starts a sign-in with {string}")]
async fn start_elsewhere(world: &mut KitWorld, provider: String) {
    let r = from(address(202, 1)).get(format!("{}/auth/login/{provider}", world.base_url())).send().await;
    let r = r.expect("an answer");
    world.seen.reply = Some(Reply::of(r).await);
}

#[when(expr = "a browser posts a form of {int} KiB to {string}")]
async fn big_form(world: &mut KitWorld, kib: usize, path: String) {
    let body = format!("code={}", "1".repeat(kib * 1024));
    let r = reqwest::Client::new()
        .post(format!("{}{path}", world.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await;
    // A proxy may also close the connection once it has answered: the answer counts, a reset does not.
    let r = r.unwrap_or_else(|e| panic!("POST {path} of {kib} KiB got no answer: {e}"));
    world.seen.reply = Some(Reply::of(r).await);
}

#[when(
    expr = "a browser starts a sign-in with {string} through the reverse proxy, which sends X-Forwarded-For {string}"
)]
async fn through_reverse_proxy(world: &mut KitWorld, provider: String, forwarded_for: String) {
    let r = jar()
        .get(format!("{}/auth/login/{provider}", world.base_url()))
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .expect("an answer");
    world.seen.reply = Some(Reply::of(r).await);
}

#[when(expr = "a wrong confirmation code for {string} is submitted {int} times at once")]
async fn guess_race(world: &mut KitWorld, email: String, times: usize) {
    let code = world.proxy().confirmation_code(&email).await;
    let code = code.unwrap_or_else(|| panic!("no confirmation code for {email}"));
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let request = code_form_request(world, wrong);
    let mut seen = Vec::new();
    for answer in llm_sso_kit::all_at_once(world.proxy().port, &request, times).await {
        let status = answer.split_whitespace().nth(1).unwrap_or("none").to_string();
        assert!(!status.starts_with('5') && status != "none", "a concurrent submission got {status}");
        seen.push(status.parse().unwrap_or(0));
    }
    statuses(world, seen);
}

#[then(expr = "at most {int} of those answers are {int}")]
async fn at_most(world: &mut KitWorld, count: usize, status: u16) {
    let all: Vec<&str> = world.seen.rows.iter().filter_map(|r| r.first().map(String::as_str)).collect();
    let matching = all.iter().filter(|s| **s == status.to_string()).count();
    assert!(matching <= count, "{matching} answers are {status}, at most {count} may be: {all:?}");
}
