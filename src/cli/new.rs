//! `appliance new`: writes a bot crate that builds on its own.
//!
//! The SDK is not on crates.io, so the crate gets its own copy of it,
//! embedded in this binary (`sdk`), beside the bot's sources; with it goes
//! the workspace's `Cargo.lock`, so a new bot starts on the dependency
//! versions this appliance was built and tested with.

mod js;
mod py;
mod sdk;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// The kind of bot a new crate starts as.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Template {
    /// One typed slash command with an option, and a button
    #[default]
    Command,
    /// A counter kept in the bot's key-value store
    Counter,
    /// A bot that reacts to gateway events (messages), with a command
    Events,
}

/// The language a new bot is written in.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Rust, with the appliance-sdk crate (built with cargo)
    #[default]
    Rust,
    /// JavaScript, with guest-sdk/js (built with ComponentizeJS; needs Node.js 20+)
    Js,
    /// TypeScript, with guest-sdk/js (built with esbuild and ComponentizeJS; needs Node.js 20+)
    Ts,
    /// Python, with guest-sdk/python (built with componentize-py; needs Python 3.10+)
    Py,
}

#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// The bot's crate name (a letter, then letters, digits, `-` or `_`)
    pub name: String,
    /// What the bot starts as
    #[arg(long, value_enum, default_value_t = Template::Command)]
    pub template: Template,
    /// The language to write it in
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,
    /// Where to write the crate [default: ./NAME]
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(
        "{0:?} is not a crate name: use a letter, then letters, digits, `-` or `_` (at most 64)"
    )]
    BadName(String),
    #[error("{0:?} is reserved by Rust or used by the bot's dependencies; pick another name")]
    ReservedName(String),
    #[error("{} exists and is not empty; pick another --path, or remove it", .0.display())]
    NotEmpty(PathBuf),
}

/// The template files (`{{name}}`, `{{crate}}`, `{{Bot}}`, `{{version}}`
/// are filled in).
const CARGO_TOML: &str = include_str!("templates/Cargo.toml");
const GITIGNORE: &str = include_str!("templates/gitignore");
const COMMAND_RS: &str = include_str!("templates/command.rs");
const COUNTER_RS: &str = include_str!("templates/counter.rs");
const EVENTS_RS: &str = include_str!("templates/events.rs");
const COMMAND_README: &str = include_str!("templates/command.md");
const COUNTER_README: &str = include_str!("templates/counter.md");
const EVENTS_README: &str = include_str!("templates/events.md");
const README_COMMON: &str = include_str!("templates/common.md");

/// The folder inside the new crate that holds the SDK.
const SDK_DIR: &str = "appliance-sdk";

pub fn run(args: NewArgs) -> anyhow::Result<()> {
    let name = &args.name;
    check_name(name)?;
    let dir = args.path.clone().unwrap_or_else(|| PathBuf::from(name));
    let files = match args.lang {
        Lang::Rust => files(name, args.template),
        Lang::Js | Lang::Ts => js::files(name, args.template, args.lang == Lang::Ts),
        Lang::Py => py::files(name, args.template),
    };
    write_all(&dir, &files)?;
    let shown = dir.display();
    println!(
        "wrote {} bot {name} in {shown}",
        match args.template {
            Template::Command => "command",
            Template::Counter => "counter",
            Template::Events => "events",
        }
    );
    println!();
    if args.lang == Lang::Py {
        println!("next:");
        println!("  cd {shown}");
        println!("  python3 -m venv ~/.venvs/appliance && ~/.venvs/appliance/bin/pip install --require-hashes -r appliance-sdk/requirements.txt");
        println!("  PYTHONPATH=appliance-sdk ~/.venvs/appliance/bin/python -m unittest   # the bot's tests");
        println!("  PYTHONPATH=appliance-sdk ~/.venvs/appliance/bin/python -m appliance_bot.build app.py -o {name}.wasm");
        println!(
            "  appliance deploy {name}.wasm --name {name} --app-id ID --public-key HEX --token-env DISCORD_TOKEN"
        );
        println!();
        println!("README.md says more (the SDK's guide is appliance-sdk/README.md).");
        return Ok(());
    }
    if matches!(args.lang, Lang::Js | Lang::Ts) {
        println!("next:");
        println!("  cd {shown}");
        println!("  npm install                                  # the pinned build tools, once");
        println!("  npm run build                                # writes {name}.wasm");
        println!(
            "  appliance deploy {name}.wasm --name {name} --app-id ID --public-key HEX --token-env DISCORD_TOKEN"
        );
        println!();
        println!("README.md says more (the SDK's guide is appliance-sdk/README.md).");
        return Ok(());
    }
    println!("next:");
    println!("  cd {shown}");
    println!("  cargo test                                   # the bot's tests, no node needed");
    println!("  cargo build --release --target wasm32-wasip2");
    println!(
        "  appliance dev --name {name} --app-id ID --public-key HEX --token-env DISCORD_TOKEN --guild GUILD_ID"
    );
    println!();
    println!("README.md says more (deploying for real, testing, the SDK's docs).");
    Ok(())
}

/// Cargo's rules for a package name, kept to what also makes a good file
/// and bot name: ASCII, starting with a letter.
fn check_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !starts_with_letter
        || name.len() > 64
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::BadName(name.to_owned()));
    }
    // Cargo refuses keywords and the standard library's crates as package
    // names; the bot's own dependencies would clash with its library.
    const RESERVED: &str = "abstract alloc as async await become box break const continue core \
        crate do dyn else enum extern false final fn for if impl in let loop macro match mod move \
        mut override priv proc_macro pub ref return self static std struct super test trait true \
        try type typeof unsafe unsized use virtual where while yield appliance_sdk serde \
        serde_json twilight_interactions twilight_model wit_bindgen";
    let as_ident = name.replace('-', "_");
    if RESERVED.split_whitespace().any(|word| word == as_ident) {
        return Err(Error::ReservedName(name.to_owned()));
    }
    Ok(())
}

/// The bot's type: the crate name in CamelCase, ending in `Bot`
/// (`my-counter` → `MyCounterBot`), unless that names one of the SDK's own
/// types.
fn type_name(name: &str) -> String {
    let mut camel: String = name
        .split(['-', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    if !camel.ends_with("Bot") {
        camel.push_str("Bot");
    }
    match camel.as_str() {
        "Bot" | "EventBot" | "TestBot" => "MyBot".to_owned(),
        _ => camel,
    }
}

/// Every file of the new crate: path (relative, `/`-separated) and text.
fn files(name: &str, template: Template) -> Vec<(String, String)> {
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{Bot}}", &type_name(name))
            .replace("{{version}}", env!("CARGO_PKG_VERSION"))
    };
    let (lib, readme) = match template {
        Template::Command => (COMMAND_RS, COMMAND_README),
        Template::Counter => (COUNTER_RS, COUNTER_README),
        Template::Events => (EVENTS_RS, EVENTS_README),
    };
    let mut files = vec![
        ("Cargo.toml".to_owned(), fill(CARGO_TOML)),
        ("Cargo.lock".to_owned(), sdk::CARGO_LOCK.to_owned()),
        (".gitignore".to_owned(), GITIGNORE.to_owned()),
        ("src/lib.rs".to_owned(), fill(lib)),
        (
            "README.md".to_owned(),
            fill(&format!("{readme}\n{README_COMMON}")),
        ),
    ];
    files.extend(
        sdk::FILES
            .iter()
            .map(|(path, text)| (format!("{SDK_DIR}/{path}"), sdk::adapt(path, text))),
    );
    files
}

/// Writes `files` under `dir`, which must not exist or be empty. A failed
/// write leaves what was written: the next attempt then needs another dir,
/// which the error says.
fn write_all(dir: &Path, files: &[(String, String)]) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(Error::NotEmpty(dir.to_owned()));
            }
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read {}", dir.display()));
        }
    }
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_cargos_rules() {
        for good in ["hello", "my-bot", "my_bot2", "a"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "2fast",
            "-x",
            "my bot",
            "bot!",
            "héllo",
            &"x".repeat(65),
        ] {
            assert!(matches!(check_name(bad), Err(Error::BadName(_))), "{bad:?}");
        }
        for reserved in ["test", "self", "std", "twilight-model", "appliance-sdk"] {
            assert!(
                matches!(check_name(reserved), Err(Error::ReservedName(_))),
                "{reserved}"
            );
        }
    }

    #[test]
    fn type_names_are_camel_case_and_never_the_sdks() {
        assert_eq!(type_name("hello"), "HelloBot");
        assert_eq!(type_name("my-counter_bot"), "MyCounterBot");
        assert_eq!(type_name("bot"), "MyBot");
        assert_eq!(type_name("event-bot"), "MyBot");
        assert_eq!(type_name("test_bot"), "MyBot");
    }

    #[test]
    fn templates_leave_no_placeholder_unfilled() {
        for template in [Template::Command, Template::Counter, Template::Events] {
            for (path, text) in files("my-bot", template) {
                if !path.starts_with(SDK_DIR) {
                    assert!(
                        !text.contains("{{"),
                        "{template:?}: {path} has a placeholder left"
                    );
                }
            }
        }
    }

    #[test]
    fn refuses_a_non_empty_directory_and_fills_an_empty_one() {
        let temp = tempfile::tempdir().unwrap();
        std::fs::write(temp.path().join("keep.txt"), "mine").unwrap();
        let files = files("my-bot", Template::Command);
        let err = write_all(temp.path(), &files).unwrap_err();
        assert!(err.to_string().contains("is not empty"), "{err}");
        assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 1);

        let empty = temp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        write_all(&empty, &files).unwrap();
        assert!(empty.join("appliance-sdk/src/lib.rs").is_file());
        assert!(empty.join("src/lib.rs").is_file());
    }
}
