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
