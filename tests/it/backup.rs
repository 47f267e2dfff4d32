//! `appliance backup` while a bot writes, `appliance restore` into a fresh
//! data dir, and what a restore refuses; the disk reserve.

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::support::{appliance, assert_notice, command_bytes, Node, Signer};

const APP: &str = "1180000000000000000";

/// The counter's answer for `user{user_id}` at `count` (examples/counter/src/lib.rs).
fn counted(user_id: &str, count: u64) -> String {
    let times = if count == 1 { "time" } else { "times" };
    format!("user{user_id}, you have counted {count} {times}")
}

/// `appliance restore FILE --data-dir DIR [extra]`, run outside any node.
async fn restore(file: &Path, data_dir: &Path, extra: &[&str]) -> Output {
    let mut command = appliance();
    command
        .arg("restore")
        .arg(file)
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env_remove("APPLIANCE_DATA_DIR");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn refused_with(output: &Output, words: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "not refused:\n{stderr}");
    assert!(stderr.contains(words), "expected {words:?} in:\n{stderr}");
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_kv_writes_restores_every_acknowledged_write_and_refuses_damage() {
    let node = Arc::new(Node::start().await);
    let signer = Arc::new(Signer::new(3));
    node.deploy("counter-bot", "counter", APP, &signer).await;
    // User 42 counts to 20 before the backup and never during it.
    for _ in 0..20 {
        let (status, answer) = node
            .interact(APP, &signer, &command_bytes("count", "42"))
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    // User 7 counts all through the backup; `acked` is what the node confirmed.
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (acked, stop, signer) = (acked.clone(), stop.clone(), signer.clone());
        let node = node.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (status, answer) = node
                    .interact(APP, &signer, &command_bytes("count", "7"))
                    .await;
                assert_eq!(status, 200, "{answer}");
                acked.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    crate::support::eventually(
        std::time::Duration::from_secs(10),
        "the writer got going",
        async || acked.load(Ordering::Relaxed) >= 5,
    )
    .await;
    let before_backup = acked.load(Ordering::Relaxed);
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("node.backup");
    let said = node.cli_ok(&["backup", file.to_str().unwrap()]).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let after_backup = acked.load(Ordering::Relaxed);
    assert!(said.contains("secrets"), "{said}");
    assert!(!temp.path().join("node.backup.partial").exists());

    // A fresh data dir from the backup serves the bot with its data.
    let restored_temp = tempfile::tempdir().unwrap();
    let restored_dir = restored_temp.path().join("data");
    let output = restore(&file, &restored_dir, &[]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let restored = Node::start_in(restored_temp, vec!["--plain-http".into()]).await;
    let (status, answer) = restored
        .interact(APP, &signer, &command_bytes("count", "42"))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["content"], counted("42", 21), "{answer}");
    let (_, answer) = restored
        .interact(APP, &signer, &command_bytes("count", "7"))
        .await;
    let content = answer["data"]["content"].as_str().unwrap().to_owned();
    let count: u64 = content
        .split_whitespace()
        .nth(4)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{content}"));
    assert!(
        (before_backup + 1..=after_backup + 1).contains(&count),
        "user 7 counts {count} after the restore; {before_backup} writes were acknowledged before the backup, {after_backup} by its end"
    );
    // The admin token came back with the data: the CLI reaches the node.
    assert!(restored.cli_ok(&["list"]).await.contains("counter"));

    // Damage is refused before anything is written.
    let bytes = std::fs::read(&file).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let truncated = scratch.path().join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let target = scratch.path().join("data");
    refused_with(&restore(&truncated, &target, &[]).await, "truncated");
    let flipped = scratch.path().join("flipped.backup");
    let mut changed = bytes.clone();
    changed[bytes.len() / 2] ^= 1;
    std::fs::write(&flipped, &changed).unwrap();
    refused_with(&restore(&flipped, &target, &[]).await, "corrupt");
    assert_eq!(
        names(scratch.path()),
        ["flipped.backup", "truncated.backup"]
    );

    // A data dir that holds anything needs --force, and never while a node serves it.
    refused_with(
        &restore(&file, &restored.data_dir, &[]).await,
        "is not empty",
    );
    refused_with(
        &restore(&file, &restored.data_dir, &["--force"]).await,
        "a node is serving",
    );
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("old"), "x").unwrap();
    let output = restore(&file, &target, &["--force"]).await;
    assert!(output.status.success());
    assert!(target.join("appliance.db").is_file());
    let aside = names(scratch.path())
        .into_iter()
        .find(|name| name.starts_with("data.replaced-"))
        .expect("the old contents moved aside");
    assert_eq!(names(&scratch.path().join(aside)), ["old"]);
}

#[tokio::test]
async fn below_the_disk_reserve_kv_writes_are_refused_and_deploys_continue() {
    // A reserve larger than any disk: free space is always below it.
    let node = Node::start_with(&["--plain-http", "--disk-reserve-mib", "1000000000"]).await;
    let signer = Signer::new(3);
    node.deploy("counter-bot", "counter", APP, &signer).await;
    for _ in 0..3 {
        let (status, answer) = node
            .interact(APP, &signer, &command_bytes("count", "42"))
            .await;
        assert_notice(status, &answer);
    }
    // Deploys go on (a second version of the same bot).
    node.deploy("counter-bot", "counter", APP, &signer).await;
    let status = node.cli_ok(&["status"]).await;
    assert!(status.contains("KV writes are refused"), "{status}");
    let log = node.node_log();
    assert_eq!(
        log.matches("free disk space is below the reserve").count(),
        1,
        "logged once, not per write:\n{log}"
    );
}
