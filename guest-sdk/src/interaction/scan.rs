//! A small JSON reader for the interaction's head: it walks the JSON once,
//! checking all of it as serde_json would, and hands the caller the members
//! of an object as byte ranges, without building values.
//!
//! serde_json is the SDK's JSON library everywhere else; here a dedicated
//! reader pays off because reading the head is most of what a quick handler
//! costs in wasm: strings are skipped eight bytes at a time, numbers and
//! snowflake IDs are read without 128-bit arithmetic (which wasm32 emulates),
//! and nothing goes through serde's visitors.

use std::fmt;

/// Why the JSON could not be read: bad syntax, or valid JSON that is not an
/// interaction (a missing field, a value of the wrong type).
#[derive(Debug)]
pub(super) struct ScanError {
    syntax: bool,
    message: String,
}

impl ScanError {
    /// Whether the JSON itself is malformed.
    pub(super) fn is_syntax(&self) -> bool {
        self.syntax
    }

    /// Valid JSON that does not fit the head.
    pub(super) fn data(message: impl Into<String>) -> Self {
        Self {
            syntax: false,
            message: message.into(),
        }
    }
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub(super) type Scan<T> = Result<T, ScanError>;

/// serde_json's nesting limit, kept so that the same documents are refused.
const MAX_DEPTH: u32 = 128;

/// What a JSON value turned out to be, for the readers that take one of
/// several kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    String,
    Number,
    Object,
    Array,
    Bool,
    Null,
}

/// A JSON value's place in the document: `start..end` covers it exactly
/// (for a string, with its quotes).
#[derive(Clone, Copy, Debug)]
pub(super) struct Value {
    pub(super) kind: Kind,
    pub(super) start: usize,
    pub(super) end: usize,
    /// For a string: whether it has escapes (then its text is not the bytes
    /// between the quotes).
    pub(super) escaped: bool,
}

/// A syntax error, where it is and what was expected (made into a
/// [`ScanError`] with line and column only when it is returned).
#[derive(Clone, Copy, Debug)]
struct Fail {
    pos: usize,
    what: &'static str,
}

type Step<T> = Result<T, Fail>;

fn fail<T>(pos: usize, what: &'static str) -> Step<T> {
    Err(Fail { pos, what })
}

// The reading itself is done by functions that take the position by value
// and return the next one, so that it stays in a register; in wasm, a
// cursor behind `&mut self` would be loaded and stored through linear
// memory at every byte.

/// The first position at or after `pos` that is not whitespace.
#[inline]
fn ws(json: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = json.get(pos) {
        pos += 1;
    }
    pos
}

/// From just inside a string's opening quote to just past its closing
/// one; also says whether the string had escapes.
#[inline]
fn string_end(json: &[u8], mut pos: usize) -> Step<(usize, bool)> {
    let mut escaped = false;
    loop {
        pos = plain_end(json, pos);
        match json.get(pos) {
            Some(b'"') => return Ok((pos + 1, escaped)),
            Some(b'\\') => {
                escaped = true;
                pos = escape_end(json, pos + 1)?;
            }
            None => return fail(pos, "EOF while parsing a string"),
            // A control character: JSON wants it escaped.
            Some(_) => {
                return fail(
                    pos,
                    "control character (\\u0000-\\u001F) found while parsing a string",
                )
            }
        }
    }
}

/// From just after a backslash to just past its escape.
fn escape_end(json: &[u8], pos: usize) -> Step<usize> {
    match json.get(pos) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(pos + 1),
        Some(b'u') => match json.get(pos + 1..pos + 5) {
            Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => Ok(pos + 5),
            _ => fail(pos + 1, "invalid escape"),
        },
        None => fail(pos, "EOF while parsing a string"),
        Some(_) => fail(pos, "invalid escape"),
    }
}

/// Skips the bytes of a string that need no attention (anything but a
/// quote, a backslash or a control character), eight at a time.
#[inline]
fn plain_end(json: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = json.get(pos..pos + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        // A byte is special if it is below 0x20, or equal to '"' or '\'
        // (bytes of 0x80 and up never are: the JSON is UTF-8).
        // `(x - ONES) & !x & HIGHS` flags the zero bytes of `x`; the lowest
        // flag is always a real one (borrows only run upwards).
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let special = ((word.wrapping_sub(ONES * 0x20) & !word)
            | (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash))
            & HIGHS;
        if special != 0 {
            return pos + (special.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while let Some(&b) = json.get(pos) {
        if b < 0x20 || b == b'"' || b == b'\\' {
            break;
        }
        pos += 1;
    }
    pos
}

fn digits_end(json: &[u8], mut pos: usize) -> usize {
    while let Some(b'0'..=b'9') = json.get(pos) {
        pos += 1;
    }
    pos
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
fn number_end(json: &[u8], mut pos: usize) -> Step<usize> {
    if json.get(pos) == Some(&b'-') {
        pos += 1;
    }
    match json.get(pos) {
        Some(b'0') => pos += 1,
        Some(b'1'..=b'9') => pos = digits_end(json, pos + 1),
        _ => return fail(pos, "invalid number"),
    }
    if json.get(pos) == Some(&b'.') {
        let end = digits_end(json, pos + 1);
        if end == pos + 1 {
            return fail(end, "invalid number");
        }
        pos = end;
    }
    if let Some(b'e' | b'E') = json.get(pos) {
        pos += 1;
        if let Some(b'+' | b'-') = json.get(pos) {
            pos += 1;
        }
        let end = digits_end(json, pos);
        if end == pos {
            return fail(end, "invalid number");
        }
        pos = end;
    }
    Ok(pos)
}

fn literal_end(json: &[u8], pos: usize, word: &[u8]) -> Step<usize> {
    let end = pos + word.len();
    if json.get(pos..end) == Some(word) {
        return Ok(end);
    }
    let same = word
        .iter()
        .zip(&json[pos..])
        .take_while(|(a, b)| a == b)
        .count();
    if pos + same == json.len() {
        fail(pos + same, "EOF while parsing a value")
    } else {
        fail(pos + same, "expected ident")
    }
}

/// Past a value that is not an object or an array, at `pos`.
fn scalar_end(json: &[u8], pos: usize) -> Step<(usize, Kind, bool)> {
    match json.get(pos) {
        Some(b'"') => string_end(json, pos + 1).map(|(end, escaped)| (end, Kind::String, escaped)),
        Some(b'-' | b'0'..=b'9') => Ok((number_end(json, pos)?, Kind::Number, false)),
        Some(b't') => Ok((literal_end(json, pos, b"true")?, Kind::Bool, false)),
        Some(b'f') => Ok((literal_end(json, pos, b"false")?, Kind::Bool, false)),
        Some(b'n') => Ok((literal_end(json, pos, b"null")?, Kind::Null, false)),
        None => fail(pos, "EOF while parsing a value"),
        Some(_) => fail(pos, "expected value"),
    }
}

/// Past a value at `pos` (whitespace already skipped), `depth` containers
/// deep.
fn value_end(json: &[u8], pos: usize, depth: u32) -> Step<(usize, Kind, bool)> {
    match json.get(pos) {
        Some(b'{') => Ok((container_end(json, pos, depth)?, Kind::Object, false)),
        Some(b'[') => Ok((container_end(json, pos, depth)?, Kind::Array, false)),
        _ => scalar_end(json, pos),
    }
}

/// From a member's key at `pos` to its value (past the colon and the
/// whitespace). Returns where the key's string is, and the value's
/// position.
#[inline]
fn key_end(json: &[u8], pos: usize) -> Step<(usize, bool, usize)> {
    match json.get(pos) {
        Some(b'"') => {}
        None => return fail(pos, "EOF while parsing an object"),
        Some(_) => return fail(pos, "key must be a string"),
    }
    let (end, escaped) = string_end(json, pos + 1)?;
    let colon = ws(json, end);
    match json.get(colon) {
        Some(b':') => Ok((end, escaped, ws(json, colon + 1))),
        None => fail(colon, "EOF while parsing an object"),
        Some(_) => fail(colon, "expected `:`"),
    }
}

/// Past the object or array at `pos`, checking everything in it, without
/// recursion: a bit per open container says whether it is an object.
fn container_end(json: &[u8], mut pos: usize, depth: u32) -> Step<usize> {
    let mut objects: u128 = 0;
    let mut open: u32 = 0;
    'value: loop {
        // At a value.
        match json.get(pos) {
            Some(&bracket @ (b'{' | b'[')) => {
                // serde_json refuses the 128th level.
                if depth + open + 1 >= MAX_DEPTH {
                    return fail(pos + 1, "recursion limit exceeded");
                }
                let object = bracket == b'{';
                objects = (objects << 1) | u128::from(object);
                open += 1;
                pos = ws(json, pos + 1);
                let close = if object { b'}' } else { b']' };
                if json.get(pos) == Some(&close) {
                    pos += 1;
                    objects >>= 1;
                    open -= 1;
                } else {
                    if object {
                        pos = key_end(json, pos)?.2;
                    }
                    continue 'value;
                }
            }
            _ => pos = scalar_end(json, pos)?.0,
        }
        // After a value: the next one in its container, or the container's
        // end.
        loop {
            if open == 0 {
                return Ok(pos);
            }
            pos = ws(json, pos);
            let object = objects & 1 == 1;
            match json.get(pos) {
                Some(b',') => {
                    pos = ws(json, pos + 1);
                    if object {
                        pos = key_end(json, pos)?.2;
                    }
                    continue 'value;
                }
                Some(b'}') if object => {}
                Some(b']') if !object => {}
                Some(_) if object => return fail(pos, "expected `,` or `}`"),
                Some(_) => return fail(pos, "expected `,` or `]`"),
                None if object => return fail(pos, "EOF while parsing an object"),
                None => return fail(pos, "EOF while parsing a list"),
            }
            pos += 1;
            objects >>= 1;
            open -= 1;
        }
    }
}

/// A cursor over a JSON document, for the head's readers: each reads one
/// value and leaves the cursor after it.
pub(super) struct Reader<'a> {
    json: &'a [u8],
    pos: usize,
    /// How many objects the cursor is in.
    depth: u32,
}

impl<'a> Reader<'a> {
    pub(super) fn new(json: &'a str) -> Self {
        Self {
            json: json.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    /// The error for `fail`, with serde_json's line and column.
    fn syntax(&self, fail: Fail) -> ScanError {
        let upto = &self.json[..(fail.pos + 1).min(self.json.len())];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = upto.len() - upto.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        ScanError {
            syntax: true,
            message: format!("{} at line {line} column {column}", fail.what),
        }
    }

    /// After the top-level value: only whitespace may follow.
    pub(super) fn end(&mut self) -> Scan<()> {
        let pos = ws(self.json, self.pos);
        if pos < self.json.len() {
            return Err(self.syntax(Fail {
                pos,
                what: "trailing characters",
            }));
        }
        Ok(())
    }

    /// Reads one value of any kind, checking it, and says where it is.
    pub(super) fn value(&mut self) -> Scan<Value> {
        let start = ws(self.json, self.pos);
        let (end, kind, escaped) =
            value_end(self.json, start, self.depth).map_err(|fail| self.syntax(fail))?;
        self.pos = end;
        Ok(Value {
            kind,
            start,
            end,
            escaped,
        })
    }

    /// Walks the object that starts here, calling `member` with each key (its raw bytes, unescaped
    /// if need be) and the reader positioned at its value; `member` must
    /// read the value ([`value`](Self::value) or a reader built on it).
    /// Returns the object's byte range.
    pub(super) fn object(
        &mut self,
        what: &str,
        mut member: impl FnMut(&[u8], &mut Self) -> Scan<()>,
    ) -> Scan<(usize, usize)> {
        let json = self.json;
        let start = ws(json, self.pos);
        if json.get(start) != Some(&b'{') {
            let found = self.value()?;
            return Err(ScanError::data(format!(
                "invalid type: {}, expected {what}",
                found.kind.name()
            )));
        }
        if self.depth + 1 >= MAX_DEPTH {
            return Err(self.syntax(Fail {
                pos: start + 1,
                what: "recursion limit exceeded",
            }));
        }
        let pos = ws(json, start + 1);
        if json.get(pos) == Some(&b'}') {
            self.pos = pos + 1;
            return Ok((start, self.pos));
        }
        self.depth += 1;
        let members = self.members(pos, &mut member);
        self.depth -= 1;
        members.map(|end| (start, end))
    }

    /// The members of an object, from the first; returns the position past
    /// the object.
    fn members(
        &mut self,
        mut pos: usize,
        member: &mut impl FnMut(&[u8], &mut Self) -> Scan<()>,
    ) -> Scan<usize> {
        let json = self.json;
        loop {
            let (key_end, escaped, value) = key_end(json, pos).map_err(|fail| self.syntax(fail))?;
            let key = &json[pos + 1..key_end - 1];
            self.pos = value;
            if escaped {
                let key: String = serde_json::from_slice(&json[pos..key_end])
                    .map_err(|e| ScanError::data(e.to_string()))?;
                member(key.as_bytes(), self)?;
            } else {
                member(key, self)?;
            }
            pos = ws(json, self.pos);
            match json.get(pos) {
                Some(b',') => pos = ws(json, pos + 1),
                Some(b'}') => {
                    self.pos = pos + 1;
                    return Ok(self.pos);
                }
                Some(_) => {
                    return Err(self.syntax(Fail {
                        pos,
                        what: "expected `,` or `}`",
                    }))
                }
                None => {
                    return Err(self.syntax(Fail {
                        pos,
                        what: "EOF while parsing an object",
                    }))
                }
            }
        }
    }

    /// The document's text in `start..end` (whole characters: values start
    /// and end at ASCII punctuation).
    fn text(&self, start: usize, end: usize) -> &'a str {
        std::str::from_utf8(&self.json[start..end]).unwrap_or_default()
    }

    /// The value of a string with escapes.
    pub(super) fn unescape(&self, string: Value) -> Scan<String> {
        serde_json::from_str(self.text(string.start, string.end))
            .map_err(|e| ScanError::data(e.to_string()))
    }

    /// Reads a `null` if that is what comes next.
    pub(super) fn null(&mut self) -> Scan<bool> {
        let pos = ws(self.json, self.pos);
        if self.json.get(pos) == Some(&b'n') {
            self.pos = literal_end(self.json, pos, b"null").map_err(|fail| self.syntax(fail))?;
            return Ok(true);
        }
        Ok(false)
    }

    /// The text of a value read.
    pub(super) fn slice(&self, value: Value) -> &'a str {
        self.text(value.start, value.end)
    }

    /// Reads a string and returns its place, or `None` for `null`.
    pub(super) fn string_or_null(&mut self, field: &str) -> Scan<Option<Value>> {
        let value = self.value()?;
        match value.kind {
            Kind::String => Ok(Some(value)),
            Kind::Null => Ok(None),
            other => Err(invalid(field, other, "a string")),
        }
    }

    /// Reads any value; `None` for `null`.
    pub(super) fn raw_or_null(&mut self) -> Scan<Option<Value>> {
        let value = self.value()?;
        Ok((value.kind != Kind::Null).then_some(value))
    }

    /// Reads a small unsigned integer (a `type` field); `None` for `null`.
    pub(super) fn u8_or_null(&mut self, field: &str) -> Scan<Option<u8>> {
        let value = self.value()?;
        match value.kind {
            Kind::Null => Ok(None),
            Kind::Number => self
                .unsigned(value)
                .and_then(|n| u8::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    ScanError::data(format!("invalid value for `{field}`: expected u8"))
                }),
            other => Err(invalid(field, other, "u8")),
        }
    }

    /// Reads a snowflake ID, as a string of digits or a number (as
    /// twilight's `Id` does); `None` for `null`.
    pub(super) fn id_or_null(&mut self, field: &str) -> Scan<Option<u64>> {
        let value = self.value()?;
        let id = match value.kind {
            Kind::Null => return Ok(None),
            Kind::Number => self.unsigned(value),
            Kind::String if !value.escaped => {
                let digits = &self.json[value.start + 1..value.end - 1];
                let digits = digits.strip_prefix(b"+").unwrap_or(digits);
                parse_u64(digits)
            }
            Kind::String => self.unescape(value)?.parse().ok(),
            other => return Err(invalid(field, other, "a snowflake ID")),
        };
        match id {
            Some(id) if id != 0 => Ok(Some(id)),
            _ => Err(ScanError::data(format!(
                "invalid value for `{field}`: expected a non-zero snowflake ID"
            ))),
        }
    }

    /// A number token's value, if it is a non-negative integer that fits.
    fn unsigned(&self, number: Value) -> Option<u64> {
        parse_u64(&self.json[number.start..number.end])
    }
}

/// Parses 1 to 20 ASCII digits into a `u64`, `None` if it does not fit.
///
/// (`checked_mul` on a `u64` is a 128-bit multiplication in wasm32, a call
/// per digit; 19 digits cannot overflow, so only the 20th is checked.)
fn parse_u64(digits: &[u8]) -> Option<u64> {
    let (head, last) = match digits.len() {
        1..=19 => (digits, None),
        20 => (&digits[..19], Some(digits[19])),
        _ => return None,
    };
    let mut n: u64 = 0;
    let mut chunks = head.chunks_exact(8);
    for chunk in &mut chunks {
        n = n * 100_000_000 + u64::from(eight_digits(chunk)?);
    }
    for &b in chunks.remainder() {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n = n * 10 + u64::from(digit);
    }
    match last {
        None => Some(n),
        Some(b) => {
            let digit = b.wrapping_sub(b'0');
            // u64::MAX is 18446744073709551615.
            let fits = n < u64::MAX / 10 || (n == u64::MAX / 10 && digit <= 5);
            (digit <= 9 && fits).then(|| n * 10 + u64::from(digit))
        }
    }
}

/// The value of eight ASCII digits, read as one word (a snowflake is 17 to
/// 20 digits).
fn eight_digits(chunk: &[u8]) -> Option<u32> {
    let mut word = [0; 8];
    word.copy_from_slice(chunk);
    let word = u64::from_le_bytes(word);
    // Each byte is 0x30..=0x39: its high nibble is 3, before and after
    // adding 6 (no byte carries into the next: each is below 0x40).
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    if word & HIGH_NIBBLES != THREES || (word + 0x0606_0606_0606_0606) & HIGH_NIBBLES != THREES {
        return None;
    }
    // The first digit is the lowest byte. Combine neighbours into pairs,
    // pairs into fours, fours into the eight.
    let mut n = word & 0x0F0F_0F0F_0F0F_0F0F;
    n = (n.wrapping_mul(10 << 8 | 1) >> 8) & 0x00FF_00FF_00FF_00FF;
    n = (n.wrapping_mul(100 << 16 | 1) >> 16) & 0x0000_FFFF_0000_FFFF;
    n = n.wrapping_mul(10_000 << 32 | 1) >> 32;
    u32::try_from(n).ok()
}

fn invalid(field: &str, found: Kind, expected: &str) -> ScanError {
    ScanError::data(format!(
        "invalid type for `{field}`: {}, expected {expected}",
        found.name()
    ))
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Number => "a number",
            Self::Object => "an object",
            Self::Array => "an array",
            Self::Bool => "a boolean",
            Self::Null => "null",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the reader accepts `json` as one value, as serde_json does.
    fn accepts(json: &str) -> bool {
        let mut reader = Reader::new(json);
        reader.value().and_then(|_| reader.end()).is_ok()
    }

    #[test]
    fn agrees_with_serde_json_on_what_is_json() {
        let cases = [
            r#"{}"#,
            r#" { "a" : [ 1 , -2.5e+3 , true , false , null , "x" ] } "#,
            r#"{"a":{"b":{"c":[[],{}]}}}"#,
            r#""esc \" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00""#,
            r#""long string with no escapes in it at all, past eight bytes""#,
            "\"caf\u{e9} \u{1F600}\"",
            "0",
            "-0",
            "1.0",
            "1e5",
            "1E-5",
            // Refused:
            "",
            " ",
            "{",
            "}",
            "[1,]",
            "[,1]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{\"a\":1 \"b\":2}",
            "{1:2}",
            "[1 2]",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "tru",
            "nul",
            "nulll",
            "\"unterminated",
            "\"bad \\x escape\"",
            "\"bad \\u12 escape\"",
            "\"tab\tinside\"",
            "\"new\nline\"",
            "{} {}",
            "[1] x",
            "not json",
        ];
        for json in cases {
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok();
            assert_eq!(accepts(json), serde, "{json:?}");
        }
        // Nesting: serde_json's limit for reading values (skipping has none).
        for depth in [126, 127, 128, 129, 300] {
            for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
                let json = open.repeat(depth) + "1" + &close.repeat(depth);
                let serde = serde_json::from_str::<serde_json::Value>(&json).is_ok();
                assert_eq!(accepts(&json), serde, "{depth} {open}");
            }
        }
    }

    #[test]
    fn strings_end_at_their_closing_quote_at_any_offset() {
        for pad in 0..20 {
            let text = "x".repeat(pad);
            for tail in ["\"", "\\\"\"", "\\\\\""] {
                let json = format!("\"{text}{tail},1");
                let mut reader = Reader::new(&json);
                let value = reader.value().unwrap();
                assert_eq!(value.end, pad + 1 + tail.len(), "{json:?}");
                assert_eq!(value.escaped, tail.len() > 1, "{json:?}");
            }
        }
    }

    #[test]
    fn ids_and_small_integers() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"99999999999999999999"), None);
        assert_eq!(
            parse_u64(b"1180000000000000001"),
            Some(1_180_000_000_000_000_001)
        );
        assert_eq!(parse_u64(b""), None);
        for n in [
            1,
            9,
            10,
            12_345_678,
            99_999_999,
            100_000_000,
            1_234_567_890_123_456_789,
        ] {
            assert_eq!(parse_u64(n.to_string().as_bytes()), Some(n), "{n}");
        }
        for bad in [
            &b"1234567/"[..],
            b"1234567:",
            b"12345678901234567a9",
            b"1234 678",
        ] {
            assert_eq!(parse_u64(bad), None, "{bad:?}");
        }
        assert_eq!(parse_u64(b"1a"), None);
        let mut reader = Reader::new(r#"["7", 7, "0", -1, 7.5, "\u0037", null, 256]"#);
        let mut ids = Vec::new();
        reader
            .object("x", |_, _| Ok(()))
            .expect_err("an array is not an object");
        reader = Reader::new(r#"{"a":"7","b":7,"c":"\u0037","d":null}"#);
        reader
            .object("x", |key, r| {
                let key = std::str::from_utf8(key).unwrap().to_owned();
                ids.push((key, r.id_or_null("x")?));
                Ok(())
            })
            .unwrap();
        assert_eq!(
            ids,
            [
                ("a".to_owned(), Some(7)),
                ("b".to_owned(), Some(7)),
                ("c".to_owned(), Some(7)),
                ("d".to_owned(), None)
            ]
        );
        for bad in [
            r#"{"a":"0"}"#,
            r#"{"a":-1}"#,
            r#"{"a":7.5}"#,
            r#"{"a":true}"#,
        ] {
            let mut reader = Reader::new(bad);
            let error = reader.object("x", |_, r| r.id_or_null("a").map(drop));
            assert!(!error.unwrap_err().is_syntax(), "{bad}");
        }
        let mut reader = Reader::new(r#"{"t":256}"#);
        assert!(reader
            .object("x", |_, r| r.u8_or_null("t").map(drop))
            .is_err());
    }

    #[test]
    fn syntax_errors_say_what_and_where_as_serde_json_does() {
        for json in [
            "{\n  \"a\": tru }",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "[1 2]",
            "{",
            "\"abc",
            "{} x",
            "nope",
        ] {
            let mut reader = Reader::new(json);
            let ours = reader.value().and_then(|_| reader.end()).unwrap_err();
            assert!(ours.is_syntax());
            let theirs = serde_json::from_str::<serde::de::IgnoredAny>(json).unwrap_err();
            assert_eq!(ours.to_string(), theirs.to_string(), "{json:?}");
        }
    }
}
