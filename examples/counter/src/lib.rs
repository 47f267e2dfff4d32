//! A per-user counter: shows the host's key-value store and log, and the
//! difference between durable state (`kv`) and instance state (fields).
//!
//! - `/count` adds one to the caller's count and answers, for example,
//!   "alice, you have counted 3 times";
//! - `/reset` deletes the caller's count (answered ephemerally);
//! - any other command gets an ephemeral "unknown command" (the router's
//!   default).
//!
//! Each user's count lives under the key `count:{user_id}` in the bot's own
//! keyspace, so it survives restarts, redeploys and rollbacks of the bot.
//! The bot also counts, in a field, the commands this instance has served:
//! that number is lost whenever the node drops the instance (after a crash,
//! on redeploy, when idle), which is fine for a statistic and wrong for a
//! user's count. Every count is written to the bot's log (`appliance logs
//! NAME`).
//!
//! Build and test, from the repository root:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2 -p counter-bot
//! cargo test -p counter-bot
//! ```

use appliance_sdk::prelude::*;

/// `/count`
#[derive(CommandModel, CreateCommand)]
#[command(name = "count", desc = "Add one to your count")]
struct Count;

/// `/reset`
#[derive(CommandModel, CreateCommand)]
#[command(name = "reset", desc = "Set your count back to 0")]
struct Reset;

/// The bot. The counts are in the key-value store; `served` is instance
/// state, kept only while this instance lives.
#[derive(Default)]
struct Counter {
    served: u64,
}

impl Bot for Counter {
    fn router() -> Router<Self> {
        Router::new().command(Self::count).command(Self::reset)
    }
}

impl Counter {
    fn count(&mut self, interaction: &Interaction, _: Count) -> Result<Response> {
        self.served += 1;
        // Discord always names the caller: `member.user` in a server, `user`
        // in a direct message. Without one there is nobody to count for.
        let Some(user_id) = interaction.user_id() else {
            return Ok(Response::message("I can't tell who you are.").ephemeral());
        };
        // `incr` reads the number, adds one and stores it. The `?` turns a
        // storage error (say, a full quota) into an error notice for the user.
        let count = kv::incr(&count_key(user_id))?;
        let name = interaction.display_name().unwrap_or("you");
        log::info(format!(
            "user {user_id} counted to {count} ({} commands served by this instance)",
            self.served
        ));
        let times = if count == 1 { "time" } else { "times" };
        Ok(Response::message(format!(
            "{name}, you have counted {count} {times}"
        )))
    }

    fn reset(&mut self, interaction: &Interaction, _: Reset) -> Result<Response> {
        self.served += 1;
        let Some(user_id) = interaction.user_id() else {
            return Ok(Response::message("I can't tell who you are.").ephemeral());
        };
        kv::delete(&count_key(user_id))?;
        log::info(format!("user {user_id} reset their count"));
        Ok(Response::message("Your count is back to 0.").ephemeral())
    }
}

/// Where a user's count is kept.
fn count_key(user_id: Id<UserMarker>) -> String {
    format!("count:{user_id}")
}

appliance_sdk::bot!(Counter);

#[cfg(test)]
mod tests {
    use appliance_sdk::testing::{TestBot, TestInteraction};

    use super::*;

    fn count(user: u64, name: &str) -> TestInteraction {
        TestInteraction::command("count").user(user, name).guild(1)
    }

    #[test]
    fn counts_per_user_in_the_store() {
        let mut bot = TestBot::<Counter>::new();
        let first = bot.run(count(42, "alice")).unwrap();
        assert_eq!(first.content(), Some("alice, you have counted 1 time"));
        assert!(!first.is_ephemeral());
        let second = bot.run(count(42, "alice")).unwrap();
        assert_eq!(second.content(), Some("alice, you have counted 2 times"));
        let other = bot.run(count(43, "bob")).unwrap();
        assert_eq!(other.content(), Some("bob, you have counted 1 time"));

        assert_eq!(bot.kv_get("count:42").as_deref(), Some(&b"2"[..]));
        assert_eq!(bot.kv_get("count:43").as_deref(), Some(&b"1"[..]));
        assert_eq!(
            bot.logs()[0].message,
            "user 43 counted to 1 (3 commands served by this instance)"
        );
    }

    #[test]
    fn the_count_outlives_the_instance_and_the_statistic_does_not() {
        let mut bot = TestBot::<Counter>::new();
        bot.run(count(42, "alice")).unwrap();
        bot.run(count(42, "alice")).unwrap();
        assert_eq!(bot.bot().served, 2);
        // The node drops the instance (a crash, a redeploy, idleness).
        bot.restart();
        assert_eq!(bot.bot().served, 0);
        let answer = bot.run(count(42, "alice")).unwrap();
        assert_eq!(answer.content(), Some("alice, you have counted 3 times"));
    }

    #[test]
    fn reset_deletes_the_count() {
        let mut bot = TestBot::<Counter>::new();
        bot.kv_set("count:42", "7").unwrap();
        let answer = bot
            .run(TestInteraction::command("reset").user(42, "alice"))
            .unwrap();
        assert_eq!(answer.content(), Some("Your count is back to 0."));
        assert!(answer.is_ephemeral());
        assert_eq!(bot.kv_get("count:42"), None);
        let again = bot.run(count(42, "alice")).unwrap();
        assert_eq!(again.content(), Some("alice, you have counted 1 time"));
    }

    #[test]
    fn anything_else_is_an_unknown_command() {
        let mut bot = TestBot::<Counter>::new();
        let answer = bot.run(TestInteraction::command("ping")).unwrap();
        assert_eq!(answer.content(), Some("unknown command"));
        assert!(answer.is_ephemeral());
        assert!(bot.kv_keys().is_empty());
    }
}
