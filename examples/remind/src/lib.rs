//! A reminder bot: answers at once while the work goes on, then sends a
//! follow-up message and edits its first answer.
//!
//! `/remind text:<what> [seconds:<n>]` (n from 1 to 9, default 3):
//!
//! 1. the bot answers at once with [`Interaction::reply`] ("I will remind
//!    you in n s.") and keeps running;
//! 2. it waits `n` seconds and posts the reminder as a follow-up message
//!    ([`Interaction::follow_up`], Discord's REST API through the node);
//! 3. the [`Response`] it finally returns edits its first answer to
//!    "Reminder sent after n s.".
//!
//! A bot that has nothing to say at once would call
//! [`Interaction::defer`] instead ("thinking...") and return its answer
//! later the same way. Follow-ups use the interaction's own token, so this
//! bot works without a bot token.
//!
//! Build and test, from the repository root:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2 -p remind-bot
//! cargo test -p remind-bot
//! ```

use std::time::Duration;

use appliance_sdk::prelude::*;

/// `/remind text:<what> [seconds:<n>]`
#[derive(CommandModel, CreateCommand)]
#[command(name = "remind", desc = "Remind me of something in a few seconds")]
struct Remind {
    /// What to remind you of
    #[command(max_length = 200)]
    text: String,
    /// In how many seconds (3 if not given)
    #[command(min_value = 1, max_value = 9)]
    seconds: Option<i64>,
}

#[derive(Default)]
struct RemindBot;

impl Bot for RemindBot {
    fn router() -> Router<Self> {
        Router::new().command(Self::remind)
    }
}

impl RemindBot {
    fn remind(&mut self, interaction: &Interaction, remind: Remind) -> Result<Response> {
        // 1 to 9: Discord keeps to the declared range, and the router
        // refuses a hand-made interaction (`appliance invoke`) outside it.
        let seconds = remind.seconds.unwrap_or(3);
        // Answer now; the user sees this while the bot waits.
        interaction.reply(Response::message(format!(
            "I will remind you in {seconds} s."
        )))?;
        std::thread::sleep(Duration::from_secs(seconds.unsigned_abs()));

        // A failed follow-up is reported to the user rather than lost.
        match interaction.follow_up(format!("⏰ Reminder: {}", remind.text)) {
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

appliance_sdk::bot!(RemindBot);

#[cfg(test)]
mod tests {
    use appliance_sdk::discord::DiscordError;
    use appliance_sdk::model::http::interaction::InteractionResponseType;
    use appliance_sdk::testing::{TestBot, TestInteraction, APPLICATION_ID, TOKEN};

    use super::*;

    fn remind(text: &str, seconds: i64) -> TestInteraction {
        TestInteraction::command("remind")
            .option("text", text)
            .option("seconds", seconds)
    }

    #[test]
    fn answers_at_once_then_follows_up_then_edits_the_answer() {
        let mut bot = TestBot::<RemindBot>::new();
        let last = bot.run(remind("stretch", 1)).unwrap();

        let first = bot.initial_response().expect("an answer at once");
        assert_eq!(
            first.kind(),
            InteractionResponseType::ChannelMessageWithSource
        );
        assert_eq!(first.content(), Some("I will remind you in 1 s."));

        let calls = bot.discord_calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0].method, "POST");
        assert_eq!(calls[0].path, format!("/webhooks/{APPLICATION_ID}/{TOKEN}"));
        let message = calls[0].body.as_ref().unwrap();
        assert_eq!(message["content"], "⏰ Reminder: stretch");

        // The returned message edits the first answer.
        assert_eq!(last.content(), Some("Reminder sent after 1 s."));
    }

    #[test]
    fn seconds_outside_one_to_nine_are_refused() {
        let mut bot = TestBot::<RemindBot>::new();
        let err = bot.run(remind("tea", 0)).unwrap_err();
        assert!(err.message().contains("option `seconds`"), "{err}");
        assert!(bot.initial_response().is_none());
        assert!(bot.discord_calls().is_empty());
    }

    #[test]
    fn a_failed_follow_up_is_told_to_the_user() {
        let mut bot = TestBot::<RemindBot>::new();
        bot.fail_request(
            "POST",
            &format!("/webhooks/{APPLICATION_ID}/{TOKEN}"),
            DiscordError::Unavailable("timed out".into()),
        );
        let answer = bot.run(remind("tea", 1)).unwrap();
        assert!(answer.is_ephemeral());
        assert_eq!(
            answer.content(),
            Some("I could not send your reminder: Discord unavailable: timed out")
        );
        assert_eq!(
            bot.logs()[0].message,
            "follow-up failed: Discord unavailable: timed out"
        );
    }

    #[test]
    fn declares_remind_with_its_limits() {
        let commands = TestBot::<RemindBot>::commands().unwrap();
        let options = &commands[0]["options"];
        assert_eq!(options[0]["name"], "text");
        assert_eq!(options[0]["required"], true);
        assert_eq!(options[1]["name"], "seconds");
        assert_eq!(options[1]["min_value"], 1);
        assert_eq!(options[1]["max_value"], 9);
    }
}
