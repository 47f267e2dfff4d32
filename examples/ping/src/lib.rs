//! The smallest useful bot: answers `/ping` with "pong".
//!
//! It shows the whole shape of an appliance bot: a type implementing
//! [`appliance_sdk::Bot`], a `match` on the command name, responses built
//! with [`Response`], and the [`appliance_sdk::bot!`] export at the end.
//!
//! Commands (register them with Discord as slash commands):
//! - `/ping` answers `pong` for everyone in the channel to see;
//! - `/ping private:True` (an optional boolean option named `private`)
//!   answers `pong` ephemerally, visible only to the caller;
//! - anything else gets an ephemeral "unknown command".
//!
//! Build, from the repository root:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2 -p ping-bot
//! ```
//!
//! and deploy `target/wasm32-wasip2/release/ping_bot.wasm` with
//! `appliance deploy ... --app-id ID --public-key HEX`.

use appliance_sdk::{Bot, Interaction, Response, Result};

/// The bot. It keeps no state, so it is an empty type: the host calls the
/// associated function [`Bot::handle`] for every interaction.
struct Ping;

impl Bot for Ping {
    fn handle(interaction: Interaction) -> Result<Response> {
        match interaction.command_name() {
            Some("ping") => {
                let reply = Response::message("pong");
                // A missing option reads as `None`: default to a public reply.
                if interaction.option_bool("private").unwrap_or(false) {
                    Ok(reply.ephemeral())
                } else {
                    Ok(reply)
                }
            }
            // Buttons, modals and unregistered commands all land here.
            // Ephemeral keeps the channel clean.
            _ => Ok(Response::message("unknown command").ephemeral()),
        }
    }
}

// Exports `Ping::handle` as the component's `handle-interaction`.
appliance_sdk::bot!(Ping);
