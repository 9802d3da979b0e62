//! The proxy under hostile traffic, where the conformance kit cannot say it: bodies scanned
//! byte by byte, idle connections, forged log lines, file modes, this proxy's counters, time
//! limits at shutdown. Every rule the kit can state (login CSRF, unverified identities, path
//! traversal, sign-in caps, deadlines) lives in `features/security.feature` and
//! `features/protocol.feature` instead, once. Each test drives the real process over real
//! sockets and checks what an attacker would observe.

use crate::common::*;
use futures_util::StreamExt;
use llm_sso_kit::proxy::ProxyProcess;
use mock_idp::NextLogin;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Restarts the stack's proxy with `lines` added under `server:` / `upstreams:`.
async fn reconfigure(mut s: Stack, server: &[&str], upstreams: &[&str]) -> Stack {
    let path = s.proxy.dir.path().join("config.yaml");
    let mut config = std::fs::read_to_string(&path).expect("config");
    let block = |lines: &[&str]| lines.iter().map(|l| format!("  {l}\n")).collect::<String>();
    config = config.replacen("server:\n", &format!("server:\n{}", block(server)), 1);
    config = config.replacen("upstreams:\n", &format!("upstreams:\n{}", block(upstreams)), 1);
    std::fs::write(&path, config).expect("write config");
    s.proxy = s.proxy.restart().await.unwrap_or_else(|e| panic!("{e}"));
    s
}

/// `--validate-only` on `yaml`: the exit code and what it printed.
fn validate_only(yaml: &str) -> (Option<i32>, String) {
    let dir = llm_sso_kit::proxy::TempDir::new("validate");
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, yaml).expect("write config");
    let out = std::process::Command::new(llm_sso_kit::proxy::binary())
        .arg("--sso-config")
        .arg(&config)
        .arg("--validate-only")
        .output()
        .expect("the binary runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
}

/// A client that keeps cookies but does not follow redirects.
fn jar_client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// Starts a sign-in with `client` and walks the IdP, stopping before the callback; the callback URL.
async fn callback_url(s: &Stack, client: &reqwest::Client, email: &str) -> String {
    s.mocks.idp.set_next_login(NextLogin { email: Some(email.into()), deny: false, issuer: Some("google".into()) });
    let start = client.get(s.url("/auth/login/google")).send().await.expect("start");
    assert!(start.status().is_redirection(), "{}", start.status());
    let idp = start.headers()["location"].to_str().expect("location").to_string();
    let back = client.get(&idp).send().await.expect("idp");
    let location = back.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(location.contains("/auth/callback?"), "the IdP sends the browser back: {location}");
    location
}

#[tokio::test]
async fn anonymous_bodies_are_scanned_never_buffered() {
    let s = stack(true).await;
    let before = s.proxy.rss_kib().expect("rss");
    const EACH: usize = 24 * 1024 * 1024;
    let requests = (0..16).map(|_| {
        let chunk = bytes::Bytes::from(vec![b'a'; 64 * 1024]);
        let head =
            bytes::Bytes::from_static(br#"{"model":"big-model","stream":true,"messages":[{"role":"user","content":""#);
        let tail = bytes::Bytes::from_static(br#""}]}"#);
        let body = futures_util::stream::iter(
            std::iter::once(head).chain(std::iter::repeat_n(chunk, EACH / (64 * 1024))).chain(std::iter::once(tail)),
        )
        .map(Ok::<_, std::io::Error>);
        client()
            .post(s.url("/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(body))
            .send()
    });
    let mut peak = before;
    let all = futures_util::future::join_all(requests);
    tokio::pin!(all);
    let responses = loop {
        tokio::select! {
            r = &mut all => break r,
            () = tokio::time::sleep(Duration::from_millis(50)) => peak = peak.max(s.proxy.rss_kib().unwrap_or(0)),
        }
    };
    for r in responses {
        let r = r.expect("answer");
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"), "shape was read");
        assert!(r.text().await.unwrap().contains("big-model"));
    }
    let grown = peak.saturating_sub(before);
    println!("RSS {before} KiB -> peak {peak} KiB while 16 x 24 MiB anonymous bodies streamed in");
    assert!(grown < 64 * 1024, "an anonymous body must not be buffered: grew {grown} KiB");
}

#[tokio::test]
async fn slow_and_idle_connections_are_closed_and_capped() {
    let s = reconfigure(stack(true).await, &["max_connections: 32", "header_timeout_seconds: 1"], &[]).await;
    let mut idle = Vec::new();
    for _ in 0..48 {
        if let Ok(Ok(mut tcp)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(("127.0.0.1", s.proxy.port))).await
        {
            // Slowloris: headers that never end.
            let _ = tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
            idle.push(tcp);
        }
    }
    // Over the cap, and every slot held by a silent client: health still answers, soon.
    let started = Instant::now();
    let health = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap();
    let r = health.get(s.url("/health")).send().await.expect("/health answers while slow clients hold slots");
    assert_eq!(r.status(), 200);
    println!("/health answered after {:?} with 48 slow clients", started.elapsed());
    // The slow clients were hung up on.
    let mut first = idle.remove(0);
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), first.read(&mut buf)).await.expect("closed by the server");
    let answer = String::from_utf8_lossy(&buf[..n.unwrap_or(0)]).to_string();
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn sign_ins_refused_by_the_client_cap_are_counted() {
    // The cap itself, and that another client still signs in, are features/security.feature's; the counter is ours.
    let s = reconfigure(stack(true).await, &["trusted_proxies: [\"127.0.0.1/32\"]"], &[]).await;
    let c = jar_client();
    for _ in 0..24 {
        c.get(s.url("/auth/login/google")).header("x-forwarded-for", "203.0.113.5").send().await.unwrap();
    }
    let metrics = client().get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("llm_sso_limit_events_total{limit=\"pending_cap_client\"} 4"), "{metrics}");
}

#[tokio::test]
async fn identity_provider_errors_cannot_forge_console_lines() {
    let s = stack(true).await;
    let c = jar_client();
    let callback = callback_url(&s, &c, "eve@company.com").await;
    let state = url::Url::parse(&callback).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.to_string();
    let forged = "x\nWARN Confirmation Code: 111111 for alice@company.com (expires in 10 minutes)";
    let mut url = url::Url::parse(&s.url("/auth/callback")).unwrap();
    url.query_pairs_mut()
        .append_pair("state", &state)
        .append_pair("error", "access_denied")
        .append_pair("error_description", forged);
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(s.proxy.console_shows("identity provider error").await);
    let forged_line = s
        .proxy
        .console()
        .lines()
        .any(|l| l.contains("Confirmation Code: 111111") && !l.contains("identity provider error"));
    assert!(!forged_line, "a forged line:\n{}", s.proxy.console());
}

#[tokio::test]
async fn log_files_are_private_and_admin_commands_never_create_a_database() {
    use std::os::unix::fs::PermissionsExt;
    let dir = llm_sso_kit::proxy::TempDir::new("files");
    let log = dir.path().join("logs/proxy.log");
    let port = llm_sso_kit::proxy::free_port();
    let proxy = ProxyProcess::launch(dir, None, port, &["--log-file", log.to_str().unwrap()], &[]).await.unwrap();
    assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
    let missing = proxy.dir.path().join("nowhere/sso_auth.db");
    let out = std::process::Command::new(llm_sso_kit::proxy::binary())
        .args(["tokens", "list"])
        .env("SSO_DATABASE_PATH", &missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no database at"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!missing.exists(), "nothing was created");
}

#[tokio::test]
async fn padded_upstream_keys_are_refused_and_upstream_errors_logged() {
    let yaml = "upstreams:\n  openai: { base_url: \"http://127.0.0.1:9/v1\", api_key: \"sk-abc\\n\" }\n";
    let (code, text) = validate_only(yaml);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("upstreams.openai.api_key") && text.contains("line breaks"), "{text}");
    assert!(!text.contains("sk-abc"), "the secret is not echoed: {text}");

    let s = stack(true).await;
    let token = s.proxy.mint_token("fivexx@company.com");
    s.mocks.llm.set_faults(&mock_llm::Faults { status: Some(503), ..Default::default() }).unwrap();
    let r = s.openai(Some(&token), &chat(false)).await;
    assert_eq!(r.status(), 503);
    assert!(s.proxy.console_shows("the upstream answered with an error").await, "{}", s.proxy.console());
    assert!(s.proxy.console().contains("status=503") && s.proxy.console().contains("127.0.0.1"));
    assert!(!s.proxy.console().contains(OPENAI_KEY), "never the key");
}

#[tokio::test]
async fn ready_recovers_when_the_identity_provider_comes_back() {
    let s = stack(true).await;
    s.mocks.idp.refuse_connections(true);
    let mut s = reconfigure(s, &[], &[]).await;
    let ready = || async { client().get(s.url("/ready")).send().await.map(|r| r.status().as_u16()).unwrap_or(0) };
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(ready().await, 503, "not ready while the IdP refuses");
    s.mocks.idp.refuse_connections(false);
    let mut became_ready = false;
    for _ in 0..100 {
        if ready().await == 200 {
            became_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(became_ready, "still not ready 20 s after the IdP came back:\n{}", s.proxy.console());
    s.proxy.terminate();
    let _ = s.proxy.wait(Duration::from_secs(5)).await;
}

// The whole-request deadline of a non-streamed call is features/security.feature's; here, that a stream is
// held to its idle limit instead, and that shutdown cuts one in flight.
#[tokio::test]
async fn streams_outlast_the_request_deadline_and_shutdown_cuts_them() {
    let s = reconfigure(
        stack(true).await,
        &["shutdown_timeout_seconds: 1"],
        &["timeout_seconds: 1", "stream_idle_timeout_seconds: 2"],
    )
    .await;
    let token = s.proxy.mint_token("time@company.com");
    // 6 chunks 400 ms apart outlast the 1 s deadline, never idle 2 s.
    s.mocks
        .llm
        .set_stream_settings(&mock_llm::StreamSettings {
            stream_chunks: 6,
            chunk_delay_ms: 400,
            large_reply_bytes: 1024,
        })
        .unwrap();
    let r = s.anthropic(Some(&token), &message(true)).await;
    let text = r.text().await.unwrap_or_default();
    assert!(text.contains("message_stop"), "a lively stream runs past the deadline:\n{text}");
    // Shutdown: a stream in flight is cut after shutdown_timeout_seconds.
    s.mocks
        .llm
        .set_stream_settings(&mock_llm::StreamSettings {
            stream_chunks: 40,
            chunk_delay_ms: 500,
            large_reply_bytes: 1024,
        })
        .unwrap();
    let mut proxy = s.proxy;
    let port = proxy.port;
    let streaming = tokio::spawn(async move {
        let c = client();
        let r = c
            .post(format!("http://127.0.0.1:{port}/v1/messages"))
            .header("x-api-key", token)
            .header("anthropic-version", "2023-06-01")
            .json(&message(true))
            .send()
            .await;
        if let Ok(r) = r {
            let _ = r.bytes().await;
        }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.terminate();
    let stopped = Instant::now();
    let status = proxy.wait(Duration::from_secs(10)).await;
    assert!(status.is_some(), "the proxy exits although a 20 s stream was in flight");
    assert!(stopped.elapsed() < Duration::from_secs(6), "within the shutdown deadline: {:?}", stopped.elapsed());
    let _ = streaming.await;
}

#[tokio::test]
async fn past_the_request_cap_agents_get_a_503_with_retry_after() {
    let s = reconfigure(stack(true).await, &["max_concurrent_requests: 1"], &[]).await;
    let token = s.proxy.mint_token("busy@company.com");
    s.mocks
        .llm
        .set_stream_settings(&mock_llm::StreamSettings {
            stream_chunks: 10,
            chunk_delay_ms: 300,
            large_reply_bytes: 1024,
        })
        .unwrap();
    // A streamed reply holds the only slot until it ends.
    let streaming = s.anthropic(Some(&token), &message(true)).await;
    assert_eq!(streaming.status(), 200);
    let refused = s.openai(Some(&token), &chat(false)).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.expect("an API-shaped error");
    assert!(body["error"]["message"].as_str().is_some(), "{body}");
    assert_eq!(client().get(s.url("/health")).send().await.unwrap().status(), 200, "health is exempt");
    let _ = streaming.bytes().await;
    assert_eq!(s.openai(Some(&token), &chat(false)).await.status(), 200, "the slot is free again");
    let metrics = client().get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("llm_sso_limit_events_total{limit=\"overloaded\"} 1"), "{metrics}");
}

#[tokio::test]
async fn validate_only_warns_about_a_multi_tenant_entra_without_allowed_tenants() {
    let (code, text) = validate_only(
        "sso:\n  enabled: true\n  authorization: { mode: \"enterprise\", api_url: \"https://authz.example/api\" }\n  \
         providers:\n    microsoft:\n      type: \"oauth2\"\n      client_id: \"c\"\n      client_secret: \"s\"\n      \
         discovery_url: \"https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration\"\n      \
         scopes: [\"openid\", \"email\"]\n",
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("WARNING") && text.contains("allowed_tenants") && text.contains("enterprise mode"), "{text}");
}
