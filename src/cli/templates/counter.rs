//! {{name}}: a Discord bot for appliance that counts, durably.
//!
//! `/count` adds to a counter kept in the bot's key-value store, which
//! outlives instances, redeploys and node restarts; `/count by:5` adds
//! five. Build it with `cargo build --release --target wasm32-wasip2`;
//! test it with `cargo test`.

use appliance_sdk::prelude::*;

/// The key the count is stored under.
const KEY: &str = "count";

/// `/count [by:<1..=100>]`
#[derive(CommandModel, CreateCommand)]
#[command(name = "count", desc = "Count one more (or more)")]
struct Count {
    /// How much to add
    #[command(min_value = 1, max_value = 100)]
    by: Option<i64>,
}

#[derive(Default)]
pub struct {{Bot}};

impl Bot for {{Bot}} {
    fn router() -> Router<Self> {
        Router::new()
            .command(Self::count)
            .component("count:again", Self::again)
    }
}

impl {{Bot}} {
    fn count(&mut self, _: &Interaction, count: Count) -> Result<Response> {
        // Discord enforces the declared range; a hand-made request does not.
        let by = count.by.unwrap_or(1).clamp(1, 100) as u64;
        let total = add(by)?;
        Ok(Response::message(counted(total)).row([again_button()]))
    }

    /// The `+1` button: the message it is on shows the new total.
    fn again(&mut self, _: &Interaction, _rest: &str) -> Result<Response> {
        let total = add(1)?;
        Ok(Response::update_message(counted(total)).row([again_button()]))
    }
}

/// Adds `by` to the stored count and returns the new total. A read, then a
/// write: two instances answering at the same moment can both read 5 and
/// both write 6 (deploy with `--instances 1` if every count must be exact).
fn add(by: u64) -> Result<u64> {
    let total = kv::get_u64(KEY)?.unwrap_or(0).saturating_add(by);
    kv::set_json(KEY, &total)?;
    Ok(total)
}

fn counted(total: u64) -> String {
    format!("Counted {total} so far.")
}

fn again_button() -> Button {
    Button::secondary("count:again", "+1")
}

appliance_sdk::bot!({{Bot}});

#[cfg(test)]
mod tests {
    use super::*;
    use appliance_sdk::testing::{TestBot, TestInteraction};

    #[test]
    fn counts_in_the_store() {
        let mut bot = TestBot::<{{Bot}}>::new();
        let first = bot.run(TestInteraction::command("count")).unwrap();
        assert_eq!(first.content(), Some("Counted 1 so far."));
        let more = bot
            .run(TestInteraction::command("count").option("by", 5))
            .unwrap();
        assert_eq!(more.content(), Some("Counted 6 so far."));
        assert_eq!(bot.kv_get(KEY).as_deref(), Some(&b"6"[..]));
    }

    #[test]
    fn the_button_counts_one_more_in_place() {
        let mut bot = TestBot::<{{Bot}}>::new();
        bot.run(TestInteraction::command("count")).unwrap();
        let pressed = bot.run(TestInteraction::button("count:again")).unwrap();
        assert_eq!(pressed.content(), Some("Counted 2 so far."));
        assert_eq!(
            pressed.kind(),
            appliance_sdk::model::http::interaction::InteractionResponseType::UpdateMessage
        );
    }
}
