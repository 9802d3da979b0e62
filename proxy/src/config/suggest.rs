//! "Did you mean": where an unknown key probably belongs. Most unknown keys in
//! real files are known keys at the wrong indentation, or typos.

use super::keys::{self, KEYS};

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The candidate nearest to `word` (case aside, or within two edits), if one is that near.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (distance(&word, &c.to_ascii_lowercase()), *c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}

/// Whether `name` is a key somewhere (for "a setting, not a provider").
pub fn is_a_key_name(name: &str) -> bool {
    KEYS.iter().any(|k| k.name() == name)
}

/// Where an unknown key probably belongs: another level (indentation), or a near spelling.
pub fn unknown_key_hint(parent: &str, key: &str) -> String {
    let display = |p: &str| p.replace('*', "<provider>");
    if let Some(first) = KEYS.iter().find(|k| k.parent() != parent && k.name() == key) {
        let at = display(first.path);
        return format!("check indentation: `{key}` belongs at `{at}` (did you mean `{at}`?)");
    }
    let siblings: Vec<&str> = keys::children(parent).map(|k| k.name()).collect();
    let nearest = siblings.iter().map(|k| (distance(&key.to_ascii_lowercase(), k), *k)).filter(|(d, _)| *d <= 2).min();
    match nearest {
        Some((_, k)) => format!("did you mean `{}`?", display(&join(parent, k))),
        None if siblings.is_empty() => "remove it".into(),
        None => format!("valid keys here: {}", siblings.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_point_to_the_right_level_or_spelling() {
        assert!(unknown_key_hint("", "enabled").contains("`sso.enabled`"));
        assert!(unknown_key_hint("sso", "client_id").contains("sso.providers.<provider>.client_id"));
        assert_eq!(unknown_key_hint("server", "prot"), "did you mean `server.port`?");
        assert!(unknown_key_hint("server", "zzzzzz").starts_with("valid keys here"));
    }
}
