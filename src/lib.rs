//! appliance: one binary that hosts many Discord bots, each a WebAssembly
//! component in a sandbox. See ARCHITECTURE.md for the map. Modules are
//! listed here in layer order, from the bottom up: each may use only the
//! modules listed before it (`tests/it/tidy.rs` checks it). Blank lines keep
//! rustfmt from sorting the layers alphabetically.

// Leaves: pure vocabulary and helpers that name no other module.
pub mod backup;
pub mod clock;
pub mod fsutil;
pub mod histogram;
pub mod limits;
pub mod protocol;
pub mod secret;
pub mod sync;
pub mod text;

// The outside world, each behind one owner: Discord's REST API (`discord`)
// and the commands registered through it (`registry`),
// SQLite (`store`), the node's counters (`metrics`) and logs (`telemetry`),
// and crash-loop bookkeeping.
pub mod discord;
pub mod health;
pub mod metrics;
pub mod registry;
pub mod store;
pub mod telemetry;

// Running bots: the wasmtime sandbox,
pub mod sandbox;

// the set of serving bots,
pub mod fleet;

// the path from a verified interaction to its answer,
pub mod dispatch;

// and the gateway sessions that feed bots Discord's events.
pub mod gateway;

// In a fleet: the engine the nodes share (NATS JetStream).
pub mod cluster;

// The listeners: the edge's defences,
pub mod edge;

// the shared accept loop with TLS,
pub mod http;

// the public endpoint and the admin API.
pub mod admin;
pub mod ingress;

// Wiring: `serve` settings,
pub mod config;

// the handover of listeners between an old and a new process,
pub mod handover;

// the node itself,
pub mod app;

// and the command line.
pub mod cli;
