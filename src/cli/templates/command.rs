//! {{name}}: a Discord bot for appliance.
//!
//! `/greet` answers with a greeting and a button; the button counts the
//! waves this instance has seen. Build it with
//! `cargo build --release --target wasm32-wasip2`; test it with `cargo test`.

use appliance_sdk::prelude::*;

/// `/greet name:<text> [shout:<bool>]`: the struct is both the parsed
/// options and the command's registration (names, descriptions, limits).
#[derive(CommandModel, CreateCommand)]
#[command(name = "greet", desc = "Greet someone")]
struct Greet {
    /// Who to greet
    #[command(max_length = 50)]
    name: String,
    /// Greet them loudly
    shout: Option<bool>,
}

/// The bot. Its fields live as long as the node keeps this instance
/// (between interactions, not across redeploys or restarts): use `kv` for
/// what must last.
#[derive(Default)]
pub struct {{Bot}} {
    waves: u64,
}

impl Bot for {{Bot}} {
    fn router() -> Router<Self> {
        Router::new()
            .command(Self::greet)
            .component("wave", Self::wave)
    }
}

impl {{Bot}} {
    fn greet(&mut self, _: &Interaction, greet: Greet) -> Result<Response> {
        // Shown by `appliance logs NAME` and streamed by `appliance dev`.
        log::info(format!("greeting {}", greet.name));
        let mut text = format!("Hello, {}!", greet.name);
        if greet.shout == Some(true) {
            text = text.to_uppercase();
        }
        Ok(Response::message(text).row([Button::primary("wave", "Wave back")]))
    }

    /// The button's `custom_id` is `wave`; `_rest` is what follows the
    /// prefix the router matched (nothing here).
    fn wave(&mut self, _: &Interaction, _rest: &str) -> Result<Response> {
        self.waves += 1;
        Ok(Response::message(format!("👋 (wave number {})", self.waves)).ephemeral())
    }
}

appliance_sdk::bot!({{Bot}});

#[cfg(test)]
mod tests {
    use super::*;
    use appliance_sdk::testing::{TestBot, TestInteraction};

    #[test]
    fn greets_by_name() {
        let mut bot = TestBot::<{{Bot}}>::new();
        let answer = bot
            .run(TestInteraction::command("greet").option("name", "Ada"))
            .unwrap();
        assert_eq!(answer.content(), Some("Hello, Ada!"));
        assert!(!answer.components().is_empty(), "the answer has a button");
        assert_eq!(bot.logs()[0].message, "greeting Ada");

        let loud = bot
            .run(
                TestInteraction::command("greet")
                    .option("name", "Ada")
                    .option("shout", true),
            )
            .unwrap();
        assert_eq!(loud.content(), Some("HELLO, ADA!"));
    }

    #[test]
    fn the_button_counts_waves() {
        let mut bot = TestBot::<{{Bot}}>::new();
        bot.run(TestInteraction::button("wave")).unwrap();
        let second = bot.run(TestInteraction::button("wave")).unwrap();
        assert_eq!(second.content(), Some("👋 (wave number 2)"));
        assert!(second.is_ephemeral());
    }

    #[test]
    fn declares_greet_for_registration() {
        let commands = TestBot::<{{Bot}}>::commands().unwrap();
        assert_eq!(commands[0]["name"], "greet");
        assert_eq!(commands[0]["options"][0]["name"], "name");
        assert_eq!(commands[0]["options"][0]["required"], true);
    }
}
