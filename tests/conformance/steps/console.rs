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
    let token = world.token.clone().expect("a token");
    assert!(!world.proxy().console().contains(&token));
}

#[then("the console never shows the presented credential")]
async fn no_presented(world: &mut KitWorld) {
    let presented = world.presented.clone().expect("the agent presented a credential");
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
    let presented = world.presented.clone().expect("the agent presented a credential");
    let content = std::fs::read_to_string(world.dir_path().join(&file)).expect("the log file exists");
    assert!(!content.is_empty(), "the log file has lines");
    assert!(!content.contains(&presented), "the log file shows the presented credential");
    // Not even a long piece of it.
    assert!(!content.contains(&presented[..presented.len().min(24)]), "the log file shows a piece of the credential");
}

#[then(expr = "the confirmation code for {string} appears once, on a WARN line")]
async fn code_once(world: &mut KitWorld, email: String) {
    let mut console = String::new();
    for _ in 0..100 {
        console = world.proxy().console();
        if console.contains("Confirmation Code: ") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let lines: Vec<&str> = console.lines().filter(|l| l.contains("Confirmation Code: ")).collect();
    assert_eq!(lines.len(), 1, "one code line: {lines:?}");
    let line = lines[0];
    assert!(line.contains(&email), "the line names the user: {line}");
    assert!(line.contains("WARN") && !line.contains("INFO"), "printed at WARNING: {line}");
    let code = llm_sso_kit::browser::code_in(&console, &email).expect("a code");
    assert_eq!(console.matches(code.as_str()).count(), 1, "the code appears nowhere else");
}
