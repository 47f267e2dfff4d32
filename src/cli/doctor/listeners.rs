//! The listeners check: Discord must reach the public listener, and the CLI
//! the admin listener.
//!
//! With a node running (its `node.json` in the data dir), its addresses are
//! connected to; without one, the configured addresses are bound and let go
//! at once, which tells a port in use or below 1024 without the capability.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::admin::api::{NodeFile, NODE_FILE};
use crate::cli::doctor::{Check, NETWORK_TIMEOUT};
use crate::config::Config;

const NAME: &str = "listeners";

pub(crate) async fn check(config: &Config) -> Vec<Check> {
    let node = std::fs::read(config.data_dir.join(NODE_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<NodeFile>(&bytes).ok());
    let Some(node) = node else {
        return vec![
            bindable("public", config.listen).await,
            bindable("admin", config.admin_listen).await,
        ];
    };
    vec![
        reachable("public", node.public_addr).await,
        reachable("admin", node.admin_addr).await,
    ]
}

async fn reachable(which: &str, addr: SocketAddr) -> Check {
    let target = SocketAddr::new(connectable(addr.ip()), addr.port());
    match tokio::time::timeout(NETWORK_TIMEOUT, tokio::net::TcpStream::connect(target)).await {
        Ok(Ok(_)) => Check::ok(NAME, format!("{which} listener {addr} accepts connections")),
        Ok(Err(err)) => Check::fail(
            NAME,
            format!("{which} listener {addr} (from node.json) refuses connections ({err}): the node is not running; start it, or remove a stale node.json"),
        ),
        Err(_) => Check::fail(
            NAME,
            format!("{which} listener {addr} did not accept within {} s: a firewall, or the node is stuck", NETWORK_TIMEOUT.as_secs()),
        ),
    }
}

/// A node listening on all addresses is reached through loopback.
fn connectable(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

async fn bindable(which: &str, addr: SocketAddr) -> Check {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(_) => Check::ok(NAME, format!("no node running; {which} address {addr} is free to bind")),
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => Check::fail(
            NAME,
            format!("{which} address {addr} needs privilege ({err}): grant CAP_NET_BIND_SERVICE (AmbientCapabilities in the unit) or use a port above 1023"),
        ),
        Err(err) => Check::fail(
            NAME,
            format!("no node running, and {which} address {addr} cannot be bound ({err}): another process holds it, or the address is not this machine's"),
        ),
    }
}
