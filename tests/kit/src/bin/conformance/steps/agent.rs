//! What an agent does (requests with or without its token) and what it sees.

use crate::world::{KitWorld, Reply};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use serde_json::{Value, json};

fn chat_body() -> Value {
    json!({"model": "gpt-4", "messages": [{"role": "user", "content": "test"}]})
}

async fn send(world: &mut KitWorld, method: &str, path: &str, token: Option<String>, body: Option<Value>) {
    let url = format!("{}{path}", world.base_url());
    let client = reqwest::Client::new();
    let mut request = match method {
        "GET" => client.get(&url),
        _ => client.post(&url),
    };
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
        world.agent.presented = Some(t);
    }
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body = response.text().await.unwrap_or_default();
    world.seen.reply = Some(Reply { status, headers, body });
}

#[given(expr = "the user {string} holds a valid agent token")]
async fn holds_token(world: &mut KitWorld, email: String) {
    world.agent.token = Some(world.proxy().mint_token(&email));
}

#[when("the agent sends a chat request without a token")]
async fn without(world: &mut KitWorld) {
    send(world, "POST", "/v1/chat/completions", None, Some(chat_body())).await;
}

#[when("the agent sends a chat request with its token")]
async fn with_token(world: &mut KitWorld) {
    let token = world.agent.token.clone();
    send(world, "POST", "/v1/chat/completions", token, Some(chat_body())).await;
}

#[when(expr = "the agent sends a chat request with its token cut short by {int} characters")]
async fn truncated(world: &mut KitWorld, n: usize) {
    let token = world.agent.token.clone().expect("a token");
    let cut = token[..token.len().saturating_sub(n)].to_string();
    send(world, "POST", "/v1/chat/completions", Some(cut), Some(chat_body())).await;
}

#[when(expr = "the agent sends a chat request to {string} with its token")]
async fn to_path(world: &mut KitWorld, path: String) {
    let token = world.agent.token.clone();
    send(world, "POST", &path, token, Some(chat_body())).await;
}

#[when(expr = "I request {word} {string}")]
async fn request(world: &mut KitWorld, method: String, path: String) {
    send(world, &method, &path, None, None).await;
}

#[when(expr = "I run the guide's curl test against {string}")]
async fn curl_test(world: &mut KitWorld, path: String) {
    // curl http://localhost:8080/v1/chat/completions -H "Authorization: Bearer YOUR_TOKEN" -d '{...}'
    let token = world.agent.token.clone();
    send(world, "POST", &path, token, Some(chat_body())).await;
}

#[then(expr = "the response status is {int}")]
async fn status(world: &mut KitWorld, code: u16) {
    let r = world.seen.reply.as_ref().expect("a reply");
    assert_eq!(r.status, code, "{}", r.body);
}

#[then("the response body is JSON:")]
async fn body_json(world: &mut KitWorld, step: &Step) {
    let expected: Value = serde_json::from_str(step.docstring.as_deref().unwrap_or("null")).expect("JSON docstring");
    let r = world.seen.reply.as_ref().expect("a reply");
    let actual: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body));
    assert_eq!(actual, expected);
}

fn assistant_text(world: &KitWorld) -> String {
    let r = world.seen.reply.as_ref().expect("a reply");
    let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body));
    v["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_string()
}

#[then("the agent sees a sandbox reply with the login URL")]
async fn sandbox_login(world: &mut KitWorld) {
    let text = assistant_text(world);
    assert_eq!(world.seen.reply.as_ref().map(|r| r.status), Some(200), "sandbox replies are well-formed completions");
    assert!(llm_sso_kit::browser::link_in(&text, &world.base_url()).is_some(), "a sign-in link on this proxy: {text}");
}

#[then("the agent sees a sandbox reply with a re-authentication URL")]
async fn sandbox_reauth(world: &mut KitWorld) {
    let text = assistant_text(world);
    assert!(text.contains("Session expired"), "{text}");
    assert!(llm_sso_kit::browser::link_in(&text, &world.base_url()).is_some(), "a link on this proxy: {text}");
}

#[then(expr = "the sandbox reply says {string}")]
async fn sandbox_says(world: &mut KitWorld, words: String) {
    let text = assistant_text(world);
    assert!(text.contains(&words), "{text}");
}

#[then("the agent sees the model's answer")]
async fn model_answer(world: &mut KitWorld) {
    assert_eq!(assistant_text(world), "test", "the mock upstream echoes the prompt");
}

#[then(expr = "the response says {string}")]
async fn response_says(world: &mut KitWorld, words: String) {
    let r = world.seen.reply.as_ref().expect("a reply");
    assert!(r.body.contains(&words), "{}", r.body);
}

#[then(expr = "the response does not say {string}")]
async fn response_does_not_say(world: &mut KitWorld, words: String) {
    let r = world.seen.reply.as_ref().expect("a reply");
    assert!(!r.body.to_lowercase().contains(&words.to_lowercase()), "{}", r.body);
}

#[when("the agent sends a chat request with a made-up token")]
async fn made_up(world: &mut KitWorld) {
    let token = llm_sso_kit::contract::generate_token();
    send(world, "POST", "/v1/chat/completions", Some(token), Some(chat_body())).await;
}

#[when(expr = "the agent sends {int} chat requests with made-up tokens")]
async fn flood(world: &mut KitWorld, n: usize) {
    for i in 0..n {
        // Well-formed unknown tokens and garbage alike.
        let token = if i % 2 == 0 { llm_sso_kit::contract::generate_token() } else { format!("garbage-{i}") };
        send(world, "POST", "/v1/chat/completions", Some(token), Some(chat_body())).await;
        assert_eq!(world.seen.reply.as_ref().map(|r| r.status), Some(200), "a sandbox reply");
    }
}

#[when("the proxy is stopped")]
async fn stop(world: &mut KitWorld) {
    let proxy = world.proxy.as_mut().expect("a running proxy");
    proxy.terminate();
    let profile = llm_sso_kit::profile::Profile::get();
    let status = proxy.wait(profile.wait(profile.stop.grace_seconds as f64)).await;
    assert!(status.is_some(), "the proxy stops within the profile's grace period");
    world.stopped = status;
}

#[then("it exited with code 0")]
async fn clean_exit(world: &mut KitWorld) {
    assert!(world.stopped.is_some_and(|s| s.success()), "a clean stop: {:?}", world.stopped);
}

#[then("connecting to the proxy is refused")]
async fn refused(world: &mut KitWorld) {
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", world.port)).await.is_err());
}

#[then("the upstream received no request")]
async fn upstream_untouched(world: &mut KitWorld) {
    assert!(world.mocks().await.llm.journal().is_empty());
}

#[then(expr = "the response header {word} is {string}")]
async fn header_is(world: &mut KitWorld, name: String, value: String) {
    let r = world.seen.reply.as_ref().expect("a reply");
    let actual = r.headers.get(name.as_str()).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(actual, value, "header {name}");
}

#[then(expr = "the upstream received {int} request(s)")]
async fn upstream_count(world: &mut KitWorld, n: usize) {
    let journal = world.mocks().await.llm.journal();
    assert_eq!(journal.len(), n, "{:?}", journal.iter().map(|r| &r.path).collect::<Vec<_>>());
}

#[when("the agent sends a chat request with its token and the headers:")]
async fn with_headers(world: &mut KitWorld, step: &Step) {
    let token = world.agent.token.clone().expect("a token");
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", world.base_url()))
        .bearer_auth(&token)
        .json(&chat_body());
    for row in step.table.as_ref().map(|t| t.rows.clone()).unwrap_or_default() {
        if let [name, value] = row.as_slice() {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    world.seen.reply = Some(Reply::of(request.send().await.expect("an answer")).await);
}

#[then(expr = "the upstream request carried none of the headers {string}")]
async fn upstream_lacks(world: &mut KitWorld, names: String) {
    let journal = world.mocks().await.llm.journal();
    let headers = &journal.last().expect("a request reached the upstream").headers;
    for name in names.split(',').map(|n| n.trim().to_lowercase()) {
        assert!(!headers.contains_key(&name), "{name} reached the upstream: {headers:?}");
    }
}

#[then(expr = "the upstream request carried the header {word} {string}")]
async fn upstream_has(world: &mut KitWorld, name: String, value: String) {
    let journal = world.mocks().await.llm.journal();
    let headers = &journal.last().expect("a request reached the upstream").headers;
    assert_eq!(headers.get(&name.to_lowercase()).map(String::as_str), Some(value.as_str()), "{headers:?}");
}

/// A non-streamed request to a model whose reply never finishes in time (mock-llm's `mock-trickle`); how long
/// the whole answer took, or that it was still running after `limit` seconds.
#[when(expr = "the agent asks the model {string} with its token, without streaming, and waits at most {int} seconds")]
async fn slow_model(world: &mut KitWorld, model: String, limit: u64) {
    let token = world.agent.token.clone().expect("a token");
    let body = json!({"model": model, "messages": [{"role": "user", "content": "test"}]});
    let url = format!("{}/v1/chat/completions", world.base_url());
    let started = std::time::Instant::now();
    let exchange = async {
        let response = reqwest::Client::new().post(url).bearer_auth(token).json(&body).send().await?;
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        let body = String::from_utf8_lossy(&response.bytes().await.unwrap_or_default()).to_string();
        Ok::<_, reqwest::Error>(Reply { status, headers, body })
    };
    match tokio::time::timeout(std::time::Duration::from_secs(limit), exchange).await {
        Ok(Ok(reply)) => world.seen.reply = Some(reply),
        // A connection closed without an answer ends the exchange too.
        Ok(Err(e)) => world.seen.reply = Some(Reply { status: 0, headers: Default::default(), body: e.to_string() }),
        Err(_) => panic!("the reply was still running after {limit} s (started {:?} ago)", started.elapsed()),
    }
}
