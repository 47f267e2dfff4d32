//! What the exports [`bot!`](crate::bot!) generates run: one bot instance
//! and its router per wasm instance, and the JSON in and out of them.
//!
//! Not part of the public API (the testing module and the macro use it), so
//! it may change with any release.

use std::cell::RefCell;

use crate::{Bot, Event, EventBot, Interaction, Result, Router};

/// Runs `bot` on one interaction's JSON and returns the response's JSON:
/// the body of the `handle-interaction` export. An unreadable interaction
/// or a handler's `Err` becomes the export's error text.
pub fn run_interaction<B: Bot>(
    bot: &mut B,
    router: &Router<B>,
    json: &[u8],
) -> std::result::Result<Vec<u8>, String> {
    answer(bot, router, Interaction::from_json(json))
}

/// The answer to an interaction as read, as the export returns it.
fn answer<B: Bot>(
    bot: &mut B,
    router: &Router<B>,
    interaction: Result<Interaction>,
) -> std::result::Result<Vec<u8>, String> {
    interaction
        .and_then(|interaction| router.dispatch(bot, &interaction))
        .and_then(|response| response.to_json())
        .map_err(|e| e.to_string())
}

/// Runs `bot` on one event: the body of the `handle-event` export.
pub fn run_event<B: EventBot>(bot: &mut B, event: Event) -> std::result::Result<(), String> {
    bot.on_event(event).map_err(|e| e.to_string())
}

/// A wasm instance's bot and router, made on first use and kept for the
/// instance's life (the macro keeps one in a thread-local).
pub struct Instance<B: Bot> {
    bot: RefCell<B>,
    router: Router<B>,
}

impl<B: Bot> Instance<B> {
    /// The bot's `Default` value and its router.
    pub fn new() -> Self {
        Self {
            bot: RefCell::new(B::default()),
            router: B::router(),
        }
    }

    /// The `handle-interaction` export. It takes the JSON by value, which
    /// the interaction keeps without copying it.
    pub fn interaction(&self, json: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
        answer(
            &mut *self.bot_mut()?,
            &self.router,
            Interaction::from_vec(json),
        )
    }

    /// The `commands` export.
    pub fn commands(&self) -> std::result::Result<Option<Vec<u8>>, String> {
        self.router.commands_json()
    }

    /// The bot, unless a handler is running (the component model does not
    /// re-enter an instance, so this is a guard, not a case).
    fn bot_mut(&self) -> std::result::Result<std::cell::RefMut<'_, B>, String> {
        self.bot
            .try_borrow_mut()
            .map_err(|_| "the bot instance is already handling an event".to_owned())
    }
}

impl<B: EventBot> Instance<B> {
    /// The `handle-event` export.
    pub fn event(&self, event: Event) -> std::result::Result<(), String> {
        run_event(&mut *self.bot_mut()?, event)
    }
}

impl<B: Bot> Default for Instance<B> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Response;

    /// The ping example's logic, and a count of what this instance served.
    #[derive(Default)]
    struct Ping {
        served: u64,
        events: Vec<String>,
    }

    impl Bot for Ping {
        fn router() -> Router<Self> {
            Router::new().fallback(|bot: &mut Self, i: &Interaction| {
                bot.served += 1;
                match i.command_name() {
                    Some("ping") => Ok(Response::message("pong")),
                    Some("served") => Ok(Response::message(bot.served.to_string())),
                    Some("fail") => Err("it failed".into()),
                    _ => Ok(Response::message("unknown command").ephemeral()),
                }
            })
        }
    }

    impl EventBot for Ping {
        fn on_event(&mut self, event: Event) -> Result<()> {
            if event.name() == "FAIL" {
                return Err("this event fails".into());
            }
            self.events.push(event.name().to_owned());
            Ok(())
        }
    }

    fn body(name: &str) -> Vec<u8> {
        format!(
            r#"{{"type":2,"id":"1","application_id":"2","token":"t","data":{{"id":"3","name":"{name}"}},"user":{{"id":"42","username":"alice"}}}}"#
        )
        .into_bytes()
    }

    fn text(answer: std::result::Result<Vec<u8>, String>) -> std::result::Result<String, String> {
        answer.map(|bytes| String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn interactions_go_from_json_to_json() {
        let instance = Instance::<Ping>::new();
        assert_eq!(
            text(instance.interaction(body("ping"))).unwrap(),
            r#"{"type":4,"data":{"content":"pong"}}"#
        );
        assert_eq!(
            text(instance.interaction(body("nope"))).unwrap(),
            r#"{"type":4,"data":{"content":"unknown command","flags":64}}"#
        );
    }

    #[test]
    fn errors_become_the_exports_error_text() {
        let instance = Instance::<Ping>::new();
        assert_eq!(instance.interaction(body("fail")).unwrap_err(), "it failed");
        let garbage = instance.interaction(b"not json".to_vec()).unwrap_err();
        assert!(
            garbage.starts_with("the interaction is not valid JSON"),
            "{garbage}"
        );
    }

    #[test]
    fn one_instance_keeps_its_state_between_calls() {
        let instance = Instance::<Ping>::new();
        instance.interaction(body("ping")).unwrap();
        instance.interaction(body("ping")).unwrap();
        assert_eq!(
            text(instance.interaction(body("served"))).unwrap(),
            r#"{"type":4,"data":{"content":"3"}}"#
        );
        instance
            .event(Event::new("MESSAGE_CREATE", "{}", 0, 1))
            .unwrap();
        assert_eq!(instance.bot.borrow().events, ["MESSAGE_CREATE"]);
        // A fresh instance starts over: instance state is not durable.
        assert_eq!(
            text(Instance::<Ping>::new().interaction(body("served"))).unwrap(),
            r#"{"type":4,"data":{"content":"1"}}"#
        );
    }

    #[test]
    fn events_and_their_errors() {
        let mut bot = Ping::default();
        assert_eq!(
            run_event(&mut bot, Event::new("FAIL", "{}", 0, 0)).unwrap_err(),
            "this event fails"
        );
        run_event(&mut bot, Event::new("READY", "{}", 0, 1)).unwrap();
        assert_eq!(bot.events, ["READY"]);
    }

    #[test]
    fn a_bot_without_commands_leaves_registration_alone() {
        assert_eq!(Instance::<Ping>::new().commands(), Ok(None));
    }
}
