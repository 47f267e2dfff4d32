//! Why a component was refused, why an event failed, and how a wasmtime
//! error becomes one of those: the sandbox's error vocabulary.

use wasmtime::Trap;

use super::{MAX_RESOURCES_PER_INSTANCE, MAX_RESPONSE_BYTES};
use crate::limits::Limits;

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

/// Longest crash detail stored; a deep recursion's backtrace has a frame per
/// call, and its first frames say where it went wrong.
const MAX_CRASH_DETAIL_BYTES: usize = 16 * 1024;

/// The error and its causes, one per line; for a trap this includes the wasm
/// backtrace (function names come from the component's name section). The
/// host's own Rust backtrace is left out: it says nothing about the bot.
pub(super) fn crash_detail(err: &wasmtime::Error) -> String {
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

/// Most of the guest's stderr a crash record keeps: its end, where a
/// runtime prints the exception that ended the event.
const MAX_CRASH_STDERR_BYTES: usize = 8 * 1024;

/// The crash detail of a trap that followed `stderr` (what the guest wrote
/// there during the event): its last lines, each marked `stderr: ` so guest
/// text can never pass for the host's lines, then [`crash_detail`]. A JS
/// exception or a Python traceback thus shows its own stack above the wasm
/// backtrace.
pub(super) fn crash_detail_after(stderr: &str, err: &wasmtime::Error) -> String {
    let stderr = stderr.trim_end();
    if stderr.trim().is_empty() {
        return crash_detail(err);
    }
    let mut start = stderr.len().saturating_sub(MAX_CRASH_STDERR_BYTES);
    while !stderr.is_char_boundary(start) {
        start += 1;
    }
    let tail = &stderr[start..];
    let mut detail = String::with_capacity(tail.len() + 256);
    if start > 0 {
        detail.push_str("stderr: ... (earlier output omitted)\n");
    }
    // A partial first line of a clipped tail is still worth showing.
    for line in tail.lines().filter(|line| !line.trim().is_empty()) {
        detail.push_str("stderr: ");
        detail.push_str(line);
        detail.push('\n');
    }
    detail.push_str(&crash_detail(err));
    detail
}

pub(super) fn classify(
    err: &wasmtime::Error,
    memory: Option<String>,
    limits: Limits,
) -> InvokeError {
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
