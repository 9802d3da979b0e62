//! Reading `model`, `stream` and `stream_options.include_usage` from a JSON
//! body *as it streams past*, without keeping it: a sandbox reply needs only
//! these, so a request without a valid token costs a few hundred bytes of
//! memory however large its body is. A small byte-level state machine: strings
//! (with escapes) and nesting are tracked, keys are remembered only at the two
//! levels that matter, and scalars only when they are one of the wanted values.
//! Pure; anything that is not JSON leaves the defaults.

/// What the reply must look like, read from the request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
}

impl Shape {
    /// Reads `model`, `stream` and `stream_options.include_usage`; anything unreadable gets defaults.
    pub fn of(body: &[u8]) -> Shape {
        let mut scanner = ShapeScanner::new();
        scanner.feed(body);
        scanner.finish()
    }
}

/// Longest `model` kept (the reply echoes it); longer ones are cut.
const MAX_MODEL_BYTES: usize = 200;
/// Longest key or literal worth remembering (`include_usage` is 13 bytes).
const MAX_KEY_BYTES: usize = 32;

#[derive(Debug, Default)]
pub struct ShapeScanner {
    /// Containers from the outside in, up to depth 2; deeper ones are only counted.
    levels: Vec<Level>,
    deeper: u64,
    in_string: bool,
    escaped: bool,
    /// The string or literal being read, when it may matter.
    text: Vec<u8>,
    keeping: bool,
    literal: bool,
    model: Option<Vec<u8>>,
    stream: Option<bool>,
    include_usage: Option<bool>,
    broken: bool,
}

#[derive(Debug)]
struct Level {
    object: bool,
    expecting_key: bool,
    key: Vec<u8>,
}

impl ShapeScanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The path of the value about to be read: `Some((outer key, inner key))` at depth 1 or 2.
    fn path(&self) -> Option<(&[u8], Option<&[u8]>)> {
        if self.deeper > 0 {
            return None;
        }
        match self.levels.as_slice() {
            [top] if top.object && !top.expecting_key => Some((&top.key, None)),
            [top, inner] if top.object && inner.object && !inner.expecting_key => Some((&top.key, Some(&inner.key))),
            _ => None,
        }
    }

    fn wanted(&self) -> bool {
        matches!(self.path(), Some((b"model", None) | (b"stream", None) | (b"stream_options", Some(b"include_usage"))))
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        for &b in chunk {
            if self.broken {
                return;
            }
            self.byte(b);
        }
    }

    fn byte(&mut self, b: u8) {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
                self.keep(b);
            } else if b == b'\\' {
                self.escaped = true;
                self.keep(b);
            } else if b == b'"' {
                self.in_string = false;
                self.end_string();
            } else {
                self.keep(b);
            }
            return;
        }
        if self.literal && matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
            self.end_literal();
        }
        match b {
            b' ' | b'\n' | b'\r' | b'\t' => {}
            b'"' => {
                self.in_string = true;
                self.text.clear();
                let key = self.levels.last().is_some_and(|l| l.object && l.expecting_key) && self.deeper == 0;
                self.keeping = (key && self.levels.len() <= 2) || self.wanted();
            }
            b'{' | b'[' => {
                if self.levels.len() < 2 && self.deeper == 0 {
                    self.levels.push(Level { object: b == b'{', expecting_key: b == b'{', key: Vec::new() });
                } else {
                    self.deeper += 1;
                }
            }
            b'}' | b']' => {
                if self.deeper > 0 {
                    self.deeper -= 1;
                } else if self.levels.pop().is_none() {
                    self.broken = true;
                }
            }
            b':' => {
                if self.deeper == 0
                    && let Some(level) = self.levels.last_mut()
                {
                    level.expecting_key = false;
                }
            }
            b',' => {
                if self.deeper == 0
                    && let Some(level) = self.levels.last_mut()
                    && level.object
                {
                    level.expecting_key = true;
                }
            }
            _ => {
                if !self.literal {
                    self.literal = true;
                    self.text.clear();
                    self.keeping = self.wanted();
                }
                self.keep(b);
            }
        }
    }

    fn keep(&mut self, b: u8) {
        let cap = if self.wanted() { MAX_MODEL_BYTES } else { MAX_KEY_BYTES };
        if self.keeping && self.text.len() < cap {
            self.text.push(b);
        }
    }

    fn end_string(&mut self) {
        if !self.keeping {
            return;
        }
        let text = std::mem::take(&mut self.text);
        if self.deeper == 0
            && let Some(level) = self.levels.last_mut()
            && level.object
            && level.expecting_key
        {
            level.key = text;
            return;
        }
        match self.path() {
            Some((b"model", None)) => self.model = Some(text),
            // A string where a boolean belongs is not `true`.
            Some((b"stream", None)) => self.stream = Some(false),
            Some((b"stream_options", Some(b"include_usage"))) => self.include_usage = Some(false),
            _ => {}
        }
    }

    fn end_literal(&mut self) {
        self.literal = false;
        if !self.keeping {
            return;
        }
        let value = Some(self.text.as_slice() == b"true");
        match self.path() {
            Some((b"stream", None)) => self.stream = value,
            Some((b"stream_options", Some(b"include_usage"))) => self.include_usage = value,
            Some((b"model", None)) => self.model = None,
            _ => {}
        }
    }

    /// The shape read so far (call after the last chunk).
    pub fn finish(mut self) -> Shape {
        if self.literal && !self.in_string {
            self.end_literal();
        }
        let complete = !self.broken && self.levels.is_empty() && self.deeper == 0 && !self.in_string;
        if !complete {
            // Not a whole JSON document: like any unreadable body, the defaults.
            return Shape { model: "llm-sso-sandbox".into(), stream: false, include_usage: false };
        }
        let model = self.model.map(|m| unescape(&m)).unwrap_or_else(|| "llm-sso-sandbox".into());
        Shape { model, stream: self.stream == Some(true), include_usage: self.include_usage == Some(true) }
    }
}

/// A JSON string's raw bytes as text (escapes resolved by serde_json; lossy on garbage).
fn unescape(raw: &[u8]) -> String {
    let quoted = [b"\"".as_slice(), raw, b"\""].concat();
    let text = serde_json::from_slice::<String>(&quoted).unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned());
    text.chars().take(MAX_MODEL_BYTES).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scan_in_chunks(body: &[u8], size: usize) -> Shape {
        let mut s = ShapeScanner::new();
        for chunk in body.chunks(size.max(1)) {
            s.feed(chunk);
        }
        s.finish()
    }

    /// What a full parse says (the reference the scanner must agree with).
    fn parsed(body: &[u8]) -> Shape {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
        Shape {
            model: v.get("model").and_then(|m| m.as_str()).unwrap_or("llm-sso-sandbox").chars().take(200).collect(),
            stream: v.get("stream").and_then(|s| s.as_bool()) == Some(true),
            include_usage: v.pointer("/stream_options/include_usage").and_then(|s| s.as_bool()) == Some(true),
        }
    }

    #[test]
    fn finds_the_top_level_values_only() {
        let body = br#"{"messages":[{"role":"user","content":"say \"stream\": true","model":"inner"}],
            "tools":[{"stream":true}],"model":"m\u00e9\"x","stream" : true,"stream_options":{"include_usage":true}}"#;
        assert_eq!(scan_in_chunks(body, 1), parsed(body));
        assert_eq!(scan_in_chunks(body, 1).model, "mé\"x");
        assert!(scan_in_chunks(body, 7).stream);
        let nested = br#"{"a":{"stream":true,"model":"no"},"stream":false}"#;
        assert_eq!(scan_in_chunks(nested, 3), parsed(nested));
    }

    #[test]
    fn garbage_and_truncation_give_the_defaults() {
        for body in [&b"not json"[..], b"{\"stream\":true", b"]]]", b"{\"model\":\"x", b""] {
            let shape = scan_in_chunks(body, 2);
            assert_eq!((shape.model.as_str(), shape.stream), ("llm-sso-sandbox", false), "{body:?}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_a_full_parse(
            model in "[a-zA-Z0-9 é\"\\\\-]{0,30}",
            stream in prop::option::of(any::<bool>()),
            usage in prop::option::of(any::<bool>()),
            filler in "[a-z\"{}\\[\\]:, ]{0,40}",
            chunk in 1usize..64,
        ) {
            let mut body = serde_json::json!({"messages": [{"role": "user", "content": filler.clone(), "stream": true}]});
            body["model"] = serde_json::json!(model);
            if let Some(s) = stream { body["stream"] = serde_json::json!(s); }
            if let Some(u) = usage { body["stream_options"] = serde_json::json!({"include_usage": u}); }
            let bytes = serde_json::to_vec(&body).unwrap();
            prop_assert_eq!(scan_in_chunks(&bytes, chunk), parsed(&bytes));
            // Arbitrary bytes never panic.
            let _ = scan_in_chunks(filler.as_bytes(), chunk);
        }
    }
}
