//! What the terminal client refuses to trust: a proxy (or whatever answers in
//! its place) that redirects a request carrying a token, plain HTTP to another
//! machine, text with escape sequences, a link that is not the proxy's own, and
//! a credentials file that is a symbolic link. Each proxy here is a
//! [`Recorder`]: canned answers, and a record of everything it was sent.

use llm_sso_kit::terminal::{Recorder, Terminal, json_reply};
use serde_json::json;

const TOKEN: &str = "llmsso_kept_token_for_the_trust_tests";

/// A token-carrying request answered with a redirect goes no further: the other host receives nothing, and
/// the user is told where the redirect pointed.
#[tokio::test]
async fn no_redirect_is_followed_with_a_token() {
    let other = Recorder::start(vec![]).await;
    let redirect = format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: {}/auth/revoke\r\n\r\n", other.url());
    let code_redirect =
        format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: {}/auth/device/code\r\n\r\n", other.url());
    let proxy = Recorder::start(vec![("/auth/revoke", redirect), ("/auth/device/code", code_redirect)]).await;
    let terminal = Terminal::new();

    terminal.keep_token(&proxy.url(), TOKEN);
    let (code, _, err) = terminal.run(&["logout"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("redirect") && err.contains(&format!("{}/auth/revoke", other.url())), "{err}");
    assert!(proxy.received().iter().any(|r| r.contains(TOKEN)), "the proxy itself was asked");

    terminal.keep_token(&proxy.url(), TOKEN);
    let (code, _, err) = terminal.run(&["login", "--proxy", &proxy.url()]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("redirect"), "{err}");
    assert_eq!(other.received(), Vec::<String>::new(), "the redirect's target received nothing");
}

/// `--proxy http://` to a host that is not this machine (even one that resolves here, through an
/// `HTTP_PROXY`): refused before anything is sent; with the insecure flag, sent with a warning. To this
/// machine, plain HTTP goes directly, never through the `HTTP_PROXY`.
#[tokio::test]
async fn plain_http_to_another_machine_is_refused_unless_the_user_says_insecure() {
    let between = Recorder::start(vec![]).await;
    let terminal = Terminal::new();
    let remote = "http://llm.example.test";
    terminal.keep_token(remote, TOKEN);
    let run = |args: &'static [&'static str]| {
        let mut c = terminal.command(args);
        c.env("HTTP_PROXY", between.url()).env("http_proxy", between.url()).env_remove("NO_PROXY");
        c
    };
    for args in [&["login"][..], &["logout"][..]] {
        let out = run(args).output().await.expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("--allow-insecure-http") && err.contains("in clear"), "{args:?}: {err}");
    }
    assert_eq!(between.received(), Vec::<String>::new(), "nothing was sent");
    let (code, token, _) = terminal.run(&["token"]).await;
    assert_eq!((code, token.trim()), (0, TOKEN), "a refused logout forgot nothing");

    let out = run(&["login", "--allow-insecure-http"]).output().await.expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning:") && err.contains("in clear"), "{err}");
    assert!(between.received().iter().any(|r| r.contains("llm.example.test")), "sent, as the user asked");
    let out = run(&["token"]).output().await.expect("runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning:"), "every use says so");

    // Loopback: directly, not through the HTTP proxy.
    let local = Recorder::start(vec![("/auth/revoke", json_reply("200 OK", &json!({ "revoked": true })))]).await;
    let before = between.received().len();
    terminal.keep_token(&local.url(), TOKEN);
    let out = run(&["logout"]).output().await.expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(local.received().iter().any(|r| r.contains(TOKEN)));
    assert_eq!(between.received().len(), before, "the HTTP proxy saw nothing of a loopback request");
}

/// A hostile proxy's texts reach the terminal without escape sequences, and its link reaches no browser
/// unless it is on the proxy's own origin (then as a URL, one argument).
#[tokio::test]
async fn a_proxys_texts_are_shown_clean_and_only_its_own_links_are_opened() {
    let hostile_code = |proxy: &str, complete: &str| {
        json_reply(
            "200 OK",
            &json!({
                "device_code": "dc",
                "user_code": "\u{1b}]0;owned\u{7}WDJB-MJHT\u{1b}[2J",
                "verification_uri": format!("{proxy}/auth/device\u{1b}[8m hidden"),
                "verification_uri_complete": complete,
                "expires_in": 600,
                "interval": 1,
            }),
        )
    };
    let denied = json_reply(
        "400 Bad Request",
        &json!({ "error": "access_denied", "error_description": "no\u{1b}[31m\u{9b}1;1H\rfake prompt $ " }),
    );
    for (complete, opened) in [("--gpu-launcher=touch /tmp/x", false), ("javascript:alert(1)", false), ("", true)] {
        let terminal = Terminal::new();
        let recorded = terminal.dir().join("browser-args");
        let browser = terminal.dir().join("browser.sh");
        std::fs::write(&browser, format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\n", recorded.display())).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        // The proxy's answer names its own URL: choose the port first.
        let port = llm_sso_kit::proxy::free_port();
        let base = format!("http://127.0.0.1:{port}");
        let own = format!("{base}/auth/device?user_code=WDJB-MJHT");
        let complete = if opened { own.clone() } else { complete.to_string() };
        let proxy = Recorder::start_on_port(
            port,
            vec![("/auth/device/code", hostile_code(&base, &complete)), ("/auth/device/token", denied.clone())],
        )
        .await;
        let mut c = terminal.command(&["login", "--proxy", &proxy.url()]);
        c.env("BROWSER", &browser);
        let out = c.output().await.expect("runs");
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(!err.chars().any(|ch| ch.is_control() && ch != '\n'), "no control characters: {err:?}");
        assert!(err.contains("WDJB-MJHT") && err.contains("the sign-in was refused"), "{err}");
        for _ in 0..50 {
            if recorded.exists() || !opened {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if opened {
            let args = std::fs::read_to_string(&recorded).expect("the browser was started");
            assert_eq!(args.trim(), own, "one argument, the proxy's own link");
        } else {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            assert!(!recorded.exists(), "{complete:?} was handed to a browser");
            assert!(err.contains("not opened in a browser"), "{err}");
        }
    }
}

/// A symbolic link planted where the credentials file goes is refused, and its target is left alone; so is a
/// directory others can write to.
#[tokio::test]
async fn a_symlinked_credentials_file_or_a_shared_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let terminal = Terminal::new();
    terminal.keep_token("http://127.0.0.1:9", TOKEN);
    let path = terminal.credentials();
    let target = terminal.dir().join("somebody-elses-file");
    std::fs::write(&target, "{}").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&target, &path).unwrap();
    for args in [&["token"][..], &["logout"][..]] {
        let (code, out, err) = terminal.run(args).await;
        assert_eq!((code, out.as_str()), (1, ""), "{args:?}");
        assert!(err.contains("symbolic link"), "{args:?}: {err}");
    }
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "the link's target keeps its mode");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "{}", "and its content");

    std::fs::remove_file(&path).unwrap();
    terminal.keep_token("http://127.0.0.1:9", TOKEN);
    std::fs::set_permissions(path.parent().unwrap(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, _, err) = terminal.run(&["token"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("written by other users") && err.contains("chmod 700"), "{err}");
}
