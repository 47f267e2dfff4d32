//! `GET /metrics`: every figure the node keeps, encoded in Prometheus' text
//! format (0.0.4) by `prometheus-client`, which owns the format's escaping,
//! `_total` suffixes and cumulative histogram buckets.
//!
//! Nothing is counted here: the figures live where they happen (a bot's
//! `metrics::BotCounters` in its environment, the REST client's, the
//! store writer's, the listener's, the gateway's) and are read once per
//! scrape, so the request paths pay only their atomic adds. Series are
//! labelled by bot name and small fixed lists only (see `metrics`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::fleet::{Deployed, Fleet};
use crate::gateway::Gateway;
use crate::histogram::Snapshot;
use crate::metrics::Metrics;
use crate::store::Db;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// What a scrape reads from; cheap handles to the node's parts.
#[derive(Debug)]
pub struct Sources {
    pub fleet: Arc<Fleet>,
    pub db: Db,
    pub metrics: Arc<Metrics>,
    pub gateway: Option<Gateway>,
}

/// The whole exposition, read now.
pub fn render(sources: Sources) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(sources));
    let mut out = String::new();
    // Writing to a String cannot fail; the collector's own errors are
    // formatting errors of the same kind.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

/// One family: its header, then one sample per row.
fn family<'a, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric_type: MetricType,
    rows: impl IntoIterator<Item = (Labels<'a>, M)>,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, metric_type)?;
    for (labels, value) in rows {
        value.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn counters<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Labels<'a>, u64)>,
) -> fmt::Result {
    let rows = rows
        .into_iter()
        .map(|(labels, n)| (labels, ConstCounter::new(n)));
    family(encoder, name, help, MetricType::Counter, rows)
}

fn gauges<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Labels<'a>, i64)>,
) -> fmt::Result {
    let rows = rows
        .into_iter()
        .map(|(labels, n)| (labels, ConstGauge::new(n)));
    family(encoder, name, help, MetricType::Gauge, rows)
}

fn histograms<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Labels<'a>, Snapshot)>,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, snapshot) in rows {
        metric.encode_family(&labels)?.encode_histogram::<Labels>(
            snapshot.sum_seconds,
            snapshot.count,
            &snapshot.buckets,
            None,
        )?;
    }
    Ok(())
}

fn name(d: &Deployed) -> &str {
    &d.record.name
}

fn per_bot(d: &Deployed) -> Labels<'_> {
    vec![("bot", name(d))]
}

fn with<'a>(d: &'a Deployed, key: &'static str, value: &'a str) -> Labels<'a> {
    vec![("bot", name(d)), (key, value)]
}

impl Collector for Sources {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let bots = self.fleet.all();
        self.encode_bots(&mut encoder, &bots)?;
        self.encode_gateway(&mut encoder, &bots)?;
        self.encode_node(&mut encoder)
    }
}

impl Sources {
    fn encode_bots(&self, encoder: &mut DescriptorEncoder, bots: &[Arc<Deployed>]) -> fmt::Result {
        let e = encoder;

        gauges(
            e,
            "appliance_bots_deployed",
            "Bots serving on this node.",
            [(vec![], bots.len() as i64)],
        )?;
        let mut rows = Vec::new();
        for d in bots {
            for (kind, outcome, n) in d.bot.env().counters.outcomes() {
                rows.push((
                    vec![("bot", name(d)), ("type", kind), ("outcome", outcome)],
                    n,
                ));
            }
        }
        counters(
            e,
            "appliance_interactions",
            "Interactions and events the node handled, by bot, type and outcome.",
            rows,
        )?;
        histograms(
            e,
            "appliance_interaction_duration_seconds",
            "From an interaction's arrival to its HTTP answer (the bot's, a notice, or the deferral).",
            bots.iter()
                .filter(|d| !d.bot.env().counters.latency.is_empty())
                .map(|d| (per_bot(d), d.bot.env().counters.latency.snapshot())),
        )?;
        histograms(
            e,
            "appliance_bot_run_duration_seconds",
            "The sandbox call of an interaction: waiting for a place, an instance, and the guest.",
            bots.iter()
                .filter(|d| !d.bot.env().counters.run_latency.is_empty())
                .map(|d| (per_bot(d), d.bot.env().counters.run_latency.snapshot())),
        )?;
        counters(
            e,
            "appliance_interaction_deferrals",
            "Interactions answered with a deferral because the bot was still running.",
            bots.iter()
                .map(|d| (per_bot(d), d.bot.env().counters.deferrals()))
                .filter(|(_, n)| *n > 0),
        )?;
        let mut rows = Vec::new();
        for d in bots {
            for (result, n) in d.bot.env().counters.late_deliveries() {
                rows.push((with(d, "result", result), n));
            }
        }
        counters(
            e,
            "appliance_late_deliveries",
            "Answers delivered after the initial response, by result.",
            rows,
        )?;
        let mut rows = Vec::new();
        for d in bots {
            for (reason, n) in d.bot.env().counters.crashes() {
                rows.push((with(d, "reason", reason), n));
            }
        }
        counters(
            e,
            "appliance_crashes",
            "Events whose instance was discarded, by reason.",
            rows,
        )?;
        counters(
            e,
            "appliance_fuel_used",
            "Fuel the bot's events used (roughly, wasm instructions).",
            bots.iter()
                .map(|d| (per_bot(d), d.bot.env().counters.fuel()))
                .filter(|(_, n)| *n > 0),
        )?;
        let mut rows = Vec::new();
        for d in bots {
            rows.push((with(d, "state", "idle"), d.bot.idle_instances() as i64));
            rows.push((with(d, "state", "busy"), d.bot.busy_instances() as i64));
        }
        gauges(
            e,
            "appliance_instances",
            "The bot's places: instances parked between events (idle), and events running or waiting for an instance (busy).",
            rows,
        )?;
        gauges(
            e,
            "appliance_instances_max",
            "The bot's limit on instances running at once.",
            bots.iter()
                .map(|d| (per_bot(d), i64::from(d.record.limits.instances))),
        )?;
        let mut rows = Vec::new();
        for d in bots {
            for (reason, n) in d.bot.env().counters.evictions() {
                rows.push((with(d, "reason", reason), n));
            }
        }
        counters(
            e,
            "appliance_instance_evictions",
            "Parked instances dropped: idle too long, or taken for another bot when the pool was full.",
            rows,
        )?;
        let mut rows = Vec::new();
        for d in bots {
            for (op, n) in d.bot.env().counters.kv_operations() {
                rows.push((with(d, "op", op), n));
            }
        }
        counters(
            e,
            "appliance_kv_operations",
            "Successful kv calls, by operation.",
            rows,
        )?;
        let mut rows = Vec::new();
        for d in bots {
            let (read, written) = d.bot.env().counters.kv_bytes();
            for (direction, n) in [("read", read), ("written", written)] {
                if n > 0 {
                    rows.push((with(d, "direction", direction), n));
                }
            }
        }
        counters(
            e,
            "appliance_kv_bytes",
            "Value bytes kv calls read and wrote.",
            rows,
        )?;
        counters(
            e,
            "appliance_log_bytes_dropped",
            "Log bytes not stored: over the bot's per-minute budget.",
            bots.iter()
                .map(|d| (per_bot(d), d.bot.env().counters.dropped_log_bytes()))
                .filter(|(_, n)| *n > 0),
        )?;
        let now = Instant::now();
        gauges(
            e,
            "appliance_bot_state",
            "1 for the bot's crash-loop state: running, backing_off or quarantined.",
            bots.iter()
                .map(|d| (with(d, "state", d.health().state(now)), 1)),
        )
    }

    fn encode_gateway(&self, e: &mut DescriptorEncoder, bots: &[Arc<Deployed>]) -> fmt::Result {
        let Some(gateway) = &self.gateway else {
            return Ok(());
        };
        let names: HashMap<i64, &str> = bots
            .iter()
            .map(|d| (d.record.id, d.record.name.as_str()))
            .collect();
        let standings: Vec<_> = gateway
            .standings()
            .into_iter()
            .filter_map(|(id, standing)| names.get(&id).map(|name| (*name, standing)))
            .collect();
        let per_bot = |value: fn(&crate::gateway::GatewayStanding) -> u64| {
            standings
                .iter()
                .map(move |(name, s)| (vec![("bot", *name)], value(s)))
        };
        counters(
            e,
            "appliance_gateway_events_received",
            "Gateway dispatch events received for the bot.",
            per_bot(|s| s.events_received),
        )?;
        counters(
            e,
            "appliance_gateway_events_delivered",
            "Gateway events the bot's handler ran for.",
            per_bot(|s| s.events_delivered),
        )?;
        counters(
            e,
            "appliance_gateway_events_dropped",
            "Gateway events dropped because the bot's queue was full.",
            per_bot(|s| s.events_dropped),
        )?;
        counters(
            e,
            "appliance_gateway_identifies",
            "IDENTIFYs the bot's shards sent.",
            per_bot(|s| s.identifies),
        )?;
        gauges(
            e,
            "appliance_gateway_events_queued",
            "Gateway events waiting in the bot's queue.",
            per_bot(|s| s.queued as u64).map(|(labels, n)| (labels, n as i64)),
        )?;
        gauges(
            e,
            "appliance_gateway_shards_ready",
            "The bot's shards in state ready.",
            per_bot(|s| s.shard_states.iter().filter(|s| *s == "ready").count() as u64)
                .map(|(labels, n)| (labels, n as i64)),
        )?;
        // A shard's state may carry a reason ("paused: …"); the label keeps
        // the word before it, so the states stay a short list.
        let mut rows: Vec<(Labels, i64)> = Vec::new();
        for (name, standing) in &standings {
            let mut by_state: Vec<(&str, i64)> = Vec::new();
            for state in &standing.shard_states {
                let state = state.split(':').next().unwrap_or(state).trim();
                match by_state.iter_mut().find(|(s, _)| *s == state) {
                    Some((_, n)) => *n += 1,
                    None => by_state.push((state, 1)),
                }
            }
            for (state, n) in by_state {
                rows.push((vec![("bot", *name), ("state", state)], n));
            }
        }
        gauges(
            e,
            "appliance_gateway_shards",
            "The bot's gateway shards by session state.",
            rows,
        )
    }

    fn encode_node(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let one = |key, value| -> Labels { vec![(key, value)] };
        let rest = self.fleet.rest_figures();
        counters(
            e,
            "appliance_discord_responses",
            "Discord REST answers by status (error: no answer), every attempt counted.",
            rest.answers
                .iter()
                .map(|(status, n)| (one("status", status), *n)),
        )?;
        counters(
            e,
            "appliance_discord_rate_limited",
            "429 answers from Discord, by whose limit it was.",
            rest.too_many_requests
                .iter()
                .map(|(scope, n)| (one("scope", scope), *n)),
        )?;
        counters(
            e,
            "appliance_discord_rate_limit_waits",
            "REST requests that waited for a rate limit or a pause before going out.",
            [(vec![], rest.waits)],
        )?;
        family(
            e,
            "appliance_discord_rate_limit_wait_seconds",
            "Time REST requests waited for rate limits and pauses.",
            MetricType::Counter,
            [(vec![], ConstCounter::new(rest.waited_seconds))],
        )?;
        gauges(
            e,
            "appliance_discord_invalid_requests",
            "Invalid REST requests (401, 403, non-shared 429) in Discord's 10-minute window.",
            [(vec![], rest.invalid_requests_10min as i64)],
        )?;
        gauges(
            e,
            "appliance_discord_invalid_request_budget",
            "Invalid requests per 10 minutes past which the node stops calling Discord.",
            [(vec![], rest.invalid_budget as i64)],
        )?;

        let (accepted, refused, open) = self.metrics.listener.connections();
        counters(
            e,
            "appliance_connections_accepted",
            "Connections the public listener accepted and admitted.",
            [(vec![], accepted)],
        )?;
        counters(
            e,
            "appliance_connections_refused",
            "Connections closed at once: their address held its share.",
            [(vec![], refused)],
        )?;
        gauges(
            e,
            "appliance_connections_open",
            "Open connections on the public listener.",
            [(vec![], open)],
        )?;
        let (completed, failed, timed_out) = self.metrics.listener.handshakes();
        counters(
            e,
            "appliance_tls_handshakes",
            "TLS handshakes on the public listener, by result.",
            [
                (one("result", "completed"), completed),
                (one("result", "failed"), failed),
                (one("result", "timed_out"), timed_out),
            ],
        )?;
        counters(
            e,
            "appliance_ingress_rejected",
            "Public requests turned away before reaching a bot, by reason.",
            self.metrics
                .rejections()
                .map(|(reason, n)| (one("reason", reason), n)),
        )?;

        let writes = self.db.write_stats();
        counters(
            e,
            "appliance_store_commits",
            "Group commits of the store's writer; each syncs the WAL (synchronous=FULL).",
            [(vec![], writes.commits())],
        )?;
        histograms(
            e,
            "appliance_store_commit_duration_seconds",
            "One group commit, its fsync included.",
            [(vec![], writes.commit_latency.snapshot())],
        )?;
        histograms(
            e,
            "appliance_store_write_duration_seconds",
            "From a store write's call to its acknowledgement after the commit.",
            [(vec![], writes.write_latency.snapshot())],
        )?;
        if let Ok(free) = crate::fsutil::free_space(self.fleet.artifacts_dir()) {
            gauges(
                e,
                "appliance_data_dir_free_bytes",
                "Bytes an unprivileged process may still write on the data dir's filesystem.",
                [(vec![], i64::try_from(free).unwrap_or(i64::MAX))],
            )?;
        }
        Ok(())
    }
}
