//! What the proxy printed.

use crate::world::KitWorld;
use cucumber::then;

#[then(expr = "the console shows {string}")]
async fn console_shows(world: &mut KitWorld, text: String) {
    assert!(world.proxy().console_shows(&text).await, "console lacks {text:?}:\n{}", world.proxy().console());
}

#[then(expr = "the console does not show {string}")]
async fn console_lacks(world: &mut KitWorld, text: String) {
    let console = world.proxy().console();
    assert!(!console.contains(&text), "console shows {text:?}");
}

#[then("the console never shows the agent token")]
async fn no_token(world: &mut KitWorld) {
    let token = world.agent.token.clone().expect("a token");
    assert!(!world.proxy().console().contains(&token));
}

#[then("the console never shows the presented credential")]
async fn no_presented(world: &mut KitWorld) {
    let presented = world.agent.presented.clone().expect("the agent presented a credential");
    assert!(!world.proxy().console().contains(&presented), "the console shows the presented credential");
}

#[then(expr = "the log file {word} shows {string}")]
async fn log_file_shows(world: &mut KitWorld, file: String, text: String) {
    let path = world.dir_path().join(&file);
    let mut content = String::new();
    for _ in 0..100 {
        content = std::fs::read_to_string(&path).unwrap_or_default();
        if content.contains(&text) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{} lacks {text:?}:\n{content}", path.display());
}

#[then(expr = "the log file {word} never shows the presented credential")]
async fn log_file_clean(world: &mut KitWorld, file: String) {
    let presented = world.agent.presented.clone().expect("the agent presented a credential");
    let content = std::fs::read_to_string(world.dir_path().join(&file)).expect("the log file exists");
    assert!(!content.is_empty(), "the log file has lines");
    assert!(!content.contains(&presented), "the log file shows the presented credential");
    // Not even a long piece of it.
    assert!(!content.contains(&presented[..presented.len().min(24)]), "the log file shows a piece of the credential");
}

#[then(expr = "the confirmation code for {string} appears once, on a WARN line")]
async fn code_once(world: &mut KitWorld, email: String) {
    let profile = llm_sso_kit::profile::Profile::get();
    let mut console = String::new();
    for _ in 0..(100.0 * profile.time_scale) as usize {
        console = world.proxy().console();
        if profile.shows_a_code(&console) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let lines: Vec<&str> = console.lines().filter(|l| profile.shows_a_code(l)).collect();
    assert_eq!(lines.len(), 1, "one code line: {lines:?}");
    let line = lines[0];
    if profile.console.code_line_names_email {
        assert!(line.contains(&email), "the line names the user: {line}");
    }
    // WARN, WARNING: the guide's level, however the implementation's log spells it.
    assert!(line.to_uppercase().contains("WARN") && !line.contains("INFO"), "printed at WARNING: {line}");
    let code = profile.code_in(&console, &email).expect("a code");
    assert_eq!(console.matches(code.as_str()).count(), 1, "the code appears nowhere else");
}

#[then("the console shows no confirmation code")]
async fn no_code(world: &mut KitWorld) {
    // A line logged just now may still be on its way.
    tokio::time::sleep(llm_sso_kit::profile::Profile::get().wait(0.3)).await;
    let console = world.proxy().console();
    let profile = llm_sso_kit::profile::Profile::get();
    let lines: Vec<&str> = console.lines().filter(|l| profile.shows_a_code(l)).collect();
    assert!(lines.is_empty(), "a confirmation code was printed: {lines:?}");
}
