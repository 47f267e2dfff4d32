//! Discord gateway sessions the node holds for its bots, and the delivery of
//! their events into the sandbox.
//!
//! A bot deployed with `--intents` gets one task per shard (`session`),
//! driving a twilight-gateway `Shard`: HELLO, jittered heartbeats, zombie
//! detection, RECONNECT, INVALID_SESSION and RESUME are twilight's; the
//! host adds what a multi-tenant node needs around it:
//! - identifies go through `identify` (Discord's buckets, a persistent
//!   24-hour budget, a node-wide pacer), so no crash loop can get a token reset;
//! - each dispatch goes into the bot's bounded `queue` without waiting, so a
//!   slow bot never costs its session its heartbeats;
//! - sessions and a delivery watermark (`progress`) are saved once a second
//!   in one commit for the whole node, and a shutdown closes every socket
//!   with 4000, so the next start RESUMEs every session instead of identifying;
//! - guest gateway commands are checked and budgeted (`commands`).
//!
//! This is the only module that names twilight-gateway.

mod commands;
mod identify;
mod progress;
mod queue;
mod session;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn, Instrument};

use crate::discord::{self, Auth};
use crate::dispatch::{Dispatcher, EventOutcome};
use crate::fleet::Fleet;
use crate::protocol::gateway::{self as protocol, op, Place};
use crate::sandbox::{self, GatewayCommand, GatewayRefusal};
use crate::secret::Secret;
use crate::store::{Db, GatewaySettings, SavedSession, SessionSave};
use crate::sync::lock;

pub use identify::StartLimit;
use progress::Progress;
use queue::{EventQueue, Queued};

/// Largest event payload a bot is handed; a larger one is dropped and counted.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// How often sessions and watermarks are saved.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// How long a shutdown lets queued events run before saving.
const DRAIN_QUEUES: Duration = Duration::from_secs(5);
/// How long a closing socket may take to say goodbye.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Discord's gateway, when `GET /gateway/bot` cannot be asked.
const DEFAULT_URL: &str = "wss://gateway.discord.gg";
/// The synthetic event that tells a bot how many events it missed.
pub const DROPPED_EVENT: &str = "APPLIANCE_EVENTS_DROPPED";

/// What one shard is doing, as the owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Connecting,
    Identifying,
    Resuming,
    Ready,
    /// Waiting for the identify budget until this time (unix ms).
    Paused(i64),
    Stopped,
}

impl Phase {
    fn label(&self) -> String {
        match self {
            Phase::Connecting => "connecting".into(),
            Phase::Identifying => "identifying".into(),
            Phase::Resuming => "resuming".into(),
            Phase::Ready => "ready".into(),
            Phase::Paused(until) => format!(
                "paused: identify budget spent, resumes in {} min",
                ((until - crate::clock::unix_ms()).max(0) + 59_999) / 60_000
            ),
            Phase::Stopped => "stopped".into(),
        }
    }
}

/// One shard of a running bot gateway.
pub struct ShardShared {
    pub id: u32,
    phase: Mutex<Phase>,
    progress: Mutex<Progress>,
    /// Where guest commands go while a connection is up.
    sender: Mutex<Option<twilight_gateway::MessageSender>>,
    budget: Mutex<commands::CommandBudget>,
}

impl ShardShared {
    fn set_phase(&self, phase: Phase) {
        *lock(&self.phase) = phase;
    }

    fn phase(&self) -> Phase {
        lock(&self.phase).clone()
    }

    /// Marks an event handled (or dropped): the watermark may move.
    fn finished(&self, epoch: u64, seq: u64) {
        lock(&self.progress).finished(epoch, seq);
    }
}

/// What the bot missed while its queue was full, told once space frees.
#[derive(Debug, Default)]
struct Missed {
    count: u64,
    first: u64,
    last: u64,
}

/// One bot's running gateway.
pub struct BotShared {
    bot_id: i64,
    name: String,
    token: Secret,
    settings: GatewaySettings,
    /// The deploy (or rollback) it started for: a fatal stop holds until the next one.
    deployed_at_ms: i64,
    shard_count: AtomicU32,
    url: Mutex<String>,
    shards: Mutex<Vec<Arc<ShardShared>>>,
    queue: EventQueue,
    missed: Mutex<Missed>,
    received: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    identifies: AtomicU64,
    /// What `GET /gateway/bot` said, and our identifies since.
    limit: Mutex<Option<StartLimit>>,
    since_fetch: AtomicU32,
    buckets: Mutex<HashMap<u32, Arc<identify::Bucket>>>,
    /// Set while the identify budget is spent: until when (unix ms).
    pause: tokio::sync::watch::Sender<Option<i64>>,
    all_members: Mutex<commands::AllMembers>,
    /// Stops this bot's gateway (removed, settings changed, node stopping).
    stop: CancellationToken,
    /// Why Discord ended the bot's gateway for good, once it has.
    fatal: Mutex<Option<String>>,
    /// Close code the shards use when stopped: 4000 keeps sessions resumable.
    close_code: AtomicU32,
    /// The span every lane run of this bot's events is in. Made once per
    /// bot: with 1,000 bots nearly every few events start a lane run, and
    /// a new span each time meant formatting its fields each time.
    events_span: tracing::Span,
}

impl BotShared {
    fn start_limit(&self) -> Option<StartLimit> {
        *lock(&self.limit)
    }

    fn identifies_since_fetch(&self) -> u32 {
        self.since_fetch.load(Ordering::Relaxed)
    }

    fn identified(&self) {
        self.since_fetch.fetch_add(1, Ordering::Relaxed);
        self.identifies.fetch_add(1, Ordering::Relaxed);
    }

    fn bucket(&self, key: u32) -> Arc<identify::Bucket> {
        lock(&self.buckets).entry(key).or_default().clone()
    }

    async fn pause_until(&self, node: &NodeShared, until_ms: i64) {
        let changed = self.pause.send_if_modified(|pause| {
            let fresh = *pause != Some(until_ms);
            *pause = Some(until_ms);
            fresh
        });
        if changed {
            warn!(bot = %self.name, until_ms, "identify budget spent: the bot's gateway pauses");
            node.owner_log(
                self,
                format!(
                    "gateway paused: the bot used its identify budget (Discord resets a token past 1,000 \
                     session starts a day; the host stops at 90%); it starts again in {} min",
                    ((until_ms - crate::clock::unix_ms()).max(0) + 59_999) / 60_000
                ),
            )
            .await;
        }
    }

    fn shards(&self) -> Vec<Arc<ShardShared>> {
        lock(&self.shards).clone()
    }

    /// `fatal: <reason>` once Discord ended the bot's gateway for good.
    fn fatal_label(&self) -> Option<String> {
        lock(&self.fatal)
            .as_ref()
            .map(|reason| format!("fatal: {reason}"))
    }
}

/// What the node's gateway shares with every session task.
pub struct NodeShared {
    db: Db,
    /// In a fleet: which bots' sessions this node may hold, and until when.
    holding: std::sync::OnceLock<Arc<dyn Holding>>,
    fleet: Arc<Fleet>,
    dispatcher: Dispatcher,
    discord: Arc<discord::Client>,
    pacer: identify::Pacer,
    bots: Mutex<HashMap<i64, Arc<BotShared>>>,
    /// Session tasks and lane workers.
    tasks: TaskTracker,
    /// Lane workers stop taking events once set (end of a shutdown's drain).
    lanes_stop: CancellationToken,
    save_now: tokio::sync::Notify,
    /// Asks for a reconcile (a fenced bot starts again once held again).
    recheck: tokio::sync::Notify,
}

impl NodeShared {
    /// `bot`'s hold lapsed: its sessions are gone; it starts again (and
    /// resumes) if this node holds it again.
    fn fenced(&self, bot: &Arc<BotShared>) {
        bot.stop.cancel();
        {
            let mut bots = lock(&self.bots);
            if bots.get(&bot.bot_id).is_some_and(|b| Arc::ptr_eq(b, bot)) {
                bots.remove(&bot.bot_id);
            }
        }
        self.recheck.notify_one();
    }

    /// Whether this node may hold bot `name`'s sessions now.
    fn holds(&self, name: &str) -> bool {
        self.held_until(name) != HeldUntil::Never
    }

    fn held_until(&self, name: &str) -> HeldUntil {
        match self.holding.get() {
            None => HeldUntil::Always,
            Some(holding) => match holding.held_until(name) {
                Some(until) if until > std::time::Instant::now() => HeldUntil::Until(until),
                _ => HeldUntil::Never,
            },
        }
    }

    async fn owner_log(&self, bot: &BotShared, message: String) {
        if let Some(deployed) = self
            .fleet
            .by_name(&bot.name)
            .filter(|d| d.record.id == bot.bot_id)
        {
            self.dispatcher.owner_log(&deployed, None, message).await;
        }
    }
}

/// Which bots' sessions this node may hold. A single node holds all of
/// its bots'; in a fleet only a bot's owner holds them, so each (bot,
/// shard) session is open on one node at most, and only while its lease
/// surely has not lapsed (`cluster::owner`).
pub trait Holding: Send + Sync {
    /// Until when this node may keep bot `name`'s sessions open; `None`
    /// when it must not hold them (now).
    fn held_until(&self, name: &str) -> Option<std::time::Instant>;
    /// Changes whenever the set of bots this node holds changes.
    fn changes(&self) -> tokio::sync::watch::Receiver<u64>;
    /// The sessions the bot's last holder shared, for the next to resume.
    fn shared_sessions<'a>(
        &'a self,
        bot: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<SavedSession>> + Send + 'a>>;
    /// Shares the bot's current sessions (replacing what was shared).
    fn share_sessions(&self, bot: &str, sessions: Vec<SavedSession>);
}

/// How long this node may keep a bot's sessions open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeldUntil {
    Always,
    Until(std::time::Instant),
    Never,
}

/// The node's gateway: starts and stops bots' sessions as the fleet changes.
#[derive(Clone)]
pub struct Gateway {
    node: Arc<NodeShared>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("bots", &lock(&self.node.bots).len())
            .finish()
    }
}

/// Routes bots' gateway commands to the node's gateway once it exists: the
/// fleet is built first (the gateway follows it), and its bots need a
/// place to send commands from the start.
#[derive(Default)]
pub struct CommandRouter(std::sync::OnceLock<Gateway>);

impl CommandRouter {
    pub fn set(&self, gateway: &Gateway) {
        let _ = self.0.set(gateway.clone());
    }
}

impl sandbox::GatewayCommands for CommandRouter {
    fn send(&self, bot_id: i64, command: GatewayCommand) -> Result<(), GatewayRefusal> {
        match self.0.get() {
            Some(gateway) => gateway.send(bot_id, command),
            None => Err(GatewayRefusal::NotConnected(
                "the node's gateway is starting".into(),
            )),
        }
    }
}

/// Every gateway on the node together, for `appliance status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GatewayTotals {
    /// Bots with their gateway running.
    pub bots: u64,
    pub shards: u64,
    pub events_received: u64,
    pub events_delivered: u64,
    pub events_dropped: u64,
}

/// One bot's gateway, for `appliance list` and `/metrics`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GatewayStanding {
    /// `connecting`, `ready`, `resuming`, `paused: …` or `fatal: …`.
    pub state: String,
    pub intents: String,
    pub shards: u32,
    /// Each shard's state, by shard id.
    pub shard_states: Vec<String>,
    pub events_received: u64,
    pub events_delivered: u64,
    pub events_dropped: u64,
    pub queued: usize,
    pub identifies: u64,
}

impl Gateway {
    pub fn new(
        db: Db,
        fleet: Arc<Fleet>,
        dispatcher: Dispatcher,
        discord: Arc<discord::Client>,
    ) -> Gateway {
        Gateway {
            node: Arc::new(NodeShared {
                db,
                holding: std::sync::OnceLock::new(),
                fleet,
                dispatcher,
                discord,
                pacer: identify::Pacer::default(),
                bots: Mutex::new(HashMap::new()),
                tasks: TaskTracker::new(),
                lanes_stop: CancellationToken::new(),
                save_now: tokio::sync::Notify::new(),
                recheck: tokio::sync::Notify::new(),
            }),
        }
    }

    /// In a fleet: hold only the sessions `holding` allows. Set before
    /// [`Gateway::start`].
    pub fn hold_only(&self, holding: Arc<dyn Holding>) {
        let _ = self.node.holding.set(holding);
    }

    /// Starts the sessions of every bot that has its gateway on, and keeps
    /// them matching the fleet (and, in a fleet, what this node owns);
    /// saves sessions once a second.
    pub fn start(&self) {
        // twilight's TLS connector takes the process's default provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let node = self.node.clone();
        let mut changes = node.fleet.watch();
        let mut held = node.holding.get().map(|holding| holding.changes());
        tokio::spawn(async move {
            loop {
                reconcile(&node).await;
                let changed = match &mut held {
                    Some(held) => tokio::select! {
                        changed = changes.changed() => changed.is_ok(),
                        changed = held.changed() => changed.is_ok(),
                        () = node.recheck.notified() => true,
                    },
                    None => changes.changed().await.is_ok(),
                };
                if !changed {
                    return;
                }
            }
        });
        let node = self.node.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAVE_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = node.save_now.notified() => {}
                }
                save(&node).await;
            }
        });
    }

    /// The gateway of each bot that has one running, by bot id.
    pub fn standings(&self) -> HashMap<i64, GatewayStanding> {
        let bots: Vec<_> = lock(&self.node.bots).values().cloned().collect();
        bots.iter().map(|bot| (bot.bot_id, standing(bot))).collect()
    }

    /// The node's event counts over every bot with its gateway on: a few
    /// atomic reads per bot, no per-bot text, so `GET /v1/status` stays cheap
    /// to poll with thousands of bots.
    pub fn totals(&self) -> GatewayTotals {
        let bots: Vec<_> = lock(&self.node.bots).values().cloned().collect();
        let mut totals = GatewayTotals::default();
        for bot in &bots {
            totals.bots += 1;
            totals.shards += bot.shards().len() as u64;
            totals.events_received += bot.received.load(Ordering::Relaxed);
            totals.events_delivered += bot.delivered.load(Ordering::Relaxed);
            totals.events_dropped += bot.dropped.load(Ordering::Relaxed);
        }
        totals
    }

    /// Stops every session so that it can be resumed: the sockets close with
    /// 4000, queued events run for a few seconds, then the watermarks are saved.
    pub async fn shutdown(&self) {
        let bots: Vec<_> = lock(&self.node.bots).drain().map(|(_, b)| b).collect();
        for bot in &bots {
            bot.close_code.store(4000, Ordering::Relaxed);
            bot.stop.cancel();
        }
        self.node.tasks.close();
        if tokio::time::timeout(DRAIN_QUEUES, self.node.tasks.wait())
            .await
            .is_err()
        {
            // Events still queued are not lost: the saved watermark is
            // below them, so the next start's RESUME replays them.
            self.node.lanes_stop.cancel();
            let _ = tokio::time::timeout(CLOSE_WAIT, self.node.tasks.wait()).await;
        }
        save_bots(&self.node, &bots).await;
        info!(bots = bots.len(), "gateway sessions saved for resuming");
    }
}

fn standing(bot: &BotShared) -> GatewayStanding {
    let phases: Vec<Phase> = bot.shards().iter().map(|s| s.phase()).collect();
    let fatal = bot.fatal_label();
    let state = if let Some(fatal) = &fatal {
        fatal.clone()
    } else if let Some(paused) = phases.iter().find(|p| matches!(p, Phase::Paused(_))) {
        paused.label()
    } else if !phases.is_empty() && phases.iter().all(|p| *p == Phase::Ready) {
        "ready".into()
    } else if phases.contains(&Phase::Resuming) {
        "resuming".into()
    } else {
        "connecting".into()
    };
    GatewayStanding {
        state,
        intents: protocol::intent_names(bot.settings.intents),
        shards: bot.shard_count.load(Ordering::Relaxed),
        shard_states: match &fatal {
            Some(fatal) => vec![fatal.clone(); phases.len().max(1)],
            None => phases.iter().map(Phase::label).collect(),
        },
        events_received: bot.received.load(Ordering::Relaxed),
        events_delivered: bot.delivered.load(Ordering::Relaxed),
        events_dropped: bot.dropped.load(Ordering::Relaxed),
        queued: bot.queue.len(),
        identifies: bot.identifies.load(Ordering::Relaxed),
    }
}

/// A stopped gateway, from the stored reason.
pub fn stopped_standing(settings: &GatewaySettings, reason: &str) -> GatewayStanding {
    GatewayStanding {
        state: format!("fatal: {reason}"),
        intents: protocol::intent_names(settings.intents),
        shards: settings.shards.unwrap_or(0),
        shard_states: Vec::new(),
        events_received: 0,
        events_delivered: 0,
        events_dropped: 0,
        queued: 0,
        identifies: 0,
    }
}

/// A gateway on but not started yet.
pub fn starting_standing(settings: &GatewaySettings) -> GatewayStanding {
    GatewayStanding {
        state: "connecting".into(),
        ..stopped_standing(settings, "")
    }
}

/// Starts gateways the fleet wants and stops those it no longer does.
async fn reconcile(node: &Arc<NodeShared>) {
    let deployed = node.fleet.all();
    // In a fleet, bots whose sessions another node is to hold: theirs are
    // closed resumably (4000), for that node to resume.
    let handed_over: Vec<i64> = deployed
        .iter()
        .filter(|d| d.record.gateway.is_some() && !node.holds(&d.record.name))
        .map(|d| d.record.id)
        .collect();
    let wanted: HashMap<i64, (String, GatewaySettings, Secret, i64)> = deployed
        .into_iter()
        .filter(|d| d.record.gateway_stopped.is_none())
        .filter(|d| node.holds(&d.record.name))
        .filter_map(|d| {
            let settings = d.record.gateway?;
            let token = d.bot.env().token.clone()?;
            Some((
                d.record.id,
                (
                    d.record.name.clone(),
                    settings,
                    token,
                    d.record.updated_at_ms,
                ),
            ))
        })
        .collect();
    let mut to_start = Vec::new();
    {
        let mut bots = lock(&node.bots);
        bots.retain(|id, bot| {
            let keep = wanted.get(id).is_some_and(|(name, settings, token, at)| {
                *name == bot.name
                    && *settings == bot.settings
                    && token.expose() == bot.token.expose()
                    // A stopped gateway starts again with the next deploy.
                    && (!bot.stop.is_cancelled() || *at == bot.deployed_at_ms)
            });
            if !keep {
                // Removed or changed: its sessions end (a removed bot shows
                // offline); handed over: they stay resumable.
                let code = if handed_over.contains(id) { 4000 } else { 1000 };
                bot.close_code.store(code, Ordering::Relaxed);
                bot.stop.cancel();
                for dropped in bot.queue.clear() {
                    if let Some((shard, epoch)) = dropped.origin {
                        shard.finished(epoch, dropped.event.sequence);
                    }
                }
            }
            keep
        });
        for (id, (name, settings, token, deployed_at_ms)) in wanted {
            if bots.contains_key(&id) {
                continue;
            }
            let events_span = tracing::info_span!(parent: None, "events", bot = %name);
            let bot = Arc::new(BotShared {
                bot_id: id,
                events_span,
                name,
                token,
                settings,
                deployed_at_ms,
                shard_count: AtomicU32::new(0),
                url: Mutex::new(DEFAULT_URL.into()),
                shards: Mutex::new(Vec::new()),
                queue: EventQueue::default(),
                missed: Mutex::default(),
                received: AtomicU64::new(0),
                delivered: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                identifies: AtomicU64::new(0),
                limit: Mutex::new(None),
                since_fetch: AtomicU32::new(0),
                buckets: Mutex::default(),
                pause: tokio::sync::watch::Sender::new(None),
                all_members: Mutex::default(),
                stop: CancellationToken::new(),
                fatal: Mutex::new(None),
                close_code: AtomicU32::new(4000),
            });
            bots.insert(id, bot.clone());
            to_start.push(bot);
        }
    }
    for bot in to_start {
        let node = node.clone();
        let span = tracing::info_span!("gateway", bot = %bot.name);
        node.tasks
            .clone()
            .spawn(async move { start_bot(node, bot).await }.instrument(span));
    }
}

#[derive(Debug, Deserialize)]
struct GatewayBot {
    url: String,
    shards: u32,
    session_start_limit: SessionStartLimit,
}

#[derive(Debug, Deserialize)]
struct SessionStartLimit {
    total: u32,
    remaining: u32,
    max_concurrency: u32,
}

/// Why `GET /gateway/bot` gave no answer.
enum FetchError {
    /// Discord refused the token (401): the gateway would too.
    Refused,
    Failed(String),
}

/// Asks Discord where to connect, how many shards it recommends, and how
/// many session starts the bot has left.
async fn fetch_gateway_bot(node: &NodeShared, bot: &BotShared) -> Result<GatewayBot, FetchError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let response = node
        .discord
        .request(
            Auth::Bot(bot.token.expose()),
            hyper::Method::GET,
            "/gateway/bot",
            None,
            deadline,
        )
        .await
        .map_err(|e| match e {
            discord::Error::TokenRevoked => FetchError::Refused,
            other => FetchError::Failed(other.to_string()),
        })?;
    match response.status {
        200 => serde_json::from_slice(&response.body)
            .map_err(|e| FetchError::Failed(format!("GET /gateway/bot: {e}"))),
        401 => Err(FetchError::Refused),
        status => Err(FetchError::Failed(format!(
            "GET /gateway/bot answered {status}"
        ))),
    }
}

/// Starts a bot's shards: resumes saved sessions that match its settings,
/// asks Discord for what it does not know.
async fn start_bot(node: Arc<NodeShared>, bot: Arc<BotShared>) {
    let mut saved = node
        .db
        .gateway_sessions(bot.bot_id)
        .await
        .unwrap_or_default();
    // In a fleet, the last holder's sessions (this node's, or another's
    // that died or handed the bot over) are the ones to resume.
    if let Some(holding) = node.holding.get() {
        let shared = holding.shared_sessions(&bot.name).await;
        if !shared.is_empty() {
            saved = shared;
        }
    }
    let matching: Vec<SavedSession> = saved
        .iter()
        .filter(|s| s.intents == bot.settings.intents)
        .filter(|s| bot.settings.shards.is_none_or(|n| n == s.shard_count))
        .cloned()
        .collect();
    let saved_count = matching.first().map(|s| s.shard_count);
    let consistent = matching.iter().all(|s| Some(s.shard_count) == saved_count);
    let fetched = match fetch_gateway_bot(&node, &bot).await {
        Ok(fetched) => Some(fetched),
        Err(FetchError::Refused) => {
            let reason = "Discord refused the bot token (401 on GET /gateway/bot): deploy again with a valid token (--token-env or --token-file)";
            stop_for_good(&node, &bot, reason.into()).await;
            return;
        }
        Err(FetchError::Failed(err)) => {
            // Saved sessions resume without it; new ones use Discord's
            // well-known address and a cautious identify pace.
            warn!(error = %err, "cannot ask Discord for the gateway; using what was saved");
            node.owner_log(&bot, format!("gateway: {err}")).await;
            None
        }
    };
    if let Some(fetched) = &fetched {
        *lock(&bot.url) = fetched.url.trim_end_matches('/').to_owned();
        *lock(&bot.limit) = Some(StartLimit {
            total: fetched.session_start_limit.total,
            remaining: fetched.session_start_limit.remaining,
            max_concurrency: fetched.session_start_limit.max_concurrency,
        });
    }
    let count = bot
        .settings
        .shards
        .or(saved_count.filter(|_| consistent))
        .or(fetched.as_ref().map(|f| f.shards))
        .unwrap_or(1)
        .max(1);
    bot.shard_count.store(count, Ordering::Relaxed);
    let mut forget = Vec::new();
    for stale in saved
        .iter()
        .filter(|s| !matching.contains(s) || s.shard_count != count)
    {
        forget.push(SessionSave::Forget {
            bot_id: bot.bot_id,
            shard_id: stale.shard_id,
        });
    }
    if let Err(err) = node.db.save_gateway_sessions(forget).await {
        warn!(error = %err, "cannot forget stale gateway sessions");
    }
    let shards: Vec<Arc<ShardShared>> = (0..count)
        .map(|id| {
            let resumable = matching
                .iter()
                .find(|s| s.shard_id == id && s.shard_count == count);
            Arc::new(ShardShared {
                id,
                phase: Mutex::new(Phase::Connecting),
                progress: Mutex::new(match resumable {
                    Some(s) => Progress::resumed(
                        progress::Session {
                            id: s.session_id.clone(),
                            resume_url: s.resume_url.clone(),
                        },
                        s.seq,
                    ),
                    None => Progress::default(),
                }),
                sender: Mutex::new(None),
                budget: Mutex::default(),
            })
        })
        .collect();
    *lock(&bot.shards) = shards.clone();
    info!(shards = count, intents = %protocol::intent_names(bot.settings.intents), "gateway starting");
    for shard in shards {
        let node2 = node.clone();
        let bot = bot.clone();
        let span = tracing::info_span!("shard", id = shard.id);
        node.tasks
            .spawn(async move { session::run(node2, bot, shard).await }.instrument(span));
    }
}

/// A fatal close: the bot's gateway stops until its next deploy, and the
/// owner reads why.
async fn stop_for_good(node: &NodeShared, bot: &BotShared, reason: String) {
    warn!(bot = %bot.name, %reason, "gateway stopped");
    *lock(&bot.fatal) = Some(reason.clone());
    bot.stop.cancel();
    if let Err(err) = node
        .db
        .set_gateway_stopped(bot.bot_id, reason.clone())
        .await
    {
        warn!(error = %err, "cannot record the gateway's stop");
    }
    node.owner_log(bot, format!("gateway stopped: {reason}"))
        .await;
}

/// Hands one dispatch to the bot's queue, never waiting.
fn enqueue(
    node: &Arc<NodeShared>,
    bot: &Arc<BotShared>,
    shard: &Arc<ShardShared>,
    name: &str,
    seq: u64,
    data: &str,
) {
    bot.received.fetch_add(1, Ordering::Relaxed);
    // One lock: the event counts as waiting until it is handled or dropped.
    let epoch = {
        let mut progress = lock(&shard.progress);
        progress.received(seq, true);
        progress.epoch
    };
    // Too large for the guest: dropped before it is copied.
    if data.len() <= MAX_EVENT_BYTES {
        let lane = queue::lane_of(Place::of(data).key());
        let item = Queued {
            event: sandbox::Event {
                name: name.to_owned(),
                data: data.as_bytes().to_vec(),
                shard: shard.id,
                sequence: seq,
            },
            origin: Some((shard.clone(), epoch)),
        };
        if let Ok(mut start) = bot.queue.push(lane, item) {
            // Space again: first tell the bot what it missed.
            if let Some(notice) = missed_notice(bot, shard.id) {
                start |= bot.queue.push_front(lane, notice);
            }
            if start {
                spawn_lane(node, bot, lane);
            }
            return;
        }
    }
    bot.dropped.fetch_add(1, Ordering::Relaxed);
    shard.finished(epoch, seq);
    let mut missed = lock(&bot.missed);
    if missed.count == 0 {
        missed.first = seq;
    }
    missed.count += 1;
    missed.last = seq;
    debug!(event = %name, seq, bytes = data.len(), "event dropped: queue full or too large");
}

/// The host's notice of the events the bot missed since the last one, if any.
fn missed_notice(bot: &BotShared, shard: u32) -> Option<Queued> {
    let missed = std::mem::take(&mut *lock(&bot.missed));
    (missed.count > 0).then(|| Queued {
        event: sandbox::Event {
            name: DROPPED_EVENT.into(),
            data: format!(
                r#"{{"count":{},"first_sequence":{},"last_sequence":{}}}"#,
                missed.count, missed.first, missed.last
            )
            .into_bytes(),
            shard,
            sequence: 0,
        },
        origin: None,
    })
}

fn spawn_lane(node: &Arc<NodeShared>, bot: &Arc<BotShared>, lane: usize) {
    let node = node.clone();
    let bot = bot.clone();
    // The bot's one events span, not one per event or lane run (see
    // `Dispatcher::run_event` and `BotShared::events_span`).
    let span = bot.events_span.clone();
    let tasks = node.tasks.clone();
    let lane_run = async move {
        while !node.lanes_stop.is_cancelled() {
            let Some(popped) = bot.queue.pop(lane) else {
                return;
            };
            // The queue has room again: the notice of what was dropped
            // while it was full goes first.
            let (item, later) = match missed_notice(&bot, popped.event.shard) {
                Some(notice) => (notice, Some(popped)),
                None => (popped, None),
            };
            for item in std::iter::once(item).chain(later) {
                deliver(&node, &bot, item).await;
            }
        }
    };
    tasks.spawn(lane_run.instrument(span));
}

/// Runs one queued event in the bot's current version and counts it.
async fn deliver(node: &NodeShared, bot: &BotShared, item: Queued) {
    let deployed = node
        .fleet
        .by_name(&bot.name)
        .filter(|d| d.record.id == bot.bot_id);
    let Queued { event, origin } = item;
    let seq = event.sequence;
    let outcome = match deployed {
        Some(deployed) => node.dispatcher.run_event(deployed, event).await,
        None => EventOutcome::Dropped,
    };
    match outcome {
        EventOutcome::Dropped => bot.dropped.fetch_add(1, Ordering::Relaxed),
        _ => bot.delivered.fetch_add(1, Ordering::Relaxed),
    };
    if let Some((shard, epoch)) = origin {
        shard.finished(epoch, seq);
    }
}

/// Saves every running shard's session and watermark that changed, in one commit.
async fn save(node: &NodeShared) {
    let bots: Vec<_> = lock(&node.bots).values().cloned().collect();
    save_bots(node, &bots).await;
}

async fn save_bots(node: &NodeShared, bots: &[Arc<BotShared>]) {
    let mut saves = Vec::new();
    for bot in bots {
        let count = bot.shard_count.load(Ordering::Relaxed);
        for shard in bot.shards() {
            let mut progress = lock(&shard.progress);
            if !progress.dirty {
                continue;
            }
            progress.dirty = false;
            saves.push(match saved_session(bot, &shard, count, &progress) {
                Some(session) => SessionSave::Keep {
                    bot_id: bot.bot_id,
                    session,
                },
                None => SessionSave::Forget {
                    bot_id: bot.bot_id,
                    shard_id: shard.id,
                },
            });
        }
    }
    let changed: Vec<i64> = saves.iter().map(SessionSave::bot_id).collect();
    if let Err(err) = node.db.save_gateway_sessions(saves).await {
        warn!(error = %err, "cannot save gateway sessions");
    }
    if let Some(holding) = node.holding.get() {
        for bot in bots.iter().filter(|b| changed.contains(&b.bot_id)) {
            holding.share_sessions(&bot.name, current_sessions(bot));
        }
    }
}

/// A shard's session and watermark as a save keeps them, if it has one.
fn saved_session(
    bot: &BotShared,
    shard: &ShardShared,
    count: u32,
    progress: &Progress,
) -> Option<SavedSession> {
    let session = progress.session.as_ref()?;
    Some(SavedSession {
        shard_id: shard.id,
        shard_count: count,
        intents: bot.settings.intents,
        session_id: session.id.clone(),
        resume_url: session.resume_url.clone(),
        seq: progress.watermark(),
    })
}

/// A bot's sessions as they stand, for the fleet's next holder.
fn current_sessions(bot: &BotShared) -> Vec<SavedSession> {
    let count = bot.shard_count.load(Ordering::Relaxed);
    bot.shards()
        .iter()
        .filter_map(|shard| saved_session(bot, shard, count, &lock(&shard.progress)))
        .collect()
}

impl sandbox::GatewayCommands for Gateway {
    fn send(&self, bot_id: i64, command: GatewayCommand) -> Result<(), GatewayRefusal> {
        let bot = lock(&self.node.bots).get(&bot_id).cloned().ok_or_else(|| {
            GatewayRefusal::NotConnected(
                "the bot's gateway is off: deploy it with --intents".into(),
            )
        })?;
        let shards = bot.shards();
        let count = bot.shard_count.load(Ordering::Relaxed).max(1);
        let targets: Vec<Arc<ShardShared>> = match command.guild_id {
            Some(guild) if command.op == op::REQUEST_GUILD_MEMBERS => {
                let id = protocol::shard_of(guild, count);
                shards.iter().filter(|s| s.id == id).cloned().collect()
            }
            _ => shards,
        };
        if let Some(fatal) = bot.fatal_label() {
            return Err(GatewayRefusal::NotConnected(format!(
                "the gateway is not connected ({fatal}); try again later"
            )));
        }
        let now = Instant::now();
        let not_ready = targets.iter().find(|s| s.phase() != Phase::Ready);
        if targets.is_empty() || not_ready.is_some() {
            let label = not_ready.map_or("starting".into(), |s| s.phase().label());
            return Err(GatewayRefusal::NotConnected(format!(
                "the gateway is not connected ({label}); try again later"
            )));
        }
        let wait =
            |d: Duration| GatewayRefusal::RateLimited(d.as_millis().min(u32::MAX as u128) as u32);
        for shard in &targets {
            lock(&shard.budget).check(now).map_err(wait)?;
        }
        if command.all_members {
            if let Some(guild) = command.guild_id {
                let mut all = lock(&bot.all_members);
                all.check(guild, now).map_err(wait)?;
                all.spend(guild, now);
            }
        }
        for shard in &targets {
            lock(&shard.budget).spend(now);
            let sent = lock(&shard.sender)
                .as_ref()
                .map(|sender| sender.send(command.json.clone()).is_ok());
            if sent != Some(true) {
                return Err(GatewayRefusal::NotConnected(
                    "the shard's connection closed; try again later".into(),
                ));
            }
        }
        Ok(())
    }
}
