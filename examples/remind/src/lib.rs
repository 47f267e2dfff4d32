//! A reminder bot: shows Discord's REST API through the host, answering at
//! once while the work goes on, and follow-up messages.
//!
//! `/remind text:<what> seconds:<n>` (n from 1 to 9, default 3): the bot
//! answers at once with [`Interaction::respond`] ("I will remind you in n
//! s"), keeps running, waits `n` seconds, posts the reminder as a follow-up
//! message through [`appliance_sdk::discord::follow_up`], and finally edits
//! its first answer to "Reminder sent": the value a handler returns after an
//! early `respond` edits that first answer.
//!
//! Follow-ups use the interaction's own token, so this bot works without a
//! bot token. Calls that need one (say [`appliance_sdk::discord::send_message`])
//! get it from the host: deploy with `--token-env` or `--token-file`.
//!
//! Build, from the repository root:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2 -p remind-bot
//! ```

use std::time::Duration;

use appliance_sdk::{discord, log, Bot, Interaction, Response, Result};

struct Remind;

impl Bot for Remind {
    fn handle(interaction: Interaction) -> Result<Response> {
        if interaction.command_name() != Some("remind") {
            return Ok(Response::message("unknown command").ephemeral());
        }
        let text = interaction
            .option_str("text")
            .unwrap_or("something")
            .to_owned();
        let seconds = interaction.option_i64("seconds").unwrap_or(3).clamp(1, 9) as u64;
        // Answer now; the user sees this while the bot waits.
        interaction.respond(&Response::message(format!(
            "I will remind you in {seconds} s."
        )))?;
        std::thread::sleep(Duration::from_secs(seconds));

        // A failed follow-up is reported to the user rather than lost.
        match discord::follow_up(
            &interaction,
            &Response::message(format!("⏰ Reminder: {text}")),
        ) {
            Ok(_) => Ok(Response::message(format!(
                "Reminder sent after {seconds} s."
            ))),
            Err(err) => {
                log::warn(format!("follow-up failed: {err}"));
                Ok(Response::message(format!("I could not send your reminder: {err}")).ephemeral())
            }
        }
    }
}

appliance_sdk::bot!(Remind);
