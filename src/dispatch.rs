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

use hyper::Method;

use bytes::Bytes;
use serde::Deserialize;
use tracing::{debug, field, info, info_span, warn, Instrument};

use tokio_util::task::TaskTracker;

use crate::discord::{self, Auth};

use crate::fleet::Deployed;
use crate::health::Gate;
use crate::sandbox::{Invocation, InvokeError};
use crate::store::{self, CrashRecord, Db};
use crate::telemetry::Metrics;

/// Interaction types (Discord's `type` field).
pub mod kind {
    pub const PING: u8 = 1;
    pub const APPLICATION_COMMAND: u8 = 2;
    pub const MESSAGE_COMPONENT: u8 = 3;
    pub const AUTOCOMPLETE: u8 = 4;
    pub const MODAL_SUBMIT: u8 = 5;
}

/// Interaction response types a bot may answer with.
const RESPONSE_TYPES: &[u64] = &[4, 5, 6, 7, 8, 9, 10, 12];
const EPHEMERAL: u64 = 64;
/// Discord's message content limit is 2,000 characters; leave room for our prefix.
const MAX_NOTICE_CHARS: usize = 1_900;

/// The few fields the host reads; the bot gets the whole body.
#[derive(Debug, Deserialize)]
pub struct Head {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    data: Option<HeadData>,
}

#[derive(Debug, Default, Deserialize)]
struct HeadData {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    custom_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("request body is not an interaction: {0}")]
    BadInteraction(String),
}

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
    Allowed,
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

/// The host's own answer at the deferral point (DESIGN.md's deadline rules).
pub fn deferred_response(interaction_kind: u8) -> Bytes {
    match interaction_kind {
        kind::MESSAGE_COMPONENT => Bytes::from_static(br#"{"type":6}"#),
        // Autocomplete cannot be deferred: an empty list is the only answer in time.
        kind::AUTOCOMPLETE => Bytes::from_static(br#"{"type":8,"data":{"choices":[]}}"#),
        _ => Bytes::from_static(br#"{"type":5}"#),
    }
}

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
        let received = Instant::now();
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
            fuel.used = field::Empty,
            latency_us = field::Empty,
        );
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
            Gate::BackingOff { .. } => Some((
                "backing_off",
                "This bot is restarting after a crash. Please try again in a few seconds.",
            )),
            Gate::Quarantined { .. } => Some((
                "quarantined",
                "This bot is disabled after crashing repeatedly. Its owner has to deploy a fix.",
            )),
        };
        if let Some((outcome, text)) = refusal {
            self.metrics.interaction(&deployed.record.name, outcome);
            span.record("outcome", outcome);
            return notice(event.kind, text);
        }

        // The bot runs in its own task so that, past the deferral point, the
        // HTTP answer can go out while the bot keeps working.
        let bot_name = deployed.record.name.clone();
        let mut worker = {
            let this = self.clone();
            let event = event.clone();
            self.tasks
                .spawn(async move { this.invoke(deployed, &event, body).await }.in_current_span())
        };
        let kind = event.kind;
        if deferral == Deferral::Never {
            return joined(worker.await, kind);
        }
        let defer_at = tokio::time::Instant::from_std(event.received + self.defer_after);
        match tokio::time::timeout_at(defer_at, &mut worker).await {
            Ok(result) => joined(result, kind),
            Err(_) => {
                span.record("deferred", true);
                self.metrics.interaction(&bot_name, "deferred");
                let this = self.clone();
                self.tasks.spawn(
                    async move {
                        let answer = joined(worker.await, kind);
                        this.deliver_late(&event, answer).await;
                    }
                    .in_current_span(),
                );
                deferred_response(kind)
            }
        }
    }

    /// Runs the bot and turns the result into the answer for the user (the
    /// bot's JSON or a notice), updating health, metrics, logs and crashes.
    async fn invoke(&self, deployed: Arc<Deployed>, event: &Event, body: Bytes) -> Bytes {
        let started = Instant::now();
        let Invocation {
            result,
            logs,
            crash_detail,
            fuel_used,
        } = deployed.bot.invoke(&body, event.id.as_deref()).await;
        let result = result.and_then(check_response);

        let outcome = result.as_ref().map_or_else(|e| e.label(), |_| "ok");
        self.metrics.interaction(&deployed.record.name, outcome);
        let span = tracing::Span::current();
        span.record("outcome", outcome);
        span.record("fuel.used", fuel_used);
        span.record("latency_us", started.elapsed().as_micros() as u64);

        let (answer, error) = match result {
            Ok(response) => (Bytes::from(response), None),
            Err(err) => {
                warn!(error = %err, "bot did not answer");
                (notice(event.kind, &notice_text(&err)), Some(err))
            }
        };
        let quarantine = match &error {
            Some(err) if err.is_crash() => deployed.health().on_crash(Instant::now(), err.label()),
            // A guest error is the bot answering; only crashes count toward a loop.
            _ => {
                deployed.health().on_success();
                None
            }
        };
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

    /// Sends an answer that came after the deferral: as an edit of the
    /// deferred original, or for components (deferred with type 6) as a
    /// follow-up message.
    async fn deliver_late(&self, event: &Event, answer: Bytes) {
        if event.kind == kind::AUTOCOMPLETE {
            // Discord already has the empty choice list; suggestions cannot follow.
            debug!("autocomplete answered after the deferral point; dropped");
            return;
        }
        let Some(token) = event.token.as_deref() else {
            warn!("the interaction carried no token; the late answer cannot be delivered");
            return;
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&answer) else {
            return;
        };
        let response_type = value.get("type").and_then(|t| t.as_u64()).unwrap_or(0);
        let app = &event.application_id;
        let (method, path) = match response_type {
            4 if event.kind == kind::MESSAGE_COMPONENT => {
                (Method::POST, format!("/webhooks/{app}/{token}"))
            }
            4 | 7 => (
                Method::PATCH,
                format!("/webhooks/{app}/{token}/messages/@original"),
            ),
            // The bot deferred itself; it sends its own follow-ups.
            5 | 6 => return,
            other => {
                warn!(
                    response_type = other,
                    "this response type must be the initial response; it came after the deferral and was dropped"
                );
                return;
            }
        };
        let data = value
            .get("data")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        let body = Bytes::from(data.to_string());
        let deadline = tokio::time::Instant::now() + LATE_DELIVERY_DEADLINE;
        match self
            .discord
            .request(Auth::None, method, &path, Some(body), deadline)
            .await
        {
            Ok(response) if (200..300).contains(&response.status) => {
                info!(
                    latency_ms = event.received.elapsed().as_millis() as u64,
                    "late answer delivered"
                );
            }
            Ok(response) => warn!(status = response.status, "Discord refused the late answer"),
            Err(err) => warn!(error = %err, "failed to deliver the late answer"),
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
        let bot_id = deployed.record.id;
        let version = deployed.record.active_version;
        let db = self.db.clone();
        // The per-minute budget covers the guest's own lines; host lines about
        // crashes always get through, so a log flood cannot hide a crash.
        let bytes: usize = logs.iter().map(|line| line.message.len()).sum();
        let within_budget = {
            let mut budget = deployed
                .log_budget
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            budget.take(Instant::now(), bytes)
        };
        if !within_budget {
            logs.clear();
        }
        let mut host_line = |level: &str, message: String| {
            logs.push(store::LogLine {
                id: 0,
                at_ms: store::now_ms(),
                level: level.into(),
                interaction_id: interaction_id.clone(),
                message,
            })
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
            host_line("error", format!("{} ({})", err, err.label()));
        }
        if let Some(reason) = &quarantine {
            host_line(
                "error",
                format!("bot quarantined after {reason}; deploy a fix or `appliance rollback` to lift it"),
            );
        }
        let crash = error.filter(InvokeError::is_crash).map(|err| CrashRecord {
            at_ms: store::now_ms(),
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
            if quarantine.is_some() {
                if let Err(err) = db.set_quarantine(bot_id, quarantine).await {
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

impl Head {
    /// Reads the fields the host needs from an interaction body.
    pub fn parse(body: &[u8]) -> Result<Head, Error> {
        serde_json::from_slice(body).map_err(|e| Error::BadInteraction(e.to_string()))
    }

    /// The interaction id (a snowflake string; other JSON shapes as written).
    pub fn id(&self) -> Option<String> {
        match &self.id {
            Some(serde_json::Value::String(id)) => Some(id.clone()),
            Some(other) => Some(other.to_string()),
            None => None,
        }
    }
}

/// Accepts the guest's answer only if it is a JSON object with a response
/// `type` Discord knows; anything else would fail the interaction at Discord.
pub fn check_response(response: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
    let value: serde_json::Value = serde_json::from_slice(&response)
        .map_err(|e| InvokeError::Guest(format!("response is not JSON: {e}")))?;
    match value.get("type").and_then(|t| t.as_u64()) {
        Some(t) if RESPONSE_TYPES.contains(&t) => Ok(response),
        Some(t) => Err(InvokeError::Guest(format!(
            "response type {t} is not a valid interaction response type"
        ))),
        None => Err(InvokeError::Guest(
            "response has no numeric \"type\" field".into(),
        )),
    }
}

/// What the user sees when the bot could not answer: an ephemeral message,
/// or for autocomplete (which cannot show one) an empty choice list.
pub fn notice(interaction_kind: u8, content: &str) -> Bytes {
    if interaction_kind == kind::AUTOCOMPLETE {
        return Bytes::from_static(br#"{"type":8,"data":{"choices":[]}}"#);
    }
    let body = serde_json::json!({
        "type": 4,
        "data": { "content": content, "flags": EPHEMERAL },
    });
    Bytes::from(body.to_string())
}

/// The notice's text for a failed invocation.
pub fn notice_text(err: &InvokeError) -> String {
    match err {
        InvokeError::Busy(_) => "This bot is busy right now. Please try again in a moment.".to_owned(),
        // The bot's own error text is meant for its user (the SDK documents this).
        InvokeError::Guest(message) => {
            let mut message = message.as_str();
            if message.len() > MAX_NOTICE_CHARS {
                let mut cut = MAX_NOTICE_CHARS;
                while !message.is_char_boundary(cut) {
                    cut -= 1;
                }
                message = &message[..cut];
            }
            format!("This bot could not answer: {message}")
        }
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
    fn deferral_fits_the_interaction_type() {
        assert_eq!(
            &deferred_response(kind::APPLICATION_COMMAND)[..],
            br#"{"type":5}"#
        );
        assert_eq!(&deferred_response(kind::MODAL_SUBMIT)[..], br#"{"type":5}"#);
        assert_eq!(
            &deferred_response(kind::MESSAGE_COMPONENT)[..],
            br#"{"type":6}"#
        );
        assert_eq!(
            &deferred_response(kind::AUTOCOMPLETE)[..],
            br#"{"type":8,"data":{"choices":[]}}"#
        );
    }

    #[test]
    fn responses_must_be_typed_json() {
        assert!(check_response(br#"{"type":4,"data":{"content":"hi"}}"#.to_vec()).is_ok());
        assert!(check_response(b"hello".to_vec()).is_err());
        assert!(check_response(br#"{"data":{}}"#.to_vec()).is_err());
        assert!(check_response(br#"{"type":1}"#.to_vec()).is_err());
    }

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
