//! The idle watchdog: an IO wrapper that notes when bytes last moved, and
//! a future that resolves once a connection has been silent too long.
//! hyper's own header timeout covers slow HTTP/1.1 headers; this covers the
//! rest: clients that connect and never speak, idle keep-alive connections,
//! and HTTP/2 connections without traffic.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

#[derive(Debug)]
pub struct Activity {
    start: Instant,
    /// Milliseconds after `start` when bytes last moved.
    last_ms: AtomicU64,
    spoke: AtomicBool,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            spoke: AtomicBool::new(false),
        })
    }

    fn touch(&self, read: bool) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
        if read {
            self.spoke.store(true, Ordering::Relaxed);
        }
    }

    /// Resolves when the client has sent nothing within `first_byte`, or
    /// once it has, when nothing moved either way for `idle`.
    pub async fn silent_for(&self, first_byte: Duration, idle: Duration) {
        loop {
            let deadline = if self.spoke.load(Ordering::Relaxed) {
                self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + idle
            } else {
                self.start + first_byte
            };
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// `T` with every successful read and write noted in an [`Activity`].
#[derive(Debug)]
pub struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Tracked<T> {
        Tracked { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch(true);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch(false);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch(false);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn silence_is_measured_from_the_last_byte() {
        let (client, server) = tokio::io::duplex(64);
        let activity = Activity::new();
        let mut server = Tracked::new(server, activity.clone());
        let mut client = client;
        let first = Duration::from_secs(1);
        let idle = Duration::from_secs(5);

        // Nothing said: the first-byte limit applies.
        let started = Instant::now();
        activity.silent_for(first, idle).await;
        assert_eq!(started.elapsed(), first);

        client.write_all(b"x").await.unwrap();
        let mut byte = [0u8; 1];
        server.read_exact(&mut byte).await.unwrap();
        let spoke = Instant::now();
        activity.silent_for(first, idle).await;
        assert_eq!(spoke.elapsed(), idle);
    }
}
