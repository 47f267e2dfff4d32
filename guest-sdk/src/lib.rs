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
//!   and follow-ups to an interaction;
//! - [`gateway`]: commands over the bot's gateway sessions, for a bot that
//!   reacts to events (below).
//!
//! Discord's data model comes from [`twilight_model`], re-exported as
//! [`model`], so anything the convenience methods do not cover is one field
//! access away.
//!
//! # Reacting to events
//!
//! A bot that also implements [`EventBot`] and is exported with
//! `bot!(MyBot, events)` gets Discord's events (messages posted, members
//! joining, ...) as [`Event`]s: the host holds the bot's gateway sessions
//! (the token never reaches the bot) once it is deployed with `--intents`.
//!
//! ```no_run
//! use appliance_sdk::{log, Bot, Event, EventBot, Interaction, Response, Result};
//!
//! struct Greeter;
//!
//! impl Bot for Greeter {
//!     fn handle(_: Interaction) -> Result<Response> {
//!         Ok(Response::message("hello").ephemeral())
//!     }
//! }
//!
//! impl EventBot for Greeter {
//!     fn on_event(event: Event) -> Result<()> {
//!         if let Some(member) = event.member_add()? {
//!             log::info(format!("{} joined", member.user.name));
//!         } else if let Some(dropped) = event.dropped() {
//!             log::warn(format!("missed {} events", dropped.count));
//!         }
//!         // Anything else, including events this bot has never heard of: ignore.
//!         Ok(())
//!     }
//! }
//!
//! appliance_sdk::bot!(Greeter, events);
//! # fn main() {}
//! ```
//!
//! Delivery is at least once, and in order within one channel; see
//! [`EventBot`] for what that means for a handler. [`gateway`] sends
//! commands (presence, member requests) over the bot's sessions.
#![deny(missing_docs)]

// Lets the SDK's own tests and doc examples name it `::appliance_sdk`, as
// the code `bot!(MyBot, events)` generates does.
extern crate self as appliance_sdk;

pub mod command;
pub mod discord;
mod error;
mod event;
pub mod gateway;
mod host;
mod interaction;
pub mod kv;
pub mod log;
mod macros;
mod response;

pub use error::{Error, Result};
pub use event::{Dropped, Event};
pub use interaction::Interaction;
pub use kv::KvError;
pub use response::{row, Button, Embed, Response, SelectMenu, SelectOption, TextInput};

/// Discord's data model, re-exported from [`twilight_model`].
///
/// Use it to reach parts of an interaction that [`Interaction`] has no
/// shortcut for (see [`Interaction::twilight`]), or to build rich responses
/// (embeds, components) for [`Response`].
pub use twilight_model as model;

/// twilight-model's gateway events, which [`Event::parse`] reads an event
/// into.
pub use twilight_model::gateway::event::DispatchEvent;

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

/// A bot that also reacts to Discord events: [`Bot`] plus one more
/// associated function, exported by [`bot!(MyBot, events)`](bot!).
///
/// The host calls [`on_event`](Self::on_event) for every event the bot's
/// intents subscribe it to (`appliance deploy --intents ...`), for Discord's
/// webhook events (`APPLICATION_AUTHORIZED`, ...) if the application sends
/// them to the node, and with `APPLIANCE_EVENTS_DROPPED` (see
/// [`Event::dropped`]) when it had to drop events.
///
/// What a handler can rely on:
///
/// - **At least once.** An event may arrive twice (after a reconnect, say).
///   A handler whose effect must not repeat dedupes: by the payload's own IDs
///   (a message's `id`), or by [`Event::shard`] and [`Event::sequence`],
///   which a redelivered dispatch keeps.
/// - **In order per channel.** Events of one channel arrive in the order
///   Discord sent them; events of different channels or servers may
///   interleave, and may run at the same time in different instances.
/// - **Drops are announced.** When the bot falls behind, the host drops
///   events rather than queue them without end, and then says how many with
///   an `APPLIANCE_EVENTS_DROPPED` event.
/// - **The same limits as interactions**: CPU, memory and wall-clock per
///   event, the same instances, the same [`kv`], [`log`] and [`discord`].
///   There is no interaction to answer, so
///   [`Interaction::respond`] cannot be called and the `Ok` carries nothing.
///
/// Returning `Err` records the error in the bot's log for its owner (nobody
/// else sees it). Unknown event names are not
/// errors: Discord adds events, so ignore what the bot does not handle.
pub trait EventBot: Bot {
    /// Handles one event.
    fn on_event(event: Event) -> Result<()>;
}

/// Runs `B` on one event: the body of the `handle-event` export that
/// [`bot!(MyBot, events)`](bot!) generates.
///
/// Public for tests and custom glue; bots normally never call it.
pub fn handle_event<B: EventBot>(event: Event) -> std::result::Result<(), String> {
    B::on_event(event).map_err(|e| e.to_string())
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

/// Bindings for the `gateway` interface alone, for [`gateway`]. Not part of
/// the public API.
///
/// They come from a world of their own that imports only `gateway`: the
/// component-type section they leave in every bot then names nothing but
/// `gateway`, which `wit-component` drops from a bot that never calls it. A
/// plain bot therefore stays of world `bot`.
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod wit_gateway {
    wit_bindgen::generate!({
        path: "wit",
        inline: "
            package appliance:sdk-gateway;
            world gateway-client {
                import appliance:bot/gateway@0.1.0;
            }
        ",
        world: "appliance:sdk-gateway/gateway-client",
        generate_all,
    });
}

// `bot!(MyBot, events)` generates the bindings of world `event-bot` in the
// bot's own crate (see `macros.rs` for why); build.rs writes the macro that
// does it, with the absolute path of `wit/`.
include!(concat!(env!("OUT_DIR"), "/event_bot_bindings.rs"));

/// The wit-bindgen runtime, for the bindings `bot!(MyBot, events)`
/// generates in the bot's crate. Not part of the public API.
#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

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
