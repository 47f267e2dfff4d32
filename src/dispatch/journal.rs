//! Writing an event's logs, crash record and quarantine to the store, within
//! the bot's per-minute log budget, off the response path.

use std::time::Instant;

use tracing::{debug, warn, Instrument};

use super::Dispatcher;
use crate::fleet::Deployed;
use crate::sandbox::{InvokeError, LOG_LINE_MAX};
use crate::store::{self, CrashRecord, Level};
use crate::sync::lock;
use crate::text::clip;

impl Dispatcher {
    /// A host line in the bot's logs, for its owner (a removed bot has none).
    pub async fn owner_log(
        &self,
        deployed: &Deployed,
        interaction_id: Option<String>,
        message: String,
    ) {
        if deployed.is_retired() {
            return;
        }
        let line = store::LogLine::new(Level::Warn, interaction_id, message);
        if let Err(err) = self.db.append_logs(deployed.record.id, vec![line]).await {
            warn!(error = %err, "failed to store bot logs");
        }
    }

    /// Writes the event's logs and any crash record in the background. A
    /// quarantine is written before the bot's answer goes out instead: once a
    /// user has been told the bot is disabled, a node crash must not undo it.
    pub(super) async fn persist(
        &self,
        deployed: &Deployed,
        interaction_id: Option<String>,
        mut logs: Vec<store::LogLine>,
        error: Option<InvokeError>,
        crash_detail: Option<String>,
        quarantine: Option<String>,
    ) {
        // Most events have nothing to store: no task for them (it showed up
        // as a spawn and a wake-up per interaction under load).
        if logs.is_empty() && error.is_none() && quarantine.is_none() {
            return;
        }
        // A removed bot's logs and crashes went with it. Its id is never
        // given out again, so nothing could land in another bot's records,
        // but there is no owner left to read them either.
        if deployed.is_retired() {
            debug!(
                lines = logs.len(),
                "the bot was removed; its event's logs are dropped"
            );
            return;
        }
        let bot_id = deployed.record.id;
        let version = deployed.record.active_version;
        let db = self.db.clone();
        // The per-minute budget covers the guest's own lines; host lines about
        // crashes always get through, so a log flood cannot hide a crash.
        let bytes: usize = logs.iter().map(|line| line.message.len()).sum();
        let within_budget = {
            let mut budget = lock(&deployed.log_budget);
            budget.take(Instant::now(), bytes)
        };
        if !within_budget {
            logs.clear();
            super::counters(deployed).log_bytes_dropped(bytes);
        }
        let mut host_line = |level: Level, message: String| {
            logs.push(store::LogLine::new(level, interaction_id.clone(), message))
        };
        if !within_budget {
            host_line(
                Level::Warn,
                format!(
                    "{bytes} log bytes dropped: the limit is {} bytes per minute",
                    store::LOG_BYTES_PER_MINUTE
                ),
            );
        }
        if let Some(err) = &error {
            // The text may be the guest's own error string: clipped like its log lines.
            let text = err.to_string();
            host_line(
                Level::Error,
                format!("{} ({})", clip(&text, LOG_LINE_MAX), err.label()),
            );
        }
        if let Some(reason) = &quarantine {
            host_line(
                Level::Error,
                format!("bot quarantined after {reason}; deploy a fix or `appliance rollback` to lift it"),
            );
        }
        let crash = error.filter(InvokeError::is_crash).map(|err| CrashRecord {
            at_ms: crate::clock::unix_ms(),
            version,
            reason: err.label().to_owned(),
            detail: crash_detail.unwrap_or_else(|| err.to_string()),
        });
        let quarantined = quarantine.is_some();
        let write = async move {
            if let Err(err) = db.append_logs(bot_id, logs).await {
                warn!(error = %err, "failed to store bot logs");
            }
            if let Some(crash) = crash {
                if let Err(err) = db.record_crash(bot_id, crash).await {
                    warn!(error = %err, "failed to store crash record");
                }
            }
            if let Some(reason) = quarantine {
                if let Err(err) = db.quarantine(bot_id, version, reason).await {
                    warn!(error = %err, "failed to store quarantine");
                }
            }
        }
        .in_current_span();
        if quarantined {
            write.await;
        } else {
            self.tasks.spawn(write);
        }
    }
}
