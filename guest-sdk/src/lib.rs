//! Write Discord bots for the appliance host as WebAssembly components.
//!
//! A bot is a type that implements [`Bot`]: one associated function that
//! receives an [`Interaction`] (a slash command, a button press, a modal
//! submission, ...) and returns a [`Response`]. The [`bot!`] macro exports
//! that function as the `handle-interaction` export of the `appliance:bot`
//! WIT world, so the host can call it.
//!
//! ```no_run
//! use appliance_sdk::{Bot, Interaction, Response};
//!
//! struct Hello;
//!
//! impl Bot for Hello {
//!     fn handle(interaction: Interaction) -> appliance_sdk::Result<Response> {
//!         match interaction.command_name() {
//!             Some("ping") => Ok(Response::message("pong")),
//!             _ => Ok(Response::message("unknown command").ephemeral()),
//!         }
//!     }
//! }
//!
//! appliance_sdk::bot!(Hello);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; the result
//! in `target/wasm32-wasip2/release/` is a component that `appliance deploy`
//! accepts.
//!
//! Besides the handler, a bot may use the host's services:
//! - [`kv`]: a small per-bot key-value store (counters, settings, state);
//! - [`log`]: leveled log lines, shown by `appliance logs NAME`;
//! - [`discord`]: Discord's REST API as this bot (token kept by the host),
//!   and follow-ups to an interaction.
//!
//! Discord's data model comes from [`twilight_model`], re-exported as
//! [`model`], so anything the convenience methods do not cover is one field
//! access away.
#![deny(missing_docs)]

pub mod discord;
mod error;
mod interaction;
pub mod kv;
pub mod log;
mod macros;
mod response;

pub use error::{Error, Result};
pub use interaction::Interaction;
pub use kv::KvError;
pub use response::{button, embed, paragraph_input, row, text_input, Response};

/// Discord's data model, re-exported from [`twilight_model`].
///
/// Use it to reach parts of an interaction that [`Interaction`] has no
/// shortcut for (see [`Interaction::twilight`]), or to build rich responses
/// (embeds, components) for [`Response`].
pub use twilight_model as model;

/// This SDK's version (the crate version), for diagnostics.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The WIT package this SDK is built against; the host must support it.
pub const WIT_PACKAGE: &str = "appliance:bot@0.1.0";

/// A Discord bot: the one function the host calls for every interaction.
///
/// The function is associated (it takes no `self`): the host may keep the
/// bot's instance alive between interactions, but a bot must not rely on it.
/// Keep state that matters in [`kv`].
///
/// Returning `Err` makes the host show the error's text to the user as an
/// ephemeral notice and record it in the bot's log. A panic is a crash: the
/// host records it and replaces the instance.
pub trait Bot {
    /// Answers one interaction.
    fn handle(interaction: Interaction) -> Result<Response>;
}

/// Runs `B` on one interaction's JSON and returns the response's JSON: the
/// body of the `handle-interaction` export that [`bot!`] generates.
///
/// Public for tests and custom glue; bots normally never call it.
pub fn handle_json<B: Bot>(interaction: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let run = || -> Result<Vec<u8>> {
        let interaction = Interaction::from_json(interaction)?;
        B::handle(interaction)?.to_json()
    };
    run().map_err(|e| e.to_string())
}

/// Bindings generated from `wit/world.wit`; used by [`bot!`]. Not part of
/// the public API: use [`kv`], [`log`] and [`Bot`] instead.
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod wit {
    wit_bindgen::generate!({
        path: "wit",
        world: "bot",
        // The bot crate invokes the export macro through `bot!`, so the
        // macro must be public and must find these bindings by absolute path.
        pub_export_macro: true,
        export_macro_name: "__export_bot",
        default_bindings_module: "::appliance_sdk::wit",
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_package_is_the_one_world_wit_declares() {
        let wit = include_str!("../wit/world.wit");
        let declared = wit
            .lines()
            .find_map(|line| line.trim().strip_prefix("package "))
            .map(|rest| rest.trim_end_matches(';'));
        assert_eq!(declared, Some(WIT_PACKAGE));
    }

    /// The ping example's logic, to test the export glue end to end.
    struct Ping;

    impl Bot for Ping {
        fn handle(interaction: Interaction) -> Result<Response> {
            match interaction.command_name() {
                Some("ping") => Ok(Response::message("pong")),
                Some("fail") => Err("it failed".into()),
                _ => Ok(Response::message("unknown command").ephemeral()),
            }
        }
    }

    /// Runs `Ping` through the glue with a command called `name`.
    fn run(name: &str) -> std::result::Result<String, String> {
        let body = format!(
            r#"{{"type":2,"id":"1","application_id":"2","token":"t","data":{{"id":"3","name":"{name}"}},"user":{{"id":"42","username":"alice"}}}}"#
        );
        handle_json::<Ping>(body.as_bytes()).map(|bytes| String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn glue_turns_json_into_json() {
        assert_eq!(
            run("ping").unwrap(),
            r#"{"type":4,"data":{"content":"pong"}}"#
        );
        assert_eq!(
            run("nope").unwrap(),
            r#"{"type":4,"data":{"content":"unknown command","flags":64}}"#
        );
    }

    #[test]
    fn glue_reports_errors_as_strings() {
        assert_eq!(run("fail").unwrap_err(), "it failed");
        let garbage = handle_json::<Ping>(b"not json").unwrap_err();
        assert!(
            garbage.starts_with("the interaction is not valid JSON"),
            "{garbage}"
        );
    }
}
