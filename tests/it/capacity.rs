//! What tenants share and what they never reach. The node-wide instance pool
//! is shared by every tenant: parked (idle) instances are a cache, so when the
//! pool is full a bot that needs an instance evicts the least recently used
//! parked one instead of failing. WASI gives a guest clocks and randomness
//! only: no files, environment, arguments or sockets.

use std::time::Duration;

use crate::support::{command, command_bytes, eventually, Node, Signer};

#[tokio::test]
async fn a_full_instance_pool_evicts_parked_instances_instead_of_refusing_a_tenant() {
    // Room for two live instances on the whole node, three tenants.
    let node = Node::start_with_config("max_instances = 2\n", &["--plain-http"]).await;
    let signer = Signer::new(31);
    let apps = [
        "5000000000000000001",
        "5000000000000000002",
        "5000000000000000003",
    ];
    for (i, app) in apps.iter().enumerate() {
        node.deploy("ping-bot", &format!("tenant{i}"), app, &signer)
            .await;
    }
    let ping = || command_bytes("ping", "42");
    // Each answer parks an instance; the third tenant (and every one after)
    // needs a slot another tenant's parked instance holds.
    for round in 0..3 {
        for app in apps {
            let (status, answer) = node.interact(app, &signer, &ping()).await;
            assert_eq!(status, 200);
            assert_eq!(
                answer["data"]["content"], "pong",
                "round {round}, app {app}: {answer}"
            );
        }
    }
    let log = node.node_log();
    assert!(!log.contains("bot did not answer"), "{log}");
}

#[tokio::test]
async fn a_guest_reaches_no_files_environment_or_network() {
    let node = Node::start_with(&["--plain-http"]).await;
    let signer = Signer::new(32);
    let app = "5000000000000000009";
    node.deploy("hostile-bot", "escaper", app, &signer).await;
    let (status, answer) = node
        .interact(app, &signer, &command_bytes("escape", "42"))
        .await;
    assert_eq!(status, 200);
    let report = answer["data"]["content"].as_str().unwrap().to_owned();
    for part in report.split("; ") {
        let (what, result) = part.split_once(": ").unwrap();
        match what {
            "env vars" | "args" => assert_eq!(result, "0", "{report}"),
            _ => assert!(
                result.starts_with("refused"),
                "{what} was reachable: {report}"
            ),
        }
    }
}

#[tokio::test]
async fn a_bot_waiting_for_a_rate_limit_is_suspended_within_its_wall_clock_limit() {
    use crate::support::fake_discord::{FakeConfig, FakeDiscord, RouteLimit};
    use std::time::Instant;

    // One request per 3 s on GET /users/@me, per token.
    let fake = FakeDiscord::start(FakeConfig {
        routes: vec![RouteLimit {
            method: "GET",
            template: "/users/@me",
            bucket: "me",
            limit: 1,
            window: Duration::from_secs(3),
        }],
        ..FakeConfig::default()
    })
    .await;
    let node = Node::with_fake_discord(&fake).await;
    let signer = Signer::new(33);
    let dir = tempfile::tempdir().unwrap();
    let token_file = |token: &str| {
        let path = dir.path().join(token);
        std::fs::write(&path, token).unwrap();
        path.display().to_string()
    };
    let (patient, hasty, neighbour) = (
        "5000000000000000011",
        "5000000000000000012",
        "5000000000000000013",
    );
    node.deploy_with(
        "hostile-bot",
        "patient",
        patient,
        &signer,
        &["--token-file", &token_file("token-a")],
    )
    .await;
    node.deploy_with(
        "hostile-bot",
        "hasty",
        hasty,
        &signer,
        &[
            "--token-file",
            &token_file("token-b"),
            "--timeout-ms",
            "1000",
        ],
    )
    .await;
    node.deploy("ping-bot", "neighbour", neighbour, &signer)
        .await;
    let rest = || command_bytes("rest", "42");
    let content =
        |answer: &serde_json::Value| answer["data"]["content"].as_str().unwrap_or("").to_owned();

    // Each bot spends its one request of the window.
    for app in [patient, hasty] {
        let (_, answer) = node.interact(app, &signer, &rest()).await;
        assert_eq!(content(&answer), "status 200", "{answer}");
    }

    // The patient bot (10 s limit) waits for the bucket's reset instead of
    // sending into it: deferred at 2 s, answered late with a 200.
    let patient_body = rest();
    let patient_call = node.interact(patient, &signer, &patient_body);
    // Meanwhile the neighbour is served at once: the waiting bot holds no thread.
    // (The delays below only space the requests: sent while the patient bot waits.)
    let neighbour_call = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let sent = Instant::now();
        let (_, answer) = node
            .interact(neighbour, &signer, &command_bytes("ping", "42"))
            .await;
        (sent.elapsed(), answer)
    };
    // The hasty bot (1 s limit) cannot wait 3 s: it gets the rate-limit
    // error at once and answers with it, well inside its limit.
    let hasty_call = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent = Instant::now();
        let (_, answer) = node.interact(hasty, &signer, &rest()).await;
        (sent.elapsed(), answer)
    };
    let ((_, patient_answer), (neighbour_took, neighbour_answer), (hasty_took, hasty_answer)) =
        tokio::join!(patient_call, neighbour_call, hasty_call);

    assert_eq!(patient_answer, serde_json::json!({ "type": 5 }));
    let late = eventually(
        Duration::from_secs(20),
        "the late answer arrived",
        async || {
            fake.requests()
                .into_iter()
                .find(|r| r.method == "PATCH" && r.path.contains("/webhooks/5000000000000000011/"))
        },
    )
    .await;
    let late: serde_json::Value = serde_json::from_slice(&late.body).unwrap();
    assert_eq!(late["content"], "status 200", "{late}");

    assert_eq!(content(&neighbour_answer), "pong");
    // Well under the 3 s the patient bot waits (a loaded machine adds some).
    assert!(
        neighbour_took < Duration::from_millis(2500),
        "{neighbour_took:?}"
    );

    let hasty_text = content(&hasty_answer);
    assert!(hasty_text.starts_with("error:"), "{hasty_text}");
    assert!(hasty_text.contains("rate"), "{hasty_text}");
    // The text above, not a timeout notice, shows it failed before its 1 s limit.
    assert!(hasty_took < Duration::from_millis(2500), "{hasty_took:?}");

    // Nothing was sent into the empty bucket.
    assert_eq!(fake.violations(), Default::default());
}

#[tokio::test]
async fn a_bots_stored_logs_are_capped_per_minute() {
    let node = Node::start().await;
    let signer = Signer::new(34);
    let app = "5000000000000000021";
    node.deploy("hostile-bot", "chatty", app, &signer).await;
    // Each flood stores its per-event 64 KiB; 20 of them pass 1 MiB a minute.
    let mut events = Vec::new();
    for _ in 0..20 {
        let flood = command("logflood", "42");
        events.push(flood["id"].as_str().unwrap().to_owned());
        let body = serde_json::to_vec(&flood).unwrap();
        let (_, answer) = node.interact(app, &signer, &body).await;
        assert_eq!(answer["data"]["content"], "flooded", "{answer}");
    }
    // Logs are written after the answers: wait until every event has its
    // lines (or its dropped-bytes line) stored, then judge the whole minute.
    let logs = node
        .logs_when("chatty", "every event's logs are stored", |logs| {
            events.iter().all(|id| logs.contains(&format!("[{id}]")))
        })
        .await;
    assert!(
        logs.contains("log bytes dropped: the limit is 1048576 bytes per minute"),
        "no per-minute cut in {} bytes of logs",
        logs.len()
    );
    let stored: usize = logs.lines().map(str::len).sum();
    assert!(stored < 1_200_000, "{stored} bytes stored in a minute");
}
