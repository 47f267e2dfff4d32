//! Leveled log lines, stored by the host per bot.
//!
//! `appliance logs NAME` shows them. Anything a bot prints to stdout or stderr also lands there,
//! but these functions keep the level.
//!
//! ```no_run
//! use appliance_sdk::log;
//!
//! log::info("counted");
//! log::warn(format!("user {} is close to the limit", 42));
//! ```
//!
//! The host limits how much a bot may log; extra lines are dropped, not
//! errors. Under `cargo test`, [`testing::TestBot::logs`](crate::testing::TestBot::logs)
//! collects them.

use crate::host;

/// How important a log line is, from most verbose to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Step-by-step detail, usually filtered out.
    Trace,
    /// Detail that helps when debugging.
    Debug,
    /// Normal events worth keeping.
    Info,
    /// Something unexpected that the bot handled.
    Warn,
    /// Something failed.
    Error,
}

/// Writes `message` at `level`.
pub fn log(level: Level, message: impl AsRef<str>) {
    host::log(level, message.as_ref());
}

/// Writes `message` at [`Level::Trace`].
pub fn trace(message: impl AsRef<str>) {
    log(Level::Trace, message);
}

/// Writes `message` at [`Level::Debug`].
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message);
}

/// Writes `message` at [`Level::Info`].
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message);
}

/// Writes `message` at [`Level::Warn`].
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message);
}

/// Writes `message` at [`Level::Error`].
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message);
}
