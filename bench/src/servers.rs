//! The processes under measurement: the upstream stub and the bare forwarder
//! (this binary's `stub` and `forwarder` roles), the proxy in three setups, and
//! the run that measures them all and renders the report.

use crate::Mode;
use crate::load::{self, Target, percentile};
use crate::procs;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHAT: &str = r#"{"model":"bench","messages":[{"role":"user","content":"ping"}]}"#;
const CHAT_STREAM: &str = r#"{"model":"bench","stream":true,"messages":[{"role":"user","content":"ping"}]}"#;
const STREAM_CHUNKS: usize = 20;

type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// `stub --port P` or `forwarder --port P --upstream URL`: serve until killed.
pub fn serve_role(args: &[String]) -> std::process::ExitCode {
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let port: u16 = value("--port").and_then(|p| p.parse().ok()).unwrap_or(0);
    let upstream = value("--upstream").unwrap_or_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(_) => return std::process::ExitCode::FAILURE,
    };
    let forwarder = args[0] == "forwarder";
    runtime.block_on(async move {
        let Ok(listener) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await else { return };
        let client = load::pooled(256);
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let _ = tcp.set_nodelay(true);
            let (client, upstream) = (client.clone(), upstream.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                    let (client, upstream) = (client.clone(), upstream.clone());
                    async move {
                        if forwarder {
                            Ok::<_, Infallible>(forward(&client, &upstream, request).await)
                        } else {
                            Ok(stub(request).await)
                        }
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
            });
        }
    });
    std::process::ExitCode::SUCCESS
}

/// A fast upstream: a small chat completion, or 20 SSE chunks 1 ms apart.
async fn stub(request: hyper::Request<Incoming>) -> hyper::Response<Body> {
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    if !body.windows(13).any(|w| w == b"\"stream\":true") {
        let json = r#"{"id":"stub","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"pong"},"finish_reason":"stop"}]}"#;
        let full = Full::new(Bytes::from_static(json.as_bytes())).map_err(|never| match never {}).boxed();
        return hyper::Response::builder().header("content-type", "application/json").body(full).unwrap_or_default();
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    tokio::spawn(async move {
        for i in 0..STREAM_CHUNKS {
            let chunk = format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"c{i}\"}}}}]}}\n\n");
            if tx.send(Ok(Frame::data(Bytes::from(chunk)))).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let _ = tx.send(Ok(Frame::data(Bytes::from_static(b"data: [DONE]\n\n")))).await;
    });
    let stream = StreamBody::new(tokio_stream_from(rx)).boxed();
    hyper::Response::builder().header("content-type", "text/event-stream").body(stream).unwrap_or_default()
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The bare forwarder: same method, path and body to the upstream, the answer streamed back.
async fn forward(
    client: &load::HttpClient,
    upstream: &str,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Body> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = hyper::Request::builder().method(parts.method).uri(format!("{upstream}{path}"));
    for (k, v) in &parts.headers {
        if k != "host" {
            outgoing = outgoing.header(k, v);
        }
    }
    let Ok(outgoing) = outgoing.body(Full::new(body)) else { return bad_gateway() };
    match client.request(outgoing).await {
        Ok(response) => response.map(|b| b.map_err(std::io::Error::other).boxed()),
        Err(_) => bad_gateway(),
    }
}

fn bad_gateway() -> hyper::Response<Body> {
    let empty = Full::new(Bytes::new()).map_err(|never| match never {}).boxed();
    hyper::Response::builder().status(502).body(empty).unwrap_or_default()
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_or(0, |a| a.port())
}

async fn wait_listening(port: u16) -> Result<(), String> {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(format!("nothing listens on {port} after 10 s"))
}

fn sibling(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = exe.with_file_name(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} is missing: build it first (bench/run.sh does)", path.display()))
    }
}

async fn role(role: &str, extra: &[&str]) -> Result<(Proc, u16), String> {
    let port = free_port();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let child = Command::new(exe)
        .arg(role)
        .args(["--port", &port.to_string()])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let proc = Proc(child);
    wait_listening(port).await?;
    Ok((proc, port))
}

/// The proxy with `sso_enabled`, its upstreams at `upstream`, in `dir`; on
/// PostgreSQL at `database_url` when given, else on `dir/sso_auth.db`.
async fn proxy(
    dir: &Path,
    upstream: u16,
    sso_enabled: bool,
    database_url: Option<&str>,
) -> Result<(Proc, u16), String> {
    let port = free_port();
    let config = format!(
        "server: {{ host: \"127.0.0.1\", port: {port} }}\nupstreams:\n  openai: {{ base_url: \"http://127.0.0.1:{upstream}/v1\", api_key: \"sk-bench\" }}\n  \
         anthropic: {{ base_url: \"http://127.0.0.1:{upstream}\", api_key: \"sk-bench\" }}\nsso:\n  enabled: {sso_enabled}\n  \
         database_path: \"./sso_auth.db\"\n  providers:\n    google:\n      type: \"oauth2\"\n      client_id: \"bench\"\n      \
         client_secret: \"bench\"\n      discovery_url: \"http://127.0.0.1:9/.well-known/openid-configuration\"\n      scopes: [\"openid\", \"email\"]\n"
    );
    let config = match database_url {
        Some(url) => config.replace("database_path: \"./sso_auth.db\"", &format!("database_url: \"{url}\"")),
        None => config,
    };
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("config.yaml"), config).map_err(|e| e.to_string())?;
    let child = Command::new(sibling("llm-sso-proxy")?)
        .current_dir(dir)
        .args(["--sso-config", "config.yaml", "--log-level", "ERROR"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let proc = Proc(child);
    wait_listening(port).await?;
    Ok((proc, port))
}

/// A valid token in the PostgreSQL database, and `others` more rows beside it (one statement).
fn pg_tokens(server: &llm_sso_kit::postgres::Server, database: &str, others: usize) -> Result<String, String> {
    use llm_sso_proxy::tokens;
    if others > 0 {
        server.psql(
            database,
            &format!(
                "INSERT INTO agent_tokens (token_hash, user_id, user_email, provider, is_authenticated, is_active, \
                 created_at, last_authenticated_at, auth_expires_at) SELECT lpad(to_hex(i), 64, '0'), 'bench:1', \
                 'bench@example.com', 'google', TRUE, TRUE, now(), now(), now() + interval '24 hours' \
                 FROM generate_series(1, {others}) AS i ON CONFLICT (token_hash) DO NOTHING"
            ),
        )?;
    }
    let token = tokens::generate();
    server.psql(
        database,
        &format!(
            "INSERT INTO agent_tokens (token_hash, user_id, user_email, provider, is_authenticated, is_active, \
             created_at, last_authenticated_at, auth_expires_at) VALUES ('{}', 'bench:2', 'bench@example.com', \
             'google', TRUE, TRUE, now(), now(), now() + interval '24 hours')",
            tokens::hash(&token)
        ),
    )?;
    Ok(token)
}

/// A valid token in the proxy's database, and `others` more rows beside it.
fn tokens(db: &Path, others: usize) -> Result<String, String> {
    use llm_sso_proxy::tokens;
    let mut conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO agent_tokens (token_hash, user_id, user_email, provider, is_authenticated, is_active, \
                 created_at, last_authenticated_at, auth_expires_at) VALUES (?1, 'bench:1', 'bench@example.com', 'google', \
                 1, 1, datetime('now'), datetime('now'), datetime('now', '+24 hours'))",
            )
            .map_err(|e| e.to_string())?;
        for i in 0..others {
            insert.execute([format!("{:064x}", i + 1)]).map_err(|e| e.to_string())?;
        }
    }
    let token = tokens::generate();
    tx.execute(
        "INSERT INTO agent_tokens (token_hash, user_id, user_email, provider, is_authenticated, is_active, created_at, \
         last_authenticated_at, auth_expires_at) VALUES (?1, 'bench:2', 'bench@example.com', 'google', 1, 1, \
         datetime('now'), datetime('now'), datetime('now', '+24 hours'))",
        [tokens::hash(&token)],
    )
    .map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())?;
    Ok(token)
}

/// One candidate's numbers.
struct Row {
    name: String,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    cpu_per_request_us: f64,
    rss_idle: u64,
    rss_after: u64,
    threads: u64,
}

async fn measure(name: &str, pid: u32, t: &Target, mode: Mode) -> Result<Row, String> {
    let client = load::client();
    load::once(&client, t).await?;
    let rss_idle = procs::rss_kib(pid);
    let cpu_before = procs::cpu_seconds(pid);
    let load = load::throughput(t, mode.connections, mode.seconds).await?;
    let cpu = procs::cpu_seconds(pid) - cpu_before;
    let (rss_after, threads) = (procs::rss_kib(pid), procs::threads(pid));
    let serial = load::serial(t, mode.serial_requests).await?;
    Ok(Row {
        name: name.to_string(),
        per_second: load.per_second,
        p50: percentile(&serial, 0.5),
        p99: percentile(&serial, 0.99),
        cpu_per_request_us: cpu * 1e6 / load.requests.max(1) as f64,
        rss_idle,
        rss_after,
        threads,
    })
}

fn chat(port: u16, path: &str, token: Option<&str>, body: &'static str, expect: &'static str) -> Target {
    let headers = token.map(|t| vec![("authorization", format!("Bearer {t}"))]).unwrap_or_default();
    Target { url: format!("http://127.0.0.1:{port}{path}"), body, headers, expect }
}

/// Starts everything, measures every candidate, and renders the Markdown report.
pub async fn run_all(mode: Mode, _limit: Duration) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("llm-sso-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (stub, stub_port) = role("stub", &[]).await?;
    let upstream = format!("http://127.0.0.1:{stub_port}");
    let (fwd, fwd_port) = role("forwarder", &["--upstream", &upstream]).await?;
    let (open, open_port) = proxy(&dir.join("open"), stub_port, false, None).await?;
    let (sso, sso_port) = proxy(&dir.join("sso"), stub_port, true, None).await?;
    let token = tokens(&dir.join("sso/sso_auth.db"), 0)?;

    let path = "/v1/chat/completions";
    let mut rows = Vec::new();
    let baseline =
        measure("bare forwarder (baseline)", fwd.pid(), &chat(fwd_port, path, None, CHAT, "pong"), mode).await?;
    rows.push(measure("upstream stub alone", stub.pid(), &chat(stub_port, path, None, CHAT, "pong"), mode).await?);
    rows.push(measure("llm-sso-proxy, SSO off", open.pid(), &chat(open_port, path, None, CHAT, "pong"), mode).await?);
    let valid = chat(sso_port, path, Some(&token), CHAT, "pong");
    rows.push(measure("llm-sso-proxy, valid token", sso.pid(), &valid, mode).await?);
    let sandbox = chat(sso_port, path, None, CHAT, "/auth/login");
    rows.push(measure("llm-sso-proxy, sandbox replies", sso.pid(), &sandbox, mode).await?);
    let many = if mode.smoke { 1_000 } else { 1_000_000 };
    let token_many = tokens(&dir.join("sso/sso_auth.db"), many)?;
    let crowded = chat(sso_port, path, Some(&token_many), CHAT, "pong");
    rows.push(measure(&format!("same, {many} other tokens in the table"), sso.pid(), &crowded, mode).await?);
    let many_label = if mode.smoke { "1000" } else { "1 M" };
    match llm_sso_kit::postgres::Server::get() {
        Ok(server) => {
            let url = server.database("bench")?;
            let (pg, pg_port) = proxy(&dir.join("pg"), stub_port, true, Some(&url)).await?;
            let database = url.rsplit('/').next().unwrap_or_default().to_string();
            let token = pg_tokens(server, &database, 0)?;
            let valid = chat(pg_port, path, Some(&token), CHAT, "pong");
            rows.push(measure("llm-sso-proxy on PostgreSQL, valid token", pg.pid(), &valid, mode).await?);
            let token = pg_tokens(server, &database, many)?;
            let crowded = chat(pg_port, path, Some(&token), CHAT, "pong");
            let name = format!("same on PostgreSQL, {many_label} other tokens");
            rows.push(measure(&name, pg.pid(), &crowded, mode).await?);
            drop(pg);
        }
        Err(reason) if mode.smoke && std::env::var_os("CI").is_some() => {
            return Err(format!("PostgreSQL is required in CI: {reason}"));
        }
        Err(reason) => eprintln!("llm-sso-bench: PostgreSQL candidates not measured: {reason}"),
    }
    // The baseline again: how much the machine drifts within one run.
    let again = measure("bare forwarder (again)", fwd.pid(), &chat(fwd_port, path, None, CHAT, "pong"), mode).await?;
    let noise = (again.per_second - baseline.per_second).abs() / baseline.per_second.max(1.0);
    rows.insert(0, baseline);

    let mut streams = Vec::new();
    for (name, port, token) in [
        ("upstream stub alone", stub_port, None),
        ("bare forwarder", fwd_port, None),
        ("llm-sso-proxy, valid token", sso_port, Some(token.as_str())),
    ] {
        let (first, end) = load::stream_timings(&chat(port, path, token, CHAT_STREAM, "[DONE]"), mode.streams).await?;
        streams.push((name, percentile(&first, 0.5), percentile(&end, 0.5)));
    }
    drop((stub, fwd, open, sso));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(render(&rows, noise, &streams, mode))
}

fn us(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

fn render(rows: &[Row], noise: f64, streams: &[(&str, Duration, Duration)], mode: Mode) -> String {
    let base = &rows[0];
    let mut md = String::new();
    let _ = writeln!(md, "# llm-sso-proxy benchmark{}\n", if mode.smoke { " (smoke: correctness only)" } else { "" });
    let _ = writeln!(
        md,
        "{} connections for {} s per candidate, {} serial requests; {} cores; noise (baseline measured twice): {:.1} %\n",
        mode.connections,
        mode.seconds,
        mode.serial_requests,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        noise * 100.0
    );
    let _ = writeln!(
        md,
        "| candidate | req/s | × baseline | p50 / p99 µs (serial) | CPU µs/req | × baseline | RSS idle → after load | threads |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.2} | {} / {} | {:.0} | {:.2} | {:.1} → {:.1} MiB | {} |",
            r.name,
            r.per_second,
            r.per_second / base.per_second.max(1.0),
            us(r.p50),
            us(r.p99),
            r.cpu_per_request_us,
            r.cpu_per_request_us / base.cpu_per_request_us.max(0.001),
            r.rss_idle as f64 / 1024.0,
            r.rss_after as f64 / 1024.0,
            r.threads
        );
    }
    let _ = writeln!(md, "\nStreaming ({STREAM_CHUNKS} chunks 1 ms apart), p50 of {}:\n", mode.streams);
    let _ = writeln!(md, "| path | first chunk ms | end of stream ms |");
    let _ = writeln!(md, "|---|---:|---:|");
    for (name, first, end) in streams {
        let _ = writeln!(md, "| {name} | {:.2} | {:.2} |", first.as_secs_f64() * 1e3, end.as_secs_f64() * 1e3);
    }
    md
}
