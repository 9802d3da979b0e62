//! The identity provider's side: who signs in, its registrations, its faults.

use crate::world::KitWorld;
use cucumber::{given, then};
use llm_sso_kit::proxy::{CLIENT_ID, CLIENT_SECRET};
use mock_idp::{Client, Faults, NextLogin, TokenFault, User};

#[given(expr = "the identity provider signs in {string} next")]
async fn next_login(world: &mut KitWorld, email: String) {
    world.mocks().await.idp.set_next_login(NextLogin { email: Some(email), deny: false, issuer: None });
}

#[given("the user declines at the identity provider")]
async fn declines(world: &mut KitWorld) {
    world.mocks().await.idp.set_next_login(NextLogin { email: None, deny: true, issuer: None });
}

#[given(expr = "the identity provider knows {string} in the Entra tenant {string}")]
async fn entra_user(world: &mut KitWorld, email: String, tenant: String) {
    let mut user = User::new(&email);
    user.tenant_id = Some(tenant);
    world.mocks().await.idp.add_user(user);
}

#[given(expr = "the identity provider knows {string} in the Entra tenant {string} without an email claim")]
async fn entra_user_without_email(world: &mut KitWorld, email: String, tenant: String) {
    let mut user = User::new(&email);
    user.tenant_id = Some(tenant);
    user.omit_email = true;
    world.mocks().await.idp.add_user(user);
}

fn client(redirect: &str, secret: &str) -> Client {
    let mut c = Client::new(CLIENT_ID, secret, redirect);
    c.require_pkce = true;
    c
}

#[given(expr = "the client secret registered at the identity provider is {string}")]
async fn registered_secret(world: &mut KitWorld, secret: String) {
    let redirect = format!("{}/auth/callback", world.base_url());
    world.mocks().await.idp.add_client(client(&redirect, &secret));
}

#[given(expr = "the identity provider has the redirect URI {string} registered instead")]
async fn other_redirect(world: &mut KitWorld, uri: String) {
    let uri = world.fill(&uri).await;
    world.mocks().await.idp.add_client(client(&uri, CLIENT_SECRET));
}

#[given(expr = "the identity provider's ID tokens have the fault {word}")]
async fn token_fault(world: &mut KitWorld, fault: String) {
    let fault: TokenFault = serde_json::from_value(serde_json::Value::String(fault.clone()))
        .unwrap_or_else(|_| panic!("unknown token fault {fault}"));
    let faults = Faults { id_token: [fault].into(), ..Faults::default() };
    let idp = &world.mocks().await.idp;
    idp.set_faults("google", faults.clone()).expect("google issuer");
    idp.set_faults("microsoft", faults).expect("microsoft issuer");
}

#[given("the identity provider rotates its signing key")]
async fn rotate(world: &mut KitWorld) {
    world.mocks().await.idp.rotate_keys("google", false).await.expect("rotation");
}

#[given("the identity provider rotates its signing key, keeping the previous one")]
async fn rotate_keep(world: &mut KitWorld) {
    world.mocks().await.idp.rotate_keys("google", true).await.expect("rotation");
}

#[given("the identity provider is unreachable")]
async fn unreachable(world: &mut KitWorld) {
    let idp = &world.mocks().await.idp;
    idp.refuse_connections(true);
    llm_sso_kit::until_refused(idp.addr()).await;
}

#[given(expr = "the identity provider's clock is {int} seconds ahead")]
async fn clock_ahead(world: &mut KitWorld, seconds: i64) {
    world.mocks().await.idp.set_clock_offset(seconds);
}

#[then("the sign-in went to the identity provider with PKCE S256, a state and a nonce")]
async fn pkce_used(world: &mut KitWorld) {
    let authorize = world
        .web
        .browser
        .visited
        .iter()
        .find(|u| u.contains("/o/oauth2/v2/auth") || u.contains("/oauth2/v2.0/authorize"))
        .expect("an authorization request")
        .clone();
    for part in ["code_challenge_method=S256", "code_challenge=", "state=", "nonce="] {
        assert!(authorize.contains(part), "{part} missing in {authorize}");
    }
}

#[then("the identity provider received no request")]
async fn idp_untouched(world: &mut KitWorld) {
    let journal = world.mocks().await.idp.journal();
    assert!(journal.is_empty(), "{} requests reached the identity provider", journal.len());
}
