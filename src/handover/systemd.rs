//! Listening sockets from systemd socket activation (`LISTEN_FDS`,
//! `LISTEN_PID`; `packaging/systemd/appliance.socket`): systemd holds the
//! sockets across `systemctl restart`, so connections wait in the kernel's
//! backlog while the node restarts instead of being refused.
//!
//! The socket unit lists the public listener first and, optionally, the
//! admin listener second; a listener systemd does not pass is bound from
//! the configuration as usual.

use std::net::TcpListener;

/// Listeners passed by systemd (or `systemfd`), by position.
#[derive(Debug, Default)]
pub struct Inherited {
    pub public: Option<TcpListener>,
    pub admin: Option<TcpListener>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "systemd passed socket {index} (LISTEN_FDS), but it is not a listening TCP socket: {source}"
)]
pub struct NotATcpListener {
    index: usize,
    source: std::io::Error,
}

/// Takes the listeners systemd passed to this process, if any. Call it
/// before any other thread starts: it clears `LISTEN_FDS`/`LISTEN_PID`, so
/// the processes the node starts do not believe the sockets are theirs.
pub fn inherited() -> Result<Inherited, NotATcpListener> {
    let mut passed = listenfd::ListenFd::from_env();
    let mut take = |index| {
        passed
            .take_tcp_listener(index)
            .map_err(|source| NotATcpListener { index, source })
    };
    Ok(Inherited {
        public: take(0)?,
        admin: take(1)?,
    })
}
