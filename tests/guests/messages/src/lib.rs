//! The gateway benchmark's bot (`benches/gateway.rs`), written with the SDK
//! as a bot author would:
//!
//! - `MESSAGE_CREATE` is read into twilight-model's typed `MessageCreate`
//!   with [`Event::message_create`] and counted, with its content's length,
//!   in instance state: the per-event work of a typical moderation bot
//!   before it decides anything.
//! - Any other event is ignored without reading its payload, which lets the
//!   bench measure what the host alone costs per event.
//! - `/messages` answers with the count and the characters seen.

use appliance_sdk::prelude::*;

#[derive(Default)]
struct MessagesBot {
    messages: u64,
    characters: u64,
}

impl Bot for MessagesBot {
    fn router() -> Router<Self> {
        Router::new().fallback(|bot: &mut Self, _: &Interaction| {
            Ok(Response::message(format!(
                "{} messages, {} characters",
                bot.messages, bot.characters
            )))
        })
    }
}

impl EventBot for MessagesBot {
    fn on_event(&mut self, event: Event) -> Result<()> {
        if let Some(message) = event.message_create()? {
            self.messages += 1;
            self.characters += message.content.chars().count() as u64;
        }
        Ok(())
    }
}

appliance_sdk::bot!(MessagesBot, events);
