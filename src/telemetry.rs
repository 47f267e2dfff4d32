//! Logging setup (the node's Prometheus figures are in `metrics`).
//!
//! Logs go to stderr through `tracing`; `RUST_LOG` overrides the default
//! filter. Every interaction runs inside one `interaction` span carrying the
//! bot and interaction id (see `dispatch`).

use std::io::IsTerminal;

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

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
