//! The traits a bot implements.

use crate::{Event, Result, Router};

/// A Discord bot: its instance state, and the [`Router`] that says which
/// method answers which interaction.
///
/// The implementing type *is* the bot's instance state. The `bot!` glue
/// makes one with [`Default`] the first time the instance is called, builds
/// the router once, and passes the same value (`&mut self`) to every handler
/// for as long as the instance lives: counters, caches and recent
/// conversations can live in fields.
///
/// **Instance state is not durable.** The host may drop an instance at any
/// time: after a crash or a timeout, on redeploy, when it has been idle, or
/// to free memory; busy bots also run several instances side by side, each
/// with its own state. Keep what must survive in [`kv`](crate::kv), and
/// treat fields as a cache that may start over empty.
///
/// ```
/// use appliance_sdk::prelude::*;
///
/// #[derive(CommandModel, CreateCommand)]
/// #[command(name = "count", desc = "Count one more")]
/// struct Count;
///
/// #[derive(Default)]
/// struct Counter {
///     /// Since this instance started: lost when the host drops it.
///     served: u64,
/// }
///
/// impl Bot for Counter {
///     fn router() -> Router<Self> {
///         Router::new().command(Self::count)
///     }
/// }
///
/// impl Counter {
///     fn count(&mut self, _: &Interaction, _: Count) -> Result<Response> {
///         self.served += 1;
///         let total = kv::incr("count")?; // durable, shared by all instances
///         Ok(Response::message(format!("{total} (this instance: {})", self.served)))
///     }
/// }
///
/// // In the bot's crate: appliance_sdk::bot!(Counter);
/// ```
///
/// A handler's `Err` is shown to the user as an ephemeral notice and written
/// to the bot's log. A panic is a crash: the host records it and replaces
/// the instance (and with it, the instance state).
pub trait Bot: Default + 'static {
    /// The bot's routes. Called once per instance; the commands it routes
    /// are also what the node registers with Discord at deploy
    /// ([`Router::commands_json`]).
    fn router() -> Router<Self>;
}

/// A bot that also reacts to Discord events: [`Bot`] plus one more method,
/// exported by [`bot!(MyBot, events)`](crate::bot!).
///
/// The host calls [`on_event`](Self::on_event) for every event the bot's
/// intents subscribe it to (`appliance deploy --intents ...`), for Discord's
/// webhook events (`APPLICATION_AUTHORIZED`, ...) if the application sends
/// them to the node, and with `APPLIANCE_EVENTS_DROPPED` (see
/// [`Event::dropped`]) when it had to drop events. Events run in the same
/// instances as interactions, so `&mut self` is the same instance state
/// (and just as fleeting: see [`Bot`]).
///
/// What a handler can rely on:
///
/// - **At least once.** An event may arrive twice (after a reconnect, say).
///   A handler whose effect must not repeat dedupes: by the payload's own IDs
///   (a message's `id`), or by [`Event::shard`] and [`Event::sequence`],
///   which a redelivered dispatch keeps.
/// - **In order per channel.** Events of one channel arrive in the order
///   Discord sent them; events of different channels or servers may
///   interleave, and may run at the same time in different instances.
/// - **Drops are announced.** When the bot falls behind, the host drops
///   events rather than queue them without end, and then says how many with
///   an `APPLIANCE_EVENTS_DROPPED` event.
/// - **The same limits as interactions**: CPU, memory and wall-clock per
///   event, the same instances, the same [`kv`](crate::kv),
///   [`log`](crate::log) and [`discord`](crate::discord). There is no
///   interaction to answer, and the `Ok` carries nothing.
///
/// Returning `Err` records the error in the bot's log for its owner (nobody
/// else sees it). Unknown event names are not errors: Discord adds events,
/// so ignore what the bot does not handle.
///
/// ```
/// use appliance_sdk::prelude::*;
///
/// #[derive(Default)]
/// struct Greeter {
///     joined: u64,
/// }
///
/// impl Bot for Greeter {
///     fn router() -> Router<Self> {
///         Router::new() // no commands: everything goes to the default fallback
///     }
/// }
///
/// impl EventBot for Greeter {
///     fn on_event(&mut self, event: Event) -> Result<()> {
///         if let Some(member) = event.member_add()? {
///             self.joined += 1;
///             log::info(format!("{} joined", member.user.name));
///         } else if let Some(dropped) = event.dropped() {
///             log::warn(format!("missed {} events", dropped.count));
///         }
///         Ok(())
///     }
/// }
///
/// // In the bot's crate: appliance_sdk::bot!(Greeter, events);
/// ```
pub trait EventBot: Bot {
    /// Handles one event.
    fn on_event(&mut self, event: Event) -> Result<()>;
}
