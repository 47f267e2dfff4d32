//! File descriptors over a Unix socket (`SCM_RIGHTS`), through rustix: the
//! kernel gives the receiver its own descriptors for the same open sockets
//! and lock, so both processes hold them until one closes its copy.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use tokio::io::Interest;
use tokio::net::UnixStream;

/// Descriptors one message carries at most.
pub const MAX_FDS: usize = 4;

/// The one byte of data the descriptors ride on (a stream socket sends no
/// ancillary data without data).
const MARK: u8 = b'F';

/// Sends `fds` with one byte; nothing else may be in flight on `stream`.
pub async fn send(stream: &UnixStream, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    assert!(fds.len() <= MAX_FDS);
    stream
        .async_io(Interest::WRITABLE, || {
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
            let mut control = SendAncillaryBuffer::new(&mut space);
            control.push(SendAncillaryMessage::ScmRights(fds));
            let sent = sendmsg(
                stream,
                &[IoSlice::new(&[MARK])],
                &mut control,
                SendFlags::NOSIGNAL,
            )?;
            if sent == 1 {
                Ok(())
            } else {
                Err(io::ErrorKind::WriteZero.into())
            }
        })
        .await
}

/// Receives the descriptors [`send`] sent, in order (close-on-exec). The
/// caller must have read everything sent before them, and exactly that.
pub async fn recv(stream: &UnixStream) -> io::Result<Vec<OwnedFd>> {
    stream
        .async_io(Interest::READABLE, || {
            let mut byte = [0u8; 1];
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let received = recvmsg(
                stream,
                &mut [IoSliceMut::new(&mut byte)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            )?;
            if received.bytes == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let mut fds = Vec::new();
            for message in control.drain() {
                if let RecvAncillaryMessage::ScmRights(received) = message {
                    fds.extend(received);
                }
            }
            if byte[0] != MARK {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "expected the listeners' descriptors",
                ));
            }
            Ok(fds)
        })
        .await
}
