//! The SDK's sources, embedded so `appliance new` can write them into a
//! new crate: the SDK is not on crates.io, and a bot must build on a
//! machine that has only this binary and a Rust toolchain.
//!
//! One `include_str!` per file keeps cargo rebuilding this binary when the
//! SDK changes; the test below fails when a file of `guest-sdk/` is missing
//! from the list (or the list names one that is gone).

/// `(path, text)` of each named file of `guest-sdk/`.
macro_rules! sdk_files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../guest-sdk/", $path)))),*]
    };
}

/// Every file of `guest-sdk/`: its path there, and its text.
pub(super) const FILES: &[(&str, &str)] = sdk_files![
    "Cargo.toml",
    "README.md",
    "build.rs",
    "wit/world.wit",
    "src/bot.rs",
    "src/command.rs",
    "src/discord.rs",
    "src/error.rs",
    "src/event.rs",
    "src/fake_host.rs",
    "src/gateway.rs",
    "src/glue.rs",
    "src/host.rs",
    "src/interaction.rs",
    "src/interaction/head.rs",
    "src/interaction/scan.rs",
    "src/interaction/tests.rs",
    "src/kv.rs",
    "src/lib.rs",
    "src/log.rs",
    "src/macros.rs",
    "src/prelude.rs",
    "src/response.rs",
    "src/response/components.rs",
    "src/response/embed.rs",
    "src/router.rs",
    "src/router/tests.rs",
    "src/testing.rs",
    "src/testing/event.rs",
    "src/testing/host.rs",
    "src/testing/interaction.rs",
    "src/testing/tests.rs",
];

/// The workspace's lock file: a new bot starts on the versions of the SDK's
/// dependencies that this appliance was tested with (cargo drops the
/// entries the bot does not use at its first build).
pub(super) const CARGO_LOCK: &str = include_str!("../../../Cargo.lock");

/// What `[lints] workspace = true` (which only works inside our workspace)
/// becomes in the SDK's copy: the workspace's rule that matters to it.
const OWN_LINTS: &str = "[lints.rust]\nunsafe_code = \"deny\"\n";

/// `text` of the SDK's file `path`, as the new crate needs it.
pub(super) fn adapt(path: &str, text: &str) -> String {
    if path == "Cargo.toml" {
        text.replace("[lints]\nworkspace = true\n", OWN_LINTS)
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    fn files_under(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            // guest-sdk/python is the Python SDK, not part of the Rust crate.
            if dir == root && path.file_name().is_some_and(|name| name == "python") {
                continue;
            }
            // guest-sdk/js is the JavaScript SDK (`new --lang js|ts` embeds it on its own).
            if dir == root && path.file_name().is_some_and(|name| name == "js") {
                continue;
            }
            if path.is_dir() {
                files_under(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                out.insert(relative.to_str().unwrap().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_file_of_the_sdk_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("guest-sdk");
        let mut on_disk = BTreeSet::new();
        files_under(&root, &root, &mut on_disk);
        let embedded: BTreeSet<String> = super::FILES.iter().map(|(p, _)| p.to_string()).collect();
        let missing: Vec<_> = on_disk.difference(&embedded).collect();
        let gone: Vec<_> = embedded.difference(&on_disk).collect();
        assert!(
            missing.is_empty() && gone.is_empty(),
            "src/cli/new/sdk.rs must list exactly guest-sdk's files (`appliance new` writes them \
             into every new bot): add {missing:?}, remove {gone:?}"
        );
    }

    #[test]
    fn the_sdks_manifest_stands_alone() {
        let (path, text) = super::FILES[0];
        assert_eq!(path, "Cargo.toml");
        let adapted = super::adapt(path, text);
        let manifest: toml::Table = adapted.parse().unwrap();
        assert!(
            !adapted.contains("workspace = true") && !adapted.contains("path ="),
            "the SDK's copy in a new bot cannot refer to our workspace:\n{adapted}"
        );
        assert_eq!(manifest["package"]["name"].as_str(), Some("appliance-sdk"));
        assert_eq!(
            manifest["lints"]["rust"]["unsafe_code"].as_str(),
            Some("deny")
        );
    }
}
