//! Runs bots: WebAssembly components of the `appliance:bot` world, in wasmtime,
//! with per-event fuel, a memory limit and a wall-clock limit.
//!
//! This is the only module that names wasmtime types. Callers compile a
//! component once ([`Engine::compile`]), keep its precompiled artifact, turn it
//! into a [`Bot`] ([`Engine::prepare`]) and call [`Bot::invoke`] per event.
//!
//! Instance lifecycle: a bot keeps up to `instances` live instances. An event
//! takes an idle one (or instantiates a fresh one from the pre-linked
//! `BotPre`), and gives it back afterwards, so guest memory persists between
//! events like a process. A trap of any kind discards the instance: a trapped
//! component instance cannot be entered again.

mod bot;
mod compile_cache;
mod engine;
mod error;
mod host;
mod kv_backend;
mod pool;
#[cfg(test)]
mod tests;

pub use bot::{Bot, Invocation, Slot};
pub use compile_cache::DiskCache;
pub use engine::{Compiled, Component, Engine, PoolConfig};
pub use error::{CompileError, InvokeError};
pub use host::LOG_LINE_MAX;
pub use kv_backend::{KvBackend, KvCall, KvResult, LocalKv};

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::discord::Auth;
use crate::limits::Limits;
use crate::protocol::interaction::Answer;
use crate::secret::Secret;
use crate::store::{Db, KvQuota};

mod bindings {
    wasmtime::component::bindgen!({
        path: "guest-sdk/wit",
        world: "bot",
        imports: { default: async },
        exports: { default: async },
    });
}

/// World `event-bot`, for the one import it adds (`gateway`); its exports
/// are called through raw handles, so a bot of world `bot` links too.
mod event_bindings {
    wasmtime::component::bindgen!({
        path: "guest-sdk/wit",
        world: "event-bot",
        imports: { default: async },
        exports: { default: async },
        with: {
            "appliance:bot/kv": super::bindings::appliance::bot::kv,
            "appliance:bot/log": super::bindings::appliance::bot::log,
            "appliance:bot/discord": super::bindings::appliance::bot::discord,
            "appliance:bot/interaction": super::bindings::appliance::bot::interaction,
        },
    });
}

/// Where a bot's gateway commands go: the node's gateway, which holds the
/// bot's sessions and keeps within Discord's limits.
pub trait GatewayCommands: Send + Sync {
    fn send(&self, bot_id: i64, command: GatewayCommand) -> Result<(), GatewayRefusal>;
}

pub use crate::protocol::gateway::Command as GatewayCommand;

/// Why a gateway command was not sent (WIT `gateway-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayRefusal {
    NotConnected(String),
    /// Retry after this many milliseconds.
    RateLimited(u32),
    Invalid(String),
}

/// The gateway of a node that holds no sessions (tests, benchmarks).
#[derive(Debug, Default)]
pub struct NoGateway;

impl GatewayCommands for NoGateway {
    fn send(&self, _bot_id: i64, _command: GatewayCommand) -> Result<(), GatewayRefusal> {
        Err(GatewayRefusal::NotConnected(
            "this node holds no gateway sessions".into(),
        ))
    }
}

/// One Discord event for a bot's `handle-event` export: WIT `events.event`
/// of world `event-bot`.
#[derive(
    Debug, Clone, PartialEq, Eq, wasmtime::component::ComponentType, wasmtime::component::Lower,
)]
#[component(record)]
pub struct Event {
    /// Discord's event name, e.g. `MESSAGE_CREATE` or `APPLICATION_AUTHORIZED`.
    pub name: String,
    /// The event's JSON payload.
    pub data: Vec<u8>,
    /// The gateway shard it came on (0 for a webhook event).
    pub shard: u32,
    /// Its sequence number in the gateway session (0 for a webhook event).
    pub sequence: u64,
}

/// Largest response a guest may return.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// WASI resources (streams, pollables, ...) one instance may hold at once.
/// Each lives in host memory, outside the bot's `--memory-mib`; a Rust bot
/// uses a handful, and without a bound a guest that never drops them could
/// hold ~90,000 (tens of MiB of host heap) per instance.
pub const MAX_RESOURCES_PER_INSTANCE: usize = 4096;

/// What a bot needs from the rest of the node, fixed for the bot's lifetime.
#[derive(Clone)]
pub struct BotEnv {
    pub bot_id: i64,
    pub name: String,
    /// The Discord application id (interaction webhooks are under it).
    pub app_id: String,
    pub version: i64,
    pub limits: Limits,
    pub kv_quota: KvQuota,
    /// Where the `kv` import reads and writes: the store, or the fleet's engine.
    pub kv: Arc<dyn KvBackend>,
    pub db: Db,
    /// The REST client the `discord` import goes through.
    pub discord: Arc<crate::discord::Client>,
    /// The bot's token; used by the host only, never handed to the guest.
    pub token: Option<Secret>,
    /// Where the `gateway` import sends commands.
    pub gateway: Arc<dyn GatewayCommands>,
    /// Cancelled when the bot is removed. Shared by every version of one
    /// bot, so events still running on a replaced version stop too: they
    /// stop waiting, stop running, and every host call they make is refused.
    pub retired: CancellationToken,
    /// The bot's figures for `/metrics`, shared by its versions like `retired`.
    pub counters: Arc<crate::metrics::BotCounters>,
}

impl std::fmt::Debug for BotEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotEnv")
            .field("bot_id", &self.bot_id)
            .field("name", &self.name)
            .field("app_id", &self.app_id)
            .field("version", &self.version)
            .field("limits", &self.limits)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl BotEnv {
    /// How a REST call to `path` authenticates: with the bot's token while
    /// the bot serves, so the call counts against its own limits and nobody
    /// else's. An interaction webhook needs no bot token (it is still
    /// counted and guarded under the bot's application), and is what a
    /// removed bot's last word uses. `None`: the call cannot be made.
    pub fn auth(&self, path: &str) -> Option<Auth<'_>> {
        match &self.token {
            Some(token) if !self.retired.is_cancelled() => Some(Auth::Bot(token.expose())),
            _ if crate::discord::is_interaction_webhook(path) => Some(Auth::Webhook(&self.app_id)),
            _ => None,
        }
    }
}

/// Receives the initial response a guest sends early with
/// `interaction.respond`, while it keeps running.
pub type Responder = tokio::sync::oneshot::Sender<Answer>;
