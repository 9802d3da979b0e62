//! `llm-sso-proxy doctor` against a healthy offline stack, then against each
//! broken setup the guide describes: every check must notice its own failure,
//! name it, give the fix, and make the exit code 1.

use crate::common::{Mocks, OPENAI_KEY};
use llm_sso_kit::proxy::{CLIENT_SECRET, ProxyProcess, TempDir, binary, free_port};
use llm_sso_kit::stack::ProxySetup;
use mock_authz_api::{AuthzConfig, MockAuthzApi, Policy};
use mock_idp::{Endpoint, Faults};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use tokio::process::Command;

const TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// The mocks, a config for a proxy on `port` in `dir`, and how to run the doctor on it.
struct Clinic {
    mocks: Mocks,
    port: u16,
    dir: TempDir,
    authorization: Vec<String>,
    secret: String,
    openai_key: String,
}

/// What one doctor run printed and returned.
struct Diagnosis {
    code: i32,
    json: Value,
}

impl Diagnosis {
    fn check(&self, id: &str) -> &Value {
        let checks = self.json["checks"].as_array().expect("checks");
        checks.iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no check {id}: {:#}", self.json))
    }

    fn verdict(&self, id: &str) -> &str {
        self.check(id)["verdict"].as_str().unwrap_or_default()
    }

    /// Asserts `id` failed, its detail says `detail` and its fix says `fix`; exit code 1.
    fn failed(&self, id: &str, detail: &str, fix: &str) {
        let c = self.check(id);
        assert_eq!(c["verdict"], "fail", "{id}: {c:#}");
        assert!(c["detail"].as_str().unwrap_or_default().contains(detail), "{id} detail lacks {detail:?}: {c:#}");
        assert!(c["fix"].as_str().unwrap_or_default().contains(fix), "{id} fix lacks {fix:?}: {c:#}");
        assert_eq!(self.code, 1, "a failed check fails the run");
        assert_eq!(self.json["healthy"], false);
    }

    fn problems(&self) -> Vec<(String, String)> {
        let checks = self.json["checks"].as_array().expect("checks");
        checks
            .iter()
            .filter(|c| c["verdict"] == "fail" || c["verdict"] == "warn")
            .map(|c| (c["id"].as_str().unwrap_or_default().to_string(), c["detail"].to_string()))
            .collect()
    }
}

impl Clinic {
    async fn new() -> Clinic {
        let port = free_port();
        Clinic {
            mocks: Mocks::start(port, true).await.expect("the mocks start"),
            port,
            dir: TempDir::new("doctor"),
            authorization: Vec::new(),
            secret: CLIENT_SECRET.to_string(),
            openai_key: OPENAI_KEY.to_string(),
        }
    }

    fn config(&self, port: u16) -> String {
        let setup = ProxySetup {
            authorization: self.authorization.clone(),
            entra_tenants: vec![TENANT.to_string()],
            ..ProxySetup::default()
        };
        self.mocks.config(port, &setup).replace(OPENAI_KEY, &self.openai_key)
    }

    /// Runs `doctor --json` with the config for this clinic's port.
    async fn run(&self, extra: &[&str]) -> Diagnosis {
        self.run_on(self.port, extra, &[]).await
    }

    async fn run_on(&self, port: u16, extra: &[&str], envs: &[(&str, &str)]) -> Diagnosis {
        let (code, out) = self.doctor(&self.config(port), &[extra, &["doctor", "--json"]].concat(), envs).await;
        let json =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("doctor --json printed non-JSON ({e}):\n{out}"));
        Diagnosis { code, json }
    }

    /// Runs the binary on `config_yaml` with `args`; the exit code and stdout+stderr.
    async fn doctor(&self, config_yaml: &str, args: &[&str], envs: &[(&str, &str)]) -> (i32, String) {
        std::fs::write(self.dir.path().join("c.yaml"), config_yaml).expect("write config");
        let out = Command::new(binary())
            .current_dir(self.dir.path())
            .env("KIT_CLIENT_SECRET", &self.secret)
            .envs(envs.iter().copied())
            .args(["--sso-config", "c.yaml"])
            .args(args)
            .output()
            .await
            .expect("run llm-sso-proxy");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("sso_auth.db")
    }

    /// The database as a running proxy leaves it: the proxy under test creates it.
    fn create_db(&self) {
        use std::io::BufRead;
        let port = free_port();
        std::fs::write(self.dir.path().join("create.yaml"), self.config(port)).expect("write config");
        let mut child = std::process::Command::new(binary())
            .current_dir(self.dir.path())
            .env("KIT_CLIENT_SECRET", &self.secret)
            .args(["--sso-config", "create.yaml"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the proxy");
        let stdout = child.stdout.take().expect("stdout");
        let listening =
            std::io::BufReader::new(stdout).lines().map_while(Result::ok).any(|l| l.contains(" listening on "));
        assert!(listening, "the proxy started and created its database");
        let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = child.wait();
        assert!(self.db().exists());
    }

    fn set_idp_faults(&self, faults: Faults) {
        for issuer in ["google", "microsoft"] {
            self.mocks.idp.set_faults(issuer, faults.clone()).expect("faults");
        }
    }
}

#[tokio::test]
async fn a_healthy_stack_passes_every_check_and_the_text_report_reads_well() {
    let clinic = Clinic::new().await;
    clinic.create_db();
    let d = clinic.run(&[]).await;
    assert_eq!(d.problems(), Vec::<(String, String)>::new(), "{:#}", d.json);
    assert_eq!((d.code, &d.json["healthy"]), (0, &Value::Bool(true)));
    for id in ["config", "database.integrity", "listen", "provider.google.client", "provider.microsoft.redirect_uri"] {
        assert_eq!(d.verdict(id), "ok", "{id}");
    }
    assert_eq!(d.verdict("authz.api"), "skip", "single_user mode has no API to call");
    // docs/troubleshooting.md explains every check the doctor runs.
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/troubleshooting.md")).unwrap();
    for check in d.json["checks"].as_array().unwrap() {
        let id =
            check["id"].as_str().unwrap().replace(".google.", ".<provider>.").replace(".microsoft.", ".<provider>.");
        assert!(guide.contains(&format!("`{id}`")), "docs/troubleshooting.md does not explain the check {id}");
    }

    // The text report, with the run's ports, paths and key ids made stable.
    let (code, text) = clinic.doctor(&clinic.config(clinic.port), &["doctor"], &[]).await;
    assert_eq!(code, 0, "{text}");
    let mut stable = text
        .replace(clinic.mocks.idp.base_url(), "{idp}")
        .replace(&clinic.mocks.llm.base_url(), "{llm}")
        .replace(&clinic.port.to_string(), "{port}");
    for line in text.lines().filter(|l| l.contains("signing key: ")) {
        if let Some(kid) = line.rsplit(": ").next() {
            stable = stable.replace(kid, "{kid}");
        }
    }
    let stable: String = stable
        .lines()
        .map(|l| if l.contains("database.file") { l.split(", mode").next().unwrap_or(l) } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("doctor_healthy_text", stable);
}

#[tokio::test]
async fn identity_provider_failures_are_each_named_with_the_guides_fix() {
    let mut clinic = Clinic::new().await;
    clinic.create_db();

    clinic.mocks.idp.refuse_connections(true);
    llm_sso_kit::until_refused(clinic.mocks.idp.addr()).await;
    let d = clinic.run(&[]).await;
    d.failed("provider.google.discovery", "cannot connect", "HTTPS_PROXY");
    assert_eq!(d.verdict("provider.google.jwks"), "skip", "nothing to check without the document");
    clinic.mocks.idp.refuse_connections(false);
    while tokio::net::TcpStream::connect(clinic.mocks.idp.addr()).await.is_err() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    // Through a corporate proxy (here one that is down): named, without its password.
    let dead = free_port();
    let proxy_url = format!("http://ops:hunter2@127.0.0.1:{dead}");
    let d = clinic.run_on(clinic.port, &[], &[("HTTP_PROXY", proxy_url.as_str()), ("NO_PROXY", "")]).await;
    d.failed("provider.google.discovery", "cannot connect", &format!("the proxy http://127.0.0.1:{dead}/ is in use"));
    assert!(!d.json.to_string().contains("hunter2"), "the proxy's password is never printed");

    let mut faults = Faults::default();
    faults.http_status.insert(Endpoint::Discovery, 503);
    clinic.set_idp_faults(faults);
    clinic.run(&[]).await.failed("provider.google.discovery", "HTTP 503", "discovery_url");

    clinic.set_idp_faults(Faults { malformed_json: [Endpoint::Discovery].into(), ..Faults::default() });
    clinic.run(&[]).await.failed("provider.microsoft.discovery", "not a JSON document", "discovery_url");

    clinic.set_idp_faults(Faults { discovery_issuer: Some("https://elsewhere.example".into()), ..Faults::default() });
    clinic.run(&[]).await.failed("provider.google.issuer", "names issuer https://elsewhere.example", "discovery_url");

    let mut faults = Faults::default();
    faults.http_status.insert(Endpoint::Jwks, 500);
    clinic.set_idp_faults(faults);
    clinic.run(&[]).await.failed("provider.google.jwks", "HTTP 500", "jwks_uri");
    clinic.set_idp_faults(Faults::default());

    clinic.mocks.idp.set_clock_offset(-3600);
    clinic.run(&[]).await.failed("provider.google.clock", "3600s ahead of the IdP's", "NTP");
    clinic.mocks.idp.set_clock_offset(120);
    let d = clinic.run(&[]).await;
    assert_eq!((d.verdict("provider.google.clock"), d.code), ("warn", 0), "two minutes: a warning");
    clinic.mocks.idp.set_clock_offset(0);

    clinic.secret = "not-the-registered-secret".into();
    let d = clinic.run(&[]).await;
    d.failed("provider.google.client", "refuses client_id kit-client", "Credentials");
    d.failed("provider.microsoft.client", "AADSTS7000215", "secrets expire");
    clinic.secret = CLIENT_SECRET.into();

    // The proxy moved to another port: the registered redirect URI no longer matches.
    let moved = free_port();
    let d = clinic.run_on(moved, &[], &[]).await;
    let expected = format!("register exactly http://127.0.0.1:{moved}/auth/callback");
    d.failed("provider.google.redirect_uri", "redirect_uri_mismatch", &expected);
    d.failed("provider.microsoft.redirect_uri", "AADSTS50011", &expected);
}

#[tokio::test]
async fn authorization_api_failures_are_each_named() {
    let mut clinic = Clinic::new().await;
    clinic.create_db();
    let policy = Policy { allowed_emails: vec!["alice@company.com".into()], ..Policy::default() };
    let api = MockAuthzApi::spawn(AuthzConfig { policy, ..AuthzConfig::default() }).await.expect("authz API");
    clinic.authorization = vec![
        "    mode: \"enterprise\"".to_string(),
        format!("    api_url: \"{}\"", api.authorize_url()),
        "    api_timeout_seconds: 1".to_string(),
    ];
    let d = clinic.run(&[]).await;
    assert_eq!(d.verdict("authz.api"), "ok", "{:#}", d.check("authz.api"));
    assert!(d.check("authz.api")["detail"].as_str().unwrap_or_default().contains("probe identity was denied"));
    assert_eq!(api.calls(), 1, "one dry call");

    api.set_faults(mock_authz_api::Faults { status: Some(500), ..Default::default() }).expect("faults");
    clinic.run(&[]).await.failed("authz.api", "HTTP 500", "check its logs");
    api.set_faults(mock_authz_api::Faults { authorized_as_string: true, ..Default::default() }).expect("faults");
    clinic.run(&[]).await.failed("authz.api", "must be a JSON boolean", "a JSON boolean (not \"true\")");
    api.set_faults(mock_authz_api::Faults { delay_ms: 1_500, ..Default::default() }).expect("faults");
    clinic.run(&[]).await.failed("authz.api", "timeout", "SSO_AUTH_MODE=single_user");
    api.clear_faults();

    api.set_secret(Some("the-api-wants-a-signature".into()));
    clinic.run(&[]).await.failed("authz.api", "HTTP 401", "api_secret");
    api.set_secret(None);

    clinic.authorization[1] = format!("    api_url: \"http://127.0.0.1:{}/authorize\"", free_port());
    clinic.run(&[]).await.failed("authz.api", "Failed to connect", "check api_url");
}

#[tokio::test]
async fn database_listen_address_log_level_and_upstream_failures_are_each_named() {
    let mut clinic = Clinic::new().await;

    // No file yet: fine, the proxy creates it.
    assert_eq!(clinic.run(&[]).await.verdict("database.file"), "ok");

    clinic.create_db();
    std::fs::set_permissions(clinic.db(), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    clinic.run(&[]).await.failed("database.file", "mode 644", "chmod 600");
    std::fs::set_permissions(clinic.db(), std::fs::Permissions::from_mode(0o600)).expect("chmod");

    // Another process holds the write lock (the guide's "database is locked").
    let holder = rusqlite::Connection::open(clinic.db()).expect("open");
    holder.execute_batch("BEGIN IMMEDIATE").expect("lock");
    clinic.run(&[]).await.failed("database.lock", "write lock", "lsof");
    drop(holder);

    std::fs::write(clinic.db(), vec![0x42u8; 8192]).expect("corrupt");
    clinic.run(&[]).await.failed("database.integrity", "not a database", "db recover");
    std::fs::remove_file(clinic.db()).expect("remove");
    clinic.create_db();

    // The port: a stranger holds it (fail), or our own proxy runs there (ok).
    let stranger = std::net::TcpListener::bind(("127.0.0.1", clinic.port)).expect("bind");
    clinic.run(&[]).await.failed("listen", "held by another program", "lsof -i");
    drop(stranger);
    let running = ProxyProcess::start_in(
        TempDir::new("doctor-running"),
        &clinic.config(clinic.port),
        clinic.port,
        &[],
        &[("KIT_CLIENT_SECRET", CLIENT_SECRET)],
    )
    .await
    .expect("proxy starts");
    let d = clinic.run(&[]).await;
    assert_eq!(d.verdict("listen"), "ok", "{:#}", d.check("listen"));
    assert!(d.check("listen")["detail"].as_str().unwrap_or_default().contains("running llm-sso-proxy"));
    // With the proxy running, public_url must lead browsers to it.
    let at = |url: String| {
        let yaml = clinic.config(clinic.port);
        let line = format!("  port: {}\n", clinic.port);
        yaml.replace(&line, &format!("{line}  public_url: \"{url}\"\n"))
    };
    let (code, out) = clinic.doctor(&at(format!("http://127.0.0.1:{}", clinic.port)), &["doctor", "--json"], &[]).await;
    let d = Diagnosis { code, json: serde_json::from_str(&out).expect("JSON") };
    assert_eq!(d.verdict("public_url"), "ok", "{:#}", d.check("public_url"));
    let elsewhere = format!("http://127.0.0.1:{}", free_port());
    let (code, out) = clinic.doctor(&at(elsewhere), &["doctor", "--json"], &[]).await;
    Diagnosis { code, json: serde_json::from_str(&out).expect("JSON") }.failed(
        "public_url",
        "/health",
        "reverse proxy",
    );
    drop(running);

    clinic.run(&["--log-level", "ERROR"]).await.failed("log-level", "hides the single_user confirmation code", "INFO");

    clinic.openai_key = "sk-revoked".into();
    clinic.run(&[]).await.failed("upstream.openai", "HTTP 401", "upstreams.openai.api_key");
    clinic.openai_key = OPENAI_KEY.into();

    // SSO switched off by the environment: a warning naming the variable, not a failure.
    let d = clinic.run_on(clinic.port, &[], &[("SSO_ENABLED", "false")]).await;
    assert_eq!(d.verdict("sso.enabled"), "warn");
    assert!(d.check("sso.enabled")["detail"].as_str().unwrap_or_default().contains("SSO_ENABLED=false"));
    assert_eq!(d.verdict("database"), "skip");
    assert_eq!(d.code, 0, "warnings alone do not fail the run");
}

#[tokio::test]
async fn an_invalid_configuration_fails_the_first_check_and_points_at_validate_only() {
    let clinic = Clinic::new().await;
    let (code, text) = clinic.doctor("sso:\n  enabled: \"true\"\n", &["doctor"], &[]).await;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL  config"), "{text}");
    assert!(text.contains("--validate-only"), "{text}");
    assert!(text.contains("1 check failed"), "{text}");
}
