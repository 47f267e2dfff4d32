//! A per-user counter: shows the host's key-value store and log.
//!
//! Commands (register them with Discord as slash commands):
//! - `/count` adds one to the caller's count and answers, for example,
//!   "alice, you have counted 3 times";
//! - `/reset` deletes the caller's count (answered ephemerally);
//! - anything else gets an ephemeral "unknown command".
//!
//! Each user's count lives under the key `count:{user_id}` in the bot's own
//! keyspace, so it survives restarts, redeploys and rollbacks of the bot.
//! Every count is also written to the bot's log (`appliance logs NAME`).
//!
//! Build, from the repository root:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2 -p counter-bot
//! ```
//!
//! and deploy `target/wasm32-wasip2/release/counter_bot.wasm` with
//! `appliance deploy ... --app-id ID --public-key HEX`.

use appliance_sdk::{kv, log, Bot, Interaction, Response, Result};

/// The bot. All its state is in the key-value store, none in memory.
struct Counter;

impl Bot for Counter {
    fn handle(interaction: Interaction) -> Result<Response> {
        // Discord always names the caller: `member.user` in a server, `user`
        // in a direct message. Without one there is nobody to count for.
        let Some(user_id) = interaction.user_id() else {
            return Ok(Response::message("I can't tell who you are.").ephemeral());
        };
        let key = format!("count:{user_id}");

        match interaction.command_name() {
            Some("count") => {
                // `incr` reads the number, adds one and stores it. The `?`
                // turns a storage error (say, a full quota) into an error
                // notice for the user.
                let count = kv::incr(&key)?;
                let name = interaction.display_name().unwrap_or("you");
                log::info(format!("user {user_id} counted to {count}"));
                let times = if count == 1 { "time" } else { "times" };
                Ok(Response::message(format!(
                    "{name}, you have counted {count} {times}"
                )))
            }
            Some("reset") => {
                kv::delete(&key)?;
                log::info(format!("user {user_id} reset their count"));
                Ok(Response::message("Your count is back to 0.").ephemeral())
            }
            _ => Ok(Response::message("unknown command").ephemeral()),
        }
    }
}

// Exports `Counter::handle` as the component's `handle-interaction`.
appliance_sdk::bot!(Counter);
