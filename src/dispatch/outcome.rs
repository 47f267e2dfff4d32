//! Running the bot for one event, and what its outcome does: the metrics,
//! the bot's crash-loop health, its place released for the next event, a
//! replacement instance after a crash, and the logs and crash record.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tracing::{debug, warn, Instrument};

use super::{counters, notice_text, Dispatcher, Event};
use crate::fleet::Deployed;
use crate::health::Gate;
use crate::metrics::{self, Kind};
use crate::protocol::interaction::{notice, Answer};
use crate::sandbox::{self, Invocation, InvokeError, Responder, Slot, LOG_LINE_MAX};
use crate::text::clip;

/// What became of one Discord event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// The bot's handler ran and returned `ok`.
    Handled,
    /// The handler ran and failed (an error, a crash, a limit).
    Failed,
    /// The bot did not run: it takes no events, or is backing off or quarantined.
    Dropped,
}

impl Dispatcher {
    /// Runs the bot and turns the result into the answer for the user (the
    /// bot's JSON or a notice), updating health, metrics, logs and crashes.
    pub(super) async fn invoke(
        &self,
        deployed: Arc<Deployed>,
        event: &Event,
        body: Bytes,
        responder: Responder,
    ) -> Answer {
        let started = Instant::now();
        let Invocation {
            result,
            logs,
            crash_detail,
            fuel_used,
            slot,
        } = deployed
            .bot
            .invoke(&body, event.id.as_deref(), Some(responder))
            .await;

        let elapsed = started.elapsed();
        let outcome = result.as_ref().map_or_else(|e| e.label(), |_| "ok");
        let counters = counters(&deployed);
        counters.count(metrics::kind_of(event.kind), outcome);
        counters.fuel_used(fuel_used);
        counters.run_latency.observe(elapsed);
        let span = tracing::Span::current();
        span.record("outcome", outcome);
        span.record("fuel.used", fuel_used);
        span.record("latency_us", elapsed.as_micros() as u64);

        let (answer, error) = match result {
            Ok(answer) => (answer, None),
            Err(err) => {
                warn!(
                    error = clip(&err.to_string(), LOG_LINE_MAX),
                    "bot did not answer"
                );
                (notice(event.kind, &notice_text(&err)), Some(err))
            }
        };
        self.account(&deployed, event.id.clone(), error, logs, crash_detail, slot)
            .await;
        answer
    }

    /// Runs the bot's `handle-event` for one Discord event, in the
    /// background; see [`Dispatcher::run_event`].
    pub fn deliver_event(&self, deployed: Arc<Deployed>, event: sandbox::Event) {
        let this = self.clone();
        let span = tracing::info_span!("events", bot = %deployed.record.name);
        self.tasks.spawn(
            async move {
                this.run_event(deployed, event).await;
            }
            .instrument(span),
        );
    }

    /// Runs the bot's `handle-event` for one Discord event, with the same
    /// accounting as an interaction: crash-loop health, quarantine, logs and
    /// crash records. A bot backing off or quarantined, or one without an
    /// event handler, does not run; the event is dropped and counted.
    ///
    /// The caller runs this inside a span naming the bot (`events`, one per
    /// gateway lane run or webhook event). The event's own span is at debug
    /// level: at tens of thousands of events a second, formatting an
    /// info span's fields per event was ~10% of the node's CPU (perf, in
    /// the gateway bench); the lines logged here name the event themselves.
    pub async fn run_event(&self, deployed: Arc<Deployed>, event: sandbox::Event) -> EventOutcome {
        let span = tracing::debug_span!(
            "event",
            version = deployed.record.active_version,
            event = %event.name,
            shard = event.shard,
            seq = event.sequence,
            outcome = tracing::field::Empty,
        );
        async move {
            let takes_events = deployed.bot.handles_events();
            if !takes_events || !matches!(deployed.health().gate(Instant::now()), Gate::Open) {
                counters(&deployed).count(Kind::EVENT, "event_dropped");
                tracing::Span::current().record("outcome", "event_dropped");
                if !takes_events {
                    // Nothing to run: the owner learns why, in the bot's logs.
                    let message = format!(
                        "a Discord event ({}) arrived, but this bot takes no events: build it for \
                         world event-bot (export handle-event)",
                        clip(&event.name, 100)
                    );
                    self.owner_log(&deployed, None, message).await;
                }
                return EventOutcome::Dropped;
            }
            let Invocation {
                result,
                logs,
                crash_detail,
                fuel_used,
                slot,
            } = deployed.bot.invoke_event(&event).await;
            let outcome = match &result {
                Ok(()) => "event_ok",
                Err(_) => "event_failed",
            };
            let counters = counters(&deployed);
            counters.count(Kind::EVENT, outcome);
            counters.fuel_used(fuel_used);
            tracing::Span::current().record("outcome", outcome);
            let error = result.err();
            if let Some(err) = &error {
                warn!(
                    event = %clip(&event.name, 100),
                    seq = event.sequence,
                    error = clip(&err.to_string(), LOG_LINE_MAX),
                    "bot failed an event"
                );
            }
            let handled = if error.is_none() {
                EventOutcome::Handled
            } else {
                EventOutcome::Failed
            };
            self.account(&deployed, None, error, logs, crash_detail, slot)
                .await;
            handled
        }
        .instrument(span)
        .await
    }

    /// What an event's outcome does: the crash-loop state, a quarantine
    /// halting queued events, the event's place released only after that, a
    /// replacement instance after a crash, and the logs and crash record.
    async fn account(
        &self,
        deployed: &Arc<Deployed>,
        interaction_id: Option<String>,
        error: Option<InvokeError>,
        logs: Vec<crate::store::LogLine>,
        crash_detail: Option<String>,
        slot: Slot,
    ) {
        let quarantine = match &error {
            Some(err) if err.is_crash() => {
                counters(deployed).crash(err.label());
                deployed.health().on_crash(Instant::now(), err.label())
            }
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
        drop(slot);
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
            deployed,
            interaction_id,
            logs,
            error,
            crash_detail,
            quarantine,
        )
        .await;
    }
}
