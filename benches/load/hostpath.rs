//! Host-side processing per interaction, measured in-process with the
//! library: the work the node does between having the request's headers
//! and body and having the answer, i.e. signature header parsing and
//! `verify_strict`, then `Dispatcher::dispatch` (head parse, interaction
//! span, gate, the bot's task, warm instance call with the guest's own JSON
//! work, response check, metrics, background persistence). HTTP parsing and
//! socket I/O are not included; the load scenarios cover those end to end.
//! The node's logging subscriber is installed, so the span costs what it
//! costs in the node.

use std::sync::Arc;
use std::time::{Duration, Instant};

use appliance::clock::unix_secs as unix_now;
use appliance::dispatch::{Deferral, Dispatcher};
use appliance::fleet::{ComponentSource, DeploySpec, Fleet};
use appliance::ingress::replay::ReplayGuard;
use appliance::ingress::{screen_body, screen_headers};
use appliance::sandbox::{Engine, PoolConfig};

use crate::payload::Payloads;
use crate::Opts;

const APP: &str = "1000001";

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<58} n={:<6} p50={:>8.1?} p90={:>8.1?} p99={:>8.1?} p999={:>8.1?}",
        samples.len(),
        pick(0.5),
        pick(0.9),
        pick(0.99),
        pick(0.999)
    );
}

pub fn run(opts: &Opts, ping: &[u8]) {
    appliance::telemetry::init(None);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The measurement runs as a task on a worker thread, as a connection
    // task does in the node: from `block_on`'s own thread every event would
    // pay two cross-thread wake-ups that the node does not.
    let opts = opts.clone();
    let ping = ping.to_vec();
    let task = runtime.spawn(async move {
        let (temp, db) = crate::common::scratch_db();
        let engine = Arc::new(
            Engine::new(PoolConfig {
                max_instances: 16,
                ..PoolConfig::default()
            })
            .unwrap(),
        );
        let discord =
            Arc::new(appliance::discord::Client::new("http://127.0.0.1:9/api/v10").unwrap());
        let fleet = Fleet::new(engine, db.clone(), temp.path().to_path_buf(), discord.clone());
        fleet
            .deploy(DeploySpec {
                name: "ping".into(),
                app_id: APP.into(),
                public_key: crate::common::KEY.into(),
                token: None,
                limits: Default::default(),
                wasm: ComponentSource::Bytes(ping),
                gateway: Default::default(),
                commands_scope: appliance::registry::Scope::Global,
                register_commands: true,
            })
            .await
            .unwrap();
        let deployed = fleet.by_app_id(APP).unwrap();
        let dispatcher = Dispatcher::new(
            db,
            discord,
            Duration::from_millis(2000),
        );
        let payloads = Payloads::new(
            "ping",
            serde_json::json!([{ "name": "private", "type": 5, "value": false }]),
            vec![APP.into()],
        );
        let n = opts.window.as_secs_f64() as usize * 4000;
        println!(
            "\nhost-side processing per interaction (in-process, sequential, {n} interactions, 1.5 KiB)"
        );
        let mut verify = Vec::new();
        let mut dispatch = Vec::new();
        let mut total = Vec::new();
        let mut invoke = Vec::new();
        let replay = ReplayGuard::new(Duration::from_secs(300), 1_000_000, 0);
        for round in 0..2 {
            for signed in payloads.presign(n) {
                let t = Instant::now();
                // The ingress checks as served: headers, timestamp window,
                // signature, interaction head and the replay memory.
                let now = unix_now();
                let (headers, timestamp) = screen_headers(
                    &replay,
                    Some(signed.signature.as_bytes()),
                    Some(signed.timestamp.as_bytes()),
                    now,
                )
                .unwrap();
                let head = screen_body(
                    &replay,
                    &deployed.public_key,
                    &headers,
                    timestamp,
                    &signed.body,
                    now,
                )
                .unwrap();
                let verified = t.elapsed();
                let answer = dispatcher
                    .dispatch(deployed.clone(), head, signed.body, Deferral::CountingFrom(t))
                    .await;
                let done = t.elapsed();
                assert!(crate::driver::contains(&answer, "pong"));
                // The first round warms the instance, caches and allocator.
                if round == 1 {
                    verify.push(verified);
                    dispatch.push(done - verified);
                    total.push(done);
                }
            }
        }
        for signed in payloads.presign(n) {
            let t = Instant::now();
            let invocation = deployed.bot.invoke(&signed.body, Some("1"), None).await;
            invoke.push(t.elapsed());
            invocation.result.unwrap();
        }
        report("screen (signature headers, timestamp, verify_strict, head, replay)", verify);
        report(
            "dispatch (head parse, span, bot task, warm call, checks)",
            dispatch,
        );
        report("host-side total: screen + dispatch + warm call", total);
        report("  for reference: Bot::invoke alone (warm call)", invoke);
        dispatcher.drain().await;
    });
    runtime.block_on(task).unwrap();
}
