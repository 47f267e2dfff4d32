//! Tidy checks in the style of rust-analyzer's: the architecture written in
//! `src/lib.rs` and ARCHITECTURE.md is checked against the source, so a
//! change that breaks a layer fails here rather than in review.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// The crate's top-level modules in the order `lib.rs` declares them.
fn layer_order() -> Vec<String> {
    let lib = std::fs::read_to_string(Path::new(SRC).join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|line| line.trim().strip_prefix("pub mod "))
        .map(|rest| rest.trim_end_matches(';').to_owned())
        .collect()
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// The top-level module a file belongs to (`src/sandbox/host.rs` → `sandbox`).
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(SRC).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_str().unwrap().trim_end_matches(".rs").to_owned()
}

/// The file's code without its unit tests and comments.
fn code_of(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap();
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names as `crate::X`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .filter(|(at, _)| {
            // `crate::` itself, not the end of `appliance_crate::` or similar.
            *at == 0
                || !code.as_bytes()[at - 1].is_ascii_alphanumeric()
                    && code.as_bytes()[at - 1] != b'_'
        })
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn lib_rs_declares_every_module_once() {
    let order = layer_order();
    let declared: BTreeSet<_> = order.iter().cloned().collect();
    assert_eq!(
        declared.len(),
        order.len(),
        "a module is declared twice: {order:?}"
    );
    let on_disk: BTreeSet<String> = rust_files(Path::new(SRC))
        .iter()
        .map(|file| module_of(file))
        .filter(|module| module != "lib" && module != "main")
        .collect();
    assert_eq!(
        declared, on_disk,
        "src/lib.rs and the files under src/ disagree"
    );
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let order = layer_order();
    let rank = |module: &str| order.iter().position(|m| m == module);
    let mut violations = Vec::new();
    for file in rust_files(Path::new(SRC)) {
        let module = module_of(&file);
        let Some(own) = rank(&module) else { continue };
        for used in crate_paths(&code_of(&file)) {
            match rank(&used) {
                Some(other) if other > own => violations.push(format!(
                    "{}: `{module}` uses `{used}`, which src/lib.rs lists after it (a layer above)",
                    file.strip_prefix(SRC).unwrap().display()
                )),
                _ => {}
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layer violations:\n{}",
        violations.join("\n")
    );
}

/// Each foreign engine has exactly one owner module.
#[test]
fn wasmtime_stays_in_sandbox_and_rusqlite_in_store() {
    let owners = [
        ("wasmtime", "sandbox"),
        ("wasmtime_wasi", "sandbox"),
        ("rusqlite", "store"),
        ("twilight_gateway", "gateway"),
        ("async_nats", "cluster"),
    ];
    let mut violations = Vec::new();
    for file in rust_files(Path::new(SRC)) {
        let module = module_of(&file);
        let code = code_of(&file);
        for (krate, owner) in owners {
            let named =
                code.contains(&format!("{krate}::")) || code.contains(&format!("use {krate}"));
            if named && module != owner {
                violations.push(format!(
                    "{} names {krate}; only `{owner}` may",
                    file.strip_prefix(SRC).unwrap().display()
                ));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_checks_catch_what_they_claim_to() {
    // The path reader itself, on code shaped like a violation.
    let code = "use crate::dispatch::Head;\nfn f() { crate::sandbox::x(); my_crate::fleet(); }";
    let found: Vec<_> = crate_paths(code).into_iter().collect();
    assert_eq!(found, ["dispatch", "sandbox"]);
    let order = layer_order();
    let position = |m: &str| order.iter().position(|x| x == m).unwrap();
    assert!(position("protocol") < position("sandbox"));
    assert!(position("sandbox") < position("dispatch"));
    assert!(position("http") < position("ingress"));
}
