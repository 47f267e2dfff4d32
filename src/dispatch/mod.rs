//! From a verified interaction body to the answer Discord gets: PING is
//! answered here, everything else runs in the bot's sandbox, and every
//! failure becomes a response the user can see (never a hung interaction).
//!
//! Deadline rules (DESIGN.md): a crash, timeout or invalid answer becomes an
//! ephemeral notice (`flags: 64`); autocomplete, which cannot show one, gets
//! an empty choice list. Logs and crash records are written after the answer
//! is on its way, off the response path.

mod journal;
mod late;
mod notice;
mod outcome;

pub use notice::notice_text;
pub use outcome::EventOutcome;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use tokio_util::task::TaskTracker;
use tracing::{field, info_span, Instrument};

use crate::discord;
use crate::fleet::Deployed;
use crate::health::Gate;
use crate::metrics::{self, BotCounters};
use crate::protocol::interaction::{deferred_response, kind, notice, Answer, Head};
use crate::store::Db;
use notice::{BACKING_OFF_NOTICE, FAILED_NOTICE, QUARANTINED_NOTICE};

#[derive(Debug, Clone)]
pub struct Dispatcher {
    db: Db,
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

/// The bot's answer, or a notice if its run panicked (a host bug).
fn answer_or_notice(result: Result<Answer, Panicked>, interaction_kind: u8) -> Answer {
    result.unwrap_or_else(|_| {
        tracing::error!("dispatch of the interaction panicked");
        notice(interaction_kind, FAILED_NOTICE)
    })
}

/// The answer that follows the initial one: already there, or still coming.
enum Late {
    Finished(Answer),
    Running(tokio::task::JoinHandle<Result<Answer, Panicked>>),
}

/// A panic caught in a bot's run.
type Panicked = Box<dyn std::any::Any + Send>;
type Run = Pin<Box<dyn Future<Output = Result<Answer, Panicked>> + Send>>;

/// One bot run, polled inline by the request that waits for it: the common
/// case (an answer before the deferral point) costs no task spawn and no
/// cross-thread wake-up. If the request stops waiting (deferral, an early
/// response, or a client that went away), the run moves to a task of its own
/// and still runs to its end: its outcome must be accounted for and its late
/// answer delivered. Tracked by the dispatcher's `TaskTracker` either way,
/// so a graceful shutdown waits for it.
struct Worker {
    /// Tracked already: spawning it does not need the tracker again.
    run: Option<Run>,
}

impl Worker {
    fn new(run: impl Future<Output = Answer> + Send + 'static, tasks: &TaskTracker) -> Worker {
        let run = tasks.track_future(AssertUnwindSafe(run).catch_unwind());
        Worker {
            run: Some(Box::pin(run)),
        }
    }

    /// Moves the run to a task of its own.
    fn detach(mut self) -> tokio::task::JoinHandle<Result<Answer, Panicked>> {
        let run = self
            .run
            .take()
            .expect("a worker is detached once, before it finished");
        tokio::spawn(run)
    }
}

impl Future for Worker {
    type Output = Result<Answer, Panicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let run = self
            .run
            .as_mut()
            .expect("a finished worker is not polled again");
        let done = ready!(run.as_mut().poll(cx));
        self.run = None;
        Poll::Ready(done)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // The request went away mid-run: finish the run anyway.
        if let Some(run) = self.run.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                tokio::spawn(run);
            }
        }
    }
}

impl Dispatcher {
    pub fn new(db: Db, discord: Arc<discord::Client>, defer_after: Duration) -> Dispatcher {
        Dispatcher {
            db,
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
        let counters = deployed.bot.env().counters.clone();
        let answer = self
            .run(deployed, event, body, deferral)
            .instrument(span)
            .await;
        counters.latency.observe(received.elapsed());
        answer
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
            counters(&deployed).count(metrics::kind_of(event.kind), outcome);
            span.record("outcome", outcome);
            return notice(event.kind, text).json;
        }

        // The bot runs inline while the request waits for it; past the
        // deferral point (or once the bot sends its initial response early)
        // it moves to a task of its own, so the HTTP answer can go out while
        // the bot keeps working.
        let (responder, mut early) = tokio::sync::oneshot::channel();
        let mut worker = {
            let this = self.clone();
            let event = event.clone();
            let deployed = deployed.clone();
            Worker::new(
                async move { this.invoke(deployed, &event, body, responder).await }
                    .in_current_span(),
                &self.tasks,
            )
        };
        let kind = event.kind;
        if deferral == Deferral::Never {
            // Nobody waits on a deadline: the bot's final answer is the one
            // shown; an early response is accepted and superseded by it.
            let answer = answer_or_notice(worker.await, kind);
            drop(early);
            return answer.json;
        }
        let defer_at = tokio::time::Instant::from_std(event.received + self.defer_after);
        let (early_response, finished) = tokio::select! {
            // An early response goes first even if the bot has finished by
            // now: its final answer is meant to follow it, and may be a
            // deferral that would leave "thinking..." on its own.
            biased;
            Ok(response) = &mut early => (Some(response), None),
            result = &mut worker => {
                let answer = answer_or_notice(result, kind);
                // Polled inline, a run can send its early response and
                // finish within one poll: the early one is still the
                // initial answer, and the final one follows it.
                match early.try_recv() {
                    Ok(response) => (Some(response), Some(answer)),
                    Err(_) => return answer.json,
                }
            }
            _ = tokio::time::sleep_until(defer_at) => {
                // Refuse later `respond` calls, but keep one that got in first.
                early.close();
                (early.try_recv().ok(), None)
            }
        };
        let answer = match early_response {
            Some(response) => {
                span.record("responded_early", true);
                response
            }
            None => {
                span.record("deferred", true);
                counters(&deployed).deferred();
                deferred_response(kind)
            }
        };
        let initial = answer.clone();
        let this = self.clone();
        let late = match finished {
            Some(answer) => Late::Finished(answer),
            None => Late::Running(worker.detach()),
        };
        self.tasks.spawn(
            async move {
                let late = match late {
                    Late::Finished(answer) => answer,
                    Late::Running(run) => {
                        answer_or_notice(run.await.unwrap_or_else(|err| Err(Box::new(err))), kind)
                    }
                };
                this.deliver_late(&deployed, &event, initial, late).await;
            }
            .in_current_span(),
        );
        answer.json
    }
}

/// The bot's figures: held by the serving version, so no lookup per event.
fn counters(deployed: &Deployed) -> &BotCounters {
    &deployed.bot.env().counters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Answer {
        Answer::parse(r#"{"type":4,"data":{"content":"done"}}"#).unwrap()
    }

    #[tokio::test]
    async fn a_run_whose_request_went_away_still_finishes() {
        let tasks = TaskTracker::new();
        let (finished, seen) = tokio::sync::oneshot::channel();
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let worker = Worker::new(
            async move {
                wait.await.unwrap();
                finished.send(()).unwrap();
                answer()
            },
            &tasks,
        );
        // The request polls it once, then is dropped (a client that hung up).
        let mut worker = Box::pin(worker);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(worker.as_mut().poll(&mut cx).is_pending());
        drop(worker);
        go.send(()).unwrap();
        seen.await.expect("the run was cancelled with its request");
        tasks.close();
        tasks.wait().await;
    }

    #[tokio::test]
    async fn a_run_is_tracked_inline_and_after_it_is_detached() {
        let tasks = TaskTracker::new();
        let inline = Worker::new(async { answer() }, &tasks);
        assert_eq!(tasks.len(), 1);
        assert_eq!(inline.await.unwrap(), answer());
        assert_eq!(tasks.len(), 0);

        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let detached = Worker::new(
            async move {
                wait.await.unwrap();
                answer()
            },
            &tasks,
        )
        .detach();
        assert_eq!(
            tasks.len(),
            1,
            "a detached run is still waited for at shutdown"
        );
        go.send(()).unwrap();
        assert_eq!(detached.await.unwrap().unwrap(), answer());
    }

    #[tokio::test]
    async fn a_panicking_run_becomes_a_notice() {
        let worker = Worker::new(
            async {
                panic!("host bug");
                #[allow(unreachable_code)]
                answer()
            },
            &TaskTracker::new(),
        );
        let shown = answer_or_notice(worker.await, kind::APPLICATION_COMMAND);
        assert!(shown.ephemeral, "{shown:?}");
    }
}
