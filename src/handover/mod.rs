//! Restarts and upgrades that drop nothing: a new process takes the
//! listening sockets, the data-dir lock and the replay memory from the node
//! serving the same data dir (`appliance serve --takeover`), over the Unix
//! socket `DATA_DIR/handover.sock`. The kernel keeps the listening sockets
//! open throughout, so no connection is refused; the new process loads
//! every bot before it asks, so there is no gap while it starts.
//!
//! The conversation, `old` being the serving node ([`Giver`]) and `new` the
//! one taking over ([`Taker`]):
//!
//! 1. new → `HELLO`. The old node stops accepting admin connections and
//!    lets the open ones finish, so no deploy lands after the new node read
//!    the fleet (admin clients wait in the backlog meanwhile), then → `READY`.
//! 2. The new node opens the store and loads every bot, then → `TAKE`. (If it
//!    goes away instead, the old node serves admin requests again.)
//! 3. old → the public and admin listeners and the lock file, as descriptors
//!    (`SCM_RIGHTS`), then its replay memory. From then on the old node
//!    accepts nothing; it forwards the ids it still accepts on connections
//!    already open (`REPLAY`), so the two memories stay one.
//! 4. The new node serves. The old node closes its gateway sessions
//!    resumable and saves them (as on SIGTERM), then → `GATEWAY_RELEASED`;
//!    only then does the new node start its gateways, so no bot's session
//!    is held twice. It finishes its in-flight events, deferrals and late
//!    answers, and exits; the socket's end tells the new node it is gone.
//!
//! Messages are frames: a kind byte, a big-endian `u32` length, the payload.
//! The descriptors travel alone on one byte (see `fds`), read with
//! `recvmsg`, so they are never read past by an ordinary read.

mod fds;
pub mod systemd;

use std::io;
use std::net::TcpListener;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::ingress::replay::{self, Entry, ReplayMemory};

/// The socket a serving node listens on for its successor.
pub const SOCKET_FILE: &str = "handover.sock";

/// How long the new node waits for the old one's admin requests to finish.
const READY_WITHIN: Duration = Duration::from_secs(60);
/// A frame's payload at most (a full replay memory is 3.2 MB by default).
const MAX_FRAME: u32 = 256 << 20;

mod kind {
    pub const HELLO: u8 = 1;
    pub const READY: u8 = 2;
    pub const TAKE: u8 = 3;
    pub const REPLAY_MEMORY: u8 = 4;
    pub const REPLAY: u8 = 5;
    pub const GATEWAY_RELEASED: u8 = 6;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no node is serving {0} to take over from; start it without --takeover")]
    NoNode(PathBuf),
    #[error("the serving node did not get ready for the handover within {0:?} (are its admin requests stuck?)")]
    NotReady(Duration),
    #[error("the handover broke off: {0}")]
    Io(#[from] io::Error),
    #[error("the handover broke off: {0}")]
    Protocol(String),
    #[error(transparent)]
    Replay(#[from] replay::MalformedMemory),
}

/// What a node takes over: the listeners, the data-dir lock, and the replay
/// memory.
#[derive(Debug)]
pub struct Inheritance {
    pub public: TcpListener,
    pub admin: TcpListener,
    /// The open file the old node locked; the lock goes with it.
    pub lock: std::fs::File,
    pub replay: ReplayMemory,
}

/// Where a serving node waits for its successor.
#[derive(Debug)]
pub struct Offer {
    listener: UnixListener,
}

impl Offer {
    /// Listens on `DATA_DIR/handover.sock`, replacing a predecessor's socket
    /// in one step (bound beside it, renamed over it), so a successor always
    /// finds a socket that answers. The caller holds the data-dir lock.
    pub fn listen(data_dir: &Path) -> io::Result<Offer> {
        let path = data_dir.join(SOCKET_FILE);
        let fresh = data_dir.join(format!("{SOCKET_FILE}.{}", std::process::id()));
        let _ = std::fs::remove_file(&fresh);
        let listener = UnixListener::bind(&fresh)?;
        std::fs::rename(&fresh, &path)?;
        Ok(Offer { listener })
    }

    /// Waits for a successor's `HELLO`.
    pub async fn next(&self) -> io::Result<Giver> {
        loop {
            let (stream, _) = self.listener.accept().await?;
            let mut giver = Giver { stream };
            // Anything else (a port scanner, a confused client) is dropped.
            if let Ok(Ok((kind::HELLO, _))) =
                tokio::time::timeout(Duration::from_secs(5), read_frame(&mut giver.stream)).await
            {
                return Ok(giver);
            }
        }
    }
}

/// The serving node's end of a handover.
#[derive(Debug)]
pub struct Giver {
    stream: UnixStream,
}

impl Giver {
    /// Tells the successor that no admin request is in flight any more.
    pub async fn ready(&mut self) -> io::Result<()> {
        write_frame(&mut self.stream, kind::READY, &[]).await
    }

    /// Waits for `TAKE`; an error if the successor went away instead.
    pub async fn taken(&mut self) -> Result<(), Error> {
        match read_frame(&mut self.stream).await? {
            (kind::TAKE, _) => Ok(()),
            (other, _) => Err(Error::Protocol(format!("unexpected message {other}"))),
        }
    }

    /// Hands over the listeners and the lock, then the replay memory.
    pub async fn give(
        &mut self,
        public: BorrowedFd<'_>,
        admin: BorrowedFd<'_>,
        lock: BorrowedFd<'_>,
        replay: &ReplayMemory,
    ) -> io::Result<()> {
        fds::send(&self.stream, &[public, admin, lock]).await?;
        write_frame(&mut self.stream, kind::REPLAY_MEMORY, &replay.to_bytes()).await
    }

    /// Ids accepted after the memory was handed over.
    pub async fn forward(&mut self, entries: &[Entry]) -> io::Result<()> {
        write_frame(
            &mut self.stream,
            kind::REPLAY,
            &replay::entries_to_bytes(entries),
        )
        .await
    }

    /// The gateway sessions are closed and saved: the successor may resume them.
    pub async fn gateway_released(&mut self) -> io::Result<()> {
        write_frame(&mut self.stream, kind::GATEWAY_RELEASED, &[]).await
    }
}

/// The new node's end of a handover.
#[derive(Debug)]
pub struct Taker {
    stream: UnixStream,
}

impl Taker {
    /// Connects to the node serving `data_dir` and waits until it is ready
    /// (its admin requests finished).
    pub async fn connect(data_dir: &Path) -> Result<Taker, Error> {
        let path = data_dir.join(SOCKET_FILE);
        let mut stream = match UnixStream::connect(&path).await {
            Ok(stream) => stream,
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(Error::NoNode(data_dir.to_owned()));
            }
            Err(err) => return Err(err.into()),
        };
        write_frame(&mut stream, kind::HELLO, &std::process::id().to_be_bytes()).await?;
        match tokio::time::timeout(READY_WITHIN, read_frame(&mut stream)).await {
            Ok(Ok((kind::READY, _))) => Ok(Taker { stream }),
            Ok(Ok((other, _))) => Err(Error::Protocol(format!("unexpected message {other}"))),
            Ok(Err(err)) => Err(err.into()),
            Err(_) => Err(Error::NotReady(READY_WITHIN)),
        }
    }

    /// Takes the listeners, the lock and the replay memory.
    pub async fn take(&mut self) -> Result<Inheritance, Error> {
        write_frame(&mut self.stream, kind::TAKE, &[]).await?;
        let received = fds::recv(&self.stream).await?;
        let Ok([public, admin, lock]) = <[_; 3]>::try_from(received) else {
            return Err(Error::Protocol(
                "expected three descriptors (public, admin, lock)".into(),
            ));
        };
        let replay = match read_frame(&mut self.stream).await? {
            (kind::REPLAY_MEMORY, bytes) => ReplayMemory::from_bytes(&bytes)?,
            (other, _) => return Err(Error::Protocol(format!("unexpected message {other}"))),
        };
        Ok(Inheritance {
            public: TcpListener::from(public),
            admin: TcpListener::from(admin),
            lock: std::fs::File::from(lock),
            replay,
        })
    }

    /// Follows the old node until it exits: ids it still accepted go to
    /// `absorb`; `released` fires once its gateway sessions are saved (or it
    /// is gone, which releases them as surely).
    pub async fn follow(
        mut self,
        absorb: impl Fn(&[Entry]),
        released: tokio::sync::oneshot::Sender<()>,
    ) {
        let mut released = Some(released);
        loop {
            match read_frame(&mut self.stream).await {
                Ok((kind::REPLAY, bytes)) => match replay::entries_from_bytes(&bytes) {
                    Some(entries) => absorb(&entries),
                    None => tracing::warn!("ignored a malformed replay message in the handover"),
                },
                Ok((kind::GATEWAY_RELEASED, _)) => {
                    if let Some(released) = released.take() {
                        let _ = released.send(());
                    }
                }
                Ok((other, _)) => {
                    tracing::warn!(kind = other, "ignored an unknown handover message")
                }
                Err(_) => break,
            }
        }
        if let Some(released) = released.take() {
            let _ = released.send(());
        }
    }
}

async fn write_frame(stream: &mut UnixStream, kind: u8, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|len| *len <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "handover frame too large"))?;
    let mut head = [0u8; 5];
    head[0] = kind;
    head[1..].copy_from_slice(&len.to_be_bytes());
    stream.write_all(&head).await?;
    stream.write_all(payload).await?;
    stream.flush().await
}

/// Reads exactly one frame, never past it (the descriptors may follow).
async fn read_frame(stream: &mut UnixStream) -> io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).await?;
    let len = u32::from_be_bytes(head[1..].try_into().expect("4 bytes"));
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "handover frame too large",
        ));
    }
    let mut payload = vec![0u8; len as usize];
    stream.read_exact(&mut payload).await?;
    Ok((head[0], payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[tokio::test]
    async fn listeners_lock_and_memory_cross_from_giver_to_taker() {
        let dir = tempfile::tempdir().unwrap();
        let offer = Offer::listen(dir.path()).unwrap();
        let public = TcpListener::bind("127.0.0.1:0").unwrap();
        let admin = TcpListener::bind("127.0.0.1:0").unwrap();
        let lock = std::fs::File::create(dir.path().join("node.lock")).unwrap();
        let memory = ReplayMemory {
            floor: 7,
            salt: [3; 16],
            entries: vec![(9, 42)],
        };
        let giving = {
            let memory = memory.clone();
            let (public, admin) = (public.try_clone().unwrap(), admin.try_clone().unwrap());
            async move {
                let mut giver = offer.next().await.unwrap();
                giver.ready().await.unwrap();
                giver.taken().await.unwrap();
                giver
                    .give(public.as_fd(), admin.as_fd(), lock.as_fd(), &memory)
                    .await
                    .unwrap();
                giver.forward(&[(10, 43)]).await.unwrap();
                giver.gateway_released().await.unwrap();
            }
        };
        let taking = async {
            let mut taker = Taker::connect(dir.path()).await.unwrap();
            let inherited = taker.take().await.unwrap();
            let absorbed = std::sync::Mutex::new(Vec::new());
            let (released, was_released) = tokio::sync::oneshot::channel();
            taker
                .follow(|e| absorbed.lock().unwrap().extend_from_slice(e), released)
                .await;
            was_released.await.unwrap();
            (inherited, absorbed.into_inner().unwrap())
        };
        let ((), (inherited, absorbed)) = tokio::join!(giving, taking);
        assert_eq!(inherited.replay, memory);
        assert_eq!(absorbed, vec![(10, 43)]);
        assert_eq!(
            inherited.public.local_addr().unwrap(),
            public.local_addr().unwrap()
        );
        assert_eq!(
            inherited.admin.local_addr().unwrap(),
            admin.local_addr().unwrap()
        );
        assert!(inherited.lock.metadata().unwrap().is_file());
    }

    #[tokio::test]
    async fn taking_over_a_data_dir_nobody_serves_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let err = Taker::connect(dir.path()).await.unwrap_err();
        assert!(matches!(err, Error::NoNode(_)), "{err}");
    }
}
