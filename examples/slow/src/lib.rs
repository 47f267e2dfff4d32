//! A bot that takes longer than Discord allows, to show the host's deadline
//! guarantee: Discord fails an interaction with no answer within 3 seconds,
//! so at 2 seconds the host answers for the bot with a deferred response
//! ("Bot is thinking..."). When the bot finishes, the host edits that
//! original message to the bot's answer. The bot itself does nothing special.
//!
//! `/slow [ms:<n>]` (default 2500, at most 9000) waits that long and answers
//! with how long it took.
//!
//! Build and test, from the repository root:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2 -p slow-bot
//! cargo test -p slow-bot
//! ```

use std::time::{Duration, Instant};

use appliance_sdk::prelude::*;

/// `/slow [ms:<n>]`
#[derive(CommandModel, CreateCommand)]
#[command(name = "slow", desc = "Take a while to answer")]
struct Slow {
    /// How long to take, in milliseconds (2500 if not given)
    #[command(min_value = 0, max_value = 9000)]
    ms: Option<i64>,
}

#[derive(Default)]
struct SlowBot;

impl Bot for SlowBot {
    fn router() -> Router<Self> {
        Router::new().command(Self::slow)
    }
}

impl SlowBot {
    fn slow(&mut self, _: &Interaction, slow: Slow) -> Result<Response> {
        // 0 to 9000, as declared: the router refuses anything else.
        let ms = slow.ms.unwrap_or(2500).unsigned_abs();
        let started = Instant::now();
        // Sleeping costs no fuel: the host parks the bot and runs others.
        std::thread::sleep(Duration::from_millis(ms));
        Ok(Response::message(format!(
            "done after {} ms",
            started.elapsed().as_millis()
        )))
    }
}

appliance_sdk::bot!(SlowBot);

#[cfg(test)]
mod tests {
    use appliance_sdk::testing::{TestBot, TestInteraction};

    use super::*;

    /// The milliseconds an answer says it took.
    fn took(answer: &Response) -> u128 {
        let content = answer.content().unwrap();
        let ms = content
            .strip_prefix("done after ")
            .and_then(|rest| rest.strip_suffix(" ms"))
            .unwrap_or_else(|| panic!("{content}"));
        ms.parse().unwrap()
    }

    #[test]
    fn takes_as_long_as_asked() {
        let mut bot = TestBot::<SlowBot>::new();
        let answer = bot
            .run(TestInteraction::command("slow").option("ms", 150))
            .unwrap();
        assert!((150..2500).contains(&took(&answer)), "{answer:?}");
        // It says nothing early: the node defers for it.
        assert!(bot.initial_response().is_none());
    }

    #[test]
    fn at_most_nine_seconds() {
        let mut bot = TestBot::<SlowBot>::new();
        for ms in [-5, 9001] {
            let err = bot
                .run(TestInteraction::command("slow").option("ms", ms))
                .unwrap_err();
            assert!(err.message().contains("option `ms`"), "{err}");
        }
        let commands = TestBot::<SlowBot>::commands().unwrap();
        assert_eq!(commands[0]["options"][0]["max_value"], 9000);
    }

    #[test]
    fn autocomplete_gets_no_suggestions() {
        // The node's tests send one; the router answers it with no choices.
        let mut bot = TestBot::<SlowBot>::new();
        let answer = bot
            .run(TestInteraction::autocomplete("slow", "ms", "25"))
            .unwrap();
        assert_eq!(
            String::from_utf8(answer.to_json().unwrap()).unwrap(),
            r#"{"type":8,"data":{"choices":[]}}"#
        );
    }
}
