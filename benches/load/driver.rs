//! The load driver: a fixed number of keep-alive HTTP/1.1 connections, each
//! sending one signed interaction at a time (closed loop), or paced to a
//! fixed total rate. Loopback targets only.
//!
//! Signing costs the driver about 23 µs per request, on the same two cores
//! as the server; so the driver signs before the timed window, sized from a
//! warm-up, and signs inline only if the batch runs out (reported).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::payload::{Payloads, Signed};
use crate::procstat;

/// How one measurement drives its target.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub concurrency: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// Requests per second over all connections; `None` sends back to back.
    pub rate: Option<f64>,
}

/// What one measurement saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Sorted, in microseconds, from sending the request to the whole answer.
    pub latencies_us: Vec<u32>,
    /// Answers that were 200 and contained the expected text.
    pub ok: u64,
    /// Non-200 answers by status (0: connection error); and 200s with another answer.
    pub failures: BTreeMap<u16, u64>,
    pub wrong_answers: u64,
    pub elapsed: Duration,
    pub server_cpu: Duration,
    pub server_rss_kib: u64,
    pub driver_cpu: Duration,
    pub signed_inline: u64,
    pub last_answer: Bytes,
}

impl Outcome {
    pub fn requests(&self) -> u64 {
        self.latencies_us.len() as u64
    }
    pub fn throughput(&self) -> f64 {
        self.requests() as f64 / self.elapsed.as_secs_f64()
    }
    pub fn percentile_us(&self, q: f64) -> u32 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        self.latencies_us[i]
    }
    pub fn server_cpu_per_request_us(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.requests().max(1) as f64
    }
    pub fn driver_cpu_per_request_us(&self) -> f64 {
        self.driver_cpu.as_secs_f64() * 1e6 / self.requests().max(1) as f64
    }
}

/// Drives `addr` (served by process `pid`) with `payloads` under `load`; a
/// correct answer contains `expect`.
pub async fn run(
    addr: SocketAddr,
    pid: u32,
    payloads: &Arc<Payloads>,
    load: Load,
    expect: &'static str,
) -> Outcome {
    let mut senders = Vec::new();
    for _ in 0..load.concurrency {
        senders.push(connect(addr).await);
    }

    // Warm-up: signs inline, and tells how many requests to sign for the window.
    let warm = Arc::new(Shared::new(Vec::new(), payloads.clone(), expect, load.rate));
    let (senders, _) = drive(senders, &warm, load.warmup, addr).await;
    // Without a warm-up (a window that must start cold), a generous guess.
    // Inline signing would load the driver, so err on the generous side.
    let warm_rate = if load.warmup.is_zero() {
        40_000.0
    } else {
        warm.count() as f64 / load.warmup.as_secs_f64() * 2.5
    };
    let expected = load.rate.unwrap_or(warm_rate) * load.duration.as_secs_f64();
    let batch = payloads.presign(expected as usize + 64 * load.concurrency);

    let shared = Arc::new(Shared::new(batch, payloads.clone(), expect, load.rate));
    let (cpu_before, driver_before) = (procstat::cpu(pid), procstat::cpu(std::process::id()));
    let started = Instant::now();
    let (_, latencies) = drive(senders, &shared, load.duration, addr).await;
    let elapsed = started.elapsed();
    let (cpu_after, driver_after) = (procstat::cpu(pid), procstat::cpu(std::process::id()));

    let mut latencies_us: Vec<u32> = latencies.into_iter().flatten().collect();
    latencies_us.sort_unstable();
    let failures = shared.failures.lock().unwrap().clone();
    let last_answer = shared.last_answer.lock().unwrap().clone();
    Outcome {
        latencies_us,
        ok: shared.ok.load(Ordering::Relaxed),
        failures,
        wrong_answers: shared.wrong.load(Ordering::Relaxed),
        elapsed,
        server_cpu: cpu_after.saturating_sub(cpu_before),
        server_rss_kib: procstat::rss_kib(pid),
        driver_cpu: driver_after.saturating_sub(driver_before),
        signed_inline: shared.inline.load(Ordering::Relaxed),
        last_answer,
    }
}

/// State the connections of one measurement share.
struct Shared {
    batch: Vec<Signed>,
    next: AtomicUsize,
    payloads: Arc<Payloads>,
    expect: &'static str,
    rate: Option<f64>,
    started: Instant,
    ok: AtomicU64,
    wrong: AtomicU64,
    inline: AtomicU64,
    failures: std::sync::Mutex<BTreeMap<u16, u64>>,
    last_answer: std::sync::Mutex<Bytes>,
}

impl Shared {
    fn new(
        batch: Vec<Signed>,
        payloads: Arc<Payloads>,
        expect: &'static str,
        rate: Option<f64>,
    ) -> Shared {
        Shared {
            batch,
            next: AtomicUsize::new(0),
            payloads,
            expect,
            rate,
            started: Instant::now(),
            ok: AtomicU64::new(0),
            wrong: AtomicU64::new(0),
            inline: AtomicU64::new(0),
            failures: Default::default(),
            last_answer: Default::default(),
        }
    }

    fn count(&self) -> usize {
        self.next.load(Ordering::Relaxed)
    }

    /// The next request to send and, when paced, when to send it.
    fn take(&self) -> (Signed, Option<Instant>) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let at = self
            .rate
            .map(|rate| self.started + Duration::from_secs_f64(n as f64 / rate));
        let signed = match self.batch.get(n) {
            Some(signed) => signed.clone(),
            None => {
                self.inline.fetch_add(1, Ordering::Relaxed);
                self.payloads.sign_next()
            }
        };
        (signed, at)
    }

    fn fail(&self, status: u16) {
        *self.failures.lock().unwrap().entry(status).or_default() += 1;
    }
}

/// Runs every connection for `duration`; returns them (for reuse) and
/// their latencies.
async fn drive(
    senders: Vec<SendRequest<Full<Bytes>>>,
    shared: &Arc<Shared>,
    duration: Duration,
    addr: SocketAddr,
) -> (Vec<SendRequest<Full<Bytes>>>, Vec<Vec<u32>>) {
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = senders
        .into_iter()
        .map(|sender| tokio::spawn(connection(sender, shared.clone(), deadline, addr)))
        .collect();
    let mut senders = Vec::new();
    let mut latencies = Vec::new();
    for task in tasks {
        let (sender, samples) = task.await.unwrap();
        senders.push(sender);
        latencies.push(samples);
    }
    (senders, latencies)
}

/// One connection's loop: one request in flight at a time.
async fn connection(
    mut sender: SendRequest<Full<Bytes>>,
    shared: Arc<Shared>,
    deadline: Instant,
    addr: SocketAddr,
) -> (SendRequest<Full<Bytes>>, Vec<u32>) {
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        let (signed, at) = shared.take();
        if let Some(at) = at {
            if at >= deadline {
                break;
            }
            tokio::time::sleep_until(at.into()).await;
        }
        if sender.ready().await.is_err() {
            sender = connect(addr).await;
        }
        let t = Instant::now();
        let answer = send(&mut sender, signed).await;
        samples.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
        match answer {
            Some((200, body)) if contains(&body, shared.expect) => {
                shared.ok.fetch_add(1, Ordering::Relaxed);
                if shared.ok.load(Ordering::Relaxed) % 1024 == 1 {
                    *shared.last_answer.lock().unwrap() = body;
                }
            }
            Some((200, body)) => {
                shared.wrong.fetch_add(1, Ordering::Relaxed);
                *shared.last_answer.lock().unwrap() = body;
            }
            Some((status, body)) => {
                shared.fail(status);
                *shared.last_answer.lock().unwrap() = body;
            }
            None => {
                shared.fail(0);
                sender = connect(addr).await;
            }
        }
    }
    (sender, samples)
}

/// Sends one signed interaction and reads the whole answer; `None` if the
/// connection failed.
pub async fn send(sender: &mut SendRequest<Full<Bytes>>, signed: Signed) -> Option<(u16, Bytes)> {
    let request = hyper::Request::post(&signed.path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header(
            "user-agent",
            "Discord-Interactions/1.0 (+https://discord.com)",
        )
        .header("x-signature-ed25519", &signed.signature)
        .header("x-signature-timestamp", &signed.timestamp)
        .body(Full::new(signed.body))
        .unwrap();
    let response = sender.send_request(request).await.ok()?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.ok()?;
    Some((status, body.to_bytes()))
}

pub fn contains(body: &[u8], needle: &str) -> bool {
    body.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A keep-alive HTTP/1.1 connection to `addr`.
pub async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}
