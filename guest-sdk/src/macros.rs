//! The [`bot!`](crate::bot!) export macro.

/// Exports a bot: its [`Router`](crate::Router) as the component's
/// `handle-interaction`, its routed commands as `commands` (what the node
/// registers with Discord at deploy), and with `events` also its
/// [`EventBot::on_event`](crate::EventBot::on_event) as `handle-event`.
///
/// Invoke it once, at the top level of the bot crate (a `cdylib`).
///
/// A bot that answers interactions only (world `command-bot`):
///
/// ```ignore
/// #[derive(Default)]
/// struct MyBot;
/// impl appliance_sdk::Bot for MyBot { /* fn router() -> Router<Self> */ }
/// appliance_sdk::bot!(MyBot);
/// ```
///
/// A bot that also reacts to Discord events (world `command-event-bot`):
///
/// ```ignore
/// #[derive(Default)]
/// struct MyBot;
/// impl appliance_sdk::Bot for MyBot { /* ... */ }
/// impl appliance_sdk::EventBot for MyBot { /* fn on_event(&mut self, event: Event) */ }
/// appliance_sdk::bot!(MyBot, events);
/// ```
///
/// Only the second form exports `handle-event` (and lets the bot use
/// [`gateway`](crate::gateway)); the host takes events only for such a
/// component, and `appliance deploy --intents` refuses any other. A bot
/// without an event handler keeps the first form.
///
/// The generated glue keeps one value of the bot's type (made with
/// `Default`) and its router (from [`Bot::router`](crate::Bot::router)) per
/// wasm instance, made on the instance's first call and kept in a
/// thread-local until the host drops the instance: that is the instance
/// state handlers get as `&mut self`, and it is not durable (see
/// [`Bot`](crate::Bot)). For each interaction the glue reads the JSON the
/// host passes in, dispatches it through the router and writes the
/// [`Response`](crate::Response) back as JSON; an unreadable interaction or
/// a handler's `Err` becomes the export's `err(string)`, which the host
/// shows to the user as an ephemeral notice. For an event it builds an
/// [`Event`](crate::Event) and calls `on_event`; an `Err` is logged for the
/// bot's owner.
///
/// The `events` form generates the `command-event-bot` bindings in the
/// bot's crate (so they never reach a plain bot) and refers to the SDK as
/// `::appliance_sdk`: keep the dependency's name `appliance-sdk`.
#[macro_export]
macro_rules! bot {
    ($bot:ty) => {
        // An anonymous constant keeps the glue out of the bot's namespace.
        // The export macro from wit-bindgen emits `#[export_name]` functions,
        // which the workspace's `unsafe_code = "deny"` lint would reject.
        #[allow(unsafe_code)]
        const _: () = {
            struct __ApplianceBot;

            ::std::thread_local! {
                static __APPLIANCE_INSTANCE: $crate::__glue::Instance<$bot> =
                    $crate::__glue::Instance::new();
            }

            impl $crate::wit::Guest for __ApplianceBot {
                fn handle_interaction(
                    interaction: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                    __APPLIANCE_INSTANCE.with(|instance| instance.interaction(interaction))
                }

                fn commands() -> ::std::result::Result<
                    ::std::option::Option<::std::vec::Vec<u8>>,
                    ::std::string::String,
                > {
                    __APPLIANCE_INSTANCE.with(|instance| instance.commands())
                }
            }

    $crate::wit::__export_bot!(__ApplianceBot with_types_in $crate::wit);
        };
    };
    ($bot:ty, events) => {
        // The bindings of world `command-event-bot` are generated here rather
        // than in the SDK: a world-level type (`event`) in a library's
        // bindings would be imported by every component linking the library,
        // plain bots too. They need a named module (their paths climb with
        // `super`), and the module reaches the bot's type through this alias.
        #[doc(hidden)]
        type __ApplianceEventBot = $bot;

        #[doc(hidden)]
        #[allow(unsafe_code, missing_docs, dead_code, clippy::all)]
        mod __appliance_event_bot {
            $crate::__event_bot_bindings!();

            struct Glue;

            ::std::thread_local! {
                static INSTANCE: $crate::__glue::Instance<super::__ApplianceEventBot> =
                    $crate::__glue::Instance::new();
            }

            impl Guest for Glue {
                fn handle_interaction(
                    interaction: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                    INSTANCE.with(|instance| instance.interaction(interaction))
                }

                fn handle_event(event: Event) -> ::std::result::Result<(), ::std::string::String> {
                    let event =
                        $crate::Event::new(event.name, event.data, event.shard, event.sequence);
                    INSTANCE.with(|instance| instance.event(event))
                }

                fn commands() -> ::std::result::Result<
                    ::std::option::Option<::std::vec::Vec<u8>>,
                    ::std::string::String,
                > {
                    INSTANCE.with(|instance| instance.commands())
                }
            }

            export!(Glue);
        }
    };
}
