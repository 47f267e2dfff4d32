//! Write Discord bots for the appliance host as WebAssembly components.
//!
//! A bot is a type holding its instance state, with a [`Router`] that sends
//! each interaction (a slash command, a button press, a modal submission,
//! ...) to one of its methods. Slash commands are types of the bot's own,
//! whose fields are the options ([`command`]): the same type declares the
//! command to Discord and receives its options, already parsed.
//!
//! ```no_run
//! use appliance_sdk::prelude::*;
//!
//! #[derive(CommandModel, CreateCommand)]
//! #[command(name = "remind", desc = "Remind me later")]
//! struct Remind {
//!     /// How many seconds to wait
//!     #[command(min_value = 1, max_value = 900)]
//!     seconds: i64,
//!     /// What to remind you of
//!     text: String,
//! }
//!
//! #[derive(Default)]
//! struct MyBot {
//!     served: u64, // instance state: lives as long as the instance, not durable
//! }
//!
//! impl Bot for MyBot {
//!     fn router() -> Router<Self> {
//!         Router::new()
//!             .command(Self::remind)
//!             .component("snooze:", Self::snooze)
//!     }
//! }
//!
//! impl MyBot {
//!     fn remind(&mut self, i: &Interaction, cmd: Remind) -> Result<Response> {
//!         self.served += 1;
//!         i.defer()?; // "thinking..." now; the answer below replaces it
//!         Ok(Response::message(format!("in {}s: {}", cmd.seconds, cmd.text)))
//!     }
//!
//!     fn snooze(&mut self, _: &Interaction, minutes: &str) -> Result<Response> {
//!         Ok(Response::message(format!("snoozed for {minutes} minutes")).ephemeral())
//!     }
//! }
//!
//! appliance_sdk::bot!(MyBot);
//! # fn main() {}
//! ```
//!
//! The derives name `::twilight_interactions` and `::twilight_model`, so a
//! bot crate lists `twilight-interactions = "0.18"` and `twilight-model =
//! "0.18"` beside `appliance-sdk`. Build it with `cargo build --release
//! --target wasm32-wasip2`; the result in `target/wasm32-wasip2/release/` is
//! a component that `appliance deploy` accepts, and the deploy registers
//! the routed commands with Discord ([`Router::commands_json`]).
//!
//! Besides its handlers, a bot may use the host's services:
//! - [`kv`]: a small per-bot key-value store (counters, settings, state that
//!   must outlive the instance);
//! - [`log`]: leveled log lines, shown by `appliance logs NAME`;
//! - [`discord`]: Discord's REST API as this bot (token kept by the host);
//!   [`Interaction`] wraps the calls about the interaction itself
//!   (follow-ups, editing the answer);
//! - [`gateway`]: commands over the bot's gateway sessions, for a bot that
//!   reacts to events (below).
//!
//! Discord's data model comes from [`twilight_model`], re-exported as
//! [`model`], so anything the readers and builders do not cover is one
//! field access away.
//!
//! # Reacting to events
//!
//! A bot that also implements [`EventBot`] and is exported with
//! `bot!(MyBot, events)` gets Discord's events (messages posted, members
//! joining, ...) as [`Event`]s: the host holds the bot's gateway sessions
//! (the token never reaches the bot) once it is deployed with `--intents`.
//!
//! ```no_run
//! use appliance_sdk::prelude::*;
//!
//! #[derive(Default)]
//! struct Greeter;
//!
//! impl Bot for Greeter {
//!     fn router() -> Router<Self> {
//!         Router::new()
//!     }
//! }
//!
//! impl EventBot for Greeter {
//!     fn on_event(&mut self, event: Event) -> Result<()> {
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

#[doc(hidden)]
#[path = "glue.rs"]
pub mod __glue;
mod bot;
pub mod command;
pub mod discord;
mod error;
mod event;
#[cfg(test)]
mod fake_host;
pub mod gateway;
mod host;
mod interaction;
pub mod kv;
pub mod log;
mod macros;
pub mod prelude;
mod response;
mod router;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use bot::{Bot, EventBot};
pub use error::{Error, Result};
pub use event::{Dropped, Event};
pub use interaction::Interaction;
pub use kv::KvError;
pub use response::{row, Button, Embed, Response, SelectMenu, SelectOption, TextInput};
pub use router::{ContextMenu, Focused, Router};

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

/// Bindings of world `command-bot`, generated from `wit/world.wit`; used by
/// [`bot!`]. Not part of the public API: use [`kv`], [`log`] and [`Bot`]
/// instead.
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod wit {
    wit_bindgen::generate!({
        path: "wit",
        world: "command-bot",
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
/// plain bot therefore stays of world `command-bot`.
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

// `bot!(MyBot, events)` generates the bindings of world `command-event-bot` in the
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
}
