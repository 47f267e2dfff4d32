//! Small text helpers shared by the modules that store or show guest text.

/// The longest prefix of `text` that fits in `max` bytes without splitting a
/// character. Guest-supplied text is clipped before it is stored or shown, so
/// no bot can make a log line, notice or crash record arbitrarily large.
pub fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// `text` made safe to print on a terminal: every character that could act
/// instead of being read is shown as an escape. That is control characters
/// (C0 with newline and tab, DEL, C1: escape sequences, bells, carriage
/// returns, forged line breaks), Unicode line and paragraph separators, and
/// the bidirectional formatting characters that reorder what is displayed.
/// Guest text (log lines, error texts, crash details, answers) goes through
/// this wherever the CLI prints it, so a bot can neither forge a line nor
/// drive the operator's terminal.
pub fn for_terminal(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}'
                | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// JSON as `serde_json` writes it (compact or pretty), with the characters
/// a terminal acts on but JSON leaves unescaped (DEL, C1 controls, Unicode
/// separators, bidi formatting) written as `\uXXXX`. serde_json escapes C0
/// controls inside strings, so raw whitespace is only layout and is kept;
/// the others can only stand inside strings, where the escape means the
/// same character, so the output is the same JSON value.
pub fn json_for_terminal(json: &str) -> std::borrow::Cow<'_, str> {
    let escape = |c: char| needs_escape(c) && !c.is_ascii_whitespace();
    if !json.chars().any(escape) {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escape(c) {
            // Every such character is in the Basic Multilingual Plane.
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_shows_controls_as_escapes() {
        assert_eq!(for_terminal("plain text, é and 🦀"), "plain text, é and 🦀");
        let attack = "\x1b]0;pwned-title\x07\x1b[2J\x1b[31mred text";
        assert_eq!(
            for_terminal(attack),
            "\\u{1b}]0;pwned-title\\u{7}\\u{1b}[2J\\u{1b}[31mred text"
        );
        let forged = "ok\n2030-01-01T00:00:00.000Z ERROR [1] forged\r";
        assert_eq!(
            for_terminal(forged),
            "ok\\n2030-01-01T00:00:00.000Z ERROR [1] forged\\r"
        );
        // C1 CSI (an escape sequence on its own), DEL, bidi override, line separator.
        assert_eq!(
            for_terminal("a\u{9b}2Jb\u{7f}c\u{202e}d\u{2028}e\0"),
            "a\\u{9b}2Jb\\u{7f}c\\u{202e}d\\u{2028}e\\u{0}"
        );
        for escaped in [for_terminal(attack), for_terminal(forged)] {
            assert!(!escaped.chars().any(needs_escape), "{escaped}");
        }
    }

    #[test]
    fn json_for_terminal_keeps_the_same_value() {
        let answer =
            serde_json::json!({"type": 4, "data": {"content": "a\u{9b}2J\u{7f}\u{202e}\n\x1b"}});
        for text in [
            serde_json::to_string(&answer).unwrap(),
            serde_json::to_string_pretty(&answer).unwrap(),
        ] {
            let safe = json_for_terminal(&text);
            assert!(
                !safe.chars().any(|c| needs_escape(c) && c != '\n'),
                "{safe}"
            );
            let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
            assert_eq!(back, answer);
        }
    }

    #[test]
    fn clips_on_character_boundaries() {
        assert_eq!(clip("hello", 10), "hello");
        assert_eq!(clip("hello", 3), "hel");
        // "é" is two bytes: a cut inside it backs off to before it.
        assert_eq!(clip("aé", 2), "a");
        assert_eq!(clip("", 0), "");
    }
}
