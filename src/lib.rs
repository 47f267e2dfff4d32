//! appliance: one binary that hosts many Discord bots, each a WebAssembly
//! component in a sandbox. See ARCHITECTURE.md for the map; modules are
//! listed here in reading order, from the outside in.

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod discord;
pub mod dispatch;
pub mod edge;
pub mod fleet;
pub mod fsutil;
pub mod health;
pub mod http;
pub mod ingress;
pub mod limits;
pub mod sandbox;
pub mod store;
pub mod telemetry;
pub mod text;
