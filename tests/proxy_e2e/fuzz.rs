//! Random requests against one running proxy: random methods, paths (dot
//! segments, encoded slashes, odd bytes), headers (credentials, forwarding,
//! `Connection`) and bodies, sent raw so no client tidies them first. The proxy
//! must never answer a client's mistake with a 5xx, never die, and never reach
//! the upstream outside its base path.

use crate::common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn segment() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "v1",
        "chat",
        "completions",
        "messages",
        "models",
        "count_tokens",
        "..",
        ".",
        "%2e%2e",
        "%2E.",
        "%2f",
        "%5c",
        "auth",
        "login",
        "callback",
        "confirm",
        "google",
        "x",
        "%00",
        "%C3%BC",
        "health",
        "ready",
        "",
        "a%20b",
    ])
    .prop_map(str::to_string)
}

fn request(token: String) -> impl Strategy<Value = (String, Vec<u8>)> {
    let method = prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);
    let path = prop::collection::vec(segment(), 1..6).prop_map(|s| format!("/{}", s.join("/")));
    let query = prop::option::of(prop::sample::select(vec!["state=x", "code=1&state=", "renew=zz", "a=%ff"]));
    let headers = prop::collection::vec(
        prop::sample::select(vec![
            "Authorization: Bearer TOKEN",
            "Authorization: Bearer llmsso_not-a-token",
            "Authorization: Basic Zm9vOmJhcg==",
            "x-api-key: TOKEN",
            "x-api-key:  padded ",
            "Content-Type: application/json",
            "Content-Type: application/x-www-form-urlencoded",
            "X-Forwarded-For: 1.2.3.4, [::1]:80, garbage",
            "Connection: keep-alive, X-Anything",
            "OpenAI-Organization: org-x",
            "Cookie: llmsso_browser=abcdefghijklmnopqrstuvwxyz; llmsso_confirm=zzzzzzzzzzzzzzzzzzzz",
            "anthropic-version: 2023-06-01",
        ]),
        0..5,
    );
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        Just(br#"{"model":"mock-gpt","messages":[{"role":"user","content":"hi"}]}"#.to_vec()),
        Just(
            br#"{"model":"mock-claude","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#
                .to_vec()
        ),
        Just(b"code=123456&csrf_token=x".to_vec()),
        Just(b"{\"stream\":".to_vec()),
    ];
    (method, path, query, headers, body).prop_map(move |(method, path, query, headers, body)| {
        let target = match query {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n");
        for h in headers {
            head.push_str(&h.replace("TOKEN", &token));
            head.push_str("\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&body);
        (target, bytes)
    })
}

async fn status_of(port: u16, bytes: &[u8]) -> u16 {
    let Ok(mut tcp) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return 0 };
    if tcp.write_all(bytes).await.is_err() {
        return 0;
    }
    let mut buf = vec![0u8; 1024];
    let n =
        tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf)).await.ok().and_then(Result::ok).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[test]
fn random_requests_never_get_a_5xx_nor_leave_the_upstream_base() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let s = runtime.block_on(stack(true));
    let token = s.proxy.mint_token("fuzz@company.com");
    let port = s.proxy.port;
    let mut runner = TestRunner::new(Config { cases: 200, failure_persistence: None, ..Config::default() });
    let result = runner.run(&request(token), |(target, bytes)| {
        let status = runtime.block_on(status_of(port, &bytes));
        prop_assert!(status != 0, "no HTTP answer for {target}");
        prop_assert!(status < 500, "{status} for {target}:\n{}", String::from_utf8_lossy(&bytes));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}\nconsole:\n{}", s.proxy.console());
    }
    let health = runtime.block_on(async { client().get(s.url("/health")).send().await.map(|r| r.status().as_u16()) });
    assert_eq!(health.ok(), Some(200), "the proxy is still up");
    for received in s.mocks.llm.journal() {
        assert!(received.path.starts_with("/v1/") && !received.path.contains(".."), "left the base: {}", received.path);
    }
}
