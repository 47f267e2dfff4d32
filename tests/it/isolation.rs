//! Tenant isolation under hostile timing and hostile text (issue 10): a
//! removed bot's events never reach another bot's data, quarantine stops
//! queued events, KV quotas are exact for any key, guest text cannot drive
//! the operator's terminal, and a guest's host-side footprint is bounded.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::fake_discord::{FakeConfig, FakeDiscord};
use tokio::task::JoinHandle;

use crate::support::{appliance, command, eventually, Node, Signer};

const DOOMED_APP: &str = "3000000000000000001";
const HEIR_APP: &str = "3000000000000000002";
const REMOVED_NOTICE: &str = "This bot was removed while it was answering.";
const QUARANTINED_NOTICE: &str = "disabled after crashing repeatedly";

/// A command interaction with string (or integer) options.
fn with_options(name: &str, options: &[(&str, Value)]) -> Value {
    let mut body = command(name, "42");
    body["data"]["options"] = options
        .iter()
        .map(|(option, value)| {
            let kind = if value.is_i64() { 4 } else { 3 };
            json!({ "name": option, "type": kind, "value": value })
        })
        .collect();
    body
}

/// Runs `appliance invoke NAME` with `body` and returns the process output.
async fn invoke(node: &Node, name: &str, body: &Value) -> Output {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(body).unwrap()).unwrap();
    node.cli(&["invoke", name, "--json", file.path().to_str().unwrap()])
        .await
}

/// The answer's message content, or the error the CLI printed.
fn content(output: &Output) -> String {
    if !output.status.success() {
        return format!("error: {}", String::from_utf8_lossy(&output.stderr));
    }
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "invoke printed no JSON ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    answer["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn db_path(node: &Node) -> PathBuf {
    node.data_dir.join("appliance.db")
}

/// Reads the node's real SQLite file beside the running node (WAL mode
/// allows a second reader).
fn query<T>(node: &Node, read: impl FnOnce(&rusqlite::Connection) -> T) -> T {
    let conn = rusqlite::Connection::open_with_flags(
        db_path(node),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    read(&conn)
}

fn bot_id(node: &Node, name: &str) -> i64 {
    query(node, |conn| {
        conn.query_row("SELECT id FROM bots WHERE name = ?1", [name], |row| {
            row.get(0)
        })
        .unwrap()
    })
}

/// The keys bot `id` has stored, read from the database.
fn stored_keys(node: &Node, id: i64) -> Vec<String> {
    query(node, |conn| {
        let mut stmt = conn
            .prepare("SELECT key FROM kv WHERE bot_id = ?1 ORDER BY key")
            .unwrap();
        stmt.query_map([id], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    })
}

async fn deploy_hostile(node: &Node, name: &str, app_id: &str, extra: &[&str]) {
    node.deploy_with("hostile-bot", name, app_id, &Signer::new(21), extra)
        .await;
}

/// Starts `spy` on `name` in the background and returns once it runs.
async fn start_spy(node: &Arc<Node>, name: &str) -> JoinHandle<Output> {
    let id = bot_id(node, name);
    let spy = {
        let node = node.clone();
        let name = name.to_owned();
        tokio::spawn(async move {
            invoke(&node, &name, &with_options("spy", &[("ms", json!(6000))])).await
        })
    };
    eventually(Duration::from_secs(60), "the spy is running", async || {
        stored_keys(node, id).contains(&"spy-started".to_owned())
    })
    .await;
    spy
}

#[tokio::test]
async fn a_removed_bots_event_never_reaches_the_next_bots_data() {
    // Whether the next bot takes a new name and application or the removed
    // bot's very name and application, it gets a new identity.
    for (heir, heir_app) in [("heir", HEIR_APP), ("doomed", DOOMED_APP)] {
        let node = Arc::new(Node::start().await);
        deploy_hostile(&node, "doomed", DOOMED_APP, &["--timeout-ms", "20000"]).await;
        let doomed_id = bot_id(&node, "doomed");
        let spy = start_spy(&node, "doomed").await;

        assert_eq!(
            node.cli_ok(&["remove", "doomed"]).await.trim(),
            "removed doomed"
        );
        deploy_hostile(&node, heir, heir_app, &[]).await;
        let heir_id = bot_id(&node, heir);
        assert_ne!(
            heir_id, doomed_id,
            "the removed bot's id was given out again"
        );
        let put = with_options(
            "kv-put",
            &[("key", json!("secret")), ("value", json!("heir-secret"))],
        );
        assert_eq!(content(&invoke(&node, heir, &put).await), "stored");

        let late = content(&spy.await.unwrap());
        assert_eq!(late, REMOVED_NOTICE, "the removed bot's event went on");
        assert_eq!(stored_keys(&node, heir_id), ["secret"]);
        assert_eq!(
            content(&invoke(&node, heir, &command("kv-list", "42")).await),
            r#"["secret"]"#
        );
        assert!(stored_keys(&node, doomed_id).is_empty());
        let logs = node.cli_ok(&["logs", heir]).await;
        assert!(!logs.contains("removed meanwhile"), "{logs}");
    }
}

#[tokio::test]
async fn queued_events_of_a_removed_bot_never_run() {
    let node = Arc::new(Node::start().await);
    deploy_hostile(
        &node,
        "doomed",
        DOOMED_APP,
        &["--timeout-ms", "20000", "--instances", "1"],
    )
    .await;
    let spy = start_spy(&node, "doomed").await;
    // The one instance is busy: these wait for it.
    let queued: Vec<_> = (0..3)
        .map(|i| {
            let node = node.clone();
            tokio::spawn(async move {
                let put = with_options("kv-put", &[("key", json!(format!("queued-{i}")))]);
                invoke(&node, "doomed", &put).await
            })
        })
        .collect();
    // Time for the three `appliance invoke` processes to reach the node and
    // queue behind the spy. Nothing the node reports shows a queued event,
    // so this stays a sleep; the assertions below fail (not pass) if it is
    // too short.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    node.cli_ok(&["remove", "doomed"]).await;
    assert_eq!(content(&spy.await.unwrap()), REMOVED_NOTICE);
    let mut answers = Vec::new();
    for task in queued {
        answers.push(content(&task.await.unwrap()));
    }
    for answer in &answers {
        // One that reached the node after the removal finds no bot at all.
        assert!(
            answer == REMOVED_NOTICE || answer.contains("no bot named"),
            "a queued event of a removed bot ran: {answers:?}"
        );
    }
    assert!(
        answers.iter().any(|a| a == REMOVED_NOTICE),
        "no event was queued when the bot was removed: {answers:?}"
    );
}

#[tokio::test]
async fn events_queued_when_a_bot_is_quarantined_get_the_notice_without_running() {
    let node = Arc::new(Node::start().await);
    deploy_hostile(&node, "crashy", DOOMED_APP, &["--instances", "1"]).await;
    let id = bot_id(&node, "crashy");
    // Four crashes in a row (waiting out each back-off), then a slow fifth.
    let mut crashes = 0;
    let started = Instant::now();
    while crashes < 4 {
        let answer = content(&invoke(&node, "crashy", &command("panic", "42")).await);
        if answer.contains("ran into a problem") {
            crashes += 1;
        } else {
            // Backing off: retried after a pause (spacing the retries, not a wait).
            assert!(answer.contains("restarting"), "{answer}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no crash loop");
    }
    let fifth = {
        let node = node.clone();
        tokio::spawn(async move {
            loop {
                let answer = content(&invoke(&node, "crashy", &command("slow-crash", "42")).await);
                if !answer.contains("restarting") {
                    return answer;
                }
                // Backing off: retried after a pause (spacing, not a wait).
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    eventually(
        Duration::from_secs(60),
        "the fifth crash is running",
        async || stored_keys(&node, id).contains(&"marked".to_owned()),
    )
    .await;
    let queued: Vec<_> = (0..4)
        .map(|i| {
            let node = node.clone();
            tokio::spawn(async move {
                let put = with_options("kv-put", &[("key", json!(format!("queued-{i}")))]);
                content(&invoke(&node, "crashy", &put).await)
            })
        })
        .collect();
    assert!(fifth.await.unwrap().contains("ran into a problem"));
    for task in queued {
        let answer = task.await.unwrap();
        assert!(answer.contains(QUARANTINED_NOTICE), "{answer}");
    }
    assert_eq!(node.bot("crashy").await["state"], "quarantined");
    assert_eq!(
        stored_keys(&node, id),
        ["marked"],
        "queued events ran after the quarantine"
    );
}

#[tokio::test]
async fn kv_quota_accounting_is_exact_for_non_ascii_and_nul_keys() {
    let node = Node::start().await;
    deploy_hostile(&node, "churn", DOOMED_APP, &[]).await;
    let id = bot_id(&node, "churn");
    let churn = with_options("kv-churn", &[("cycles", json!(100))]);
    assert_eq!(
        content(&invoke(&node, "churn", &churn).await),
        "churned 100 cycles"
    );
    let put = with_options(
        "kv-put",
        &[("key", json!("user:Владимир")), ("value", json!("1"))],
    );
    assert_eq!(content(&invoke(&node, "churn", &put).await), "stored");
    let (recorded, truth) = query(&node, |conn| {
        let recorded: (i64, i64) = conn
            .query_row(
                "SELECT keys, bytes FROM kv_usage WHERE bot_id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        let truth: (i64, i64) = conn
            .query_row(
                "SELECT COUNT(*), SUM(length(CAST(key AS BLOB)) + length(value)) FROM kv WHERE bot_id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        (recorded, truth)
    });
    assert_eq!(recorded, truth, "the bot's quota drifted from its data");
    assert_eq!(truth, (1, "user:Владимир".len() as i64 + 1));
}

/// Characters that make a terminal act instead of print (line breaks aside).
fn terminal_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// Every printed line is one of the CLI's own: a timestamped line or an
/// indented crash detail line, never one a guest started.
fn assert_no_forged_lines(output: &str) {
    for line in output.lines() {
        assert!(
            !line.starts_with("2030-"),
            "a guest forged a line: {line:?}\nin:\n{output}"
        );
    }
    assert_eq!(terminal_controls(output), Vec::<char>::new(), "{output}");
}

#[tokio::test]
async fn guest_text_cannot_forge_lines_or_drive_the_operators_terminal() {
    let node = Node::start().await;
    deploy_hostile(&node, "forger", DOOMED_APP, &[]).await;
    let mut follow = appliance()
        .args(["logs", "forger", "--follow", "--data-dir"])
        .arg(&node.data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // The bot's error text comes back in the notice `invoke` prints.
    let forged = invoke(&node, "forger", &command("forge", "42")).await;
    let printed = String::from_utf8(forged.stdout).unwrap();
    assert_eq!(terminal_controls(&printed), Vec::<char>::new(), "{printed}");
    let answer: Value = serde_json::from_str(&printed).unwrap();
    assert!(answer["data"]["content"]
        .as_str()
        .unwrap()
        .contains("\u{1b}]0;pwned-title"));
    // The same from a DM (no member, other heap use in the guest): the
    // error text reaches the host intact, not read from freed guest memory.
    let mut dm = command("forge", "42");
    let user = dm["member"]["user"].clone();
    dm.as_object_mut().unwrap().remove("member");
    dm.as_object_mut().unwrap().remove("guild_id");
    dm["user"] = user;
    let in_dm = content(&invoke(&node, "forger", &dm).await);
    assert!(
        in_dm.starts_with("This bot could not answer: \u{1b}]0;pwned-title"),
        "{in_dm}"
    );
    let panicked = invoke(&node, "forger", &command("forge-panic", "42")).await;
    assert!(content(&panicked).contains("ran into a problem"));

    let logs = node.cli_ok(&["logs", "forger"]).await;
    assert!(
        logs.contains("forged: the node leaked its admin token"),
        "{logs}"
    );
    assert!(logs.contains("\\u{1b}]0;pwned-title\\u{7}"), "{logs}");
    assert!(logs.contains("forged in a panic"), "{logs}");
    assert_no_forged_lines(&logs);

    // `logs --follow` prints the same lines, escaped the same way.
    let reader = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut stdout = follow.stdout.take().unwrap();
        let mut seen = Vec::new();
        let mut chunk = [0u8; 4096];
        let started = Instant::now();
        let text = loop {
            let n = stdout.read(&mut chunk).unwrap_or(0);
            seen.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&seen).into_owned();
            if text.contains("forged in a panic")
                || n == 0
                || started.elapsed() > Duration::from_secs(60)
            {
                break text;
            }
        };
        // Stop only the process this test started, by its id.
        let _ = follow.kill();
        let _ = follow.wait();
        text
    });
    let followed = reader.await.unwrap();
    assert!(followed.contains("forged in a panic"), "{followed}");
    assert_no_forged_lines(&followed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_request_bodies_over_the_limit_are_refused_before_sending() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let node = Node::with_fake_discord(&fake).await;
    let token = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token.path(), "token-a").unwrap();
    deploy_hostile(
        &node,
        "big",
        DOOMED_APP,
        &[
            "--token-file",
            token.path().to_str().unwrap(),
            "--memory-mib",
            "128",
        ],
    )
    .await;
    let small = with_options("big-rest", &[("mib", json!(1))]);
    let answer = content(&invoke(&node, "big", &small).await);
    assert!(answer.starts_with("sent: status 2"), "{answer}");
    let sent = fake.requests().len();

    let big = with_options("big-rest", &[("mib", json!(9))]);
    let answer = content(&invoke(&node, "big", &big).await);
    assert!(answer.starts_with("refused: "), "{answer}");
    assert!(answer.contains("the limit is 8388608"), "{answer}");
    assert_eq!(
        fake.requests().len(),
        sent,
        "the oversized body reached Discord"
    );
}

#[tokio::test]
async fn wasi_resources_a_guest_holds_are_bounded_per_instance() {
    let node = Node::start().await;
    deploy_hostile(&node, "hoarder", DOOMED_APP, &[]).await;
    let few = with_options("handles", &[("count", json!(100))]);
    assert_eq!(
        content(&invoke(&node, "hoarder", &few).await),
        "holding 100 pollables"
    );
    let many = with_options("handles", &[("count", json!(100_000))]);
    let answer = content(&invoke(&node, "hoarder", &many).await);
    assert!(answer.contains("ran into a problem"), "{answer}");
    let logs = node.cli_ok(&["logs", "hoarder"]).await;
    assert!(logs.contains("CRASH version 1: resources"), "{logs}");
    // The instance and its resources are gone; the next event runs fresh.
    assert_eq!(
        content(&invoke(&node, "hoarder", &few).await),
        "holding 100 pollables"
    );
}
