//! A first start that fails leaves nothing behind: what an operator named
//! (certificate files, ports) is checked before the data dir is created.

use std::path::PathBuf;
use std::process::Command;

use crate::support::BIN;

/// Runs `appliance serve` with `args` on a data dir that does not exist
/// yet. It must fail (and so exit); returns its stderr, and whether the
/// data dir exists afterwards.
fn failed_first_start(args: &[&str]) -> (String, bool) {
    let parent = tempfile::tempdir().unwrap();
    let data_dir: PathBuf = parent.path().join("data");
    let output = Command::new(BIN)
        .arg("serve")
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--admin-listen", "127.0.0.1:0"])
        .args(args)
        .output()
        .unwrap();
    assert!(!output.status.success(), "the node started: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (stderr, data_dir.exists())
}

#[test]
fn a_missing_certificate_leaves_no_data_dir() {
    let (stderr, created) = failed_first_start(&[
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        "/nonexistent/cert.pem",
        "--tls-key",
        "/nonexistent/key.pem",
    ]);
    assert!(stderr.contains("/nonexistent/cert.pem"), "{stderr}");
    assert!(!created, "a failed start created the data dir");
}

#[test]
fn a_port_in_use_leaves_no_data_dir() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let (stderr, created) = failed_first_start(&["--listen", &port, "--plain-http"]);
    assert!(stderr.contains("--listen"), "{stderr}");
    assert!(!created, "a failed start created the data dir");
}

#[test]
fn a_compile_cache_that_cannot_be_made_leaves_no_data_dir() {
    let (stderr, created) = failed_first_start(&[
        "--listen",
        "127.0.0.1:0",
        "--plain-http",
        "--compile-cache",
        "/proc/no-such-dir",
    ]);
    assert!(
        stderr.contains("compile cache /proc/no-such-dir"),
        "{stderr}"
    );
    assert!(!created, "a failed start created the data dir");
}

#[test]
fn a_fleet_key_that_cannot_be_read_leaves_no_data_dir() {
    let (stderr, created) = failed_first_start(&[
        "--listen",
        "127.0.0.1:0",
        "--plain-http",
        "--fleet-servers",
        "nats://127.0.0.1:9",
        "--fleet-node",
        "a",
        "--fleet-key-file",
        "/nonexistent/fleet.key",
    ]);
    assert!(
        stderr.contains("fleet key: cannot read /nonexistent/fleet.key"),
        "{stderr}"
    );
    assert!(!created, "a failed start created the data dir");
}
