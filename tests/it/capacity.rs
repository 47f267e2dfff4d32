//! What tenants share and what they never reach. The node-wide instance pool
//! is shared by every tenant: parked (idle) instances are a cache, so when the
//! pool is full a bot that needs an instance evicts the least recently used
//! parked one instead of failing. WASI gives a guest clocks and randomness
//! only: no files, environment, arguments or sockets.

use crate::support::{command, Node, Signer};

#[tokio::test]
async fn a_full_instance_pool_evicts_parked_instances_instead_of_refusing_a_tenant() {
    // Room for two live instances on the whole node, three tenants.
    let node = Node::start_with_config("max_instances = 2\n", &["--plain-http"]);
    let signer = Signer::new(31);
    let apps = [
        "5000000000000000001",
        "5000000000000000002",
        "5000000000000000003",
    ];
    for (i, app) in apps.iter().enumerate() {
        node.deploy("ping-bot", &format!("tenant{i}"), app, &signer);
    }
    let ping = || serde_json::to_vec(&command("ping", "42")).unwrap();
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
    let node = Node::start_with(&["--plain-http"]);
    let signer = Signer::new(32);
    let app = "5000000000000000009";
    node.deploy("hostile-bot", "escaper", app, &signer);
    let (status, answer) = node
        .interact(
            app,
            &signer,
            &serde_json::to_vec(&command("escape", "42")).unwrap(),
        )
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
