//! The wasmtime engine every bot shares: its configuration and instance pool,
//! the epoch ticker behind wall-clock limits, compiling and loading
//! components, and turning a component into a [`Bot`].

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};

use super::bot::Bot;
use super::host::HostState;
use super::pool::Parked;
use super::{bindings, BotEnv, CompileError};

/// How often the engine's epoch advances; the wall-clock limit's resolution.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// A compiled component, already checked against the `bot` world and
/// pre-linked with the host's imports; every bot running it shares this.
#[derive(Clone)]
pub struct Component {
    pub(super) pre: bindings::BotPre<HostState>,
    /// The component exports `handle-event` (world `event-bot`).
    handles_events: bool,
    /// The component exports `commands` (worlds `command-bot`, `command-event-bot`).
    declares_commands: bool,
}

impl Component {
    /// Whether the bot takes Discord events (world `event-bot`), not only
    /// interactions.
    pub fn handles_events(&self) -> bool {
        self.handles_events
    }

    /// Whether the bot declares its application commands (the `commands`
    /// export), for the node to register at deploy.
    pub fn declares_commands(&self) -> bool {
        self.declares_commands
    }
}

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
        Engine::with_compile_cache(pool, None)
    }

    /// An engine whose compiles keep each function's machine code in `cache`
    /// and take what is there (see [`DiskCache`](super::DiskCache)).
    pub fn with_compile_cache(
        pool: PoolConfig,
        cache: Option<Arc<super::DiskCache>>,
    ) -> anyhow::Result<Engine> {
        let configure = |pool| -> anyhow::Result<wasmtime::Config> {
            let mut config = engine_config(pool);
            if let Some(cache) = &cache {
                config.enable_incremental_compilation(cache.clone())?;
            }
            Ok(config)
        };
        let engine = match wasmtime::Engine::new(&configure(Some(pool))?) {
            Ok(engine) => engine,
            Err(err) => {
                // The pool reserves address space up front; where that is not
                // allowed (tight ulimit -v), serve anyway with on-demand allocation.
                tracing::warn!(error = %format!("{err:#}"), "instance pool unavailable; allocating instances on demand");
                wasmtime::Engine::new(&configure(None)?)?
            }
        };

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::Bot::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)?;
        super::event_bindings::appliance::bot::gateway::add_to_linker::<
            HostState,
            HasSelf<HostState>,
        >(&mut linker, |state| state)?;

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
            component: pre,
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
        Ok(self.check_world(&component)?)
    }

    fn check_world(
        &self,
        component: &wasmtime::component::Component,
    ) -> Result<Component, CompileError> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| CompileError::WrongWorld(format!("{e:#}")))?;
        let pre =
            bindings::BotPre::new(pre).map_err(|e| CompileError::WrongWorld(format!("{e:#}")))?;
        Ok(Component {
            pre,
            handles_events: component.get_export_index(None, "handle-event").is_some(),
            declares_commands: component.get_export_index(None, "commands").is_some(),
        })
    }

    /// Makes a bot ready to take events from a component (linked once, when
    /// it was compiled or loaded).
    pub fn prepare(&self, component: &Component, env: BotEnv) -> Bot {
        Bot::new(
            component.pre.clone(),
            component.handles_events,
            component.declares_commands,
            env,
            self.engine.clone(),
            self.parked.clone(),
        )
    }
}
