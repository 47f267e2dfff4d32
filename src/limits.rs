//! Per-bot resource limits: what an operator sets at deploy and the sandbox enforces.
//!
//! The defaults are chosen for interaction handlers, which should answer in
//! milliseconds; the README explains each number.

use serde::{Deserialize, Serialize};

mod language;
pub use language::Language;

/// Fuel per event: roughly one unit per wasm instruction. 2 billion is about
/// a second of pure computation on this class of machine, far beyond what an
/// interaction handler needs, yet it stops a runaway loop well inside the
/// wall-clock limit on a loaded node.
pub const DEFAULT_FUEL: u64 = 2_000_000_000;
/// Linear memory per instance. Typical Rust bots use 1–3 MiB.
pub const DEFAULT_MEMORY_MIB: u32 = 64;
/// Wall-clock limit per event. Past the 2 s deferral point the host has
/// already answered Discord; the bot may then still finish its work.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Concurrent instances (events handled at once) per bot.
pub const DEFAULT_INSTANCES: u32 = 4;

/// Fuel per event for a bot that carries its language's engine (JavaScript,
/// Python): an interpreter runs many wasm instructions per line of the
/// bot's code, so it gets twice a Rust bot's budget. A JavaScript `for (;;)`
/// burns it in about a second, well inside the wall-clock limit.
pub const ENGINE_FUEL: u64 = 4_000_000_000;
/// Linear memory per instance for an embedded engine: SpiderMonkey starts at
/// about 9 MiB and CPython at more, and both keep a garbage-collected heap.
pub const ENGINE_MEMORY_MIB: u32 = 128;

/// Upper bounds an operator cannot exceed, so one deploy cannot reserve the node.
/// Also the size of each memory slot in the engine's instance pool.
pub const MAX_MEMORY_MIB: u32 = 1024;
pub const MAX_TIMEOUT_MS: u64 = 15 * 60 * 1000; // Discord's interaction token lifetime.
pub const MAX_INSTANCES: u32 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub fuel: u64,
    pub memory_mib: u32,
    pub timeout_ms: u64,
    pub instances: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: DEFAULT_FUEL,
            memory_mib: DEFAULT_MEMORY_MIB,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            instances: DEFAULT_INSTANCES,
        }
    }
}

/// The limits an operator sets at a deploy; an unset one keeps the bot's
/// current value (or the default, for a new bot). One type from end to end:
/// the CLI's flags, the admin API's JSON fields, the fleet's input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
pub struct LimitOverrides {
    /// Fuel (CPU budget) per event [default: 2000000000; 4000000000 for a JavaScript or Python component; or the bot's current value]
    #[arg(long, value_name = "N")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    /// Linear memory per instance in MiB [default: 64; 128 for a JavaScript or Python component]
    #[arg(long, value_name = "N")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u32>,
    /// Wall-clock limit per event in ms, from when it gets an instance (also the longest wait for one) [default: 10000]
    #[arg(long, value_name = "N")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Concurrent instances [default: 4]
    #[arg(long, value_name = "N")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u32>,
}

impl Limits {
    /// The defaults of a new bot written in `language` (see [`Language::detect`]).
    pub fn for_language(language: Language) -> Limits {
        match language {
            Language::Rust => Limits::default(),
            Language::JavaScript | Language::Python => Limits {
                fuel: ENGINE_FUEL,
                memory_mib: ENGINE_MEMORY_MIB,
                ..Limits::default()
            },
        }
    }

    /// These limits with the operator's overrides applied (not yet validated).
    pub fn with(self, overrides: LimitOverrides) -> Limits {
        Limits {
            fuel: overrides.fuel.unwrap_or(self.fuel),
            memory_mib: overrides.memory_mib.unwrap_or(self.memory_mib),
            timeout_ms: overrides.timeout_ms.unwrap_or(self.timeout_ms),
            instances: overrides.instances.unwrap_or(self.instances),
        }
    }

    /// Checks every field against its allowed range; the message names the flag.
    pub fn validate(&self) -> Result<(), String> {
        if self.fuel == 0 {
            return Err("--fuel must be at least 1".into());
        }
        if !(1..=MAX_MEMORY_MIB).contains(&self.memory_mib) {
            return Err(format!(
                "--memory-mib must be between 1 and {MAX_MEMORY_MIB}"
            ));
        }
        if !(1..=MAX_TIMEOUT_MS).contains(&self.timeout_ms) {
            return Err(format!(
                "--timeout-ms must be between 1 and {MAX_TIMEOUT_MS}"
            ));
        }
        if !(1..=MAX_INSTANCES).contains(&self.instances) {
            return Err(format!("--instances must be between 1 and {MAX_INSTANCES}"));
        }
        Ok(())
    }
}
