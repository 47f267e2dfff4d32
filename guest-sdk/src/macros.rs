//! The [`bot!`](crate::bot!) export macro.

/// Exports a bot: its [`Bot::handle`](crate::Bot::handle) as the component's
/// `handle-interaction`, and with `events` also its
/// [`EventBot::on_event`](crate::EventBot::on_event) as `handle-event`.
///
/// Invoke it once, at the top level of the bot crate (a `cdylib`).
///
/// A bot that answers interactions only (world `bot`):
///
/// ```ignore
/// struct MyBot;
/// impl appliance_sdk::Bot for MyBot { /* ... */ }
/// appliance_sdk::bot!(MyBot);
/// ```
///
/// A bot that also reacts to Discord events (world `event-bot`):
///
/// ```ignore
/// struct MyBot;
/// impl appliance_sdk::Bot for MyBot { /* ... */ }
/// impl appliance_sdk::EventBot for MyBot { /* ... */ }
/// appliance_sdk::bot!(MyBot, events);
/// ```
///
/// Only the second form exports `handle-event` (and lets the bot use
/// [`gateway`](crate::gateway)); the host takes events only for such a
/// component, and `appliance deploy --intents` refuses any other. A bot
/// without an event handler keeps the first form.
///
/// The generated glue parses the interaction JSON the host passes in, calls
/// `MyBot::handle`, and serializes the [`Response`](crate::Response) back to
/// JSON. A parse failure or an `Err` from the handler becomes the export's
/// `err(string)`, which the host shows to the user as an ephemeral notice.
/// For an event it builds an [`Event`](crate::Event) and calls
/// `MyBot::on_event`; an `Err` is logged for the bot's owner.
///
/// The `events` form generates the `event-bot` bindings in the bot's crate
/// (so they never reach a plain bot) and refers to the SDK as
/// `::appliance_sdk`: keep the dependency's name `appliance-sdk`.
#[macro_export]
macro_rules! bot {
    ($bot:ty) => {
        // An anonymous constant keeps the glue type out of the bot's namespace.
        // The export macro from wit-bindgen emits `#[export_name]` functions,
        // which the workspace's `unsafe_code = "deny"` lint would reject.
        #[allow(unsafe_code)]
        const _: () = {
            struct __ApplianceBot;

            impl $crate::wit::Guest for __ApplianceBot {
                fn handle_interaction(
                    interaction: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                    $crate::handle_json::<$bot>(&interaction)
                }
            }

    $crate::wit::__export_bot!(__ApplianceBot with_types_in $crate::wit);
        };
    };
    ($bot:ty, events) => {
        // The bindings of world `event-bot` are generated here rather than in
        // the SDK: a world-level type (`event`) in a library's bindings would
        // be imported by every component linking the library, plain bots
        // too. They need a named module (their paths climb with `super`),
        // and the module reaches the bot's type through this alias.
        #[doc(hidden)]
        type __ApplianceEventBot = $bot;

        #[doc(hidden)]
        #[allow(unsafe_code, missing_docs, dead_code, clippy::all)]
        mod __appliance_event_bot {
            $crate::__event_bot_bindings!();

            struct Glue;

            impl Guest for Glue {
                fn handle_interaction(
                    interaction: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                    $crate::handle_json::<super::__ApplianceEventBot>(&interaction)
                }

                fn handle_event(event: Event) -> ::std::result::Result<(), ::std::string::String> {
                    $crate::handle_event::<super::__ApplianceEventBot>($crate::Event::new(
                        event.name,
                        event.data,
                        event.shard,
                        event.sequence,
                    ))
                }
            }

            export!(Glue);
        }
    };
}
