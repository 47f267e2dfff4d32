//! Logging setup and the node's Prometheus metrics.
//!
//! Logs go to stderr through `tracing`; `RUST_LOG` overrides the default
//! filter. Every interaction runs inside one `interaction` span carrying the
//! bot and interaction id (see `dispatch`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::sync::lock;
use tracing_subscriber::EnvFilter;

pub const DEFAULT_FILTER: &str = "appliance=info,wasmtime=warn,cranelift=warn";

/// Installs the stderr subscriber; `filter` comes from config, `RUST_LOG` wins over it.
pub fn init(filter: Option<&str>) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter.unwrap_or(DEFAULT_FILTER)))
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Counters exposed at the admin listener's `GET /metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Bot name → outcome → count; nested so that counting an event for a
    /// known bot allocates nothing.
    interactions: Mutex<BTreeMap<String, BTreeMap<&'static str, u64>>>,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    pub fn interaction(&self, bot: &str, outcome: &'static str) {
        let mut map = lock(&self.interactions);
        let outcomes = match map.get_mut(bot) {
            Some(outcomes) => outcomes,
            None => map.entry(bot.to_owned()).or_default(),
        };
        *outcomes.entry(outcome).or_default() += 1;
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
        let counts = map
            .iter()
            .flat_map(|(bot, outcomes)| outcomes.iter().map(move |(o, n)| (bot, o, n)));
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
