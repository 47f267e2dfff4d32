//! Logs and diagnosis: `logs --since/--level/--crashes`, the node's JSON
//! log lines, `doctor` against a skewed clock and an expiring certificate,
//! and `config show`'s sources and masking.

use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{appliance, Node, Signer};

const APP: &str = "1190000000000000000";
/// The start of the hostile bot's `forge` line on stderr.
const FORGED: &str = "stderr ";

#[tokio::test]
async fn logs_filter_by_time_level_and_crashes_and_node_logs_are_json() {
    let node = Node::start_with(&["--plain-http", "--log-format", "json"]).await;
    let signer = Signer::new(16);
    node.deploy("hostile-bot", "hostile", APP, &signer).await;
    // `forge` logs info lines (its log call and stdout) and a warning: its
    // stderr line `stderr …` (the crash record below quotes the panic's
    // stderr as `stderr: …`, which is not that line).
    node.ask(APP, &signer, "forge").await;
    node.logs_when("hostile", "forge's lines", |logs| logs.contains(FORGED))
        .await;
    let between = SystemTime::now();
    // Lines are stamped in milliseconds: the next ones are later than `between`.
    tokio::time::sleep(Duration::from_millis(5)).await;
    node.ask(APP, &signer, "panic").await;
    node.logs_when("hostile", "the crash", |logs| logs.contains("CRASH"))
        .await;

    let warnings = node.cli_ok(&["logs", "hostile", "--level", "warn"]).await;
    assert!(
        warnings.contains("WARN") && warnings.contains(FORGED),
        "{warnings}"
    );
    assert!(!warnings.contains(" INFO "), "{warnings}");

    let crashes = node.cli_ok(&["logs", "hostile", "--crashes"]).await;
    assert!(crashes.contains("CRASH"), "{crashes}");
    assert!(
        !crashes.contains(" INFO ") && !crashes.contains(" WARN "),
        "{crashes}"
    );

    let since = humantime::format_rfc3339_millis(between).to_string();
    let later = node.cli_ok(&["logs", "hostile", "--since", &since]).await;
    assert!(later.contains("CRASH"), "{later}");
    assert!(!later.contains(FORGED), "{later}");
    let recent = node.cli_ok(&["logs", "hostile", "--since", "10m"]).await;
    assert!(
        recent.contains(FORGED) && recent.contains("CRASH"),
        "{recent}"
    );
    let output = node.cli(&["logs", "hostile", "--since", "soon"]).await;
    assert_eq!(output.status.code(), Some(2));

    // Every line the node wrote is one JSON object, without colour codes.
    let log = node.node_log();
    assert!(!log.contains('\x1b'));
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(lines.len() > 3, "{log}");
    assert!(lines
        .iter()
        .all(|l| l["level"].is_string() && l["fields"].is_object()));
}

#[tokio::test]
async fn doctor_flags_a_skewed_clock_and_an_expiring_certificate() {
    let node = Node::start().await;
    let clock = skewed_clock_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    write_certificate_expiring_in(Duration::from_secs(2 * 86_400), &cert, &key);

    let skewed = format!("http://{clock}/skewed");
    let output = node
        .cli(&[
            "doctor",
            "--time-url",
            &skewed,
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ])
        .await;
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{report}");
    let clock_line = line_of(&report, "clock");
    assert!(
        clock_line.starts_with("fail") && clock_line.contains("ahead of"),
        "{report}"
    );
    let certificate = line_of(&report, "certificate");
    assert!(
        certificate.starts_with("fail") && certificate.contains("expires in"),
        "{report}"
    );
    // The running node's listeners answer, and its token is private.
    let listeners: Vec<_> = report
        .lines()
        .filter(|l| is_check(l, "listeners"))
        .collect();
    assert!(
        listeners.len() == 2 && listeners.iter().all(|l| l.starts_with("ok")),
        "{report}"
    );
    assert!(
        line_of(&report, "admin token").starts_with("ok"),
        "{report}"
    );

    let right = format!("http://{clock}/right");
    let output = node
        .cli(&["doctor", "--time-url", &right, "--plain-http"])
        .await;
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(line_of(&report, "clock").starts_with("ok"), "{report}");
    assert!(
        line_of(&report, "certificate").starts_with("ok"),
        "{report}"
    );
}

/// The report's line for check `name` (after the 6-column status).
fn line_of<'a>(report: &'a str, name: &str) -> &'a str {
    report
        .lines()
        .find(|line| is_check(line, name))
        .unwrap_or_else(|| panic!("no {name} line in:\n{report}"))
}

fn is_check(line: &str, name: &str) -> bool {
    line.get(6..).is_some_and(|rest| rest.starts_with(name))
}

/// A loopback HTTP server whose `Date` is an hour behind at `/skewed` and
/// right elsewhere; it lives as long as the test's runtime.
async fn skewed_clock_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = vec![0; 4096];
                let read = stream.read(&mut request).await.unwrap_or(0);
                let skewed = String::from_utf8_lossy(&request[..read]).contains("/skewed");
                let now = SystemTime::now();
                let date = if skewed {
                    now - Duration::from_secs(3600)
                } else {
                    now
                };
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nDate: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    httpdate::fmt_http_date(date)
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    addr
}

fn write_certificate_expiring_in(left: Duration, cert: &std::path::Path, key: &std::path::Path) {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.not_before = epoch + (now - Duration::from_secs(86_400));
    params.not_after = epoch + (now + left);
    let signing_key = rcgen::KeyPair::generate().unwrap();
    let certificate = params.self_signed(&signing_key).unwrap();
    std::fs::write(cert, certificate.pem()).unwrap();
    std::fs::write(key, signing_key.serialize_pem()).unwrap();
}

#[tokio::test]
async fn config_show_says_where_each_value_came_from_and_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(
        &file,
        "defer_after_ms = 1500\n[limits]\nmax_connections = 100\n",
    )
    .unwrap();
    let mut command = appliance();
    command
        .args(["config", "show", "--config", file.to_str().unwrap()])
        .args([
            "--listen",
            "127.0.0.1:9999",
            "--data-dir",
            "/nonexistent/data",
        ])
        .env(
            "APPLIANCE_DISCORD_API",
            "http://bot:hunter2@127.0.0.1:1/api/v10",
        )
        .env_remove("APPLIANCE_ADMIN_LISTEN")
        .env_remove("APPLIANCE_LOG_FORMAT");
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let shown = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let source_of = |key: &str| {
        let line = shown
            .lines()
            .find(|line| line.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in:\n{shown}"));
        line.split_once(" # ").unwrap().1.to_owned()
    };
    assert_eq!(source_of("listen"), "flag --listen");
    assert_eq!(source_of("discord_api"), "env APPLIANCE_DISCORD_API");
    assert_eq!(
        source_of("defer_after_ms"),
        format!("file {}", file.display())
    );
    assert_eq!(
        source_of("max_connections"),
        format!("file {}", file.display())
    );
    assert_eq!(source_of("admin_listen"), "default");
    assert_eq!(source_of("max_connections_per_ip"), "default");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("bot:********@127.0.0.1:1"), "{shown}");
    // What it prints is a config file.
    let table: toml::Table = shown.parse().unwrap();
    assert_eq!(table["defer_after_ms"].as_integer(), Some(1500));
}
