//! Which language a component was written in, read from the `producers`
//! custom sections its toolchain wrote, so a bot that embeds a language's
//! engine (JavaScript through ComponentizeJS, Python through
//! componentize-py) gets defaults that fit that engine.

use serde::{Deserialize, Serialize};

/// The language a bot's component says it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Rust, or any toolchain that compiles to wasm without an engine.
    Rust,
    /// JavaScript or TypeScript on an embedded SpiderMonkey (ComponentizeJS).
    JavaScript,
    /// Python on an embedded CPython (componentize-py).
    Python,
}

impl Language {
    pub fn label(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::JavaScript => "javascript",
            Language::Python => "python",
        }
    }

    /// The language `wasm` records in its `producers` sections (the
    /// component's own and its modules'). An embedded engine's modules also
    /// say C++ or Rust, so JavaScript and Python win over those; anything
    /// without either, or that cannot be read, is treated as Rust.
    pub fn detect(wasm: &[u8]) -> Language {
        let mut found = Language::Rust;
        let mut saw = |field: &[u8], value: &[u8]| {
            let value = value.to_ascii_lowercase();
            let is = |name: &[u8]| value.starts_with(name);
            match field {
                b"language" if is(b"javascript") || is(b"typescript") => {
                    found = Language::JavaScript
                }
                b"processed-by" if is(b"componentizejs") || is(b"jco") => {
                    found = Language::JavaScript
                }
                b"language" if is(b"python") && found == Language::Rust => found = Language::Python,
                b"processed-by" if is(b"componentize-py") && found == Language::Rust => {
                    found = Language::Python
                }
                _ => {}
            }
        };
        // A component or module nests at most a few levels; the bound keeps
        // a hostile upload from recursing deeply.
        let _ = producers(wasm, 0, &mut saw);
        found
    }
}

/// Reads every `producers` section in `binary` (a component or core
/// module, with its header) and in the modules and components nested in
/// it, calling `saw(field, name)` for each value. `None`: malformed.
fn producers(binary: &[u8], depth: u32, saw: &mut impl FnMut(&[u8], &[u8])) -> Option<()> {
    const MAX_DEPTH: u32 = 8;
    let mut rest = binary.strip_prefix(b"\0asm")?.get(4..)?;
    let is_component = binary.get(4..8) != Some(&[1, 0, 0, 0]);
    while let Some((&id, after)) = rest.split_first() {
        let (size, after) = leb_u32(after)?;
        let (section, after) = split(after, size as usize)?;
        rest = after;
        match id {
            0 => {
                let (name, payload) = string(section)?;
                if name == b"producers" {
                    let _ = producer_fields(payload, saw);
                }
            }
            // Nested core modules (1) and components (4) are whole binaries.
            1 | 4 if is_component && depth < MAX_DEPTH => {
                let _ = producers(section, depth + 1, saw);
            }
            _ => {}
        }
    }
    Some(())
}

/// The `producers` section: fields, each a name and (name, version) values.
fn producer_fields(mut data: &[u8], saw: &mut impl FnMut(&[u8], &[u8])) -> Option<()> {
    let (fields, after) = leb_u32(data)?;
    data = after;
    for _ in 0..fields {
        let (field, after) = string(data)?;
        let (values, after) = leb_u32(after)?;
        data = after;
        for _ in 0..values {
            let (name, after) = string(data)?;
            let (_version, after) = string(after)?;
            data = after;
            saw(field, name);
        }
    }
    Some(())
}

fn leb_u32(data: &[u8]) -> Option<(u32, &[u8])> {
    let mut value: u32 = 0;
    for (i, &byte) in data.iter().enumerate().take(5) {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, &data[i + 1..]));
        }
    }
    None
}

fn string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = leb_u32(data)?;
    split(rest, len as usize)
}

fn split(data: &[u8], at: usize) -> Option<(&[u8], &[u8])> {
    (at <= data.len()).then(|| data.split_at(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn string(s: &[u8], out: &mut Vec<u8>) {
        leb(s.len(), out);
        out.extend_from_slice(s);
    }

    fn section(id: u8, payload: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(payload.len(), out);
        out.extend_from_slice(payload);
    }

    /// A `producers` custom section with the given fields.
    fn producers_section(fields: &[(&str, &[&str])]) -> Vec<u8> {
        let mut payload = Vec::new();
        string(b"producers", &mut payload);
        leb(fields.len(), &mut payload);
        for (field, values) in fields {
            string(field.as_bytes(), &mut payload);
            leb(values.len(), &mut payload);
            for value in *values {
                string(value.as_bytes(), &mut payload);
                string(b"1.0", &mut payload);
            }
        }
        let mut out = Vec::new();
        section(0, &payload, &mut out);
        out
    }

    const MODULE: &[u8] = b"\0asm\x01\0\0\0";
    const COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    /// A component whose own producers say `top` and whose one module says `inner`.
    fn component(top: &[(&str, &[&str])], inner: &[(&str, &[&str])]) -> Vec<u8> {
        let mut module = MODULE.to_vec();
        module.extend(producers_section(inner));
        let mut out = COMPONENT.to_vec();
        section(1, &module, &mut out);
        out.extend(producers_section(top));
        out
    }

    #[test]
    fn componentize_js_is_javascript_though_its_engine_is_cpp_and_rust() {
        let wasm = component(
            &[
                ("processed-by", &["wit-component", "ComponentizeJS"]),
                ("language", &["JavaScript"]),
            ],
            &[("language", &["C11", "Rust", "C_plus_plus_14"])],
        );
        assert_eq!(Language::detect(&wasm), Language::JavaScript);
    }

    #[test]
    fn componentize_py_is_python() {
        let wasm = component(
            &[("processed-by", &["wit-component", "componentize-py"])],
            &[("language", &["C11", "Rust"])],
        );
        assert_eq!(Language::detect(&wasm), Language::Python);
        let by_language = component(&[], &[("language", &["Python"])]);
        assert_eq!(Language::detect(&by_language), Language::Python);
    }

    #[test]
    fn a_rust_component_or_an_unreadable_one_is_rust() {
        let wasm = component(
            &[("processed-by", &["wit-component"])],
            &[("language", &["Rust"]), ("processed-by", &["rustc"])],
        );
        assert_eq!(Language::detect(&wasm), Language::Rust);
        assert_eq!(Language::detect(b"not wasm"), Language::Rust);
        let mut truncated = component(&[("language", &["JavaScript"])], &[]);
        truncated.truncate(truncated.len() - 3);
        assert_eq!(Language::detect(&truncated), Language::Rust);
        // Sections past a malformed one are not read.
        let mut lying = COMPONENT.to_vec();
        lying.extend([0, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(Language::detect(&lying), Language::Rust);
    }
}
