//! `appliance new --lang js|ts`: a JavaScript or TypeScript bot project.
//!
//! Like the Rust crate, the project carries its SDK (guest-sdk/js, embedded
//! here file by file, with the WIT it builds against) as `appliance-sdk/`;
//! its `package.json` pins the build tools to the versions the SDK's lock
//! file was tested with.

use super::Template;

/// The SDK's files, by their path in `appliance-sdk/`.
const SDK_FILES: [(&str, &str); 6] = [
    (
        "package.json",
        include_str!("../../../guest-sdk/js/package.json"),
    ),
    ("README.md", include_str!("../../../guest-sdk/js/README.md")),
    (
        "src/index.js",
        include_str!("../../../guest-sdk/js/src/index.js"),
    ),
    (
        "src/index.d.ts",
        include_str!("../../../guest-sdk/js/src/index.d.ts"),
    ),
    (
        "bin/appliance-js.js",
        include_str!("../../../guest-sdk/js/bin/appliance-js.js"),
    ),
    // appliance-js looks for it beside the SDK when there is no ../wit.
    (
        "wit/world.wit",
        include_str!("../../../guest-sdk/wit/world.wit"),
    ),
];

const COMMAND_JS: &str = include_str!("../templates/js/command.js");
const COMMAND_TS: &str = include_str!("../templates/js/command.ts");
const COUNTER_JS: &str = include_str!("../templates/js/counter.js");
const COUNTER_TS: &str = include_str!("../templates/js/counter.ts");
const EVENTS_JS: &str = include_str!("../templates/js/events.js");
const EVENTS_TS: &str = include_str!("../templates/js/events.ts");
const TSCONFIG: &str = include_str!("../templates/js/tsconfig.json");
const GITIGNORE: &str = include_str!("../templates/js/gitignore");
const README: &str = include_str!("../templates/js/README.md");

/// TypeScript's version for `npm run check`: the one the SDK's lock file
/// installs (through jco), so the project checks as the SDK's examples do.
const TYPESCRIPT: &str = "7.0.2";

/// Every file of the project: path (relative, `/`-separated) and text.
pub(super) fn files(name: &str, template: Template, typescript: bool) -> Vec<(String, String)> {
    let ext = if typescript { "ts" } else { "js" };
    let bot = match (template, typescript) {
        (Template::Command, false) => COMMAND_JS,
        (Template::Command, true) => COMMAND_TS,
        (Template::Counter, false) => COUNTER_JS,
        (Template::Counter, true) => COUNTER_TS,
        (Template::Events, false) => EVENTS_JS,
        (Template::Events, true) => EVENTS_TS,
    };
    let readme = README
        .replace(
            "{{Language}}",
            if typescript {
                "TypeScript"
            } else {
                "JavaScript"
            },
        )
        .replace("{{ext}}", ext)
        .replace(
            "{{check}}",
            if typescript {
                "\nnpm run check   # the type checker (tsc), optional"
            } else {
                ""
            },
        )
        .replace("{{name}}", name);
    let mut files = vec![
        (
            "package.json".to_owned(),
            package_json(name, ext, typescript),
        ),
        (".gitignore".to_owned(), GITIGNORE.to_owned()),
        (format!("src/bot.{ext}"), bot.replace("{{name}}", name)),
        ("README.md".to_owned(), readme),
    ];
    if typescript {
        files.push(("tsconfig.json".to_owned(), TSCONFIG.to_owned()));
    }
    files.extend(
        SDK_FILES
            .iter()
            .map(|(path, text)| (format!("appliance-sdk/{path}"), (*text).to_owned())),
    );
    files
}

/// The project's `package.json`: the build script, and the SDK's pinned tools.
fn package_json(name: &str, ext: &str, typescript: bool) -> String {
    let sdk: serde_json::Value =
        serde_json::from_str(SDK_FILES[0].1).expect("guest-sdk/js/package.json is JSON");
    let mut tools = sdk["dependencies"].clone();
    let mut scripts = serde_json::json!({
        "build": format!("node appliance-sdk/bin/appliance-js.js build src/bot.{ext} -o {name}.wasm"),
    });
    if typescript {
        tools["typescript"] = TYPESCRIPT.into();
        scripts["check"] = "tsc -p .".into();
    }
    let package = serde_json::json!({
        // npm wants lower case.
        "name": name.to_ascii_lowercase(),
        "private": true,
        "type": "module",
        "scripts": scripts,
        "devDependencies": tools,
    });
    serde_json::to_string_pretty(&package).expect("JSON") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_pins_the_sdks_tools_and_builds_its_own_bot() {
        let project = files("My-Bot", Template::Counter, true);
        let package: serde_json::Value =
            serde_json::from_str(&project.iter().find(|(p, _)| p == "package.json").unwrap().1)
                .unwrap();
        assert_eq!(package["name"], "my-bot");
        assert_eq!(
            package["devDependencies"]["@bytecodealliance/componentize-js"],
            "0.23.0"
        );
        assert_eq!(
            package["scripts"]["build"],
            "node appliance-sdk/bin/appliance-js.js build src/bot.ts -o My-Bot.wasm"
        );
        for path in ["src/bot.ts", "tsconfig.json", "appliance-sdk/wit/world.wit"] {
            assert!(project.iter().any(|(p, _)| p == path), "{path}");
        }
        let js = files("b", Template::Events, false);
        assert!(js.iter().any(|(p, _)| p == "src/bot.js"));
        assert!(!js.iter().any(|(p, _)| p == "tsconfig.json"));
        for template in [Template::Command, Template::Counter, Template::Events] {
            for typescript in [false, true] {
                for (path, text) in files("my-bot", template, typescript) {
                    assert!(
                        path.starts_with("appliance-sdk/") || !text.contains("{{"),
                        "{template:?} (ts: {typescript}): {path} has a placeholder left"
                    );
                }
            }
        }
    }

    #[test]
    fn every_file_the_sdk_needs_is_embedded() {
        let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("guest-sdk/js");
        for dir in ["src", "bin"] {
            for entry in std::fs::read_dir(sdk.join(dir)).unwrap() {
                let path = format!("{dir}/{}", entry.unwrap().file_name().to_str().unwrap());
                assert!(
                    SDK_FILES.iter().any(|(p, _)| *p == path),
                    "guest-sdk/js/{path} is not embedded in cli::new::js"
                );
            }
        }
    }
}
