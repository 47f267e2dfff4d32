//! Run a bot under `cargo test`, without a node.
//!
//! A [`TestBot`] holds one instance of the bot (its `Default`) and its
//! router, and runs [`TestInteraction`]s and [`TestEvent`]s through the
//! same glue the component uses. While it runs, the SDK's host calls go to
//! an in-memory node instead of the WIT imports:
//!
//! - [`kv`](crate::kv) reads and writes a map that lives as long as the
//!   `TestBot` (across runs), with the node's key and value limits;
//! - [`discord`](crate::discord) calls are recorded
//!   ([`discord_calls`](TestBot::discord_calls)) and answered as scripted
//!   ([`reply_to`](TestBot::reply_to)) or, by default, as Discord answers a
//!   successful call: `POST` and `PATCH` 200 with a new message
//!   `{"id":"..."}`, `PUT` and `DELETE` 204, anything else 200 `{}`;
//! - [`log`](crate::log) lines are recorded ([`logs`](TestBot::logs));
//! - the interaction's initial response (a `defer()` or `reply()`) is kept
//!   ([`initial_response`](TestBot::initial_response));
//! - [`gateway`](crate::gateway) commands are recorded
//!   ([`gateway_commands`](TestBot::gateway_commands)).
//!
//! What a run did (calls, logs, initial response, gateway commands) is
//! cleared when the next run starts; the key-value data, the scripts and
//! the instance (its fields) carry over, as they would on a node between
//! two interactions served by one instance. [`TestBot::restart`] starts a
//! fresh instance with the same key-value data, as a node does after a
//! crash, a redeploy or an idle eviction.
//!
//! Interactions come from application [`APPLICATION_ID`] with token
//! [`TOKEN`], so follow-ups and edits go to
//! `/webhooks/{APPLICATION_ID}/{TOKEN}...`.
//!
//! ```
//! use appliance_sdk::prelude::*;
//! use appliance_sdk::testing::{TestBot, TestInteraction};
//!
//! #[derive(CommandModel, CreateCommand)]
//! #[command(name = "count", desc = "Count one more")]
//! struct Count;
//!
//! #[derive(Default)]
//! struct Counter;
//!
//! impl Bot for Counter {
//!     fn router() -> Router<Self> {
//!         Router::new().command(Self::count)
//!     }
//! }
//!
//! impl Counter {
//!     fn count(&mut self, interaction: &Interaction, _: Count) -> Result<Response> {
//!         let user = interaction.user_id().ok_or("who are you?")?;
//!         let count = kv::incr(&format!("count:{user}"))?;
//!         Ok(Response::message(format!("{count}")))
//!     }
//! }
//!
//! // In a bot crate, this is the body of a `#[test]` function.
//! let mut bot = TestBot::<Counter>::new();
//! let answer = bot.run(TestInteraction::command("count").user(42, "alice"))?;
//! assert_eq!(answer.content(), Some("1"));
//! assert_eq!(bot.kv_get("count:42"), Some(b"1".to_vec()));
//! assert_eq!(TestBot::<Counter>::commands()?[0]["name"], "count");
//! # Ok::<(), appliance_sdk::Error>(())
//! ```
//!
//! The module exists only in native builds (`cargo test`), never in the
//! component.

mod event;
mod host;
mod interaction;

use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde_json::Value;
use twilight_model::http::interaction::InteractionResponse;

pub use self::event::TestEvent;
pub use self::host::{
    GatewayCommand, LogLine, RecordedCall, LIST_LIMIT, MAX_KEY_BYTES, MAX_VALUE_BYTES,
};
pub use self::interaction::{
    OptionValue, TestInteraction, CHANNEL_ID, INTERACTION_ID, USER_ID, USER_NAME,
};

use self::host::{MemoryHost, Running};
use crate::discord::{DiscordError, DiscordResponse};
use crate::kv::KvError;
use crate::{Bot, Error, EventBot, Response, Result, Router};

/// The application ID of every [`TestInteraction`].
pub const APPLICATION_ID: u64 = 1000;
/// The interaction token of every [`TestInteraction`].
pub const TOKEN: &str = "test-token";

/// A bot instance with an in-memory node around it; see the
/// [module](self) documentation.
pub struct TestBot<B: Bot> {
    bot: B,
    router: Router<B>,
    host: Rc<MemoryHost>,
}

impl<B: Bot> Default for TestBot<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: Bot> TestBot<B> {
    /// A fresh instance (`B::default()`) with empty key-value data.
    pub fn new() -> Self {
        Self::with_bot(B::default())
    }

    /// This instance, for a test that starts from given instance state.
    pub fn with_bot(bot: B) -> Self {
        Self {
            bot,
            router: B::router(),
            host: Rc::default(),
        }
    }

    /// The instance, to look at its state.
    pub fn bot(&self) -> &B {
        &self.bot
    }

    /// The instance, to change its state.
    pub fn bot_mut(&mut self) -> &mut B {
        &mut self.bot
    }

    /// Replaces the instance with a fresh `B::default()`, keeping the
    /// key-value data: what a node does when it drops an instance.
    /// Instance state is gone; [`kv`](crate::kv) is not.
    pub fn restart(&mut self) {
        self.bot = B::default();
    }

    /// Runs one interaction and returns the bot's answer: the
    /// [`Response`] its handler returned, or its `Err` (also for an
    /// interaction the bot cannot read). An initial response sent on the
    /// way (`interaction.defer()`, `reply(..)`) is in
    /// [`initial_response`](Self::initial_response).
    pub fn run(&mut self, interaction: TestInteraction) -> Result<Response> {
        let json = interaction.json().to_string();
        let answer = self.with_host(Running::Interaction, |bot, router| {
            crate::__glue::run_interaction(bot, router, json.as_bytes())
        });
        let bytes = answer.map_err(Error::new)?;
        parse_response(&bytes)
    }

    /// The initial response the last interaction sent before its handler
    /// returned (`None` if it sent none).
    pub fn initial_response(&self) -> Option<Response> {
        self.host
            .initial_response()
            .map(|bytes| parse_response(&bytes).expect("the host accepted it as a response"))
    }

    /// The Discord REST calls of the last run, in order.
    pub fn discord_calls(&self) -> Vec<RecordedCall> {
        self.host.calls()
    }

    /// The log lines of the last run, in order.
    pub fn logs(&self) -> Vec<LogLine> {
        self.host.logs()
    }

    /// The gateway commands of the last run, in order.
    pub fn gateway_commands(&self) -> Vec<GatewayCommand> {
        self.host.gateway()
    }

    /// Answers every later `method path` call with `status` and `body`
    /// (`Value::Null` for an empty body), replacing an earlier script for
    /// the same call. The path is matched exactly, as the bot sends it
    /// (`"/channels/1/messages/2"`).
    pub fn reply_to(&mut self, method: &str, path: &str, status: u16, body: Value) {
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        self.host
            .script(method, path, Ok(DiscordResponse { status, body }));
    }

    /// Makes every later `method path` call fail with `error`, as the node
    /// does when it gets no answer from Discord (rate limits past the
    /// deadline, Discord unreachable, ...).
    pub fn fail_request(&mut self, method: &str, path: &str, error: DiscordError) {
        self.host.script(method, path, Err(error));
    }

    /// The bytes stored under `key`.
    pub fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
        self.host.kv_value(key)
    }

    /// The JSON stored under `key` (as [`kv::set_json`](crate::kv::set_json)
    /// writes it) read into a `T`; `None` if unset or not a `T`.
    pub fn kv_get_json<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        serde_json::from_slice(&self.host.kv_value(key)?).ok()
    }

    /// Stores `value` under `key` before a run, with the node's checks.
    pub fn kv_set(&mut self, key: &str, value: impl AsRef<[u8]>) -> Result<(), KvError> {
        host::kv_write(&self.host, key, value.as_ref())
    }

    /// Every key stored, in byte order.
    pub fn kv_keys(&self) -> Vec<String> {
        self.host.kv_keys()
    }

    /// The bot's command registration (the JSON array the node sends to
    /// Discord's bulk overwrite), `Value::Null` if it declares no commands,
    /// or the router's `Err` for a declaration it cannot serialize.
    pub fn commands() -> Result<Value> {
        match B::router().commands_json().map_err(Error::new)? {
            Some(bytes) => Ok(serde_json::from_slice(&bytes)?),
            None => Ok(Value::Null),
        }
    }

    /// Runs `run` with the in-memory host installed for `running`.
    fn with_host<T>(&mut self, running: Running, run: impl FnOnce(&mut B, &Router<B>) -> T) -> T {
        self.host.begin(running);
        let installed = crate::host::install(self.host.clone());
        let result = run(&mut self.bot, &self.router);
        drop(installed);
        self.host.end();
        result
    }
}

impl<B: EventBot> TestBot<B> {
    /// Runs one event through the bot's `on_event`; its `Err` stays an
    /// `Err`.
    pub fn event(&mut self, event: TestEvent) -> Result<()> {
        let event = event.event();
        self.with_host(Running::Event, |bot, _| {
            crate::__glue::run_event(bot, event)
        })
        .map_err(Error::new)
    }
}

/// A response's JSON back into a [`Response`], to look at.
fn parse_response(bytes: &[u8]) -> Result<Response> {
    let response: InteractionResponse = serde_json::from_slice(bytes).map_err(|e| {
        Error::new(format!(
            "the bot answered with something that is not an interaction response ({e}): {}",
            String::from_utf8_lossy(bytes)
        ))
    })?;
    Ok(Response::from(response))
}

#[cfg(test)]
mod tests;

/// The SDK's README, whose recipes are tests written with this module:
/// `cargo test --doc` compiles and runs each of its Rust blocks.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeRecipes;
