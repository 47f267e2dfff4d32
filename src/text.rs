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

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn clips_on_character_boundaries() {
        assert_eq!(clip("hello", 10), "hello");
        assert_eq!(clip("hello", 3), "hel");
        // "é" is two bytes: a cut inside it backs off to before it.
        assert_eq!(clip("aé", 2), "a");
        assert_eq!(clip("", 0), "");
    }
}
