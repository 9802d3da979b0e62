//! What an attacker does: open someone else's callback, race one code, send raw
//! paths no client would tidy, flood sign-in starts. Each leaves the outcome
//! where the ordinary `Then` steps read it (`world.page`, `world.reply`).

use crate::world::{KitWorld, Reply};
use cucumber::when;
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
    world.page = Some(world.browser.open(&callback).await);
}

#[when(expr = "the confirmation code printed for {string} is submitted {int} times at once")]
async fn race(world: &mut KitWorld, email: String, times: usize) {
    let code = world.proxy().confirmation_code(&email).await;
    let code = code.unwrap_or_else(|| panic!("no confirmation code for {email}"));
    let csrf = world.page.as_ref().map(|p| p.input("csrf_token")).unwrap_or_default();
    let cookie = world.browser.cookie_header(&format!("{}/auth/confirm", world.base_url()));
    // Raw and synchronised on the last byte: the submissions reach the proxy together.
    let request = llm_sso_kit::confirm_request(&cookie, &code, &csrf);
    for answer in llm_sso_kit::all_at_once(world.proxy().port, &request, times).await {
        let status = answer.split_whitespace().nth(1).unwrap_or("none").to_string();
        assert!(!status.starts_with('5') && status != "none", "a concurrent submission got {status}");
    }
}

#[when(expr = "the agent sends a raw request to {string} with its token")]
async fn raw(world: &mut KitWorld, path: String) {
    let token = world.token.clone().unwrap_or_default();
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
    world.reply = Some(Reply { status, headers: reqwest::header::HeaderMap::new(), body });
}

#[when(expr = "{int} sign-ins are started from one address without being finished")]
async fn flood(world: &mut KitWorld, count: usize) {
    let (client, url) = (jar(), format!("{}/auth/login/google", world.base_url()));
    let mut last = None;
    for _ in 0..count {
        let r = client.get(&url).send().await.expect("an answer");
        last = Some(Reply {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap_or_default(),
        });
    }
    world.reply = last;
}
