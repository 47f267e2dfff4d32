//! Discord's side of the contract, as pure code: what an interaction and a
//! response look like (`interaction`), Discord's webhook events (`event`),
//! the gateway's intents, frames and commands (`gateway`), application
//! commands and Discord's rules for them (`commands`)
//! and how Discord signs requests (`signature`). The lowest layer of the node: sandbox, fleet, dispatch,
//! ingress and admin all speak it, and it names none of them.

pub mod commands;
pub mod event;
pub mod gateway;
pub mod interaction;
pub mod signature;
