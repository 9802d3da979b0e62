//! Text a proxy sends, made safe for the user's terminal. A hostile or broken
//! proxy decides the user code, the links and the error descriptions; written
//! as they came, escape sequences could rewrite the screen (hide the real link,
//! fake a prompt, set the window title, on some terminals write files). Every
//! such text goes through [`line`]: control characters and the Unicode marks
//! that reorder text are removed, and the length is bounded.

/// `text` as one line for the terminal: no control characters (C0, DEL, C1), no bidirectional
/// overrides or isolates, at most `max` characters (an ellipsis says when something was cut).
pub fn line(text: &str, max: usize) -> String {
    let mut kept = text.chars().filter(|c| !c.is_control() && !is_reordering(*c));
    let mut out: String = kept.by_ref().take(max).collect();
    if kept.next().is_some() {
        out.push('…');
    }
    out
}

/// Marks that change the order text is shown in (Trojan Source, CVE-2021-42574).
fn is_reordering(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_reordering_marks_are_removed() {
        assert_eq!(line("\u{1b}]0;owned\u{7}BCDF-GHJK\u{1b}[2J", 100), "]0;ownedBCDF-GHJK[2J");
        assert_eq!(line("a\u{9b}31mb\r\nc\u{202E}d", 100), "a31mbcd");
        assert_eq!(line("abcdef", 3), "abc…");
        assert_eq!(line("https://llm.example.com/auth/device", 200), "https://llm.example.com/auth/device");
    }
}
