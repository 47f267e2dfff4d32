//! One shard's session: a task driving a twilight-gateway `Shard`.
//!
//! The loop only ever waits on the socket, the bot's stop and its identify
//! pause: events go to the bot's queue without waiting, so twilight keeps
//! polling, which is what sends its heartbeats and notices a zombied
//! connection.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tracing::{debug, info, warn};
use twilight_gateway::{
    CloseFrame, ConfigBuilder, Intents, Message, Session, Shard, ShardId, ShardState,
};
use twilight_model::gateway::payload::outgoing::identify::IdentifyProperties;

use super::identify::IdentifyGate;
use super::progress;
use super::{
    enqueue, stop_for_good, BotShared, HeldUntil, NodeShared, Phase, ShardShared, CLOSE_WAIT,
};
use crate::protocol::gateway::{fatal_reason, op, Frame};
use crate::sync::lock;

/// A reconnect waits up to this long more than twilight's own back-off, so
/// shards that dropped together do not come back together.
const RECONNECT_JITTER_MS: u64 = 500;

/// Why a shard's connection loop ended.
enum Exit {
    /// The bot's gateway was stopped (node shutdown, bot removed or changed).
    Stopped,
    /// Discord closed the session for good with this code.
    Fatal(Option<u16>),
    /// The identify budget is spent until this time (unix ms).
    Paused(i64),
    /// In a fleet, this node's hold on the bot may have lapsed (its lease
    /// was not refreshed in time: the node was cut off, or paused): another
    /// node may hold the session now, so not one more frame is sent.
    Fenced,
}

pub(super) async fn run(node: Arc<NodeShared>, bot: Arc<BotShared>, shard: Arc<ShardShared>) {
    let count = bot.shard_count.load(Ordering::Relaxed).max(1);
    let url = lock(&bot.url).clone();
    let base = ConfigBuilder::new(
        bot.token.expose().to_owned(),
        Intents::from_bits_retain(bot.settings.intents),
    )
    .queue(IdentifyGate {
        bot: bot.clone(),
        node: node.clone(),
    })
    .identify_properties(IdentifyProperties::new(
        "appliance",
        "appliance",
        std::env::consts::OS,
    ))
    .proxy_url(url)
    .build();
    let mut pause = bot.pause.subscribe();
    loop {
        let mut config = ConfigBuilder::from(base.clone());
        let resume = {
            let progress = lock(&shard.progress);
            progress
                .session
                .clone()
                .map(|session| (session, progress.watermark()))
        };
        if let Some((session, seq)) = resume {
            config = config
                .session(Session::new(seq, session.id))
                .resume_url(session.resume_url);
        }
        if node.held_until(&bot.name) == HeldUntil::Never {
            shard.set_phase(Phase::Stopped);
            return;
        }
        let mut gateway = Shard::with_config(ShardId::new(shard.id, count), config.build());
        *lock(&shard.sender) = Some(gateway.sender());
        let exit = drive(&node, &bot, &shard, &mut gateway, &mut pause).await;
        *lock(&shard.sender) = None;
        match exit {
            Exit::Fenced => {
                // Dropped, not closed: a close frame is a frame too.
                drop(gateway);
                warn!(
                    shard = shard.id,
                    "no longer sure to hold the bot; dropped the gateway connection"
                );
                shard.set_phase(Phase::Stopped);
                node.fenced(&bot);
                return;
            }
            Exit::Stopped => {
                // A node no longer sure to hold the bot sends nothing, not
                // even a close frame; the session stays resumable for the next.
                if node.held_until(&bot.name) != HeldUntil::Never {
                    let code = bot.close_code.load(Ordering::Relaxed) as u16;
                    close(&mut gateway, code).await;
                }
                shard.set_phase(Phase::Stopped);
                return;
            }
            Exit::Fatal(code) => {
                drop(gateway);
                let reason = match code.and_then(fatal_reason) {
                    Some(reason) => reason.to_owned(),
                    None => format!("Discord closed the session for good (code {code:?})"),
                };
                if code == Some(4004) {
                    // The token is bad for REST too: stop those calls as well.
                    node.discord.revoke_token(bot.token.expose());
                }
                stop_for_good(&node, &bot, reason).await;
                return;
            }
            Exit::Paused(until) => {
                // Dropping the shard closes its socket; nothing more is sent
                // until the budget allows it.
                drop(gateway);
                shard.set_phase(Phase::Paused(until));
                let wait = (until - crate::clock::unix_ms()).max(0) as u64;
                tokio::select! {
                    _ = bot.stop.cancelled() => {
                        shard.set_phase(Phase::Stopped);
                        return;
                    }
                    _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                }
                bot.pause.send_if_modified(|pause| {
                    let over = *pause == Some(until);
                    if over {
                        *pause = None;
                    }
                    over
                });
                shard.set_phase(Phase::Connecting);
            }
        }
    }
}

async fn drive(
    node: &Arc<NodeShared>,
    bot: &Arc<BotShared>,
    shard: &Arc<ShardShared>,
    gateway: &mut Shard<IdentifyGate>,
    pause: &mut tokio::sync::watch::Receiver<Option<i64>>,
) -> Exit {
    let mut last_close = None;
    let mut state = gateway.state();
    loop {
        if let Some(until) = *pause.borrow_and_update() {
            if until > crate::clock::unix_ms() {
                return Exit::Paused(until);
            }
        }
        // Checked before the socket is polled (polling is what sends
        // heartbeats): a node waking from a pause past its hold sends nothing.
        let held_until = node.held_until(&bot.name);
        let fence = async {
            match held_until {
                HeldUntil::Always => std::future::pending().await,
                HeldUntil::Until(until) => {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await
                }
                HeldUntil::Never => {}
            }
        };
        tokio::select! {
            biased;
            _ = bot.stop.cancelled() => return Exit::Stopped,
            () = fence => {
                if node.held_until(&bot.name) == HeldUntil::Never {
                    return Exit::Fenced;
                }
                continue;
            }
            _ = pause.changed() => continue,
            item = gateway.next() => match item {
                None => return Exit::Fatal(last_close),
                Some(Err(err)) => {
                    let text = err.to_string();
                    warn!(error = %crate::text::clip(&text, 300), "gateway message not understood; skipped");
                }
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map(|f| f.code);
                    last_close = code;
                    if gateway.state() != ShardState::FatallyClosed {
                        if gateway.session().is_none() {
                            lock(&shard.progress).end();
                        }
                        debug!(?code, "gateway connection closed; reconnecting");
                        let jitter = rand::random::<u64>() % RECONNECT_JITTER_MS;
                        tokio::select! {
                            _ = bot.stop.cancelled() => return Exit::Stopped,
                            _ = tokio::time::sleep(Duration::from_millis(jitter)) => {}
                        }
                    }
                }
                Some(Ok(Message::Text(text))) => on_text(node, bot, shard, gateway, &text),
            },
        }
        let now = gateway.state();
        if now != state {
            state = now;
            shard.set_phase(match now {
                ShardState::Active => Phase::Ready,
                ShardState::Resuming => Phase::Resuming,
                ShardState::Identifying => Phase::Identifying,
                ShardState::Disconnected { .. } | ShardState::FatallyClosed => Phase::Connecting,
            });
        }
    }
}

fn on_text(
    node: &Arc<NodeShared>,
    bot: &Arc<BotShared>,
    shard: &Arc<ShardShared>,
    gateway: &Shard<IdentifyGate>,
    text: &str,
) {
    let frame = match Frame::parse(text) {
        Ok(frame) => frame,
        Err(err) => {
            warn!(error = %crate::text::clip(&err, 300), "gateway message skipped");
            return;
        }
    };
    if frame.op != op::DISPATCH {
        return;
    }
    let (Some(name), Some(seq)) = (frame.t, frame.s) else {
        return;
    };
    let data = frame.d.map_or("null", |d| d.get());
    match name {
        "READY" => {
            if let (Some(session), Some(url)) = (gateway.session(), gateway.resume_url()) {
                lock(&shard.progress).begin(
                    progress::Session {
                        id: session.id().to_owned(),
                        resume_url: url.to_owned(),
                    },
                    seq,
                );
                node.save_now.notify_one();
            }
            info!(shard = shard.id, "gateway session ready");
            log_for_owner(
                node,
                bot,
                format!("gateway shard {}: new session (identified)", shard.id),
            );
            // The bot gets READY without what would let anyone resume the session.
            enqueue(node, bot, shard, name, seq, &strip_session(data));
        }
        "RESUMED" => {
            info!(shard = shard.id, "gateway session resumed");
            log_for_owner(
                node,
                bot,
                format!("gateway shard {}: session resumed", shard.id),
            );
        }
        _ => enqueue(node, bot, shard, name, seq, data),
    }
}

fn strip_session(data: &str) -> String {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(data) {
        Ok(mut ready) => {
            ready.remove("session_id");
            ready.remove("resume_gateway_url");
            serde_json::Value::Object(ready).to_string()
        }
        Err(_) => "{}".into(),
    }
}

fn log_for_owner(node: &Arc<NodeShared>, bot: &Arc<BotShared>, message: String) {
    let node2 = node.clone();
    let bot = bot.clone();
    node.tasks
        .spawn(async move { node2.owner_log(&bot, message).await });
}

/// Closes the connection with `code` and waits briefly for Discord's answer.
/// 4000 keeps the session resumable; 1000 ends it.
async fn close(gateway: &mut Shard<IdentifyGate>, code: u16) {
    if matches!(
        gateway.state(),
        ShardState::Disconnected { .. } | ShardState::FatallyClosed
    ) {
        // No socket to close; polling would only connect again.
        return;
    }
    gateway.close(CloseFrame::new(code, ""));
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(item) = gateway.next().await {
            if matches!(item, Ok(Message::Close(_))) {
                return;
            }
        }
    })
    .await;
}
