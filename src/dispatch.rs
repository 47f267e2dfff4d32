//! From a verified interaction body to the answer Discord gets: PING is
//! answered here, everything else runs in the bot's sandbox, and every
//! failure becomes a response the user can see (never a hung interaction).
//!
//! Deadline rules (DESIGN.md): a crash, timeout or invalid answer becomes an
//! ephemeral notice (`flags: 64`); autocomplete, which cannot show one, gets
//! an empty choice list. Logs and crash records are written after the answer
//! is on its way, off the response path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio_util::task::TaskTracker;
use tracing::{debug, field, info, info_span, warn, Instrument};

use crate::discord::{self, Auth};
use crate::fleet::Deployed;
use crate::health::Gate;
use crate::protocol::interaction::{
    check_response, deferred_response, kind, late_steps, notice, Head, Initial,
};
use crate::sandbox::{Invocation, InvokeError, Responder, LOG_LINE_MAX};
use crate::store::{self, CrashRecord, Db};
use crate::sync::lock;
use crate::telemetry::Metrics;
use crate::text::clip;

/// Discord's message content limit is 2,000 characters; leave room for our prefix.
const MAX_NOTICE_CHARS: usize = 1_900;

const BACKING_OFF_NOTICE: &str =
    "This bot is restarting after a crash. Please try again in a few seconds.";
const QUARANTINED_NOTICE: &str =
    "This bot is disabled after crashing repeatedly. Its owner has to deploy a fix.";
const REMOVED_NOTICE: &str = "This bot was removed while it was answering.";

#[derive(Debug, Clone)]
pub struct Dispatcher {
    db: Db,
    metrics: Arc<Metrics>,
    discord: Arc<discord::Client>,
    defer_after: Duration,
    /// Every task the dispatcher starts (bot runs, late deliveries, log
    /// writes), so a graceful shutdown can wait for them.
    tasks: TaskTracker,
}

/// Whether a slow bot gets a deferred answer in time (Discord's requests)
/// or is simply awaited (`appliance invoke`, where nobody has a deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferral {
    /// The deferral point is `defer_after` past this instant: when the
    /// request arrived, since Discord's 3 s count from then.
    CountingFrom(Instant),
    Never,
}

/// One interaction as the dispatcher tracks it.
#[derive(Debug, Clone)]
struct Event {
    kind: u8,
    id: Option<String>,
    /// The interaction token: the key to its webhook for late answers.
    token: Option<String>,
    application_id: String,
    received: Instant,
}

/// How long delivering a late answer may take, retries included.
const LATE_DELIVERY_DEADLINE: Duration = Duration::from_secs(30);

/// The task's answer, or a notice if the task itself failed (a host bug).
fn joined(result: Result<Bytes, tokio::task::JoinError>, interaction_kind: u8) -> Bytes {
    result.unwrap_or_else(|err| {
        tracing::error!(error = %err, "dispatch task failed");
        notice(
            interaction_kind,
            "This bot ran into a problem and could not answer. Its owner can see why in `appliance logs`.",
        )
    })
}

impl Dispatcher {
    pub fn new(
        db: Db,
        metrics: Arc<Metrics>,
        discord: Arc<discord::Client>,
        defer_after: Duration,
    ) -> Dispatcher {
        Dispatcher {
            db,
            metrics,
            discord,
            defer_after,
            tasks: TaskTracker::new(),
        }
    }

    /// Stops taking new work and waits for every task already started:
    /// running bots, answers still to be delivered, logs still to be written.
    pub async fn drain(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Answers one interaction whose signature (if any) has been checked;
    /// `head` is [`Head::parse`] of `body`.
    pub async fn dispatch(
        &self,
        deployed: Arc<Deployed>,
        head: Head,
        body: Bytes,
        deferral: Deferral,
    ) -> Bytes {
        if head.kind == kind::PING {
            return Bytes::from_static(br#"{"type":1}"#);
        }
        let interaction_id = head.id();
        let data = head.data.unwrap_or_default();
        let span = info_span!(
            "interaction",
            bot = %deployed.record.name,
            version = deployed.record.active_version,
            interaction.id = interaction_id.as_deref().unwrap_or(""),
            interaction.kind = head.kind,
            command = data.name.as_deref(),
            custom_id = data.custom_id.as_deref(),
            outcome = field::Empty,
            deferred = field::Empty,
            responded_early = field::Empty,
            fuel.used = field::Empty,
            latency_us = field::Empty,
        );
        let received = match deferral {
            Deferral::CountingFrom(arrived) => arrived,
            Deferral::Never => Instant::now(),
        };
        let event = Event {
            kind: head.kind,
            id: interaction_id,
            token: head.token,
            application_id: deployed.record.app_id.clone(),
            received,
        };
        self.run(deployed, event, body, deferral)
            .instrument(span)
            .await
    }

    async fn run(
        &self,
        deployed: Arc<Deployed>,
        event: Event,
        body: Bytes,
        deferral: Deferral,
    ) -> Bytes {
        let span = tracing::Span::current();

        // A bot backing off or quarantined answers at once, without running.
        let gate = deployed.health().gate(Instant::now());
        let refusal = match gate {
            Gate::Open => None,
            Gate::BackingOff { .. } => Some(("backing_off", BACKING_OFF_NOTICE)),
            Gate::Quarantined { .. } => Some(("quarantined", QUARANTINED_NOTICE)),
        };
        if let Some((outcome, text)) = refusal {
            self.metrics.interaction(&deployed.record.name, outcome);
            span.record("outcome", outcome);
            return notice(event.kind, text);
        }

        // The bot runs in its own task so that, past the deferral point (or
        // once the bot sends its initial response early), the HTTP answer can
        // go out while the bot keeps working.
        let bot_name = deployed.record.name.clone();
        let (responder, mut early) = tokio::sync::oneshot::channel();
        let mut worker = {
            let this = self.clone();
            let event = event.clone();
            let deployed = deployed.clone();
            self.tasks.spawn(
                async move { this.invoke(deployed, &event, body, responder).await }
                    .in_current_span(),
            )
        };
        let kind = event.kind;
        if deferral == Deferral::Never {
            // Nobody waits on a deadline: the bot's final answer is the one
            // shown; an early response is accepted and superseded by it.
            let answer = joined(worker.await, kind);
            drop(early);
            return answer;
        }
        let defer_at = tokio::time::Instant::from_std(event.received + self.defer_after);
        let early_response = tokio::select! {
            // An early response goes first even if the bot has finished by
            // now: its final answer is meant to follow it, and may be a
            // deferral that would leave "thinking..." on its own.
            biased;
            Ok(response) = &mut early => Some(response),
            result = &mut worker => return joined(result, kind),
            _ = tokio::time::sleep_until(defer_at) => {
                // Refuse later `respond` calls, but keep one that got in first.
                early.close();
                early.try_recv().ok()
            }
        };
        let answer = match early_response {
            Some(response) => {
                span.record("responded_early", true);
                Bytes::from(response)
            }
            None => {
                span.record("deferred", true);
                self.metrics.interaction(&bot_name, "deferred");
                deferred_response(kind)
            }
        };
        let initial = Initial::of(&answer);
        let this = self.clone();
        self.tasks.spawn(
            async move {
                let late = joined(worker.await, kind);
                this.deliver_late(&deployed, &event, initial, late).await;
            }
            .in_current_span(),
        );
        answer
    }

    /// Runs the bot and turns the result into the answer for the user (the
    /// bot's JSON or a notice), updating health, metrics, logs and crashes.
    async fn invoke(
        &self,
        deployed: Arc<Deployed>,
        event: &Event,
        body: Bytes,
        responder: Responder,
    ) -> Bytes {
        let started = Instant::now();
        let mut invocation: Invocation = deployed
            .bot
            .invoke(&body, event.id.as_deref(), Some(responder))
            .await;
        let result = std::mem::replace(&mut invocation.result, Ok(Vec::new()));
        let logs = std::mem::take(&mut invocation.logs);
        let crash_detail = invocation.crash_detail.take();
        let fuel_used = invocation.fuel_used;
        let result = result.and_then(|answer| check_response(answer).map_err(InvokeError::Guest));

        let outcome = result.as_ref().map_or_else(|e| e.label(), |_| "ok");
        self.metrics.interaction(&deployed.record.name, outcome);
        let span = tracing::Span::current();
        span.record("outcome", outcome);
        span.record("fuel.used", fuel_used);
        span.record("latency_us", started.elapsed().as_micros() as u64);

        let (answer, error) = match result {
            Ok(response) => (Bytes::from(response), None),
            Err(err) => {
                warn!(
                    error = clip(&err.to_string(), LOG_LINE_MAX),
                    "bot did not answer"
                );
                (notice(event.kind, &notice_text(&err)), Some(err))
            }
        };
        let quarantine = match &error {
            Some(err) if err.is_crash() => deployed.health().on_crash(Instant::now(), err.label()),
            // Busy, a host failure, or an event stopped from outside says
            // nothing about the bot's own health: neither a crash nor a
            // success (which would reset a crash loop).
            Some(
                InvokeError::Busy(_)
                | InvokeError::NodeFull(_)
                | InvokeError::Host(_)
                | InvokeError::Removed
                | InvokeError::Quarantined,
            ) => None,
            // A guest error is the bot answering; only crashes count toward a loop.
            _ => {
                deployed.health().on_success();
                None
            }
        };
        if quarantine.is_some() {
            // Events queued behind this one get the notice without running.
            deployed.bot.halt();
        }
        // Only now may the next queued event take this one's place.
        invocation.release();
        // DESIGN's rule 3: the crashed instance is replaced before the next
        // event, in the background, so that event runs warm.
        if error.as_ref().is_some_and(InvokeError::is_crash) && quarantine.is_none() {
            let deployed = deployed.clone();
            self.tasks.spawn(
                async move {
                    if deployed.bot.idle_instances() == 0 && !deployed.is_retired() {
                        if let Err(err) = deployed.bot.prewarm().await {
                            debug!(error = %err, "no replacement instance after the crash");
                        }
                    }
                }
                .in_current_span(),
            );
        }
        self.persist(
            &deployed,
            event.id.clone(),
            logs,
            error,
            crash_detail,
            quarantine,
        )
        .await;
        answer
    }

    /// Sends an answer that came after the initial response (the host's
    /// deferral or the bot's early `respond`), by editing the original or as
    /// a follow-up (see [`late_steps`]). A failure is told to the bot's owner
    /// in its logs.
    async fn deliver_late(
        &self,
        deployed: &Deployed,
        event: &Event,
        initial: Initial,
        answer: Bytes,
    ) {
        let Some(token) = event.token.as_deref() else {
            warn!("the interaction carried no token; the late answer cannot be delivered");
            return;
        };
        let value: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
        let steps = match late_steps(event.kind, initial, &value, &event.application_id, token) {
            Ok(steps) => steps,
            Err(why) => {
                warn!(%why, "late answer dropped");
                self.owner_log(
                    deployed,
                    event,
                    format!("the bot's late answer was dropped: {why}"),
                )
                .await;
                return;
            }
        };
        if steps.is_empty() {
            return;
        }
        // A removed bot's token is not used again: its last word (the
        // removal notice, or an answer finished just before) needs only the
        // interaction's own webhook token.
        let env = deployed.bot.env();
        let deadline = tokio::time::Instant::now() + LATE_DELIVERY_DEADLINE;
        for step in steps {
            let body = step.body.map(Bytes::from);
            // Late steps are interaction webhooks, which always have an auth.
            let auth = env
                .auth(&step.path)
                .unwrap_or(Auth::Webhook(&event.application_id));
            let result = self
                .discord
                .request(auth, step.method.clone(), &step.path, body, deadline)
                .await;
            let failure = match result {
                Ok(response) if (200..300).contains(&response.status) => continue,
                Ok(response) => format!(
                    "Discord answered {} {}",
                    response.status,
                    String::from_utf8_lossy(&response.body[..response.body.len().min(300)])
                ),
                Err(err) => err.to_string(),
            };
            warn!(method = %step.method, %failure, "failed to deliver the late answer");
            self.owner_log(
                deployed,
                event,
                format!(
                    "the bot's late answer was not delivered ({}): {failure}",
                    step.method
                ),
            )
            .await;
            return;
        }
        info!(
            latency_ms = event.received.elapsed().as_millis() as u64,
            "late answer delivered"
        );
    }

    /// A host line in the bot's logs, for its owner (a removed bot has none).
    async fn owner_log(&self, deployed: &Deployed, event: &Event, message: String) {
        if deployed.is_retired() {
            return;
        }
        let line = store::LogLine::new("warn", event.id.clone(), message);
        if let Err(err) = self.db.append_logs(deployed.record.id, vec![line]).await {
            warn!(error = %err, "failed to store bot logs");
        }
    }

    /// Writes the event's logs and any crash record in the background. A
    /// quarantine is written before the bot's answer goes out instead: once a
    /// user has been told the bot is disabled, a node crash must not undo it.
    async fn persist(
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
        }
        let mut host_line = |level: &str, message: String| {
            logs.push(store::LogLine::new(level, interaction_id.clone(), message))
        };
        if !within_budget {
            host_line(
                "warn",
                format!(
                    "{bytes} log bytes dropped: the limit is {} bytes per minute",
                    crate::fleet::LOG_BYTES_PER_MINUTE
                ),
            );
        }
        if let Some(err) = &error {
            // The text may be the guest's own error string: clipped like its log lines.
            let text = err.to_string();
            host_line(
                "error",
                format!("{} ({})", clip(&text, LOG_LINE_MAX), err.label()),
            );
        }
        if let Some(reason) = &quarantine {
            host_line(
                "error",
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

/// The notice's text for a failed invocation.
pub fn notice_text(err: &InvokeError) -> String {
    match err {
        InvokeError::Busy(_) | InvokeError::NodeFull(_) => {
            "This bot is busy right now. Please try again in a moment.".to_owned()
        }
        // The bot's own error text is meant for its user (the SDK documents this).
        InvokeError::Guest(message) => {
            format!(
                "This bot could not answer: {}",
                clip(message, MAX_NOTICE_CHARS)
            )
        }
        InvokeError::Quarantined => QUARANTINED_NOTICE.to_owned(),
        InvokeError::Removed => REMOVED_NOTICE.to_owned(),
        InvokeError::ResponseTooLarge(_) => {
            "This bot could not answer that. Its owner can see why in `appliance logs`.".to_owned()
        }
        _ => "This bot ran into a problem and could not answer. Its owner can see why in `appliance logs`."
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_ephemeral_and_autocomplete_gets_no_choices() {
        let err = InvokeError::Trap("boom".into());
        let value: serde_json::Value =
            serde_json::from_slice(&notice(kind::APPLICATION_COMMAND, &notice_text(&err))).unwrap();
        assert_eq!(value["type"], 4);
        assert_eq!(value["data"]["flags"], 64);
        assert_eq!(
            &notice(kind::AUTOCOMPLETE, "x")[..],
            br#"{"type":8,"data":{"choices":[]}}"#
        );
    }
}
