//! The per-instance host state and the WIT imports the host provides, one
//! file per WIT interface (`kv`, `discord`, `interaction`, `log`), plus the
//! captured stdout/stderr and the resource limiter.
//!
//! Everything a guest can reach goes through here, scoped to its own bot:
//! the bot id is fixed when the instance is created and never comes from the guest.

mod capture;
mod discord;
mod gateway;
mod interaction;
mod kv;
mod log;

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::sandbox::{BotEnv, Responder};
use crate::store::{Level, LogLine};
use capture::Capture;

/// Log bytes one event may write (guest `log` calls and stdout/stderr together).
pub const LOG_BYTES_PER_EVENT: usize = 64 * 1024;
/// A longer log line is cut here.
pub const LOG_LINE_MAX: usize = 4 * 1024;

pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) env: Arc<BotEnv>,
    pub(crate) limiter: Limiter,
    pub(crate) event: EventState,
    pub(crate) stdout: Capture,
    pub(crate) stderr: Capture,
}

/// What one event accumulates; reset before each call.
pub(crate) struct EventState {
    pub interaction_id: Option<String>,
    pub deadline: Instant,
    pub logs: Vec<LogLine>,
    pub log_bytes: usize,
    pub dropped_log_bytes: usize,
    /// Where `interaction.respond` sends an early initial response; `None`
    /// once used (an interaction has one initial response).
    pub responder: Option<Responder>,
    /// The call is a Discord event, not an interaction.
    pub is_event: bool,
    /// The call is the `commands` export, run at deploy: no host services.
    pub declaring: bool,
}

impl EventState {
    pub fn new(interaction_id: Option<String>, deadline: Instant) -> Self {
        EventState {
            interaction_id,
            deadline,
            logs: Vec::new(),
            log_bytes: 0,
            dropped_log_bytes: 0,
            responder: None,
            is_event: false,
            declaring: false,
        }
    }

    /// Records a line unless the event's log budget is spent.
    pub fn push(&mut self, level: Level, message: &str) {
        let message = crate::text::clip(message.trim_end(), LOG_LINE_MAX);
        if self.log_bytes + message.len() > LOG_BYTES_PER_EVENT {
            self.dropped_log_bytes += message.len();
            return;
        }
        self.log_bytes += message.len();
        self.logs.push(LogLine::new(
            level,
            self.interaction_id.clone(),
            message.to_owned(),
        ));
    }
}

impl HostState {
    pub(crate) fn new(env: Arc<BotEnv>) -> Self {
        let stdout = Capture::default();
        let stderr = Capture::default();
        // No args, no env, no preopened directories, no sockets: the guest
        // gets clocks, randomness and the two captured output streams.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let memory_bytes = env.limits.memory_mib as usize * 1024 * 1024;
        let mut table = ResourceTable::new();
        table.set_max_capacity(crate::sandbox::MAX_RESOURCES_PER_INSTANCE);
        HostState {
            wasi,
            table,
            env,
            limiter: Limiter {
                memory_bytes,
                exceeded: None,
            },
            event: EventState::new(None, Instant::now()),
            stdout,
            stderr,
        }
    }

    /// Moves captured stdout/stderr into the event's log, one line per line,
    /// and returns what the guest wrote to stderr: a crash record starts with
    /// it, since that is where a JS or Python runtime prints the exception's
    /// own stack before it traps.
    pub(crate) fn drain_output(&mut self) -> String {
        let mut stderr = String::new();
        for (capture, level) in [(&self.stdout, Level::Info), (&self.stderr, Level::Warn)] {
            let (bytes, dropped) = capture.take();
            self.event.dropped_log_bytes += dropped;
            let text = String::from_utf8_lossy(&bytes);
            for line in text.lines().filter(|line| !line.trim().is_empty()) {
                self.event.push(level, line);
            }
            if level == Level::Warn {
                stderr = text.into_owned();
            }
        }
        stderr
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Enforces the memory limit and remembers that it did, so the crash record
/// says "memory" rather than a generic trap.
pub(crate) struct Limiter {
    memory_bytes: usize,
    pub exceeded: Option<String>,
}

/// Table elements an instance may have; generous for Rust guests, small
/// enough that a table bomb is refused.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            let message = format!(
                "memory limit exceeded: tried to grow linear memory to {desired} bytes, the limit is {} bytes",
                self.memory_bytes
            );
            self.exceeded = Some(message.clone());
            // An error (not `Ok(false)`) traps at the `memory.grow`, which
            // gives a backtrace pointing at the allocation.
            return Err(wasmtime::Error::msg(message));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            let message = format!(
                "table limit exceeded: tried to grow a table to {desired} elements, the limit is {MAX_TABLE_ELEMENTS}"
            );
            self.exceeded = Some(message.clone());
            return Err(wasmtime::Error::msg(message));
        }
        Ok(true)
    }
}

/// What a host call of a removed bot's event gets. The event is being
/// stopped; until it is, nothing it asks for is done.
pub(super) const REMOVED: &str = "this bot was removed";

/// What a host call gets while the node reads a bot's declared commands at
/// deploy: the version is not live yet, and has no storage or token to use.
pub(super) const DECLARING: &str =
    "host services are not available while the node reads the bot's \
     commands at deploy: build the command list without kv, discord or gateway calls";

impl HostState {
    /// The bot's environment, unless the bot was removed or the call is not
    /// an event (the `commands` export): then why not.
    pub(super) fn live_env(&self) -> Result<Arc<BotEnv>, &'static str> {
        if self.env.retired.is_cancelled() {
            Err(REMOVED)
        } else if self.event.declaring {
            Err(DECLARING)
        } else {
            Ok(self.env.clone())
        }
    }
}
