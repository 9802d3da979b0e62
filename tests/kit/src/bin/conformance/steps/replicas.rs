//! Two replicas of the proxy on one PostgreSQL database (`replicas.feature`):
//! replica A is the scenario's proxy (the IdP sends browsers back to its
//! address, the load balancer's), replica B a second process with the same
//! configuration and database. Both use `sso.database_url`.

use crate::world::KitWorld;
use cucumber::{given, then, when};
use llm_sso_kit::proxy::{ProxyProcess, TempDir, free_port};
use std::time::Duration;

/// Replica B.
fn replica_b(world: &KitWorld) -> &ProxyProcess {
    world.replica.as_ref().expect("two replicas were started")
}

fn replica<'w>(world: &'w KitWorld, name: &str) -> &'w ProxyProcess {
    if name == "A" { world.proxy() } else { replica_b(world) }
}

/// The same path and query on another replica.
fn on(proxy: &ProxyProcess, url: &str) -> String {
    let path = url.splitn(4, '/').nth(3).unwrap_or_default();
    format!("{}/{path}", proxy.base_url())
}

#[given("two replicas of the proxy share one PostgreSQL database")]
async fn two_replicas(world: &mut KitWorld) {
    let server = match llm_sso_kit::postgres::server_or_skip("replicas.feature") {
        Some(server) => server,
        None => panic!("replicas.feature needs PostgreSQL (apt-get install postgresql, or LLM_SSO_TEST_POSTGRES_URL)"),
    };
    let url = server.database("replicas").expect("a database for the replicas");
    let a_url = world.base_url();
    let config = world.standard_config().await;
    let database_line =
        config.lines().find(|l| l.trim_start().starts_with("database_")).unwrap_or_default().to_string();
    let port_line = format!("  port: {}", world.port);
    let shared = config
        .replace(&database_line, "  database_url: \"${KIT_DATABASE_URL}\"")
        .replace(&port_line, &format!("{port_line}\n  public_url: \"{a_url}\""));
    // Both replicas' directories name the one database (the kit's SQL steps read it there too).
    std::fs::write(world.dir_path().join("database_url"), &url).expect("name the database");
    world.launch.config_yaml = Some(shared.clone());
    world.start_proxy().await;
    let b_port = free_port();
    let b_config = shared.replace(&format!("  port: {}\n", world.port), &format!("  port: {b_port}\n"));
    let b_dir = TempDir::new("replica-b");
    std::fs::write(b_dir.path().join("database_url"), &url).expect("name the database");
    let b = ProxyProcess::start_in(b_dir, &b_config, b_port, &[], &[])
        .await
        .unwrap_or_else(|e| panic!("replica B did not start: {e}"));
    world.replica = Some(b);
}

#[when(expr = "a browser starts a sign-in with {string} at replica A")]
async fn start_at_a(world: &mut KitWorld, provider: String) {
    let client = world.web.browser.client();
    let start = client.get(format!("{}/auth/login/{provider}", world.base_url())).send().await.expect("login");
    assert!(start.status().is_redirection(), "the sign-in starts with a redirect: {}", start.status());
    let idp = start.headers()["location"].to_str().expect("location").to_string();
    let back = client.get(&idp).send().await.expect("the identity provider answers");
    let callback = back.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(callback.contains("/auth/callback?"), "the identity provider sends the browser back: {callback}");
    world.web.callback = Some(callback);
}

#[when(expr = "the identity provider's answer reaches replica {word}")]
async fn callback_at(world: &mut KitWorld, name: String) {
    let callback = world.web.callback.clone().expect("a sign-in was started");
    let target = on(replica(world, &name), &callback);
    let client = world.web.browser.client();
    let answer = client.get(&target).send().await.expect("the callback answers");
    assert!(answer.status().is_redirection(), "replica {name} took the callback: {}", answer.status());
    let base = replica(world, &name).base_url();
    let next = answer.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let next = url::Url::parse(&base).and_then(|b| b.join(next)).map(String::from).unwrap_or_default();
    let html = client.get(next).send().await.expect("the form").text().await.unwrap_or_default();
    let page = llm_sso_kit::browser::Page { status: reqwest::StatusCode::OK, headers: Default::default(), html };
    world.web.confirm_form = page.entry_form();
    world.web.confirm_at = Some(base);
}

async fn confirm(world: &mut KitWorld, code: &str) -> (u16, String) {
    let base = world.web.confirm_at.clone().expect("a confirmation form was opened");
    let form = world.web.confirm_form.clone().expect("the confirmation page has a form");
    let mut fields: Vec<(&str, &str)> = form.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    fields.push((form.field.as_str(), code));
    let url = url::Url::parse(&base).and_then(|b| b.join(&form.action)).map(String::from).unwrap_or_default();
    let client = world.web.browser.client();
    let answer = client.post(url).form(&fields).send().await.expect("the confirmation answers");
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

#[when(expr = "the browser types the code that replica B printed for {string}")]
async fn code_from_b(world: &mut KitWorld, email: String) {
    let code = replica_b(world)
        .confirmation_code(&email)
        .await
        .unwrap_or_else(|| panic!("replica B printed no code for {email}:\n{}", replica_b(world).console()));
    let (_, page) = confirm(world, &code).await;
    world.agent.token = llm_sso_kit::profile::Profile::get().token_on(&page);
}

#[then("the browser received an agent token")]
async fn received(world: &mut KitWorld) {
    assert!(world.agent.token.is_some(), "no token page");
}

#[when("the browser types a wrong code twice at replica A")]
async fn wrong_twice(world: &mut KitWorld) {
    // A code that is not the printed one (the console is read only to avoid it).
    let printed = llm_sso_kit::browser::code_in(&world.proxy().console(), "").unwrap_or_default();
    let wrong = if printed == "000000" { "000001" } else { "000000" };
    for _ in 0..2 {
        let (status, page) = confirm(world, wrong).await;
        let status = if page.contains("id=\"token\"") { 200 } else { status };
        assert_eq!(status, 422, "a wrong code is judged wrong");
    }
}

async fn chat(world: &KitWorld, name: &str) -> (u16, String) {
    let token = world.agent.token.clone().expect("a token");
    let reply = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", replica(world, name).base_url()))
        .bearer_auth(token)
        .json(&serde_json::json!({"model": "mock-gpt", "messages": [{"role": "user", "content": "ping a replica"}]}))
        .send()
        .await
        .expect("the replica answers");
    let status = reply.status().as_u16();
    (status, reply.text().await.unwrap_or_default())
}

#[given(expr = "replica {word} forwards a chat request with that token")]
#[then(expr = "replica {word} forwards a chat request with that token")]
async fn forwards(world: &mut KitWorld, name: String) {
    let (status, body) = chat(world, &name).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ping a replica"), "the upstream answered through replica {name}: {body}");
}

#[then(expr = "replica {word} answers that token with the sign-in sandbox reply")]
async fn sandboxed(world: &mut KitWorld, name: String) {
    let (_, body) = chat(world, &name).await;
    assert!(!body.contains("ping a replica"), "replica {name} forwarded a revoked token: {body}");
    assert!(body.contains("/auth/login"), "the reply shows where to sign in: {body}");
}

#[when(expr = "the operator revokes the tokens of {string} with replica A's configuration")]
async fn revoke(world: &mut KitWorld, email: String) {
    let dir = world.proxy().dir_path().to_path_buf();
    let args = ["tokens", "revoke", "--user", email.as_str()];
    let mut cmd =
        llm_sso_kit::proxy::command(Some(&dir.join("config.yaml")), world.port, &dir.join("sso_auth.db"), &args);
    cmd.current_dir(&dir).env("KIT_CLIENT_SECRET", llm_sso_kit::proxy::CLIENT_SECRET);
    let url = std::fs::read_to_string(dir.join("database_url")).expect("the replicas' database");
    cmd.env("KIT_DATABASE_URL", url.trim());
    let out = cmd.output().await.expect("the command runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[then("replica B makes the client wait before a new sign-in")]
async fn waits(world: &mut KitWorld) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let page = client.get(format!("{}/auth/login/google", replica_b(world).base_url())).send().await.expect("B");
    assert_eq!(page.status(), 429, "replica B let a client in backoff start a sign-in");
    assert!(page.headers().contains_key("retry-after"), "with Retry-After");
}

#[given("the upstream streams slowly")]
async fn slowly(world: &mut KitWorld) {
    let slow = mock_llm::StreamSettings { stream_chunks: 50, chunk_delay_ms: 100, large_reply_bytes: 1024 * 1024 };
    world.mocks().await.llm.set_stream_settings(&slow).expect("slow stream");
}

#[when("a streamed chat reply starts at replica A")]
async fn stream_at_a(world: &mut KitWorld) {
    let token = world.agent.token.clone().expect("a token");
    let mut reply = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", world.base_url()))
        .bearer_auth(token)
        .json(&serde_json::json!({"model": "mock-gpt", "stream": true, "messages": [{"role": "user", "content": "ping"}]}))
        .send()
        .await
        .expect("the stream starts");
    assert_eq!(reply.status(), 200);
    let first = reply.chunk().await.expect("a first chunk");
    assert!(first.is_some_and(|c| !c.is_empty()), "the stream is under way");
    world.seen.stream = Some(reply);
}

#[when("replica A is stopped")]
async fn stop_a(world: &mut KitWorld) {
    let pid = world.proxy().pid().expect("replica A runs");
    let killed = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    assert!(killed.is_ok_and(|s| s.success()), "replica A was stopped");
    if let Some(mut stream) = world.seen.stream.take() {
        let ended =
            tokio::time::timeout(Duration::from_secs(10), async { while let Ok(Some(_)) = stream.chunk().await {} })
                .await;
        assert!(ended.is_ok(), "replica A's stream ended with it");
    }
    let fast = mock_llm::StreamSettings { stream_chunks: 8, chunk_delay_ms: 0, large_reply_bytes: 1024 * 1024 };
    world.mocks().await.llm.set_stream_settings(&fast).expect("fast again");
}
