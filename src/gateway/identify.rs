//! The identify queue: every IDENTIFY a shard wants goes through here.
//!
//! Discord allows `max_concurrency` identifies per 5 s (bucket
//! `shard % max_concurrency`, started in order) and 1,000 per bot per 24 h;
//! past that it resets the bot's token. So each identify is recorded in
//! SQLite *before* it is released, counted over a rolling day, and refused
//! well before the limit: the bot's gateway pauses until the oldest identify
//! leaves the window. A node-wide pacer spreads identifies of all bots, so a
//! start with 1,000 bots is no storm.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{debug, warn};
use twilight_gateway::queue::Queue;

use super::{BotShared, NodeShared};

/// Discord's identify window per bucket.
pub const IDENTIFY_DELAY: Duration = Duration::from_secs(5);
/// The share of the daily identify budget the host keeps unused.
pub const RESERVE_DIVISOR: u32 = 10;
/// Identifies the node releases per second at most, over all bots.
pub const NODE_RATE: u32 = 10;
/// When the budget cannot be read, try again after this.
const RETRY_UNREADABLE: Duration = Duration::from_secs(60);

/// What `GET /gateway/bot` said about starting sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartLimit {
    pub total: u32,
    pub remaining: u32,
    pub max_concurrency: u32,
}

/// The `Queue` each of a bot's shards identifies through.
#[derive(Clone)]
pub struct IdentifyGate {
    pub(super) bot: Arc<BotShared>,
    pub(super) node: Arc<NodeShared>,
}

impl std::fmt::Debug for IdentifyGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentifyGate")
            .field("bot", &self.bot.name)
            .finish()
    }
}

impl Queue for IdentifyGate {
    fn enqueue(&self, shard: u32) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let bot = self.bot.clone();
        let node = self.node.clone();
        tokio::spawn(async move { admit(bot, node, shard, tx).await });
        rx
    }
}

/// Whether the bot may identify once more now; `Err(until_ms)` when its
/// budget is spent until then.
async fn budget(bot: &BotShared, node: &NodeShared) -> Result<(), i64> {
    let now = crate::clock::unix_ms();
    let (count, frees_at) = match node.db.identifies_today(bot.bot_id).await {
        Ok(today) => today,
        Err(err) => {
            // Without the count, identifying could be the one that resets
            // the token: wait and read again.
            warn!(bot = %bot.name, error = %err, "cannot read the identify budget; not identifying");
            return Err(now + RETRY_UNREADABLE.as_millis() as i64);
        }
    };
    let limit = bot.start_limit();
    let total = limit.map_or(1000, |l| l.total).max(1);
    let reserve = (total / RESERVE_DIVISOR).max(1);
    let day_later = now + 24 * 60 * 60 * 1000;
    if count + reserve >= total {
        return Err(frees_at.unwrap_or(day_later));
    }
    if let Some(limit) = limit {
        // Discord's own count, as of the last fetch, less ours since.
        let left = limit.remaining.saturating_sub(bot.identifies_since_fetch());
        if left <= reserve {
            return Err(frees_at.unwrap_or(day_later));
        }
    }
    Ok(())
}

/// How long the first identify of a bucket waits for the bot's other
/// shards to ask too, so shards that connect together identify in order.
const GATHER: Duration = Duration::from_millis(250);

/// One identify bucket of a bot: shards take turns, lowest shard id first.
#[derive(Debug, Default)]
pub struct Bucket {
    state: std::sync::Mutex<BucketState>,
    turn: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct BucketState {
    /// When the bucket last released an identify.
    last: Option<Instant>,
    waiting: std::collections::BTreeSet<u32>,
    busy: bool,
}

/// Ends a shard's turn in its bucket, however the turn ends.
struct Turn<'a>(&'a Bucket);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        crate::sync::lock(&self.0.state).busy = false;
        self.0.turn.notify_waiters();
    }
}

impl Bucket {
    /// Waits until `shard` is the lowest waiting shard and the bucket is
    /// free; `None` if the shard stopped waiting first.
    async fn take_turn(&self, shard: u32, tx: &mut oneshot::Sender<()>) -> Option<Turn<'_>> {
        loop {
            let notified = self.turn.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = crate::sync::lock(&self.state);
                if !state.busy && state.waiting.first() == Some(&shard) {
                    state.busy = true;
                    state.waiting.remove(&shard);
                    return Some(Turn(self));
                }
            }
            tokio::select! {
                _ = notified => {}
                _ = wait_closed(tx) => {
                    crate::sync::lock(&self.state).waiting.remove(&shard);
                    self.turn.notify_waiters();
                    return None;
                }
            }
        }
    }
}

async fn admit(
    bot: Arc<BotShared>,
    node: Arc<NodeShared>,
    shard: u32,
    mut tx: oneshot::Sender<()>,
) {
    let concurrency = bot.start_limit().map_or(1, |l| l.max_concurrency.max(1));
    let bucket = bot.bucket(shard % concurrency);
    let last = {
        let mut state = crate::sync::lock(&bucket.state);
        state.waiting.insert(shard);
        state.last
    };
    if last.is_none() {
        // Let the shards that connect together line up.
        tokio::select! {
            _ = tokio::time::sleep(GATHER) => {}
            _ = wait_closed(&mut tx) => {
                crate::sync::lock(&bucket.state).waiting.remove(&shard);
                bucket.turn.notify_waiters();
                return;
            }
        }
    }
    let Some(_turn) = bucket.take_turn(shard, &mut tx).await else {
        return;
    };
    let last = crate::sync::lock(&bucket.state).last;
    if let Some(at) = last {
        tokio::select! {
            _ = tokio::time::sleep_until(at + IDENTIFY_DELAY) => {}
            // The shard stopped waiting (closed or reconnecting).
            _ = wait_closed(&mut tx) => return,
        }
    }
    tokio::select! {
        _ = node.pacer.wait() => {}
        _ = wait_closed(&mut tx) => return,
    }
    if tx.is_closed() {
        return;
    }
    if let Err(until_ms) = budget(&bot, &node).await {
        bot.pause_until(&node, until_ms).await;
        // Hold the shard's receiver open: a dropped sender makes twilight
        // ask again at once. The shard is stopped by the pause.
        drop(_turn);
        wait_closed(&mut tx).await;
        return;
    }
    match node.db.record_identify(bot.bot_id).await {
        Ok(count) => debug!(bot = %bot.name, shard, today = count, "identify released"),
        Err(err) => {
            warn!(bot = %bot.name, error = %err, "cannot record the identify; not identifying");
            bot.pause_until(
                &node,
                crate::clock::unix_ms() + RETRY_UNREADABLE.as_millis() as i64,
            )
            .await;
            drop(_turn);
            wait_closed(&mut tx).await;
            return;
        }
    }
    bot.identified();
    crate::sync::lock(&bucket.state).last = Some(Instant::now());
    let _ = tx.send(());
}

async fn wait_closed(tx: &mut oneshot::Sender<()>) {
    tx.closed().await;
}

/// Spreads identifies of every bot on the node: at most [`NODE_RATE`] a
/// second, each slot jittered.
#[derive(Debug)]
pub struct Pacer {
    next: tokio::sync::Mutex<Instant>,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            next: tokio::sync::Mutex::new(Instant::now()),
        }
    }
}

impl Pacer {
    pub async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(Instant::now());
            let gap = Duration::from_millis(1000 / u64::from(NODE_RATE));
            let jitter =
                Duration::from_millis(rand::random::<u64>() % (gap.as_millis() as u64 / 2 + 1));
            *next = slot + gap + jitter;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}
