//! The `log` import: lines for the bot owner's `appliance logs`.

use super::HostState;
use crate::sandbox::bindings::appliance::bot::log;
use crate::store::Level;

impl log::Host for HostState {
    async fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => Level::Trace,
            log::Level::Debug => Level::Debug,
            log::Level::Info => Level::Info,
            log::Level::Warn => Level::Warn,
            log::Level::Error => Level::Error,
        };
        // Inside the interaction span, so the line carries bot and interaction ids.
        tracing::debug!(target: "bot", level = level.as_str(), "{message}");
        self.event.push(level, &message);
    }
}
