//! The enterprise authorization API's side: the proxy's mode, the policy, the faults.

use crate::world::KitWorld;
use cucumber::given;
use mock_authz_api::{Faults, Policy};

#[given(expr = "enterprise authorization with a {int} second timeout")]
async fn enterprise(world: &mut KitWorld, timeout: u32) {
    let url = world.mocks().await.authz.authorize_url();
    world.launch.setup.authorization = vec![
        "    mode: \"enterprise\"".into(),
        format!("    api_url: \"{url}\""),
        format!("    api_timeout_seconds: {timeout}"),
    ];
}

#[given(expr = "the authorization setting {word} is {word}")]
async fn setting(world: &mut KitWorld, key: String, value: String) {
    let prefix = format!("    {key}:");
    world.launch.setup.authorization.retain(|line| !line.starts_with(&prefix));
    world.launch.setup.authorization.push(format!("    {key}: {value}"));
}

#[given(expr = "the authorization API allows only {string}")]
async fn allows(world: &mut KitWorld, email: String) {
    let policy = Policy { allowed_emails: vec![email], ..Policy::default() };
    world.mocks().await.authz.set_policy(policy).expect("valid policy");
}

#[given(expr = "the authorization API answers after {int} ms")]
async fn slow(world: &mut KitWorld, ms: u64) {
    world.mocks().await.authz.set_faults(Faults { delay_ms: ms, ..Faults::default() }).expect("fault");
}

#[given(expr = "the authorization API fails with HTTP {int}")]
async fn failing(world: &mut KitWorld, status: u16) {
    world.mocks().await.authz.set_faults(Faults { status: Some(status), ..Faults::default() }).expect("fault");
}

#[given("the authorization API answers malformed JSON")]
async fn malformed(world: &mut KitWorld) {
    world.mocks().await.authz.set_faults(Faults { malformed_json: true, ..Faults::default() }).expect("fault");
}

#[given("the authorization API answers \"authorized\" as a string")]
async fn as_string(world: &mut KitWorld) {
    world.mocks().await.authz.set_faults(Faults { authorized_as_string: true, ..Faults::default() }).expect("fault");
}

#[given(expr = "the authorization API fails every {int}nd call")]
async fn intermittent(world: &mut KitWorld, n: u64) {
    world.mocks().await.authz.set_faults(Faults { fail_every_nth: n, ..Faults::default() }).expect("fault");
}

#[given("the authorization API refuses connections")]
async fn refuses(world: &mut KitWorld) {
    let authz = &world.mocks().await.authz;
    authz.refuse_connections(true);
    llm_sso_kit::until_refused(authz.addr()).await;
}
