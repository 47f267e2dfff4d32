//! Logging setup and the node's Prometheus metrics.
//!
//! Logs go to stderr through `tracing`; `RUST_LOG` overrides the default
//! filter. Every interaction runs inside one `interaction` span carrying the
//! bot and interaction id (see `dispatch`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

use crate::sync::lock;

pub const DEFAULT_FILTER: &str = "appliance=info,wasmtime=warn,cranelift=warn";

/// How the node writes its own log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log shippers (never coloured).
    Json,
}

/// Installs the stderr subscriber for text logs; see [`init_as`].
pub fn init(filter: Option<&str>) {
    init_as(LogFormat::Text, filter);
}

/// Installs the stderr subscriber; `filter` comes from config, `RUST_LOG` wins over it.
pub fn init_as(format: LogFormat, filter: Option<&str>) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter.unwrap_or(DEFAULT_FILTER)))
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        // Colours only for a person at a terminal: a journal or a log file
        // would keep the escape codes, and writing them costs per span.
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// Every outcome an interaction can have, as `appliance_interactions_total`
/// labels it: answered, turned away by the bot's health, deferred, an
/// event's fate, or one of the labels of the sandbox's `InvokeError`.
pub const OUTCOMES: [&str; 20] = [
    "ok",
    "event_ok",
    "event_failed",
    "event_dropped",
    "deferred",
    "backing_off",
    "quarantined",
    "out_of_fuel",
    "timeout",
    "memory",
    "stack_overflow",
    "resources",
    "trap",
    "guest_error",
    "response_too_large",
    "busy",
    "host_error",
    "node_full",
    "removed",
    "other",
];

/// One bot's interaction counters: atomics, so counting an event takes no
/// lock (the serving bot holds its counters; see [`Metrics::bot`]).
#[derive(Debug, Default)]
pub struct BotCounters([AtomicU64; OUTCOMES.len()]);

impl BotCounters {
    pub fn count(&self, outcome: &str) {
        // An outcome missing from the list is a bug; it is still counted.
        let index = OUTCOMES
            .iter()
            .position(|known| *known == outcome)
            .unwrap_or(OUTCOMES.len() - 1);
        self.0[index].fetch_add(1, Ordering::Relaxed);
    }
}

/// Counters exposed at the admin listener's `GET /metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Bot name → its counters, kept across redeploys (Prometheus counters
    /// must not go back) and looked up once per deployed version.
    interactions: Mutex<BTreeMap<String, Arc<BotCounters>>>,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// The bot's counters, created on first use.
    pub fn bot(&self, bot: &str) -> Arc<BotCounters> {
        lock(&self.interactions)
            .entry(bot.to_owned())
            .or_default()
            .clone()
    }

    pub fn interaction(&self, bot: &str, outcome: &'static str) {
        self.bot(bot).count(outcome);
    }

    /// A public request turned away before reaching a bot.
    pub fn rejected(&self, reason: &'static str) {
        let mut map = lock(&self.rejected);
        *map.entry(reason).or_default() += 1;
    }

    /// Prometheus text exposition format.
    pub fn render(&self, bots_deployed: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP appliance_bots_deployed Bots serving on this node."
        );
        let _ = writeln!(out, "# TYPE appliance_bots_deployed gauge");
        let _ = writeln!(out, "appliance_bots_deployed {bots_deployed}");
        let _ = writeln!(
            out,
            "# HELP appliance_interactions_total Interactions dispatched to bots, by outcome."
        );
        let _ = writeln!(out, "# TYPE appliance_interactions_total counter");
        let map = lock(&self.interactions);
        let counts = map.iter().flat_map(|(bot, counters)| {
            OUTCOMES
                .iter()
                .zip(&counters.0)
                .map(move |(outcome, n)| (bot, outcome, n.load(Ordering::Relaxed)))
                .filter(|(_, _, n)| *n > 0)
        });
        for (bot, outcome, count) in counts {
            // Bot names are [a-z0-9_-], so they need no label escaping.
            let _ = writeln!(
                out,
                "appliance_interactions_total{{bot=\"{bot}\",outcome=\"{outcome}\"}} {count}"
            );
        }
        drop(map);
        let _ = writeln!(
            out,
            "# HELP appliance_ingress_rejected_total Public requests turned away before reaching a bot, by reason."
        );
        let _ = writeln!(out, "# TYPE appliance_ingress_rejected_total counter");
        let rejected = lock(&self.rejected);
        for (reason, count) in rejected.iter() {
            let _ = writeln!(
                out,
                "appliance_ingress_rejected_total{{reason=\"{reason}\"}} {count}"
            );
        }
        out
    }
}
