//! The whole journey in a real browser: headless Chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`, which `.ci/run` installs; no
//! driver is downloaded). Open the sandbox's login URL, pick the provider, sign
//! in on the mock IdP's page, read the code from the proxy's console, type it,
//! copy the token, use it.

use crate::common::*;
use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use llm_sso_kit::proxy::{TempDir, free_port};
use llm_sso_kit::skip_or_fail;
use std::process::Stdio;
use std::time::Duration;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// The code printed in the console for `email`.
async fn console_code(s: &Stack, email: &str) -> String {
    for _ in 0..200 {
        if let Some(code) = llm_sso_kit::browser::code_in(&s.proxy.console(), email) {
            return code;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no code in the console:\n{}", s.proxy.console());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_with_chromium_and_the_token_works() {
    let test = "a_person_signs_in_with_chromium_and_the_token_works";
    for program in [CHROMEDRIVER, CHROMIUM] {
        if !std::path::Path::new(program).exists() {
            return skip_or_fail(
                test,
                &format!("{program} is not installed (apt-get install chromium chromium-driver)"),
            );
        }
    }
    let s = stack(true).await;
    let mut alice = mock_idp::User::new("alice@company.com");
    alice.name = Some("Alice Admin".into());
    s.mocks.idp.add_user(alice);

    // The agent's first request: a sandbox reply with the login URL.
    let banner = openai_text(s.openai(None, &chat(false)).await).await;
    let login_url = banner.split_whitespace().find(|w| w.ends_with("/auth/login")).expect("a login URL").to_string();

    let port = free_port();
    let mut driver = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let profile = TempDir::new("chromium-profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--no-first-run",
                     "--disable-sync", "--disable-quic", format!("--user-data-dir={}", profile.path().display())],
        }),
    );
    let mut browser = None;
    for _ in 0..100 {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => {
                browser = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let browser = browser.expect("WebDriver session");

    let journey = async {
        browser.goto(&login_url).await?;
        browser.find(Locator::Css("a[href='/auth/login/google']")).await?.click().await?;
        // The mock IdP's own page: pick Alice.
        browser.wait().for_element(Locator::Css("button[value='alice@company.com']")).await?.click().await?;
        let code_field = browser.wait().for_element(Locator::Id("code")).await?;
        let code = console_code(&s, "alice@company.com").await;
        code_field.send_keys(&code).await?;
        browser.find(Locator::Css("form button[type='submit']")).await?.click().await?;
        let token_field = browser.wait().for_element(Locator::Id("token")).await?;
        let token = token_field.attr("value").await?.unwrap_or_default();
        browser.find(Locator::Id("copy")).await?.click().await?;
        let url = browser.current_url().await?;
        Ok::<_, fantoccini::error::CmdError>((token, url.to_string()))
    };
    let result = journey.await;
    let _ = browser.close().await;
    let _ = driver.kill().await;
    let (token, final_url) =
        result.unwrap_or_else(|e| panic!("browser journey failed: {e}\nconsole:\n{}", s.proxy.console()));
    assert!(token.starts_with("llmsso_"), "{token}");
    assert!(!final_url.contains(&token), "the token is not in the URL");
    assert_eq!(openai_text(s.openai(Some(&token), &chat(false)).await).await, "ping through the proxy");
}
