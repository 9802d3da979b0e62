//! The organisation's access policy (`policy` mode): the rules in the configuration, the files they
//! read, and the groups, roles and tenants the identity provider puts in its tokens.

use crate::world::KitWorld;
use cucumber::gherkin::Step;
use cucumber::given;
use mock_idp::User;

#[given("the access policy:")]
async fn policy(world: &mut KitWorld, step: &Step) {
    let text = step.docstring.clone().expect("a docstring with the policy's YAML");
    let text = world.fill(text.strip_prefix('\n').unwrap_or(&text)).await;
    let mut lines = vec!["    mode: \"policy\"".to_string(), "    policy:".to_string()];
    lines.extend(text.lines().map(|l| format!("      {l}")));
    world.launch.setup.authorization = lines;
}

#[given(expr = "the file {string} next to the proxy contains:")]
async fn file(world: &mut KitWorld, name: String, step: &Step) {
    let text = step.docstring.clone().expect("a docstring with the file's text");
    let text = text.strip_prefix('\n').unwrap_or(&text);
    let path = world.dir_path().join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn names(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[given(expr = "the identity provider knows {string} in the groups {string}")]
async fn in_groups(world: &mut KitWorld, email: String, groups: String) {
    let mut user = User::new(&email);
    user.groups = names(&groups);
    world.mocks().await.idp.add_user(user);
}

#[given(expr = "the identity provider knows {string} with the roles {string}")]
async fn with_roles(world: &mut KitWorld, email: String, roles: String) {
    let mut user = User::new(&email);
    user.roles = names(&roles);
    world.mocks().await.idp.add_user(user);
}

#[given(
    expr = "the identity provider knows {string} in the Entra tenant {string} and {int} groups, {string} among them"
)]
async fn entra_with_groups(world: &mut KitWorld, email: String, tenant: String, count: usize, group: String) {
    let mut user = User::new(&email);
    user.tenant_id = Some(tenant);
    user.groups = std::iter::once(group).chain((1..count).map(|i| format!("group-{i}"))).collect();
    world.mocks().await.idp.add_user(user);
}
