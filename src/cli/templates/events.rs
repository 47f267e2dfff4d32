//! {{name}}: a Discord bot for appliance that reacts to events.
//!
//! It answers `!ping` in any channel it can read with `pong` (a gateway
//! event, delivered by the node, which holds the bot's gateway session),
//! and `/seen` says how many messages it has seen. Deploy it with
//! `--intents GUILD_MESSAGES,MESSAGE_CONTENT` and a token. Build it with
//! `cargo build --release --target wasm32-wasip2`; test it with `cargo test`.

use appliance_sdk::prelude::*;

/// `/seen`
#[derive(CommandModel, CreateCommand)]
#[command(name = "seen", desc = "How many messages has the bot seen?")]
struct Seen;

/// Instance state: lives while the node keeps this instance, so `/seen`
/// counts since the instance started (use `kv` for a count that lasts).
#[derive(Default)]
pub struct {{Bot}} {
    messages: u64,
}

impl Bot for {{Bot}} {
    fn router() -> Router<Self> {
        Router::new().command(Self::seen)
    }
}

impl EventBot for {{Bot}} {
    fn on_event(&mut self, event: Event) -> Result<()> {
        if let Some(message) = event.message_create()? {
            if message.author.bot {
                return Ok(());
            }
            self.messages += 1;
            if message.content == "!ping" {
                discord::send_message(message.channel_id, "pong")?;
            }
        } else if let Some(dropped) = event.dropped() {
            log::warn(format!("missed {} events", dropped.count));
        }
        // Anything else, including events this bot has never heard of: ignore.
        Ok(())
    }
}

impl {{Bot}} {
    fn seen(&mut self, _: &Interaction, _: Seen) -> Result<Response> {
        Ok(Response::message(format!("{} messages seen", self.messages)).ephemeral())
    }
}

appliance_sdk::bot!({{Bot}}, events);

#[cfg(test)]
mod tests {
    use super::*;
    use appliance_sdk::testing::{TestBot, TestEvent, TestInteraction};
    use serde_json::json;

    fn message(content: &str) -> TestEvent {
        TestEvent::new(
            "MESSAGE_CREATE",
            json!({
                "id": "3", "channel_id": "2", "guild_id": "1",
                "author": { "id": "4", "username": "ada", "discriminator": "0", "avatar": null, "bot": false },
                "content": content, "timestamp": "2024-01-01T00:00:00.000000+00:00",
                "edited_timestamp": null, "tts": false, "mention_everyone": false,
                "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
                "pinned": false, "type": 0
            }),
        )
    }

    #[test]
    fn answers_ping_in_the_channel() {
        let mut bot = TestBot::<{{Bot}}>::new();
        bot.event(message("!ping")).unwrap();
        let calls = bot.discord_calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].method, "POST");
        assert_eq!(calls[0].path, "/channels/2/messages");
    }

    #[test]
    fn counts_messages_for_seen() {
        let mut bot = TestBot::<{{Bot}}>::new();
        bot.event(message("hello")).unwrap();
        bot.event(message("!ping")).unwrap();
        let answer = bot.run(TestInteraction::command("seen")).unwrap();
        assert_eq!(answer.content(), Some("2 messages seen"));
        assert!(answer.is_ephemeral());
    }
}
