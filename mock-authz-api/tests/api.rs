//! The mock authorization API over real sockets: decisions, signature, every
//! fault mode, the journal and the control API.

use mock_authz_api::{AuthzConfig, Faults, MockAuthzApi, Policy, TimeWindow};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn spawn(secret: Option<&str>) -> MockAuthzApi {
    let policy = Policy {
        allowed_emails: vec!["alice@example.com".into(), "bob@example.com".into()],
        allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
        ..Policy::default()
    };
    let config = AuthzConfig { secret: secret.map(str::to_string), policy, ..AuthzConfig::default() };
    MockAuthzApi::spawn(config).await.expect("starts")
}

fn request(email: &str) -> Value {
    json!({
        "user_id": "google:1234", "user_email": email, "provider": "google",
        "client_ip": "127.0.0.1", "timestamp": "2026-11-26T12:00:00Z"
    })
}

async fn post(api: &MockAuthzApi, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new().post(api.authorize_url()).json(body).send().await.expect("answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn allows_and_denies_with_reason_and_answers_health() {
    let api = spawn(None).await;
    assert_eq!(post(&api, &request("alice@example.com")).await, (200, json!({"authorized": true})));
    let (status, body) = post(&api, &request("mallory@example.com")).await;
    assert_eq!(status, 200);
    assert_eq!(body["authorized"], false);
    assert!(body["reason"].as_str().unwrap().contains("not in the allowed list"));
    // Case-sensitive, exactly as the guide warns.
    assert_eq!(post(&api, &request("Alice@Example.com")).await.1["authorized"], false);
    // The guide's diagnosis curl sends only user_email and client_ip.
    let minimal = json!({"user_email": "bob@example.com", "client_ip": "127.0.0.1"});
    assert_eq!(post(&api, &minimal).await.1["authorized"], true);
    let outside = json!({"user_email": "bob@example.com", "client_ip": "203.0.113.9"});
    assert!(post(&api, &outside).await.1["reason"].as_str().unwrap().contains("203.0.113.9"));

    let health: Value = reqwest::get(format!("{}/health", api.base_url())).await.unwrap().json().await.unwrap();
    assert_eq!(health, json!({"status": "ok"}));
}

#[tokio::test]
async fn roles_and_time_window_from_code() {
    let api = spawn(None).await;
    api.set_policy(Policy {
        allow_any_email: true,
        required_roles: vec!["llm-users".into()],
        roles: [("alice@example.com".to_string(), vec!["llm-users".to_string()])].into(),
        time_window: Some(TimeWindow { start: "00:00".into(), end: "24:00".into() }),
        ..Policy::default()
    })
    .unwrap();
    assert_eq!(post(&api, &request("alice@example.com")).await.1["authorized"], true);
    let denied = post(&api, &request("bob@example.com")).await.1;
    assert_eq!(denied["reason"], "Missing required role: llm-users");

    // A one-minute window: move the clock out of it.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let minute = (now % 86_400) / 60;
    let fmt = |m: i64| format!("{:02}:{:02}", m / 60, m % 60);
    let window = TimeWindow { start: fmt((minute + 600) % 1440), end: fmt((minute + 601) % 1440) };
    api.set_policy(Policy { allow_any_email: true, time_window: Some(window), ..Policy::default() }).unwrap();
    assert!(post(&api, &request("x@y.z")).await.1["reason"].as_str().unwrap().starts_with("Outside allowed hours"));
    api.set_clock_offset(600 * 60 + 30 - (now % 60));
    assert_eq!(post(&api, &request("x@y.z")).await.1["authorized"], true);
}

#[tokio::test]
async fn signature_is_required_when_a_secret_is_set() {
    let api = spawn(Some("top-secret")).await;
    let body = serde_json::to_vec(&request("alice@example.com")).unwrap();
    let client = reqwest::Client::new();
    let send = |sig: Option<String>| {
        let mut r = client.post(api.authorize_url()).header("content-type", "application/json").body(body.clone());
        if let Some(s) = sig {
            r = r.header("x-signature", s);
        }
        r.send()
    };
    let good = mock_authz_api::signature::sign(b"top-secret", &body);
    assert_eq!(send(Some(good)).await.unwrap().json::<Value>().await.unwrap(), json!({"authorized": true}));
    for (sig, why) in [(None, "missing X-Signature header"), (Some("00".repeat(32)), "invalid X-Signature")] {
        let response = send(sig).await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.json::<Value>().await.unwrap(), json!({"error": why}));
    }
    let wrong_key = mock_authz_api::signature::sign(b"other", &body);
    assert_eq!(send(Some(wrong_key)).await.unwrap().status(), 401);
}

#[tokio::test]
async fn bad_requests_get_400_and_oversized_413() {
    let api = spawn(None).await;
    let client = reqwest::Client::new();
    for body in ["not json", "{}", "{\"user_email\": 5}", "[]"] {
        let response = client.post(api.authorize_url()).body(body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }
    let huge = "x".repeat(100 * 1024);
    assert_eq!(client.post(api.authorize_url()).body(huge).send().await.unwrap().status(), 413);
}

#[tokio::test]
async fn delay_fault_trips_a_client_timeout() {
    let api = spawn(None).await;
    api.set_faults(Faults { delay_ms: 400, ..Faults::default() }).unwrap();
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(100)).build().unwrap();
    let err = impatient.post(api.authorize_url()).json(&request("alice@example.com")).send().await.unwrap_err();
    assert!(err.is_timeout());
    let started = Instant::now();
    assert_eq!(post(&api, &request("alice@example.com")).await.1["authorized"], true);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn status_malformed_string_drop_and_intermittent_faults() {
    let api = spawn(None).await;
    let client = reqwest::Client::new();

    for status in [500, 503] {
        api.set_faults(Faults { status: Some(status), ..Faults::default() }).unwrap();
        let (got, body) = post(&api, &request("alice@example.com")).await;
        assert_eq!(got, status);
        assert_eq!(body["authorized"], false);
        assert!(body["error"].is_string());
    }

    api.set_faults(Faults { malformed_json: true, ..Faults::default() }).unwrap();
    let text = client
        .post(api.authorize_url())
        .json(&request("alice@example.com"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    api.set_faults(Faults { authorized_as_string: true, ..Faults::default() }).unwrap();
    assert_eq!(post(&api, &request("mallory@example.com")).await.1["authorized"], "false");
    assert_eq!(post(&api, &request("alice@example.com")).await.1["authorized"], "true");

    api.set_faults(Faults { drop_connection: true, ..Faults::default() }).unwrap();
    let err = client.post(api.authorize_url()).json(&request("alice@example.com")).send().await.unwrap_err();
    assert!(err.status().is_none() && !err.is_timeout(), "closed without a response: {err:?}");

    api.clear_faults();
    api.set_faults(Faults { fail_every_nth: 3, ..Faults::default() }).unwrap();
    let start = api.calls();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(post(&api, &request("alice@example.com")).await.0);
    }
    let expected: Vec<u16> = (start + 1..=start + 6).map(|n| if n % 3 == 0 { 500 } else { 200 }).collect();
    assert_eq!(statuses, expected);
}

#[tokio::test]
async fn journal_records_body_headers_and_outcome() {
    let api = spawn(None).await;
    post(&api, &request("alice@example.com")).await;
    post(&api, &request("eve@example.com")).await;
    let journal = api.journal();
    assert_eq!(journal.len(), 2);
    let body: Value = serde_json::from_str(&journal[0].body).unwrap();
    assert_eq!(body["user_email"], "alice@example.com");
    assert_eq!(journal[0].headers["content-type"], "application/json");
    assert_eq!(journal[0].outcome, "allowed");
    assert!(journal[1].outcome.starts_with("denied: "));
    assert!(journal[1].received_at_ms >= journal[0].received_at_ms);
    let over_http: Vec<mock_authz_api::Received> =
        reqwest::get(format!("{}/__control/journal", api.base_url())).await.unwrap().json().await.unwrap();
    assert_eq!(over_http, journal);
}

#[tokio::test]
async fn control_api_switches_policy_faults_and_secret() {
    let api = spawn(None).await;
    let client = reqwest::Client::new();
    let control = |p: &str| format!("{}/__control{p}", api.base_url());
    let policy = json!({"allowed_emails": ["zed@example.com"]});
    assert_eq!(client.put(control("/policy")).json(&policy).send().await.unwrap().status(), 204);
    assert_eq!(post(&api, &request("zed@example.com")).await.1["authorized"], true);
    assert_eq!(client.put(control("/faults")).json(&json!({"status": 503})).send().await.unwrap().status(), 204);
    assert_eq!(post(&api, &request("zed@example.com")).await.0, 503);
    assert_eq!(client.delete(control("/faults")).send().await.unwrap().status(), 204);
    assert_eq!(client.put(control("/secret")).json(&json!({"secret": "s"})).send().await.unwrap().status(), 204);
    assert_eq!(post(&api, &request("zed@example.com")).await.0, 401);
    for (path, body) in [
        ("/faults", json!({"status": 200})),
        ("/faults", json!({"nope": true})),
        ("/policy", json!({"allowed_networks": ["999.1.1.1/8"]})),
        ("/policy", json!({"time_window": {"start": "8am", "end": "18:00"}})),
    ] {
        let status = client.put(control(path)).json(&body).send().await.unwrap().status();
        assert!(status.is_client_error(), "{path} {body}: {status}");
    }
}

#[tokio::test]
async fn refused_connections_look_like_an_api_that_is_down() {
    let api = spawn(None).await;
    api.refuse_connections(true);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let err = reqwest::Client::new().post(api.authorize_url()).json(&request("a@b.c")).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
}

#[test]
fn the_binary_starts_with_its_default_config_and_prints_its_urls() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mock-authz-api"))
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("binary runs");
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<String> = BufReader::new(stdout).lines().take(2).map(Result::unwrap).collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines[0].starts_with("mock-authz-api listening on http://127.0.0.1:"), "{lines:?}");
    assert!(lines[1].contains("/api/authorize"), "{lines:?}");
}
