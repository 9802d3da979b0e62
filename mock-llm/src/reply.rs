//! What the fake model says: a deterministic echo of the last user message (or
//! a large filler text), cut into stream pieces, with rough token counts.
//! Pure functions, shared by both API formats.

use serde_json::Value;

/// Model whose reply is `large_reply_bytes` long.
pub const LARGE_MODEL: &str = "mock-large";

/// Text of the last `user` message, from either API's message shapes: a string,
/// or an array of parts where `{"type": "text", "text": ...}` parts are joined.
pub fn last_user_text(messages: &[Value]) -> String {
    messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
        .unwrap_or_default()
}

/// Text of one message's `content` (string or text parts).
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The reply for `model`: the echo, or filler of exactly `large_bytes` bytes for [`LARGE_MODEL`].
pub fn reply_text(model: &str, last_user: &str, large_bytes: usize) -> String {
    if model == LARGE_MODEL {
        const FILLER: &str = "The quick brown fox jumps over the lazy dog. ";
        return FILLER.repeat(large_bytes / FILLER.len() + 1)[..large_bytes].to_string();
    }
    if last_user.is_empty() { "(no user message)".to_string() } else { last_user.to_string() }
}

/// Cuts `text` into at most `pieces` parts of nearly equal size, on character boundaries.
pub fn split(text: &str, pieces: usize) -> Vec<&str> {
    let pieces = pieces.max(1);
    let target = text.len().div_ceil(pieces).max(1);
    let mut parts = Vec::with_capacity(pieces);
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + target).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        parts.push(&text[start..end]);
        start = end;
    }
    if parts.is_empty() {
        parts.push("");
    }
    parts
}

/// A rough token count (four bytes a token, at least one), good enough for usage fields.
pub fn tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn last_user_message_in_both_shapes() {
        let openai = [
            json!({"role": "system", "content": "s"}),
            json!({"role": "user", "content": "hi"}),
            json!({"role": "assistant", "content": "a"}),
        ];
        assert_eq!(last_user_text(&openai), "hi");
        let anthropic = [json!({"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image"},
            {"type": "text", "text": "b"}]})];
        assert_eq!(last_user_text(&anthropic), "a\nb");
        assert_eq!(last_user_text(&[]), "");
    }

    #[test]
    fn split_keeps_every_byte_and_char_boundaries() {
        for (text, n) in [("hello world", 3), ("é€😀abc", 4), ("", 5), ("x", 8)] {
            let parts = split(text, n);
            assert_eq!(parts.concat(), text);
            assert!(parts.len() <= n.max(1));
        }
        assert_eq!(reply_text(LARGE_MODEL, "", 1000).len(), 1000);
        assert_eq!(reply_text("m", "", 10), "(no user message)");
    }
}
