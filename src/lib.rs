//! appliance: one binary that hosts many Discord bots, each a WebAssembly
//! component in a sandbox. See ARCHITECTURE.md for the map; modules are
//! listed here in reading order, from the outside in.

pub mod cli;
pub mod config;
pub mod app;
pub mod ingress;
pub mod dispatch;
pub mod fleet;
pub mod sandbox;
pub mod store;
pub mod admin;
pub mod limits;
pub mod telemetry;
pub mod http;
pub mod fsutil;
