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

mod host;
#[cfg(test)]
mod tests;

pub use host::LOG_LINE_MAX;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Store, Trap, UpdateDeadline};

use crate::limits::Limits;
use crate::store::{Db, KvQuota, LogLine};
use host::{EventState, HostState};

mod bindings {
    wasmtime::component::bindgen!({
        path: "guest-sdk/wit",
        world: "bot",
        imports: { default: async },
        exports: { default: async },
    });
}

/// How often the engine's epoch advances; the wall-clock limit's resolution.
const EPOCH_TICK: Duration = Duration::from_millis(5);
/// A running guest yields to the async executor after this much fuel, so a
/// busy bot cannot hold a worker thread while other requests wait.
const FUEL_YIELD_INTERVAL: u64 = 2_000_000;
/// Largest response a guest may return.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Why a component was refused at deploy.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("not a WebAssembly file (it does not start with the \\0asm magic bytes)")]
    NotWasm,
    #[error("this is a core WebAssembly module, not a component; build the bot for the wasm32-wasip2 target")]
    NotComponent,
    #[error("invalid WebAssembly component: {0}")]
    Invalid(String),
    #[error("the component does not fit the appliance:bot world: {0}")]
    WrongWorld(String),
}

/// Why an event did not produce a response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvokeError {
    #[error("bot ran out of fuel (CPU budget {0})")]
    OutOfFuel(u64),
    #[error("bot exceeded its wall-clock limit of {0} ms")]
    Timeout(u64),
    #[error("bot exceeded its memory limit: {0}")]
    Memory(String),
    #[error("bot overflowed its stack")]
    StackOverflow,
    #[error("bot held more than {0} WASI resources (streams, pollables, ...) at once")]
    Resources(usize),
    #[error("bot trapped: {0}")]
    Trap(String),
    #[error("bot returned an error: {0}")]
    Guest(String),
    #[error("bot response is {0} bytes; the limit is {MAX_RESPONSE_BYTES}")]
    ResponseTooLarge(usize),
    #[error("all {0} instances of the bot stayed busy past its wall-clock limit")]
    Busy(u32),
    #[error("host failed to start the bot: {0}")]
    Host(String),
    #[error("the node's instance pool is full of running events: {0}")]
    NodeFull(String),
    #[error("the bot was removed while this event waited or ran")]
    Removed,
    #[error("the bot was quarantined while this event waited for an instance")]
    Quarantined,
}

impl InvokeError {
    /// Short machine-readable label for logs, metrics and crash records.
    pub fn label(&self) -> &'static str {
        match self {
            InvokeError::OutOfFuel(_) => "out_of_fuel",
            InvokeError::Timeout(_) => "timeout",
            InvokeError::Memory(_) => "memory",
            InvokeError::StackOverflow => "stack_overflow",
            InvokeError::Resources(_) => "resources",
            InvokeError::Trap(_) => "trap",
            InvokeError::Guest(_) => "guest_error",
            InvokeError::ResponseTooLarge(_) => "response_too_large",
            InvokeError::Busy(_) => "busy",
            InvokeError::Host(_) => "host_error",
            InvokeError::NodeFull(_) => "node_full",
            InvokeError::Removed => "removed",
            InvokeError::Quarantined => "quarantined",
        }
    }

    /// True when the instance was discarded (a crash), as opposed to the bot
    /// answering with an error or the node being busy.
    pub fn is_crash(&self) -> bool {
        matches!(
            self,
            InvokeError::OutOfFuel(_)
                | InvokeError::Timeout(_)
                | InvokeError::Memory(_)
                | InvokeError::StackOverflow
                | InvokeError::Resources(_)
                | InvokeError::Trap(_)
        )
    }
}

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
    pub db: Db,
    /// The REST client the `discord` import goes through.
    pub discord: Arc<crate::discord::Client>,
    /// The bot's token; used by the host only, never handed to the guest.
    pub token: Option<Secret>,
    /// Cancelled when the bot is removed. Shared by every version of one
    /// bot, so events still running on a replaced version stop too: they
    /// stop waiting, stop running, and every host call they make is refused.
    pub retired: CancellationToken,
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

/// A secret string whose `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Receives the initial response a guest sends early with
/// `interaction.respond`, while it keeps running.
pub type Responder = tokio::sync::oneshot::Sender<Vec<u8>>;

/// WASI resources (streams, pollables, ...) one instance may hold at once.
/// Each lives in host memory, outside the bot's `--memory-mib`; a Rust bot
/// uses a handful, and without a bound a guest that never drops them could
/// hold ~90,000 (tens of MiB of host heap) per instance.
pub const MAX_RESOURCES_PER_INSTANCE: usize = 4096;

/// Longest crash detail stored; a deep recursion's backtrace has a frame per
/// call, and its first frames say where it went wrong.
const MAX_CRASH_DETAIL_BYTES: usize = 16 * 1024;

/// The result of one event.
#[derive(Debug)]
pub struct Invocation {
    pub result: Result<Vec<u8>, InvokeError>,
    /// Log lines the event wrote (guest `log` calls, stdout, stderr).
    pub logs: Vec<LogLine>,
    /// Full error with the wasm backtrace, for crash records.
    pub crash_detail: Option<String>,
    pub fuel_used: u64,
    /// The event's place among the bot's concurrent events, held until the
    /// caller has accounted for the outcome ([`Invocation::release`]): a
    /// crash that quarantines the bot must take effect before the next
    /// queued event gets the place and runs.
    slot: Option<OwnedSemaphorePermit>,
}

impl Invocation {
    fn refused(error: InvokeError) -> Invocation {
        Invocation {
            result: Err(error),
            logs: Vec::new(),
            crash_detail: None,
            fuel_used: 0,
            slot: None,
        }
    }

    /// Gives the event's place to the next queued event.
    pub fn release(&mut self) {
        self.slot = None;
    }
}

/// A compiled component, already checked against the `bot` world and
/// pre-linked with the host's imports; every bot running it shares this.
#[derive(Clone)]
pub struct Component(bindings::BotPre<HostState>);

impl std::fmt::Debug for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Component").finish_non_exhaustive()
    }
}

/// A compiled, validated component and its precompiled artifact bytes.
pub struct Compiled {
    pub component: Component,
    pub artifact: Vec<u8>,
}

fn engine_config(pool: Option<PoolConfig>) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    config.epoch_interruption(true);
    if let Some(pool) = pool {
        let max_memory = pool.max_memory_mib as usize * 1024 * 1024;
        let instances = pool.max_instances;
        let mut pooling = wasmtime::PoolingAllocationConfig::default();
        // A wasm32-wasip2 Rust component has one memory and a handful of
        // core instances and tables (its module plus small shim modules).
        pooling
            .total_component_instances(instances)
            // Every running event needs an async stack (fiber) from the pool too.
            .total_stacks(instances)
            .total_core_instances(instances * 8)
            .total_memories(instances + instances / 4)
            .total_tables(instances * 4)
            .max_memory_size(max_memory)
            // Keep a few warm slots' pages mapped: faster re-instantiation.
            .max_unused_warm_slots(64);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
        // Reserve only what the pool allows rather than 4 GiB per memory;
        // bounds checks are then explicit, which costs little for bots.
        config.memory_reservation(max_memory as u64);
        config.memory_guard_size(64 * 1024);
    }
    config
}

/// The wasmtime engine shared by every bot, plus the linker with the host imports.
pub struct Engine {
    engine: wasmtime::Engine,
    linker: Linker<HostState>,
    ticker_stop: Arc<AtomicBool>,
    parked: Arc<Parked>,
}

/// One bot version's instances parked between events.
type IdlePool = Mutex<Vec<Instance>>;

/// Every bot's parked instances, so that when the node-wide instance pool is
/// full, a bot that needs an instance can free the node's least recently
/// used parked one instead of failing: idle instances are a cache, and one
/// tenant's cache must never lock another tenant out.
#[derive(Default)]
struct Parked(Mutex<ParkedPools>);

#[derive(Default)]
struct ParkedPools {
    pools: Vec<Weak<IdlePool>>,
    /// Dead entries are swept when the list reaches this length, so
    /// registering is amortized O(1) (10,000 bots start without 50 M checks).
    sweep_at: usize,
}

impl Parked {
    fn register(&self, pool: &Arc<IdlePool>) {
        let mut parked = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if parked.pools.len() >= parked.sweep_at {
            parked.pools.retain(|pool| pool.strong_count() > 0);
            parked.sweep_at = (parked.pools.len() * 2).max(64);
        }
        parked.pools.push(Arc::downgrade(pool));
    }

    /// Drops the least recently used parked instance of any bot; false when
    /// nothing is parked.
    fn evict_least_recently_used(&self) -> bool {
        let pools: Vec<Arc<IdlePool>> = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pools
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        let oldest = pools
            .iter()
            .filter_map(|pool| {
                let idle = pool.lock().unwrap_or_else(|p| p.into_inner());
                idle.iter().map(|i| i.last_used).min().map(|at| (at, pool))
            })
            .min_by_key(|(at, _)| *at);
        let Some((_, pool)) = oldest else {
            return false;
        };
        let evicted = {
            let mut idle = pool.lock().unwrap_or_else(|p| p.into_inner());
            let index = (0..idle.len()).min_by_key(|&i| idle[i].last_used);
            index.map(|i| idle.swap_remove(i))
        };
        // Dropped outside the lock: it returns the slot to the pool.
        evicted.is_some()
    }
}

/// Whether instantiation failed only because the node's pool is full.
fn pool_is_full(err: &wasmtime::Error) -> bool {
    err.chain()
        .any(|cause| cause.is::<wasmtime::PoolConcurrencyLimitError>())
}

/// Parked instances a bot may evict in a row to make room for one of its own
/// (an instance can hold several pool slots: memories, tables, core instances).
const MAX_EVICTIONS_PER_INSTANTIATION: usize = 16;

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Sizing of the engine's instance pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Live instances the node can hold at once, over all bots.
    pub max_instances: u32,
    /// Largest linear memory one instance may grow to; deploys asking for
    /// more `--memory-mib` are refused.
    pub max_memory_mib: u32,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_instances: 1000,
            max_memory_mib: 1024,
        }
    }
}

impl Engine {
    pub fn new(pool: PoolConfig) -> anyhow::Result<Engine> {
        let config = engine_config(Some(pool));
        let engine = match wasmtime::Engine::new(&config) {
            Ok(engine) => engine,
            Err(err) => {
                // The pool reserves address space up front; where that is not
                // allowed (tight ulimit -v), serve anyway with on-demand allocation.
                tracing::warn!(error = %format!("{err:#}"), "instance pool unavailable; allocating instances on demand");
                wasmtime::Engine::new(&engine_config(None))?
            }
        };

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::Bot::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)?;

        // One thread advances the epoch for every store; it holds only a weak
        // handle so it ends with the engine.
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let stop = ticker_stop.clone();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;
        Ok(Engine {
            engine,
            linker,
            ticker_stop,
            parked: Arc::new(Parked::default()),
        })
    }

    /// Validates `wasm` as a component of our world and compiles it. CPU-heavy
    /// (100+ ms): call it from a blocking context.
    pub fn compile(&self, wasm: &[u8]) -> Result<Compiled, CompileError> {
        if !wasm.starts_with(b"\0asm") {
            return Err(CompileError::NotWasm);
        }
        // Bytes 4..8 are the version/layer field: 0x01 0x00 0x00 0x00 marks a core module.
        if wasm.get(4..8) == Some(&[1, 0, 0, 0]) {
            return Err(CompileError::NotComponent);
        }
        let component = wasmtime::component::Component::new(&self.engine, wasm)
            .map_err(|e| CompileError::Invalid(format!("{e:#}")))?;
        let pre = self.check_world(&component)?;
        let artifact = component
            .serialize()
            .map_err(|e| CompileError::Invalid(format!("{e:#}")))?;
        Ok(Compiled {
            component: Component(pre),
            artifact,
        })
    }

    /// Loads a precompiled artifact written by [`Engine::compile`]; an error
    /// (for example an artifact from another wasmtime build) means: compile again.
    pub fn load_artifact(&self, path: &Path) -> anyhow::Result<Component> {
        // SAFETY: the artifact was produced by `Component::serialize` of this
        // node and lives in the node's private data dir, named by the hash of
        // the component it came from; wasmtime still checks its header and
        // engine compatibility before use.
        #[allow(unsafe_code)]
        let component =
            unsafe { wasmtime::component::Component::deserialize_file(&self.engine, path)? };
        Ok(Component(self.check_world(&component)?))
    }

    fn check_world(
        &self,
        component: &wasmtime::component::Component,
    ) -> Result<bindings::BotPre<HostState>, CompileError> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| CompileError::WrongWorld(format!("{e:#}")))?;
        bindings::BotPre::new(pre).map_err(|e| CompileError::WrongWorld(format!("{e:#}")))
    }

    /// Makes a bot ready to take events from a component (linked once, when
    /// it was compiled or loaded).
    pub fn prepare(&self, component: &Component, env: BotEnv) -> Bot {
        Bot {
            permits: Arc::new(Semaphore::new(env.limits.instances as usize)),
            halted: CancellationToken::new(),
            idle: {
                let idle = Arc::new(Mutex::new(Vec::new()));
                self.parked.register(&idle);
                idle
            },
            parked: self.parked.clone(),
            engine: self.engine.clone(),
            env: Arc::new(env),
            pre: component.0.clone(),
        }
    }
}

struct Instance {
    store: Store<HostState>,
    /// The `handle-interaction` export, called through its raw handle with a
    /// typed signature (the bindings' wrapper would hide the call's errors).
    handle: wasmtime::component::Func,
    last_used: Instant,
}

/// One deployed version of a bot, with its pool of live instances.
pub struct Bot {
    pre: bindings::BotPre<HostState>,
    env: Arc<BotEnv>,
    engine: wasmtime::Engine,
    idle: Arc<IdlePool>,
    parked: Arc<Parked>,
    permits: Arc<Semaphore>,
    /// Cancelled when the bot is quarantined: events still waiting for an
    /// instance are refused instead of running.
    halted: CancellationToken,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot")
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

impl Bot {
    pub fn env(&self) -> &BotEnv {
        &self.env
    }

    /// Live instances currently parked between events.
    pub fn idle_instances(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Instantiates one instance ahead of the first event and parks it, so
    /// that event runs warm.
    pub async fn prewarm(&self) -> Result<(), InvokeError> {
        let instance = self
            .instantiate_with_room()
            .await
            .map_err(|err| InvokeError::Host(format!("{err:#}")))?;
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(instance);
        Ok(())
    }

    /// Refuses every event still waiting for an instance, and every later
    /// one, with [`InvokeError::Quarantined`]; running events finish.
    pub fn halt(&self) {
        self.halted.cancel();
    }

    /// Stops every event of this bot, of every version, queued or running
    /// (with [`InvokeError::Removed`]), refuses their host calls, and drops
    /// the parked instances. For a bot that was removed.
    pub fn retire(&self) {
        self.env.retired.cancel();
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Drops parked instances unused for `idle` or longer; returns how many.
    pub fn evict_idle(&self, idle: Duration) -> usize {
        let now = Instant::now();
        let mut pool = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let before = pool.len();
        pool.retain(|instance| now.duration_since(instance.last_used) < idle);
        before - pool.len()
    }

    /// Runs one event: `interaction` is the interaction JSON, the result is the
    /// guest's response JSON (not yet checked beyond its size).
    pub async fn invoke(&self, interaction: &[u8], interaction_id: Option<&str>) -> Invocation {
        self.invoke_with(interaction, interaction_id, None).await
    }

    /// [`invoke`](Self::invoke), with a `responder` for an initial response the
    /// guest sends early through the `interaction` import.
    pub async fn invoke_with(
        &self,
        interaction: &[u8],
        interaction_id: Option<&str>,
        responder: Option<Responder>,
    ) -> Invocation {
        let limits = self.env.limits;
        let wall_clock = Duration::from_millis(limits.timeout_ms);
        let retired = &self.env.retired;
        let waited = tokio::select! {
            biased;
            _ = retired.cancelled() => return Invocation::refused(InvokeError::Removed),
            _ = self.halted.cancelled() => return Invocation::refused(InvokeError::Quarantined),
            waited = tokio::time::timeout(wall_clock, self.permits.clone().acquire_owned()) => waited,
        };
        let Ok(Ok(slot)) = waited else {
            return Invocation::refused(InvokeError::Busy(limits.instances));
        };
        // The place may have come free together with a removal or quarantine.
        if retired.is_cancelled() {
            return Invocation::refused(InvokeError::Removed);
        }
        if self.halted.is_cancelled() {
            return Invocation::refused(InvokeError::Quarantined);
        }
        // The bot's own time starts once it has an instance: time spent
        // queued behind its other events is bounded above (then `Busy`), and
        // must not turn into a timeout charged to this event as a crash.
        let deadline = Instant::now() + wall_clock;

        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut instance = match pooled {
            Some(instance) => instance,
            None => match self.instantiate_with_room().await {
                Ok(instance) => instance,
                Err(err) => {
                    let error = if pool_is_full(&err) {
                        InvokeError::NodeFull(format!("{err:#}"))
                    } else {
                        InvokeError::Host(format!("{err:#}"))
                    };
                    return Invocation {
                        result: Err(error),
                        logs: Vec::new(),
                        crash_detail: Some(crash_detail(&err)),
                        fuel_used: 0,
                        slot: Some(slot),
                    };
                }
            },
        };

        let store = &mut instance.store;
        store.data_mut().event = EventState::new(interaction_id.map(str::to_owned), deadline);
        store.data_mut().event.responder = responder;
        store.data_mut().limiter.exceeded = None;
        let setup = store.set_fuel(limits.fuel);
        store.set_epoch_deadline(1);
        // The epoch deadline only interrupts running wasm; a guest waiting in
        // a host call (a WASI sleep, say) is cut off here instead. Dropping
        // the call unwinds the guest's stack; the instance is then discarded.
        // A removal ends the call the same way, wherever the guest is.
        let mut waited_too_long = false;
        let mut removed = false;
        let outcome = match setup {
            Ok(()) => {
                let call = call_handle(&mut instance, interaction);
                let call = tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), call);
                tokio::select! {
                    biased;
                    _ = retired.cancelled() => {
                        removed = true;
                        Err(wasmtime::Error::msg("the bot was removed"))
                    }
                    called = call => match called {
                        Ok(outcome) => outcome,
                        Err(_) => {
                            waited_too_long = true;
                            Err(wasmtime::Error::msg(format!(
                                "the wall-clock limit of {} ms passed while the bot was waiting in a host call \
                                 (a sleep, a Discord request or storage)",
                                limits.timeout_ms
                            )))
                        }
                    },
                }
            }
            Err(err) => Err(err),
        };

        let store = &mut instance.store;
        let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        store.data_mut().drain_output();
        let event = std::mem::replace(&mut store.data_mut().event, EventState::new(None, deadline));
        let mut logs = event.logs;
        if event.dropped_log_bytes > 0 {
            logs.push(LogLine::new(
                "warn",
                interaction_id.map(str::to_owned),
                format!(
                    "{} log bytes dropped: the limit is {} bytes per event",
                    event.dropped_log_bytes,
                    host::LOG_BYTES_PER_EVENT
                ),
            ));
        }

        let (result, crash_detail, keep) = match outcome {
            // Whatever it returned, a removed bot's event has nothing to say.
            _ if removed || retired.is_cancelled() => (Err(InvokeError::Removed), None, false),
            Ok(Returned::Answer(response)) => (Ok(response), None, true),
            Ok(Returned::TooLarge(len)) => (Err(InvokeError::ResponseTooLarge(len)), None, true),
            Ok(Returned::Error(message)) => (Err(InvokeError::Guest(message)), None, true),
            Err(err) => {
                let memory = store.data().limiter.exceeded.clone();
                let error = if waited_too_long {
                    InvokeError::Timeout(limits.timeout_ms)
                } else {
                    classify(&err, memory, limits)
                };
                (Err(error), Some(crash_detail(&err)), false)
            }
        };
        if keep {
            instance.last_used = Instant::now();
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(instance);
        }
        Invocation {
            result,
            logs,
            crash_detail,
            fuel_used,
            slot: Some(slot),
        }
    }

    /// Instantiates, first evicting other bots' least recently used parked
    /// instances if the node's pool is full.
    async fn instantiate_with_room(&self) -> wasmtime::Result<Instance> {
        let mut evicted = 0;
        loop {
            match self.instantiate().await {
                Err(err)
                    if pool_is_full(&err)
                        && evicted < MAX_EVICTIONS_PER_INSTANTIATION
                        && self.parked.evict_least_recently_used() =>
                {
                    evicted += 1;
                    tracing::debug!(evicted, "instance pool full; evicted a parked instance");
                }
                result => return result,
            }
        }
    }

    async fn instantiate(&self) -> wasmtime::Result<Instance> {
        let mut store = Store::new(&self.engine, HostState::new(self.env.clone()));
        store.limiter(|state| &mut state.limiter);
        store.fuel_async_yield_interval(Some(FUEL_YIELD_INTERVAL))?;
        // Each tick: past the event's deadline, trap; otherwise yield to the
        // executor and check again next tick.
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().event.deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        // Instantiation runs the guest's start code, so it gets fuel and a deadline too.
        store.set_fuel(self.env.limits.fuel)?;
        store.data_mut().event.deadline =
            Instant::now() + Duration::from_millis(self.env.limits.timeout_ms);
        store.set_epoch_deadline(1);
        let instance = self
            .pre
            .instance_pre()
            .instantiate_async(&mut store)
            .await?;
        let handle = instance
            .get_func(&mut store, "handle-interaction")
            .ok_or_else(|| {
                wasmtime::Error::msg("the component has no handle-interaction export")
            })?;
        Ok(Instance {
            store,
            handle,
            last_used: Instant::now(),
        })
    }
}

/// What the guest's export returned.
enum Returned {
    Answer(Vec<u8>),
    /// An answer over [`MAX_RESPONSE_BYTES`] (its length).
    TooLarge(usize),
    /// The guest's error text, clipped to a log line.
    Error(String),
}

/// Calls `handle-interaction` and copies its answer out. The copy is made
/// while wasmtime lifts the result, which is the last moment the guest's
/// memory still holds it: wasmtime 48 runs the export's post-return (where
/// the guest frees the answer) before `call_async` returns, so a borrowed
/// `WasmList`/`WasmStr` read afterwards reads freed memory that the guest's
/// allocator may already have overwritten. The copy is bounded by the bot's
/// own memory limit; an answer over [`MAX_RESPONSE_BYTES`] is then refused.
async fn call_handle(instance: &mut Instance, interaction: &[u8]) -> wasmtime::Result<Returned> {
    let typed = instance
        .handle
        .typed::<(&[u8],), (Result<Vec<u8>, String>,)>(&instance.store)?;
    let (returned,) = typed
        .call_async(&mut instance.store, (interaction,))
        .await?;
    Ok(match returned {
        Ok(answer) if answer.len() > MAX_RESPONSE_BYTES => Returned::TooLarge(answer.len()),
        Ok(answer) => Returned::Answer(answer),
        Err(text) => Returned::Error(crate::text::clip(&text, LOG_LINE_MAX).to_owned()),
    })
}

/// The error and its causes, one per line; for a trap this includes the wasm
/// backtrace (function names come from the component's name section). The
/// host's own Rust backtrace is left out: it says nothing about the bot.
fn crash_detail(err: &wasmtime::Error) -> String {
    let mut detail = err
        .chain()
        .map(|cause| cause.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let kept = crate::text::clip(&detail, MAX_CRASH_DETAIL_BYTES).len();
    if kept < detail.len() {
        let omitted = detail[kept..].lines().count();
        detail.truncate(kept);
        detail.push_str(&format!("\n... {omitted} more lines omitted"));
    }
    detail
}

fn classify(err: &wasmtime::Error, memory: Option<String>, limits: Limits) -> InvokeError {
    if let Some(message) = memory {
        return InvokeError::Memory(message);
    }
    let table_full = err.chain().any(|cause| {
        cause
            .downcast_ref::<wasmtime::component::ResourceTableError>()
            .is_some_and(|e| matches!(e, wasmtime::component::ResourceTableError::Full))
    });
    if table_full {
        return InvokeError::Resources(MAX_RESOURCES_PER_INSTANCE);
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => InvokeError::OutOfFuel(limits.fuel),
        Some(Trap::Interrupt) => InvokeError::Timeout(limits.timeout_ms),
        Some(Trap::StackOverflow) => InvokeError::StackOverflow,
        Some(trap) => InvokeError::Trap(trap.to_string()),
        None => InvokeError::Trap(format!("{err:#}")),
    }
}
