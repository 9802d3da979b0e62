//! Given a config / environment; When the proxy starts or is validated; Then the command's outcome.

use crate::world::{CommandRun, KitWorld};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};

#[given("the kit's standard configuration")]
async fn standard(world: &mut KitWorld) {
    world.launch.config_yaml = Some(world.standard_config().await);
}

#[given("the proxy configuration file:")]
async fn config_file(world: &mut KitWorld, step: &Step) {
    let text = step.docstring.clone().expect("a docstring with the YAML");
    // Gherkin keeps the line break after the opening quotes: drop it so line numbers match.
    let text = text.strip_prefix('\n').unwrap_or(&text).to_string();
    world.launch.config_yaml = Some(world.fill(&text).await);
}

#[given("no configuration file is passed")]
async fn no_config(world: &mut KitWorld) {
    world.launch.no_config = true;
}

#[given(expr = "the environment variable {word} is {string}")]
async fn env(world: &mut KitWorld, name: String, value: String) {
    world.launch.env.push((name, value));
}

#[given(expr = "the proxy is started with {string}")]
async fn extra_args(world: &mut KitWorld, args: String) {
    world.launch.args.extend(args.split_whitespace().map(str::to_string));
}

#[given("the proxy is running")]
#[when("the proxy starts")]
async fn start(world: &mut KitWorld) {
    world.start_proxy().await;
}

/// Runs the binary to completion in the scenario's directory (config as `config.yaml`).
async fn run(world: &mut KitWorld, args: &[String]) {
    let dir = world.dir_path();
    let config = dir.join("config.yaml");
    if let Some(yaml) = &world.launch.config_yaml {
        std::fs::write(&config, yaml).expect("write config");
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // The same command template as a started proxy, so another implementation can be tested.
    let config = world.launch.config_yaml.as_ref().map(|_| config.as_path());
    let mut cmd = llm_sso_kit::proxy::command(config, world.port, &dir.join("sso_auth.db"), &args);
    cmd.current_dir(&dir).env("KIT_CLIENT_SECRET", llm_sso_kit::proxy::CLIENT_SECRET);
    if world.launch.config_yaml.as_ref().is_some_and(|y| y.contains("${KIT_DATABASE_URL}")) {
        let url = llm_sso_kit::proxy::postgres_database(&dir).expect("the scenario's PostgreSQL database");
        cmd.env("KIT_DATABASE_URL", url);
    }
    for (k, v) in &world.launch.env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), cmd.output())
        .await
        .expect("the command finishes")
        .expect("the binary runs");
    let output = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    world.seen.command = Some(CommandRun { code: out.status.code(), output });
}

#[when(expr = "I run the proxy with {string}")]
async fn run_with(world: &mut KitWorld, args: String) {
    let args: Vec<String> = args.split_whitespace().map(str::to_string).collect();
    run(world, &args).await;
}

#[then("the command succeeds")]
async fn succeeds(world: &mut KitWorld) {
    let c = world.seen.command.as_ref().expect("a command ran");
    assert_eq!(c.code, Some(0), "{}", c.output);
}

#[then(expr = "the command fails with exit code {int}")]
async fn fails(world: &mut KitWorld, code: i32) {
    let c = world.seen.command.as_ref().expect("a command ran");
    assert_eq!(c.code, Some(code), "{}", c.output);
}

#[then(expr = "the output says {string}")]
async fn output_says(world: &mut KitWorld, text: String) {
    let text = world.fill(&text).await;
    let c = world.seen.command.as_ref().expect("a command ran");
    assert!(c.output.contains(&text), "output lacks {text:?}:\n{}", c.output);
}

#[then(expr = "the output does not contain {string}")]
async fn output_lacks(world: &mut KitWorld, text: String) {
    let c = world.seen.command.as_ref().expect("a command ran");
    assert!(!c.output.contains(&text), "output contains {text:?}:\n{}", c.output);
}

#[then(expr = "the output reports {int} problem(s)")]
async fn problems(world: &mut KitWorld, n: usize) {
    let c = world.seen.command.as_ref().expect("a command ran");
    let expected = format!("{n} configuration problem{}", if n == 1 { "" } else { "s" });
    assert!(c.output.contains(&expected), "expected {expected:?}:\n{}", c.output);
}

#[given(expr = "the backoff is capped at {int} seconds")]
async fn backoff_cap(world: &mut KitWorld, cap: u32) {
    // Enough confirmation attempts that only the backoff stops the client.
    world.launch.setup.authorization.push("    max_confirmation_attempts: 50".into());
    let yaml = world.standard_config().await;
    assert!(yaml.contains("max_backoff_seconds: 300"), "the standard rate_limit line");
    world.launch.config_yaml = Some(yaml.replace("max_backoff_seconds: 300", &format!("max_backoff_seconds: {cap}")));
}

#[given(expr = "the proxy's public URL is {string}")]
async fn public_url(world: &mut KitWorld, url: String) {
    let yaml = world.standard_config().await;
    world.launch.config_yaml = Some(yaml.replacen("server:\n", &format!("server:\n  public_url: \"{url}\"\n"), 1));
}

#[given(expr = "the proxy trusts the reverse proxy at {string}")]
async fn trusted_proxy(world: &mut KitWorld, network: String) {
    world.launch.setup.server_lines.push(format!("trusted_proxies: [\"{network}\"]"));
}

#[given(expr = "the deadline of a non-streamed upstream request is {int} second(s)")]
async fn upstream_deadline(world: &mut KitWorld, seconds: u32) {
    world.launch.setup.upstream_lines.push(format!("timeout_seconds: {seconds}"));
}

#[given("the Microsoft provider allows no tenants")]
async fn no_tenants(world: &mut KitWorld) {
    world.launch.setup.entra_tenants = Vec::new();
}
