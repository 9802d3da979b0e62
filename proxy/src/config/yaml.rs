//! YAML to a small tree that remembers where every key and value stood, so that
//! validation can report *every* problem with its line and column (serde stops
//! at the first). Built from granit-parser's event stream (the parser under
//! serde-saphyr).

use granit_parser::{Event, Parser, ScalarStyle};

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mark {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Map(Vec<(Key, Node)>),
    Seq(Vec<Node>),
    /// `quoted` tells `"true"` (a string) from `true` (a boolean).
    Scalar {
        text: String,
        quoted: bool,
    },
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub mark: Mark,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub mark: Mark,
}

impl Node {
    /// What kind of value this is, for messages ("a list", "the number 1", ...).
    /// `reveal` false keeps the text out of the description (secrets).
    pub fn describe(&self, reveal: bool) -> String {
        match &self.value {
            Value::Map(_) => "a mapping".into(),
            Value::Seq(_) => "a list".into(),
            Value::Null => "nothing (null)".into(),
            Value::Scalar { text, quoted } if !reveal => {
                if *quoted {
                    "a quoted string".into()
                } else {
                    format!("the plain value of {} characters", text.len())
                }
            }
            Value::Scalar { text, quoted: true } => format!("the string {text:?}"),
            Value::Scalar { text, quoted: false } => {
                if text.parse::<f64>().is_ok() {
                    format!("the number {text}")
                } else {
                    format!("{text:?}")
                }
            }
        }
    }
}

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub mark: Mark,
    pub message: String,
}

enum Frame {
    Map { entries: Vec<(Key, Node)>, key: Option<Key>, mark: Mark },
    Seq { items: Vec<Node>, mark: Mark },
}

fn mark_of(span: &granit_parser::Span) -> Mark {
    Mark { line: span.start.line(), col: span.start.col() + 1 }
}

/// Parses one YAML document. An empty document is `Ok(None)`.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            mark: Mark { line: e.marker().line(), col: e.marker().col() + 1 },
            message: e.info().to_string(),
        })?;
        let mark = mark_of(&span);
        let node = match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxError { mark, message: "only one YAML document is allowed".into() });
                }
                continue;
            }
            Event::MappingStart(..) => {
                stack.push(Frame::Map { entries: Vec::new(), key: None, mark });
                continue;
            }
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq { items: Vec::new(), mark });
                continue;
            }
            Event::Scalar(value, style, ..) => {
                let quoted = !matches!(style, ScalarStyle::Plain);
                let null = !quoted && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL");
                let value = if null { Value::Null } else { Value::Scalar { text: value.into_owned(), quoted } };
                Node { value, mark }
            }
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { entries, mark, .. }) => Node { value: Value::Map(entries), mark },
                _ => return Err(SyntaxError { mark, message: "unbalanced mapping".into() }),
            },
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { items, mark }) => Node { value: Value::Seq(items), mark },
                _ => return Err(SyntaxError { mark, message: "unbalanced sequence".into() }),
            },
            Event::Alias(..) | Event::UnresolvedAlias(..) => {
                return Err(SyntaxError { mark, message: "anchors and aliases (*name) are not supported here".into() });
            }
            _ => continue,
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => match node.value {
                    Value::Scalar { text, .. } => *key = Some(Key { name: text, mark: node.mark }),
                    Value::Null => *key = Some(Key { name: String::new(), mark: node.mark }),
                    _ => return Err(SyntaxError { mark: node.mark, message: "keys must be plain names".into() }),
                },
            },
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_and_quoting() {
        let root = parse("sso:\n  enabled: \"true\"\n  port: 1\nlist: [a, b]\n").unwrap().unwrap();
        let Value::Map(entries) = &root.value else { panic!() };
        assert_eq!(entries[0].0.name, "sso");
        let Value::Map(sso) = &entries[0].1.value else { panic!() };
        assert_eq!(sso[0].0.mark, Mark { line: 2, col: 3 });
        assert_eq!(sso[0].1.value, Value::Scalar { text: "true".into(), quoted: true });
        assert_eq!(sso[1].1.describe(true), "the number 1");
        assert!(matches!(entries[1].1.value, Value::Seq(ref v) if v.len() == 2));
    }

    #[test]
    fn wrong_indentation_makes_a_null_section_and_a_sibling_key() {
        let root = parse("sso:\nenabled: true\n").unwrap().unwrap();
        let Value::Map(entries) = &root.value else { panic!() };
        assert_eq!(entries[0].1.value, Value::Null);
        assert_eq!((entries[1].0.name.as_str(), entries[1].0.mark), ("enabled", Mark { line: 2, col: 1 }));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.mark.line >= 1, "{err:?}");
        assert_eq!(parse("").unwrap(), None);
        assert!(parse("a: *x\n").is_err());
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }
}
