//! The smallest useful bot: answers `/ping` with "pong".
//!
//! It shows the whole shape of an appliance bot: a command declared as a
//! type (its fields are the options, its doc comments their descriptions),
//! a bot type whose [`Bot::router`] sends each interaction to a handler,
//! responses built with [`Response`], the [`appliance_sdk::bot!`] export,
//! and tests that run the bot natively with [`appliance_sdk::testing`].
//!
//! - `/ping` answers `pong` for everyone in the channel to see;
//! - `/ping private:True` answers `pong` ephemerally, visible only to the
//!   caller;
//! - any other command gets an ephemeral "unknown command" (the router's
//!   default).
//!
//! The node registers `/ping` with Discord when the bot is deployed with a
//! token (the command list comes from the router). Build, from the
//! repository root:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2 -p ping-bot
//! cargo test -p ping-bot
//! ```
//!
//! and deploy `target/wasm32-wasip2/release/ping_bot.wasm` with
//! `appliance deploy ... --app-id ID --public-key HEX --token-env BOT_TOKEN`.

use appliance_sdk::prelude::*;

/// `/ping [private]`: the options, and the command's registration.
#[derive(CommandModel, CreateCommand)]
#[command(name = "ping", desc = "Check that the bot answers")]
struct Ping {
    /// Answer so that only you see it
    private: Option<bool>,
}

/// The bot. It keeps no state, so it is an empty type.
#[derive(Default)]
struct PingBot;

impl Bot for PingBot {
    fn router() -> Router<Self> {
        // Anything not routed (another command, a button) gets the router's
        // ephemeral default: "unknown command", "this button is no longer
        // handled". `.fallback(handler)` would answer it instead.
        Router::new().command(Self::ping)
    }
}

impl PingBot {
    fn ping(&mut self, _: &Interaction, ping: Ping) -> Result<Response> {
        let reply = Response::message("pong");
        // An option the user left out is `None`: default to a public reply.
        if ping.private.unwrap_or(false) {
            Ok(reply.ephemeral())
        } else {
            Ok(reply)
        }
    }
}

// Exports the router as the component's `handle-interaction`, and its
// commands as `commands` (world `command-bot`).
appliance_sdk::bot!(PingBot);

#[cfg(test)]
mod tests {
    use appliance_sdk::testing::{TestBot, TestInteraction};

    use super::*;

    /// The exact JSON the node sends back to Discord.
    fn json(response: &Response) -> String {
        String::from_utf8(response.to_json().unwrap()).unwrap()
    }

    #[test]
    fn ping_answers_pong_for_everyone() {
        let mut bot = TestBot::<PingBot>::new();
        let answer = bot.run(TestInteraction::command("ping")).unwrap();
        assert_eq!(json(&answer), r#"{"type":4,"data":{"content":"pong"}}"#);
    }

    #[test]
    fn private_ping_is_ephemeral() {
        let mut bot = TestBot::<PingBot>::new();
        let answer = bot
            .run(TestInteraction::command("ping").option("private", true))
            .unwrap();
        assert_eq!(
            json(&answer),
            r#"{"type":4,"data":{"content":"pong","flags":64}}"#
        );
        let public = bot
            .run(TestInteraction::command("ping").option("private", false))
            .unwrap();
        assert!(!public.is_ephemeral());
    }

    #[test]
    fn anything_else_gets_the_routers_default() {
        let mut bot = TestBot::<PingBot>::new();
        let other = bot
            .run(TestInteraction::command("slow").option("ms", 0))
            .unwrap();
        assert_eq!(
            json(&other),
            r#"{"type":4,"data":{"content":"unknown command","flags":64}}"#
        );
        let button = bot.run(TestInteraction::button("again")).unwrap();
        assert_eq!(button.content(), Some("this button is no longer handled"));
        assert!(button.is_ephemeral());
    }

    #[test]
    fn declares_ping_for_registration() {
        let commands = TestBot::<PingBot>::commands().unwrap();
        assert_eq!(commands.as_array().unwrap().len(), 1);
        assert_eq!(commands[0]["name"], "ping");
        assert_eq!(commands[0]["options"][0]["name"], "private");
        assert_eq!(commands[0]["options"][0]["type"], 5);
    }
}
