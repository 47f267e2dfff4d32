//! The `log` import: lines for the bot owner's `appliance logs`.

use super::HostState;
use crate::sandbox::bindings::appliance::bot::log;

impl log::Host for HostState {
    async fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => "trace",
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        // Inside the interaction span, so the line carries bot and interaction ids.
        tracing::debug!(target: "bot", level, "{message}");
        self.event.push(level, &message);
    }
}
