//! Sign-in from a terminal with the binary's own client: `llm-sso-proxy login`
//! runs as a process with no browser (no DISPLAY, no BROWSER), prints a code;
//! the kit's browser, "another device", enters it and signs in; the terminal
//! keeps the token (0600), `token` and `env` hand it to agents, a second
//! `login` renews the same token, `logout` revokes it.

use crate::common::*;
use llm_sso_kit::browser::Browser;
use llm_sso_kit::proxy::ProxyProcess;
use llm_sso_kit::terminal::{Login, SecretService, Terminal, approve_on_another_device};
use std::path::Path;

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("the file exists").permissions().mode() & 0o777
}

fn expiry_of(proxy: &ProxyProcess, token: &str) -> String {
    let hash = llm_sso_kit::contract::token_hash(token);
    proxy.query_text(&format!("SELECT auth_expires_at FROM agent_tokens WHERE token_hash = '{hash}'")).expect("a row")
}

#[tokio::test]
async fn login_from_a_terminal_without_a_browser_then_token_env_renewal_and_logout() {
    let s = stack(true).await;
    let terminal = Terminal::new();
    let proxy_url = s.proxy.base_url();

    let (code, out, err) = terminal.run(&["token"]).await;
    assert_eq!((code, out.as_str()), (1, ""), "no token yet");
    assert!(err.contains("llm-sso-proxy login --proxy"), "{err}");

    let login = Login::start(&terminal, &["login", "--proxy", &proxy_url]).await;
    let (user_code, link) = login.code().await;
    assert!(!login.output().contains("opened in your browser"), "no browser here");
    let done = approve_on_another_device(&s.proxy, &s.mocks.idp, &link, &user_code, "alice@company.com").await;
    assert!(done.text().contains("Terminal signed in"), "{}", done.text());
    let (status, output) = login.finish().await;
    assert_eq!(status, 0, "{output}");
    assert!(!output.contains("llmsso_"), "login never prints the token: {output}");

    let file = terminal.credentials();
    assert_eq!(mode(&file), 0o600, "the credentials file is private");
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let (code, token, err) = terminal.run(&["token"]).await;
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_string();
    assert!(token.starts_with("llmsso_"), "{token}");
    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");

    let (code, exports, _) = terminal.run(&["env"]).await;
    assert_eq!(code, 0);
    assert!(exports.contains(&format!("export OPENAI_BASE_URL='{proxy_url}/v1'")), "{exports}");
    assert!(exports.contains(&format!("export ANTHROPIC_API_KEY='{token}'")), "{exports}");

    // The token lapses at the proxy; `login` again renews the same token (agents keep their key).
    s.proxy.sql("UPDATE agent_tokens SET auth_expires_at = datetime('now', '-1 minute')").expect("expire it");
    let before = expiry_of(&s.proxy, &token);
    let login = Login::start(&terminal, &["login"]).await;
    let (user_code, link) = login.code().await;
    let done = approve_on_another_device(&s.proxy, &s.mocks.idp, &link, &user_code, "alice@company.com").await;
    assert!(done.text().contains("Terminal signed in"), "{}", done.text());
    let (status, output) = login.finish().await;
    assert_eq!(status, 0, "{output}");
    let (_, renewed, _) = terminal.run(&["token"]).await;
    assert_eq!(renewed.trim(), token, "the same token, renewed");
    assert!(expiry_of(&s.proxy, &token) > before, "its expiry moved");
    assert_eq!(s.proxy.query_i64("SELECT COUNT(*) FROM agent_tokens").unwrap(), 1, "no second token");
    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");

    let (code, _, err) = terminal.run(&["logout"]).await;
    assert_eq!(code, 0, "{err}");
    let active = format!(
        "SELECT is_active FROM agent_tokens WHERE token_hash = '{}'",
        llm_sso_kit::contract::token_hash(&token)
    );
    assert_eq!(s.proxy.query_i64(&active).unwrap(), 0, "revoked at the proxy");
    let (code, out, err) = terminal.run(&["token"]).await;
    assert_eq!((code, out.as_str()), (1, ""), "forgotten here: {err}");
}

/// `token --renew` (what an `apiKeyHelper` may run): nothing to do while the token is fresh; once it has
/// expired, a device sign-in first (its code on stderr), then the renewed, same token on stdout.
#[tokio::test]
async fn token_renew_signs_in_only_when_the_kept_token_has_expired() {
    let s = stack(true).await;
    let terminal = Terminal::new();
    let login = Login::start(&terminal, &["login", "--proxy", &s.proxy.base_url()]).await;
    let (user_code, link) = login.code().await;
    approve_on_another_device(&s.proxy, &s.mocks.idp, &link, &user_code, "alice@company.com").await;
    assert_eq!(login.finish().await.0, 0);
    let (code, token, _) = terminal.run(&["token", "--renew"]).await;
    assert_eq!(code, 0, "a fresh token is printed without a sign-in");
    let token = token.trim().to_string();

    // The session ends at the proxy and the terminal's record says so.
    s.proxy.sql("UPDATE agent_tokens SET auth_expires_at = datetime('now', '-1 minute')").expect("expire it");
    let file = terminal.credentials();
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut record = record;
    for entry in record["proxies"].as_object_mut().expect("proxies").values_mut() {
        entry["expires_at"] = serde_json::json!(1);
    }
    std::fs::write(&file, record.to_string()).unwrap();
    let (code, out, err) = terminal.run(&["token"]).await;
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("expired") && err.contains("--renew"), "{err}");

    let renew = Login::start(&terminal, &["token", "--renew"]).await;
    let (user_code, link) = renew.code().await;
    approve_on_another_device(&s.proxy, &s.mocks.idp, &link, &user_code, "alice@company.com").await;
    let (status, output) = renew.finish_with(&token).await;
    assert_eq!(status, 0, "{output}");
    assert!(output.lines().any(|l| l.trim() == token), "the same token, printed after the sign-in:\n{output}");
    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");
}

#[tokio::test]
async fn a_refused_or_expired_terminal_sign_in_ends_with_a_clear_message() {
    let s = stack(true).await;
    let terminal = Terminal::new();
    let proxy_url = s.proxy.base_url();

    let login = Login::start(&terminal, &["login", "--proxy", &proxy_url]).await;
    let (user_code, _) = login.code().await;
    let mut browser = Browser::new();
    let form = browser.open(&s.url("/auth/device")).await;
    let details = browser.submit(&form, &s.proxy.base_url(), "/auth/device", &[("user_code", &user_code)]).await;
    let refused = browser.submit(&details, &s.proxy.base_url(), "/auth/device/refuse", &[]).await;
    assert!(refused.text().contains("Sign-in refused"), "{}", refused.text());
    let (status, output) = login.finish().await;
    assert_eq!(status, 1, "{output}");
    assert!(output.contains("the sign-in was refused"), "{output}");
    assert!(!terminal.credentials().exists(), "nothing kept");

    let login = Login::start(&terminal, &["login", "--proxy", &proxy_url]).await;
    login.code().await;
    s.proxy
        .sql("UPDATE pending_authorizations SET expires_at = datetime('now', '-1 minute') WHERE kind = 'device'")
        .expect("expire it");
    let (status, output) = login.finish().await;
    assert_eq!(status, 1, "{output}");
    assert!(output.contains("expired"), "{output}");

    let (code, _, err) = terminal.run(&["login", "--proxy", "http://127.0.0.1:9"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("could not be reached"), "{err}");
}

/// With a desktop session's credential store (a private D-Bus and gnome-keyring's Secret Service), the token
/// is kept there: the file holds only its expiry; `token` reads it back; `logout` removes it.
#[tokio::test]
async fn with_a_credential_store_the_token_is_kept_there_and_not_in_the_file() {
    let test = "with_a_credential_store_the_token_is_kept_there_and_not_in_the_file";
    let store = match SecretService::start().await {
        Ok(store) => store,
        Err(reason) => {
            assert!(std::env::var_os("CI").is_none(), "{test}: {reason} (.ci/run installs dbus and gnome-keyring)");
            eprintln!("\n!!! SKIPPED {test}: {reason}\n!!! apt-get install dbus-daemon dbus-bin gnome-keyring\n");
            return;
        }
    };
    assert_eq!(store.items().await, Vec::<String>::new(), "an empty store");
    let s = stack(true).await;
    let terminal = Terminal::with_credential_store(&store);
    let login = Login::start(&terminal, &["login", "--proxy", &s.proxy.base_url()]).await;
    let (user_code, link) = login.code().await;
    approve_on_another_device(&s.proxy, &s.mocks.idp, &link, &user_code, "alice@company.com").await;
    let (status, output) = login.finish().await;
    assert_eq!(status, 0, "{output}");
    assert!(output.contains("kept in your credential store"), "{output}");

    let file = std::fs::read_to_string(terminal.credentials()).expect("the file with the expiry");
    assert!(!file.contains("llmsso_") && file.contains("\"in_keyring\": true"), "{file}");
    assert_eq!(store.items().await.len(), 1, "one item filed");
    let (code, token, err) = terminal.run(&["token"]).await;
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_string();
    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");

    let (code, _, err) = terminal.run(&["logout"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(store.items().await, Vec::<String>::new(), "the item is removed");
    let hash = llm_sso_kit::contract::token_hash(&token);
    let active = format!("SELECT is_active FROM agent_tokens WHERE token_hash = '{hash}'");
    assert_eq!(s.proxy.query_i64(&active).unwrap(), 0, "revoked at the proxy");
}
