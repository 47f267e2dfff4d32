//! One deployed bot version: its live instances and how an event runs in one
//! (queueing for a place, fuel and deadline, the call, and what is kept after).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use wasmtime::{Store, UpdateDeadline};

use super::error::{classify, crash_detail, crash_detail_after};
use super::host::{self, EventState, HostState};
use super::pool::{pool_is_full, IdlePool, Parked, MAX_EVICTIONS_PER_INSTANTIATION};
use super::{bindings, BotEnv, Event, InvokeError, Responder, LOG_LINE_MAX, MAX_RESPONSE_BYTES};
use crate::protocol::interaction::Answer;
use crate::store::{Level, LogLine};
use crate::sync::lock;

/// A running guest yields to the async executor after this much fuel, so a
/// busy bot cannot hold a worker thread while other requests wait.
const FUEL_YIELD_INTERVAL: u64 = 2_000_000;

/// The result of one event: an interaction's [`Answer`] (checked with
/// [`Answer::parse`] once, here), or `()` for a Discord event.
#[derive(Debug)]
pub struct Invocation<T = Answer> {
    pub result: Result<T, InvokeError>,
    /// Log lines the event wrote (guest `log` calls, stdout, stderr).
    pub logs: Vec<LogLine>,
    /// Full error with the wasm backtrace, for crash records.
    pub crash_detail: Option<String>,
    pub fuel_used: u64,
    /// The event's place among the bot's concurrent events, held until the
    /// caller has accounted for the outcome and drops it: a crash that
    /// quarantines the bot must take effect before the next queued event
    /// gets the place and runs.
    pub slot: Slot,
}

/// An event's place among its bot's concurrent events; dropping it gives
/// the place to the next queued event.
#[derive(Debug)]
pub struct Slot(#[allow(dead_code)] Vec<OwnedSemaphorePermit>);

impl<T> Invocation<T> {
    fn refused(error: InvokeError) -> Invocation<T> {
        Invocation {
            result: Err(error),
            logs: Vec::new(),
            crash_detail: None,
            fuel_used: 0,
            slot: Slot(Vec::new()),
        }
    }

    fn map<U>(self, f: impl FnOnce(T) -> Result<U, InvokeError>) -> Invocation<U> {
        Invocation {
            result: self.result.and_then(f),
            logs: self.logs,
            crash_detail: self.crash_detail,
            fuel_used: self.fuel_used,
            slot: self.slot,
        }
    }
}

/// What an instance is asked to handle.
enum Call<'a> {
    Interaction(&'a [u8]),
    Event(&'a Event),
    /// The `commands` export, at deploy.
    Commands,
}

pub(super) struct Instance {
    store: Store<HostState>,
    /// The `handle-interaction` export, called through its raw handle with a
    /// typed signature (the bindings' wrapper would hide the call's errors).
    handle: wasmtime::component::Func,
    /// The `handle-event` export, for a bot of world `event-bot`.
    handle_event: Option<wasmtime::component::Func>,
    /// The `commands` export, for a bot that declares its commands.
    commands: Option<wasmtime::component::Func>,
    pub(super) last_used: Instant,
}

impl Instance {
    /// The figures of the bot this instance belongs to.
    pub(super) fn counters(&self) -> &crate::metrics::BotCounters {
        &self.store.data().env.counters
    }
}

/// One deployed version of a bot, with its pool of live instances.
pub struct Bot {
    pre: bindings::BotPre<HostState>,
    env: Arc<BotEnv>,
    engine: wasmtime::Engine,
    idle: Arc<IdlePool>,
    parked: Arc<Parked>,
    permits: Arc<Semaphore>,
    /// Places events may take, one fewer than `permits`.
    event_permits: Arc<Semaphore>,
    handles_events: bool,
    declares_commands: bool,
    /// Cancelled when the bot is quarantined: events still waiting for an
    /// instance are refused instead of running.
    halted: CancellationToken,
    /// Calls of this bot holding an instance right now.
    running: AtomicUsize,
    /// Woken whenever one of those calls gives its instance back (parked or
    /// dropped), for an event waiting on it (see `instance_for`).
    returned: Notify,
}

/// One call holding an instance of the bot, until dropped (also when the
/// call is cancelled), which wakes events waiting for that instance.
struct Running<'a>(&'a Bot);

impl<'a> Running<'a> {
    fn start(bot: &'a Bot) -> Running<'a> {
        bot.running.fetch_add(1, Ordering::Relaxed);
        Running(bot)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
        self.0.returned.notify_waiters();
    }
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot")
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

impl Bot {
    pub(super) fn new(
        pre: bindings::BotPre<HostState>,
        handles_events: bool,
        declares_commands: bool,
        env: BotEnv,
        engine: wasmtime::Engine,
        parked: Arc<Parked>,
    ) -> Bot {
        let idle = Arc::new(Mutex::new(Vec::new()));
        parked.register(&idle);
        // Events leave one place free for interactions (which have Discord's
        // 3 s to meet; events have no deadline); a bot with a single place
        // shares it.
        let event_places = (env.limits.instances as usize).saturating_sub(1).max(1);
        Bot {
            permits: Arc::new(Semaphore::new(env.limits.instances as usize)),
            event_permits: Arc::new(Semaphore::new(event_places)),
            handles_events,
            declares_commands,
            halted: CancellationToken::new(),
            running: AtomicUsize::new(0),
            returned: Notify::new(),
            idle,
            parked,
            engine,
            env: Arc::new(env),
            pre,
        }
    }

    pub fn env(&self) -> &BotEnv {
        &self.env
    }

    /// Live instances currently parked between events.
    pub fn idle_instances(&self) -> usize {
        lock(&self.idle).len()
    }

    /// Instantiates one instance ahead of the first event and parks it, so
    /// that event runs warm.
    pub async fn prewarm(&self) -> Result<(), InvokeError> {
        let instance = self
            .instantiate_with_room()
            .await
            .map_err(|err| InvokeError::Host(format!("{err:#}")))?;
        lock(&self.idle).push(instance);
        Ok(())
    }

    /// Refuses every event still waiting for an instance, and every later
    /// one, with [`InvokeError::Quarantined`]; running events finish.
    pub fn halt(&self) {
        self.halted.cancel();
    }

    /// Stops every event of this bot, of every version, queued or running
    /// (with [`InvokeError::Removed`]), refuses their host calls, and drops
    /// the parked instances. For a bot that was removed.
    pub fn retire(&self) {
        self.env.retired.cancel();
        lock(&self.idle).clear();
    }

    /// Drops parked instances unused for `idle` or longer; returns how many.
    pub fn evict_idle(&self, idle: Duration) -> usize {
        let now = Instant::now();
        let mut pool = lock(&self.idle);
        let before = pool.len();
        pool.retain(|instance| now.duration_since(instance.last_used) < idle);
        let evicted = before - pool.len();
        if evicted > 0 {
            self.env.counters.evicted("idle", evicted);
        }
        evicted
    }

    /// Events holding one of this bot's places (running, or waiting for
    /// an instance).
    pub fn busy_instances(&self) -> usize {
        (self.env.limits.instances as usize).saturating_sub(self.permits.available_permits())
    }

    /// Runs one event: `interaction` is the interaction JSON, the result is the
    /// guest's checked answer. `responder`
    /// takes an initial response the guest sends early through the
    /// `interaction` import.
    pub async fn invoke(
        &self,
        interaction: &[u8],
        interaction_id: Option<&str>,
        responder: Option<Responder>,
    ) -> Invocation {
        self.run(
            Call::Interaction(interaction),
            interaction_id,
            responder,
            None,
        )
        .await
        .map(|returned| match returned {
            Returned::Answer(response) => Answer::parse(response).map_err(InvokeError::Guest),
            _ => Err(InvokeError::Host("an interaction got no answer".into())),
        })
    }

    /// Whether the component declares its commands (the `commands` export).
    pub fn declares_commands(&self) -> bool {
        self.declares_commands
    }

    /// Runs the `commands` export once, in a fresh instance under the bot's
    /// limits, with every host service refused (the version is not live):
    /// the bot's declared command list (JSON), or `None` if it declares none.
    pub async fn declared_commands(&self) -> Invocation<Option<Vec<u8>>> {
        if !self.declares_commands {
            return Invocation::refused(InvokeError::Host(
                "the component does not export commands".into(),
            ));
        }
        self.run(Call::Commands, None, None, None)
            .await
            .map(|returned| match returned {
                Returned::Commands(commands) => Ok(commands),
                _ => Err(InvokeError::Host("the commands export gave no list".into())),
            })
    }

    /// Whether the bot takes Discord events (its component exports `handle-event`).
    pub fn handles_events(&self) -> bool {
        self.handles_events
    }

    /// Runs the bot's `handle-event` for one Discord event, under the same
    /// limits, in the same instances, as an interaction; events may take
    /// all but one of the bot's places, so interactions always find one.
    pub async fn invoke_event(&self, event: &Event) -> Invocation<()> {
        if !self.handles_events {
            return Invocation::refused(InvokeError::Host(
                "the bot takes no events: its component does not export handle-event (world event-bot)"
                    .into(),
            ));
        }
        let wall_clock = Duration::from_millis(self.env.limits.timeout_ms);
        let place = tokio::select! {
            biased;
            _ = self.env.retired.cancelled() => return Invocation::refused(InvokeError::Removed),
            _ = self.halted.cancelled() => return Invocation::refused(InvokeError::Quarantined),
            place = tokio::time::timeout(wall_clock, self.event_permits.clone().acquire_owned()) => place,
        };
        let Ok(Ok(place)) = place else {
            return Invocation::refused(InvokeError::Busy(self.env.limits.instances));
        };
        self.run(Call::Event(event), None, None, Some(place))
            .await
            .map(|returned| match returned {
                Returned::Handled => Ok(()),
                _ => Err(InvokeError::Host("an event got an answer".into())),
            })
    }

    /// Runs one call in an instance: queueing for a place, fuel and
    /// deadline, the call, and what is kept afterwards. `held` is a place the
    /// caller already took (an event's), kept with the event's slot.
    async fn run(
        &self,
        call: Call<'_>,
        interaction_id: Option<&str>,
        responder: Option<Responder>,
        held: Option<OwnedSemaphorePermit>,
    ) -> Invocation<Returned> {
        let limits = self.env.limits;
        let wall_clock = Duration::from_millis(limits.timeout_ms);
        let retired = &self.env.retired;
        let waited = tokio::select! {
            biased;
            _ = retired.cancelled() => return Invocation::refused(InvokeError::Removed),
            _ = self.halted.cancelled() => return Invocation::refused(InvokeError::Quarantined),
            waited = tokio::time::timeout(wall_clock, self.permits.clone().acquire_owned()) => waited,
        };
        let Ok(Ok(slot)) = waited else {
            return Invocation::refused(InvokeError::Busy(limits.instances));
        };
        let slot = Slot(held.into_iter().chain([slot]).collect());
        // The place may have come free together with a removal or quarantine.
        if retired.is_cancelled() {
            return Invocation::refused(InvokeError::Removed);
        }
        if self.halted.is_cancelled() {
            return Invocation::refused(InvokeError::Quarantined);
        }
        // The bot's own time starts once it has an instance: time spent
        // queued behind its other events is bounded above (then `Busy`), and
        // must not turn into a timeout charged to this event as a crash.
        let mut deadline = Instant::now() + wall_clock;

        let is_event = matches!(call, Call::Event(_));
        let mut instance = match self.instance_for(is_event, deadline).await {
            Ok((instance, waited)) => {
                if waited {
                    // Its time starts now, not while it waited for its sibling.
                    deadline = Instant::now() + wall_clock;
                }
                instance
            }
            Err(err) => {
                let error = if pool_is_full(&err) {
                    InvokeError::NodeFull(format!("{err:#}"))
                } else {
                    InvokeError::Host(format!("{err:#}"))
                };
                return Invocation {
                    result: Err(error),
                    logs: Vec::new(),
                    crash_detail: Some(crash_detail(&err)),
                    fuel_used: 0,
                    slot,
                };
            }
        };
        let running = Running::start(self);

        let store = &mut instance.store;
        store.data_mut().event = EventState::new(interaction_id.map(str::to_owned), deadline);
        store.data_mut().event.responder = responder;
        store.data_mut().event.is_event = matches!(call, Call::Event(_));
        let declaring = matches!(call, Call::Commands);
        store.data_mut().event.declaring = declaring;
        store.data_mut().limiter.exceeded = None;
        let setup = store.set_fuel(limits.fuel);
        store.set_epoch_deadline(1);
        // The epoch deadline only interrupts running wasm; a guest waiting in
        // a host call (a WASI sleep, say) is cut off here instead. Dropping
        // the call unwinds the guest's stack; the instance is then discarded.
        // A removal ends the call the same way, wherever the guest is.
        let mut waited_too_long = false;
        let mut removed = false;
        let outcome = match setup {
            Ok(()) => {
                let call = async {
                    match call {
                        Call::Interaction(interaction) => {
                            call_handle(&mut instance, interaction).await
                        }
                        Call::Event(event) => call_event(&mut instance, event).await,
                        Call::Commands => call_commands(&mut instance).await,
                    }
                };
                let call = tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), call);
                tokio::select! {
                    biased;
                    _ = retired.cancelled() => {
                        removed = true;
                        Err(wasmtime::Error::msg("the bot was removed"))
                    }
                    called = call => match called {
                        Ok(outcome) => outcome,
                        Err(_) => {
                            waited_too_long = true;
                            Err(wasmtime::Error::msg(format!(
                                "the wall-clock limit of {} ms passed while the bot was waiting in a host call \
                                 (a sleep, a Discord request or storage)",
                                limits.timeout_ms
                            )))
                        }
                    },
                }
            }
            Err(err) => Err(err),
        };

        let store = &mut instance.store;
        let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let stderr = store.data_mut().drain_output();
        let event = std::mem::replace(&mut store.data_mut().event, EventState::new(None, deadline));
        let mut logs = event.logs;
        if event.dropped_log_bytes > 0 {
            logs.push(LogLine::new(
                Level::Warn,
                interaction_id.map(str::to_owned),
                format!(
                    "{} log bytes dropped: the limit is {} bytes per event",
                    event.dropped_log_bytes,
                    host::LOG_BYTES_PER_EVENT
                ),
            ));
        }

        let (result, crash_detail, keep) = match outcome {
            // Whatever it returned, a removed bot's event has nothing to say.
            _ if removed || retired.is_cancelled() => (Err(InvokeError::Removed), None, false),
            // An answer Discord would refuse is the bot's error, not a crash:
            // the instance is kept.
            Ok(Ok(returned)) => (Ok(returned), None, true),
            Ok(Err(Refused::TooLarge(len))) => {
                (Err(InvokeError::ResponseTooLarge(len)), None, true)
            }
            Ok(Err(Refused::Error(message))) => (Err(InvokeError::Guest(message)), None, true),
            Err(err) => {
                let memory = store.data().limiter.exceeded.clone();
                let error = if waited_too_long {
                    InvokeError::Timeout(limits.timeout_ms)
                } else {
                    classify(&err, memory, limits)
                };
                (Err(error), Some(crash_detail_after(&stderr, &err)), false)
            }
        };
        // The deploy-time instance is not the version's: it ran with host
        // services refused, and the version may never go live.
        if keep && !declaring {
            instance.last_used = Instant::now();
            lock(&self.idle).push(instance);
        } else {
            // Its pool slots are free before a waiting sibling retries.
            drop(instance);
        }
        drop(running);
        Invocation {
            result,
            logs,
            crash_detail,
            fuel_used,
            slot,
        }
    }

    /// An instance for one call: a parked one, else a new one. When the
    /// node's pool is full and this is an event while another call of the
    /// same bot holds an instance, the event waits (until `deadline`) for
    /// that instance instead of evicting another bot's: events have no
    /// Discord deadline, and with more bots than pool slots, a bot's
    /// parallel events would otherwise evict other bots' warm instances at
    /// every event (each then instantiates anew). Interactions evict (3 s).
    /// The flag says whether it waited.
    async fn instance_for(
        &self,
        is_event: bool,
        deadline: Instant,
    ) -> wasmtime::Result<(Instance, bool)> {
        let mut waited = false;
        loop {
            let returned = self.returned.notified();
            tokio::pin!(returned);
            // Registered before looking, so a return in between still wakes it.
            returned.as_mut().enable();
            if let Some(instance) = lock(&self.idle).pop() {
                return Ok((instance, waited));
            }
            let may_wait =
                is_event && self.running.load(Ordering::Relaxed) > 0 && Instant::now() < deadline;
            if !may_wait {
                return self.instantiate_with_room().await.map(|i| (i, waited));
            }
            match self.instantiate().await {
                Err(err) if pool_is_full(&err) => {
                    let until = tokio::time::Instant::from_std(deadline);
                    let _ = tokio::time::timeout_at(until, returned).await;
                    waited = true;
                }
                result => return result.map(|i| (i, waited)),
            }
        }
    }

    /// Instantiates, first evicting other bots' least recently used parked
    /// instances if the node's pool is full.
    async fn instantiate_with_room(&self) -> wasmtime::Result<Instance> {
        let mut evicted = 0;
        loop {
            match self.instantiate().await {
                Err(err)
                    if pool_is_full(&err)
                        && evicted < MAX_EVICTIONS_PER_INSTANTIATION
                        && self.parked.evict_least_recently_used() =>
                {
                    evicted += 1;
                    tracing::debug!(evicted, "instance pool full; evicted a parked instance");
                }
                result => return result,
            }
        }
    }

    async fn instantiate(&self) -> wasmtime::Result<Instance> {
        let mut store = Store::new(&self.engine, HostState::new(self.env.clone()));
        store.limiter(|state| &mut state.limiter);
        store.fuel_async_yield_interval(Some(FUEL_YIELD_INTERVAL))?;
        // Each tick: past the event's deadline, trap; otherwise yield to the
        // executor and check again next tick.
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().event.deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        // Instantiation runs the guest's start code, so it gets fuel and a deadline too.
        store.set_fuel(self.env.limits.fuel)?;
        store.data_mut().event.deadline =
            Instant::now() + Duration::from_millis(self.env.limits.timeout_ms);
        store.set_epoch_deadline(1);
        let instance = self
            .pre
            .instance_pre()
            .instantiate_async(&mut store)
            .await?;
        let handle_event = instance.get_func(&mut store, "handle-event");
        let commands = instance.get_func(&mut store, "commands");
        let handle = instance
            .get_func(&mut store, "handle-interaction")
            .ok_or_else(|| {
                wasmtime::Error::msg("the component has no handle-interaction export")
            })?;
        Ok(Instance {
            store,
            handle,
            handle_event,
            commands,
            last_used: Instant::now(),
        })
    }
}

/// What the guest's export returned, when it returned normally.
enum Returned {
    /// An interaction's answer (JSON, not yet checked).
    Answer(Vec<u8>),
    /// An event was handled.
    Handled,
    /// The `commands` export's list (JSON, not yet checked), if any.
    Commands(Option<Vec<u8>>),
}

/// A normal return the host refuses; the instance is still good.
enum Refused {
    /// An answer over [`MAX_RESPONSE_BYTES`] (its length).
    TooLarge(usize),
    /// The guest's error text, clipped to a log line.
    Error(String),
}

fn clipped(text: &str) -> Refused {
    Refused::Error(crate::text::clip(text, LOG_LINE_MAX).to_owned())
}

/// Calls `handle-interaction` and copies its answer out. The copy is made
/// while wasmtime lifts the result, which is the last moment the guest's
/// memory still holds it: wasmtime 48 runs the export's post-return (where
/// the guest frees the answer) before `call_async` returns, so a borrowed
/// `WasmList`/`WasmStr` read afterwards reads freed memory that the guest's
/// allocator may already have overwritten. The copy is bounded by the bot's
/// own memory limit; an answer over [`MAX_RESPONSE_BYTES`] is then refused.
async fn call_handle(
    instance: &mut Instance,
    interaction: &[u8],
) -> wasmtime::Result<Result<Returned, Refused>> {
    let typed = instance
        .handle
        .typed::<(&[u8],), (Result<Vec<u8>, String>,)>(&instance.store)?;
    let (returned,) = typed
        .call_async(&mut instance.store, (interaction,))
        .await?;
    Ok(match returned {
        Ok(answer) if answer.len() > MAX_RESPONSE_BYTES => Err(Refused::TooLarge(answer.len())),
        Ok(answer) => Ok(Returned::Answer(answer)),
        Err(text) => Err(clipped(&text)),
    })
}

/// Calls `handle-event` (world `event-bot`) with one event.
async fn call_event(
    instance: &mut Instance,
    event: &Event,
) -> wasmtime::Result<Result<Returned, Refused>> {
    let Some(handle) = instance.handle_event else {
        return Ok(Err(clipped("the component has no handle-event export")));
    };
    let typed = handle.typed::<(&Event,), (Result<(), String>,)>(&instance.store)?;
    let (returned,) = typed.call_async(&mut instance.store, (event,)).await?;
    Ok(match returned {
        Ok(()) => Ok(Returned::Handled),
        Err(text) => Err(clipped(&text)),
    })
}

/// Calls `commands` (worlds `command-bot`, `command-event-bot`). The list is
/// copied out while it is lifted, like an answer (see [`call_handle`]).
async fn call_commands(instance: &mut Instance) -> wasmtime::Result<Result<Returned, Refused>> {
    let Some(commands) = instance.commands else {
        return Ok(Err(clipped("the component has no commands export")));
    };
    let typed = commands.typed::<(), (Result<Option<Vec<u8>>, String>,)>(&instance.store)?;
    let (returned,) = typed.call_async(&mut instance.store, ()).await?;
    Ok(match returned {
        Ok(Some(list)) if list.len() > MAX_RESPONSE_BYTES => Err(Refused::TooLarge(list.len())),
        Ok(list) => Ok(Returned::Commands(list)),
        Err(text) => Err(clipped(&text)),
    })
}
