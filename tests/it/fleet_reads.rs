//! A stream leader cut off from its peers goes on answering reads for
//! seconds after the majority has elected another and taken new writes
//! (nats-server steps a leader down only after 10 s without a quorum), and
//! for a moment after the cut heals. The CI once caught a fleet node in
//! that moment: a bot read an old total and wrote over a newer one. A
//! fleet's bot KV never hands a guest such a value: every read is confirmed
//! by the current majority, or the call says `unavailable`.
//!
//! The node's own fence (a node whose heartbeat is not acknowledged stops
//! serving) is held open here on purpose: the test is about what gets
//! through when that fence has not closed yet or has just reopened.

use std::time::{Duration, Instant};

use appliance::cluster::botkv::{partition_name, partition_of};
use appliance::cluster::Cluster;
use appliance::sandbox::KvBackend;
use appliance::sandbox::KvCall;
use appliance::store::{KvError, KvQuota};

use crate::support::eventually;
use crate::support::fleet_harness::Engine;

const BOT: &str = "reader";
const SPACE: &str = "5eed5eed5eed5eed";

fn call(within: Duration) -> KvCall<'static> {
    KvCall {
        bot_id: 1,
        bot: BOT,
        quota: KvQuota::default(),
        deadline: Instant::now() + within,
    }
}

/// A fleet client beside server `i`, its heartbeat fence held open.
async fn client(engine: &Engine, i: usize, node: &str) -> (Cluster, tokio::task::JoinHandle<()>) {
    let mut settings = engine.client_settings(i, node);
    // Its own server only: cut off with it, whichever was quicker to answer.
    settings.servers.truncate(1);
    let cluster = Cluster::connect(settings, Duration::from_secs(30))
        .await
        .expect("the fleet client connects");
    cluster.botkv.learn(BOT, SPACE);
    let health = cluster.health.clone();
    let fence_open = tokio::spawn(async move {
        loop {
            health.acknowledged(Instant::now());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    (cluster, fence_open)
}

async fn get(cluster: &Cluster, within: Duration) -> Result<Option<Vec<u8>>, KvError> {
    cluster.botkv.get(call(within), "total".into()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_stream_leader_never_answers_a_bots_read() {
    let engine = Engine::start().await;
    let (writer, writer_fence) = client(&engine, 0, "writer").await;
    let (reader, reader_fence) = client(&engine, 2, "reader").await;
    writer
        .botkv
        .set(call(Duration::from_secs(10)), "total".into(), b"1".to_vec())
        .await
        .unwrap();
    writer
        .botkv
        .set(call(Duration::from_secs(10)), "other".into(), b"x".to_vec())
        .await
        .unwrap();

    // Server n3 (beside the reader) leads the bot's partition.
    let stream = format!("KV_{}", partition_name(partition_of(SPACE)));
    eventually(
        Duration::from_secs(60),
        "n3 leads the bot's partition",
        async || {
            let mut info = writer.js.get_stream(&stream).await.ok()?;
            let leader = info.info().await.ok()?.cluster.as_ref()?.leader.clone();
            if leader.as_deref() == Some("n3") {
                return Some(());
            }
            let _ = writer
                .client
                .request(
                    format!("$JS.API.STREAM.LEADER.STEPDOWN.{stream}"),
                    r#"{"placement":{"preferred":"n3"}}"#.into(),
                )
                .await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            None
        },
    )
    .await;
    assert_eq!(
        get(&reader, Duration::from_secs(10))
            .await
            .unwrap()
            .as_deref(),
        Some(&b"1"[..])
    );

    engine.isolate(2).await;
    let cut = Instant::now();
    // The majority elects another leader and takes a newer total.
    eventually(
        Duration::from_secs(30),
        "the majority takes a write",
        async || {
            writer
                .botkv
                .set(call(Duration::from_secs(2)), "total".into(), b"2".to_vec())
                .await
        },
    )
    .await;
    writer
        .botkv
        .delete(call(Duration::from_secs(5)), "other".into())
        .await
        .unwrap();
    let elected = cut.elapsed();
    // n3 may still think it leads: what the reader gets is never the old
    // total (nor a listing with the deleted key), only `unavailable`.
    let mut reads = Vec::new();
    while cut.elapsed() < elected + Duration::from_secs(4) {
        let got = get(&reader, Duration::from_millis(700)).await;
        assert!(
            !matches!(&got, Ok(Some(v)) if v == b"1"),
            "a stale total read {:?} after the cut (the majority wrote 2 at {elected:?})",
            cut.elapsed()
        );
        let listed = reader
            .botkv
            .list_keys(call(Duration::from_millis(700)), String::new())
            .await;
        assert!(
            !matches!(&listed, Ok(keys) if keys.iter().any(|k| k == "other")),
            "a stale listing {listed:?} after the cut"
        );
        reads.push((got, listed));
    }
    assert!(!reads.is_empty());

    // Healed, the reader reads the majority's total.
    engine.heal();
    eventually(
        Duration::from_secs(60),
        "the healed reader reads the newer total",
        async || {
            let got = get(&reader, Duration::from_secs(2)).await;
            assert!(
                !matches!(&got, Ok(Some(v)) if v == b"1"),
                "a stale total after the heal"
            );
            matches!(&got, Ok(Some(v)) if v == b"2").then_some(())
        },
    )
    .await;
    let keys = reader
        .botkv
        .list_keys(call(Duration::from_secs(10)), String::new())
        .await
        .unwrap();
    assert_eq!(keys, ["total"]);
    writer_fence.abort();
    reader_fence.abort();
}
