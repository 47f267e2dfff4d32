//! A bot that takes longer than Discord allows, to show the host's deadline
//! guarantee: Discord fails an interaction with no answer within 3 seconds,
//! so at 2 seconds the host answers for the bot with a deferred response
//! ("Bot is thinking..."). When the bot finishes, the host edits that
//! original message to the bot's answer. The bot itself does nothing special.
//!
//! Commands: `/slow` (optional integer option `ms`, default 2500, at most
//! 9000) waits that long and answers with how long it took.
//!
//! Build, from the repository root:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2 -p slow-bot
//! ```

use std::time::{Duration, Instant};

use appliance_sdk::{Bot, Interaction, Response, Result};

struct Slow;

impl Bot for Slow {
    fn handle(interaction: Interaction) -> Result<Response> {
        if interaction.command_name() != Some("slow") {
            return Ok(Response::message("unknown command").ephemeral());
        }
        let ms = interaction.option_i64("ms").unwrap_or(2500).clamp(0, 9000) as u64;
        let started = Instant::now();
        // Sleeping costs no fuel: the host parks the bot and runs others.
        std::thread::sleep(Duration::from_millis(ms));
        Ok(Response::message(format!(
            "done after {} ms",
            started.elapsed().as_millis()
        )))
    }
}

appliance_sdk::bot!(Slow);
