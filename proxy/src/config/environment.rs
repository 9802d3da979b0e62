//! Settings from the environment (`SSO_*`): the keys of the table that name an
//! environment variable. A value is checked like the file's and reported as
//! `environment NAME` when it is wrong.

use super::diagnostics::Diagnostic;
use super::keys::{self, KEYS, Target};
use super::walk::Walked;

/// `(variable, key path)` for every key that has one, in table order.
pub fn variables() -> impl Iterator<Item = (&'static str, &'static str)> {
    KEYS.iter().filter_map(|k| k.env.map(|name| (name, k.path)))
}

pub fn apply(w: &mut Walked, env: &dyn Fn(&str) -> Option<String>) {
    for key in KEYS {
        let (Some(name), Target::Config(field)) = (key.env, &key.target) else { continue };
        let Some(value) = env(name) else { continue };
        let origin = format!("environment {name}");
        match keys::parse_text(field, key.range, value.trim()) {
            Ok(parsed) => {
                field.store(&mut w.config, parsed);
                w.origins.insert(key.path.to_string(), origin);
            }
            Err(message) => w.diagnostics.push(Diagnostic::new(origin, key.path, message)),
        }
    }
}
