//! `appliance new --lang py`: a Python bot project.
//!
//! Like the Rust crate, the project carries its SDK (guest-sdk/python,
//! embedded here file by file, with the WIT it builds against and the
//! pinned build tools' requirements) as `appliance-sdk/`.

use super::Template;

/// `(path, text)` of each file of guest-sdk/python that a project needs.
macro_rules! py_sdk_files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../guest-sdk/python/", $path)))),*]
    };
}

/// The SDK's files, by their path in guest-sdk/python and in `appliance-sdk/`.
const SDK_FILES: &[(&str, &str)] = py_sdk_files![
    "README.md",
    "requirements.txt",
    "appliance_bot/__init__.py",
    "appliance_bot/_export.py",
    "appliance_bot/_host.py",
    "appliance_bot/bot.py",
    "appliance_bot/build.py",
    "appliance_bot/discord.py",
    "appliance_bot/errors.py",
    "appliance_bot/event.py",
    "appliance_bot/gateway.py",
    "appliance_bot/interaction.py",
    "appliance_bot/kv.py",
    "appliance_bot/log.py",
    "appliance_bot/py.typed",
    "appliance_bot/response.py",
    "appliance_bot/testing.py",
];

/// The build looks for it in `appliance-sdk/wit` when there is no ../wit.
const WIT: &str = include_str!("../../../guest-sdk/wit/world.wit");

const COMMAND: &str = include_str!("../templates/py/command.py");
const COMMAND_TEST: &str = include_str!("../templates/py/command_test.py");
const COUNTER: &str = include_str!("../templates/py/counter.py");
const COUNTER_TEST: &str = include_str!("../templates/py/counter_test.py");
const EVENTS: &str = include_str!("../templates/py/events.py");
const EVENTS_TEST: &str = include_str!("../templates/py/events_test.py");
const GITIGNORE: &str = include_str!("../templates/py/gitignore");
const README: &str = include_str!("../templates/py/README.md");

/// Every file of the project: path (relative, `/`-separated) and text.
pub(super) fn files(name: &str, template: Template) -> Vec<(String, String)> {
    let (app, test) = match template {
        Template::Command => (COMMAND, COMMAND_TEST),
        Template::Counter => (COUNTER, COUNTER_TEST),
        Template::Events => (EVENTS, EVENTS_TEST),
    };
    let mut files = vec![
        ("app.py".to_owned(), app.replace("{{name}}", name)),
        ("test_app.py".to_owned(), test.to_owned()),
        ("README.md".to_owned(), README.replace("{{name}}", name)),
        (".gitignore".to_owned(), GITIGNORE.to_owned()),
        ("appliance-sdk/wit/world.wit".to_owned(), WIT.to_owned()),
    ];
    files.extend(
        SDK_FILES
            .iter()
            .map(|(path, text)| (format!("appliance-sdk/{path}"), (*text).to_owned())),
    );
    files
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    #[test]
    fn every_module_of_the_python_sdk_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("guest-sdk/python/appliance_bot");
        let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".py") || name == "py.typed")
            .map(|name| format!("appliance_bot/{name}"))
            .collect();
        let embedded: BTreeSet<String> = SDK_FILES
            .iter()
            .map(|(path, _)| path.to_string())
            .filter(|path| path.starts_with("appliance_bot/"))
            .collect();
        assert_eq!(
            on_disk, embedded,
            "src/cli/new/py.rs must list exactly the modules of guest-sdk/python/appliance_bot"
        );
    }

    #[test]
    fn the_project_has_its_bot_tests_sdk_and_wit() {
        let files = files("greeter", Template::Counter);
        let paths: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
        for wanted in [
            "app.py",
            "test_app.py",
            "appliance-sdk/wit/world.wit",
            "appliance-sdk/requirements.txt",
            "appliance-sdk/appliance_bot/build.py",
        ] {
            assert!(paths.contains(&wanted), "{wanted} missing from {paths:?}");
        }
        let app = &files[0].1;
        assert!(app.contains("greeter") && app.contains("kv.incr"), "{app}");
    }
}
