//! Proactive rate limiting for one bot token: Discord's per-route buckets
//! and the global 50 requests per second.
//!
//! One actor task per token owns all state (twilight's shape: `acquire`
//! returns a [`Permit`], the caller reports the response with
//! [`Permit::complete`]). Waiters queue in arrival order; each one is granted
//! when its bucket has capacity and, unless its route is exempt, the global
//! window has room. A waiter whose earliest possible start lies past its
//! deadline is failed at once instead of sleeping.
//!
//! Bucket bookkeeping is conservative: capacity is the last reported
//! `X-RateLimit-Remaining` minus the requests still in flight, so a burst
//! never sends more than the bucket has left, and a bucket whose limit is not
//! known yet lets one request through at a time until the first answer
//! teaches it. Our reset time is the receive time plus `Reset-After`, which
//! is never earlier than Discord's.
//!
//! See: <https://discord.com/developers/docs/topics/rate-limits>

mod bucket;
mod headers;
mod window;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use hyper::HeaderMap;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, warn};

pub(crate) use bucket::Bucket;
pub(crate) use headers::{RateLimitHeaders, TooManyRequests};
#[cfg(test)]
use headers::{Scope, DEFAULT_RETRY_AFTER, MAX_WAIT};
pub(crate) use window::GlobalWindow;

use crate::discord::route::{Route, RouteKey, RouteKind};
use crate::discord::Error;

/// Requests per window a bot token may send (Discord: 50 per second).
pub(crate) const GLOBAL_LIMIT: usize = 50;
/// The global window: one second plus a margin, so that jitter between our
/// send times and Discord's arrival times cannot squeeze 51 requests into
/// one of Discord's seconds.
pub(crate) const GLOBAL_WINDOW: Duration = Duration::from_millis(1100);
/// Bounds on the learned state, which guest-supplied paths could otherwise grow.
const MAX_ROUTES: usize = 4096;
const MAX_BUCKETS: usize = 8192;

/// What became of a permitted request, reported to the limiter.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Discord answered (any status but 429).
    Answered {
        status: u16,
        headers: RateLimitHeaders,
    },
    /// Discord answered 429.
    RateLimited {
        headers: RateLimitHeaders,
        limit: TooManyRequests,
    },
    /// No answer (connection error, timeout, cancelled): Discord may or may
    /// not have counted the request.
    NoResponse,
}

/// Which limit a route falls under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum BucketId {
    /// Learned from `X-RateLimit-Bucket`.
    Discord(Arc<str>),
    /// Not learned yet: the route is its own bucket.
    Route(RouteKey),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct BucketKey {
    id: BucketId,
    major: String,
}

#[derive(Debug, Clone)]
enum RouteLimit {
    Bucket(Arc<str>),
    /// Answered successfully without bucket headers: only the global limit applies.
    Unlimited,
}

/// A handle to one token's limiter actor; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    tx: mpsc::UnboundedSender<Message>,
}

#[derive(Debug)]
enum Message {
    Acquire(Waiter),
    Complete {
        route: RouteKey,
        major: String,
        granted: Option<BucketKey>,
        outcome: Outcome,
    },
}

#[derive(Debug)]
struct Waiter {
    route: RouteKey,
    major: String,
    exempt: bool,
    deadline: Instant,
    reply: oneshot::Sender<Result<Permit, Error>>,
}

/// Leave to send one request. Report its fate with [`Permit::complete`];
/// dropping it unreported counts as [`Outcome::NoResponse`].
#[must_use = "a permit holds a place in the bucket until it is completed or dropped"]
#[derive(Debug)]
pub(crate) struct Permit {
    tx: mpsc::UnboundedSender<Message>,
    route: RouteKey,
    major: String,
    granted: Option<BucketKey>,
    done: bool,
}

impl Permit {
    pub fn complete(mut self, outcome: Outcome) {
        self.send(outcome);
    }

    fn send(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        // The actor outlives every permit (each holds a sender), so this cannot fail.
        let _ = self.tx.send(Message::Complete {
            route: self.route.clone(),
            major: std::mem::take(&mut self.major),
            granted: self.granted.take(),
            outcome,
        });
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.send(Outcome::NoResponse);
    }
}

impl RateLimiter {
    /// Starts the actor; needs a tokio runtime. `label` identifies the token
    /// in logs (a hash, never the token).
    pub fn new(label: String) -> RateLimiter {
        RateLimiter::with_global(label, GLOBAL_LIMIT, GLOBAL_WINDOW)
    }

    pub fn with_global(label: String, limit: usize, window: Duration) -> RateLimiter {
        let (tx, rx) = mpsc::unbounded_channel();
        let actor = Actor {
            label,
            tx: tx.downgrade(),
            routes: HashMap::new(),
            buckets: HashMap::new(),
            global: GlobalWindow::new(limit, window),
            queue: VecDeque::new(),
        };
        tokio::spawn(actor.run(rx));
        RateLimiter { tx }
    }

    /// Waits for leave to send a request on `route`, at most until `deadline`.
    pub async fn acquire(&self, route: &Route, deadline: Instant) -> Result<Permit, Error> {
        let (reply, answer) = oneshot::channel();
        let waiter = Waiter {
            route: route.key.clone(),
            major: route.major.clone(),
            exempt: route.kind == RouteKind::Webhook,
            deadline,
            reply,
        };
        self.tx
            .send(Message::Acquire(waiter))
            .map_err(|_| Error::LimiterStopped)?;
        // A permit granted just as we give up is dropped with the channel,
        // which hands its place back.
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::LimiterStopped),
            Err(_) => Err(Error::DeadlineExceeded { sent: false }),
        }
    }
}

struct Actor {
    label: String,
    tx: mpsc::WeakUnboundedSender<Message>,
    routes: HashMap<RouteKey, RouteLimit>,
    buckets: HashMap<BucketKey, Bucket>,
    global: GlobalWindow,
    queue: VecDeque<Waiter>,
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Message>) {
        loop {
            let wake = self.pump(Instant::now());
            let message = match wake {
                Some(wake) => tokio::select! {
                    message = rx.recv() => message,
                    () = tokio::time::sleep_until(wake) => continue,
                },
                None => rx.recv().await,
            };
            let Some(message) = message else { break };
            self.handle(message, Instant::now());
            // Take everything already queued before the next pump: one scan per batch.
            while let Ok(message) = rx.try_recv() {
                self.handle(message, Instant::now());
            }
        }
        debug!(bot = %self.label, "rate limiter stopped");
    }

    fn handle(&mut self, message: Message, now: Instant) {
        match message {
            Message::Acquire(waiter) => self.queue.push_back(waiter),
            Message::Complete {
                route,
                major,
                granted,
                outcome,
            } => self.complete(route, major, granted, outcome, now),
        }
    }

    fn bucket_key(&self, route: &RouteKey, major: &str) -> Option<BucketKey> {
        let id = match self.routes.get(route) {
            Some(RouteLimit::Unlimited) => return None,
            Some(RouteLimit::Bucket(id)) => BucketId::Discord(id.clone()),
            None => BucketId::Route(route.clone()),
        };
        Some(BucketKey {
            id,
            major: major.to_owned(),
        })
    }

    fn complete(
        &mut self,
        route: RouteKey,
        major: String,
        granted: Option<BucketKey>,
        outcome: Outcome,
        now: Instant,
    ) {
        if let Some(bucket) = granted.as_ref().and_then(|key| self.buckets.get_mut(key)) {
            bucket.in_flight = bucket.in_flight.saturating_sub(1);
            if matches!(outcome, Outcome::NoResponse) {
                bucket.lost(now);
            }
        }
        let (status, headers, too_many) = match outcome {
            Outcome::NoResponse => return,
            Outcome::Answered { status, headers } => (status, headers, None),
            Outcome::RateLimited { headers, limit } => (429, headers, Some(limit)),
        };
        let target = match &headers.bucket {
            Some(id) => {
                if self.routes.len() >= MAX_ROUTES {
                    // Forgetting only costs re-learning (one request at a time).
                    self.routes.clear();
                }
                self.routes.insert(route, RouteLimit::Bucket(id.clone()));
                Some(BucketKey {
                    id: BucketId::Discord(id.clone()),
                    major,
                })
            }
            None if (200..300).contains(&status) && headers.limit.is_none() => {
                self.routes.insert(route, RouteLimit::Unlimited);
                None
            }
            None => granted,
        };
        if let Some(key) = target {
            let bucket = self.buckets.entry(key).or_default();
            bucket.update(&headers, now);
            if let Some(limit) = too_many.filter(|l| !l.global) {
                bucket.block(now + limit.retry_after);
            }
        }
        if let Some(limit) = too_many.filter(|l| l.global) {
            warn!(bot = %self.label, retry_after_ms = limit.retry_after.as_millis() as u64, "global rate limit: pausing all requests of this bot");
            self.global.pause(now + limit.retry_after);
        }
    }

    /// Grants every waiter that may start now, fails those that cannot start
    /// before their deadline, and returns when to look again.
    fn pump(&mut self, now: Instant) -> Option<Instant> {
        let mut global_available = self.global.available(now);
        let mut wake: Option<Instant> = None;
        let mut index = 0;
        while index < self.queue.len() {
            let waiter = &self.queue[index];
            if waiter.reply.is_closed() {
                self.queue.remove(index);
                continue;
            }
            if waiter.deadline <= now {
                let Some(waiter) = self.queue.remove(index) else {
                    break;
                };
                let _ = waiter
                    .reply
                    .send(Err(Error::DeadlineExceeded { sent: false }));
                continue;
            }
            let key = self.bucket_key(&waiter.route, &waiter.major);
            let bucket = key
                .as_ref()
                .map(|key| self.buckets.entry(key.clone()).or_default());
            let bucket_capacity = bucket.as_ref().map_or(u32::MAX, |b| b.capacity(now));
            let global_ok = waiter.exempt || global_available > 0;
            if bucket_capacity > 0 && global_ok {
                let Some(waiter) = self.queue.remove(index) else {
                    break;
                };
                let Some(tx) = self.tx.upgrade() else { break };
                if let Some(bucket) = bucket {
                    bucket.granted();
                }
                if !waiter.exempt {
                    self.global.record(now);
                    global_available -= 1;
                }
                let permit = Permit {
                    tx,
                    route: waiter.route,
                    major: waiter.major,
                    granted: key,
                    done: false,
                };
                // If the caller gave up meanwhile, the permit is dropped
                // here and its place handed back.
                let _ = waiter.reply.send(Ok(permit));
                continue;
            }
            // Blocked: find the earliest start that time alone guarantees.
            let bucket_ready = bucket.as_ref().and_then(|b| {
                if bucket_capacity == 0 {
                    b.ready_at(now)
                } else {
                    None
                }
            });
            let bucket_wake = bucket.as_ref().and_then(|b| b.wake_at(now));
            let global_ready = (!global_ok).then(|| self.global.ready_at(now));
            let earliest = bucket_ready.max(global_ready);
            if let Some(earliest) = earliest.filter(|t| *t > waiter.deadline) {
                let Some(waiter) = self.queue.remove(index) else {
                    break;
                };
                let global = global_ready.is_some_and(|g| Some(g) >= bucket_ready);
                debug!(bot = %self.label, route = %waiter.route, global, "rate limited past the deadline");
                let _ = waiter.reply.send(Err(Error::RateLimited {
                    retry_after: earliest - now,
                    global,
                }));
                continue;
            }
            for time in [earliest, bucket_wake, Some(waiter.deadline)]
                .into_iter()
                .flatten()
            {
                wake = Some(wake.map_or(time, |w| w.min(time)));
            }
            index += 1;
        }
        if self.buckets.len() > MAX_BUCKETS {
            self.buckets.retain(|_, bucket| !bucket.idle(now));
        }
        wake
    }
}

/// Everything a Discord answer's headers and body feed into the limiter,
/// for the `ratelimit_headers` fuzz target: parsing must never panic and
/// must always leave the bucket with a finite wait.
#[doc(hidden)]
pub fn fuzz_answer(headers: &HeaderMap, content_type: Option<&str>, body: &[u8], status: u16) {
    let now = Instant::now();
    let parsed = RateLimitHeaders::parse(headers);
    let mut bucket = Bucket::default();
    bucket.granted();
    bucket.update(&parsed, now);
    let _ = bucket.capacity(now);
    if let Some(ready) = bucket.ready_at(now) {
        assert!(ready >= now);
    }
    if status == 429 {
        let too_many = TooManyRequests::parse(&parsed, content_type, body);
        assert!(too_many.retry_after <= Duration::from_secs(24 * 3600 * 365));
    }
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderValue;
    use hyper::Method;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn bucket_headers(
        bucket: &str,
        limit: u32,
        remaining: u32,
        reset_after: f64,
    ) -> RateLimitHeaders {
        RateLimitHeaders {
            limit: Some(limit),
            remaining: Some(remaining),
            reset_after: Some(Duration::from_secs_f64(reset_after)),
            bucket: Some(Arc::from(bucket)),
            ..RateLimitHeaders::default()
        }
    }

    #[test]
    fn headers_parse_with_fractions_and_ignore_garbage() {
        let parsed = RateLimitHeaders::parse(&headers(&[
            ("x-ratelimit-limit", "5"),
            ("x-ratelimit-remaining", "4"),
            ("x-ratelimit-reset", "1470173023.123"),
            ("x-ratelimit-reset-after", "1.234"),
            ("x-ratelimit-bucket", "abcd1234"),
            ("x-ratelimit-scope", "shared"),
        ]));
        assert_eq!(
            parsed,
            RateLimitHeaders {
                limit: Some(5),
                remaining: Some(4),
                reset_after: Some(Duration::from_millis(1234)),
                bucket: Some(Arc::from("abcd1234")),
                global: false,
                scope: Some(Scope::Shared),
                retry_after: None,
            }
        );
        let garbage = RateLimitHeaders::parse(&headers(&[
            ("x-ratelimit-limit", "-1"),
            ("x-ratelimit-reset-after", "NaN"),
            ("x-ratelimit-global", "true"),
            ("retry-after", "1e300"),
        ]));
        assert_eq!(garbage.limit, None);
        assert_eq!(garbage.reset_after, None);
        assert!(garbage.global);
        assert_eq!(
            garbage.retry_after,
            Some(MAX_WAIT),
            "absurd waits are capped"
        );
    }

    #[test]
    fn too_many_requests_reads_json_only_when_it_is_json() {
        let discord = RateLimitHeaders::parse(&headers(&[
            ("x-ratelimit-scope", "user"),
            ("retry-after", "1"),
        ]));
        let body =
            br#"{"message":"You are being rate limited.","retry_after":0.25,"global":false}"#;
        let parsed = TooManyRequests::parse(&discord, Some("application/json"), body);
        assert_eq!(parsed.retry_after, Duration::from_millis(250));
        assert!(!parsed.global && !parsed.edge && !parsed.shared);

        let global_body =
            br#"{"message":"You are being rate limited.","retry_after":2.5,"global":true}"#;
        let parsed = TooManyRequests::parse(
            &RateLimitHeaders::default(),
            Some("application/json"),
            global_body,
        );
        assert!(parsed.global);
        assert_eq!(parsed.retry_after, Duration::from_millis(2500));

        // Cloudflare: text/plain, only Retry-After, no Discord headers.
        let edge = RateLimitHeaders::parse(&headers(&[("retry-after", "3600")]));
        let parsed = TooManyRequests::parse(&edge, Some("text/plain"), b"error code: 1015");
        assert_eq!(parsed.retry_after, Duration::from_secs(3600));
        assert!(parsed.edge);
        // A JSON-looking body is not trusted without the content type.
        let parsed = TooManyRequests::parse(&discord, Some("text/html"), body);
        assert_eq!(parsed.retry_after, Duration::from_secs(1));
        assert!(!parsed.edge);
        // Nothing at all: a default wait.
        let parsed = TooManyRequests::parse(&RateLimitHeaders::default(), None, b"");
        assert_eq!(parsed.retry_after, DEFAULT_RETRY_AFTER);
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_with_unknown_limit_lets_one_through_then_follows_headers() {
        let start = Instant::now();
        let mut bucket = Bucket::default();
        assert_eq!(bucket.capacity(start), 1);
        bucket.granted();
        assert_eq!(
            bucket.capacity(start),
            0,
            "one at a time while the limit is unknown"
        );
        assert_eq!(
            bucket.ready_at(start),
            None,
            "waiting on the answer, not on time"
        );
        bucket.in_flight -= 1;
        bucket.update(&bucket_headers("b", 5, 4, 1.0), start);
        assert_eq!(bucket.capacity(start), 4);
        for _ in 0..4 {
            bucket.granted();
        }
        assert_eq!(bucket.capacity(start), 0);
        // Answers arrive out of order; the lowest remaining wins.
        for remaining in [1, 3, 0, 2] {
            bucket.in_flight -= 1;
            bucket.update(&bucket_headers("b", 5, remaining, 0.9), start);
        }
        assert_eq!(bucket.capacity(start), 0);
        let reset = start + Duration::from_secs(1);
        assert_eq!(
            bucket.ready_at(start),
            Some(reset),
            "empty until the latest reset"
        );
        assert_eq!(bucket.capacity(reset - Duration::from_millis(1)), 0);
        assert_eq!(bucket.capacity(reset), 5, "a new window after the reset");
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_requests_count_against_a_new_window() {
        let start = Instant::now();
        let mut bucket = Bucket::default();
        bucket.update(&bucket_headers("b", 5, 0, 0.2), start);
        let reset = start + Duration::from_millis(200);
        for _ in 0..5 {
            bucket.granted();
        }
        assert_eq!(bucket.capacity(reset), 0);
        // An unanswered request in a known window is assumed counted.
        bucket.in_flight -= 1;
        bucket.update(&bucket_headers("b", 5, 4, 0.2), reset);
        bucket.in_flight -= 1;
        bucket.lost(reset);
        assert_eq!(bucket.remaining, 3);
        assert_eq!(bucket.capacity(reset), 0, "3 left, 3 in flight");
        // Unanswered outside any window: we no longer know, so one at a time.
        let later = reset + Duration::from_secs(1);
        bucket.in_flight = 1;
        bucket.lost(later);
        bucket.in_flight = 0;
        assert_eq!(bucket.capacity(later), 1);
        bucket.update(&bucket_headers("b", 5, 4, 0.2), later);
        assert_eq!(bucket.capacity(later), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_blocks_the_bucket_until_retry_after() {
        let start = Instant::now();
        let mut bucket = Bucket::default();
        bucket.update(&bucket_headers("b", 5, 3, 1.0), start);
        bucket.block(start + Duration::from_millis(300));
        assert_eq!(bucket.capacity(start), 0);
        assert_eq!(bucket.ready_at(start), Some(start + Duration::from_secs(1)));
        assert_eq!(bucket.capacity(start + Duration::from_secs(1)), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn global_window_never_holds_more_than_the_limit() {
        let start = Instant::now();
        let window = Duration::from_secs(1);
        let mut global = GlobalWindow::new(50, window);
        let mut sent = Vec::new();
        // Try to send at every millisecond for three seconds.
        for ms in 0..3000u64 {
            let now = start + Duration::from_millis(ms);
            while global.available(now) > 0 {
                global.record(now);
                sent.push(now);
            }
            if global.available(now) == 0 {
                assert!(global.ready_at(now) > now);
            }
        }
        assert_eq!(sent.len(), 150);
        for (i, first) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|t| **t < *first + window)
                .count();
            assert!(in_window <= 50, "{in_window} requests within one window");
        }
        global.pause(start + Duration::from_secs(10));
        let now = start + Duration::from_secs(5);
        assert_eq!(global.available(now), 0);
        assert_eq!(global.ready_at(now), start + Duration::from_secs(10));
    }

    fn route(method: Method, path: &str) -> Route {
        Route::parse(method, path).unwrap()
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_learns_buckets_per_major_parameter() {
        let limiter = RateLimiter::new("test".into());
        let channel_1 = route(Method::POST, "/channels/1/messages");
        let channel_2 = route(Method::POST, "/channels/2/messages");
        let first = limiter.acquire(&channel_1, far()).await.unwrap();
        // Unknown limit: the second request on the same route waits for the first answer...
        let waiting = tokio::spawn({
            let limiter = limiter.clone();
            let channel_1 = channel_1.clone();
            async move { limiter.acquire(&channel_1, far()).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiting.is_finished());
        // ...while another channel is another limit.
        let other = limiter.acquire(&channel_2, far()).await.unwrap();
        first.complete(Outcome::Answered {
            status: 200,
            headers: bucket_headers("msgs", 2, 0, 0.5),
        });
        // Channel 1's bucket is now known to be empty for 500 ms.
        let started = Instant::now();
        let second = waiting.await.unwrap().unwrap();
        assert!(started.elapsed() >= Duration::from_millis(500));
        second.complete(Outcome::Answered {
            status: 200,
            headers: bucket_headers("msgs", 2, 1, 0.5),
        });
        other.complete(Outcome::Answered {
            status: 200,
            headers: bucket_headers("msgs", 2, 1, 0.5),
        });
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_fails_fast_when_the_deadline_is_before_the_reset() {
        let limiter = RateLimiter::new("test".into());
        let channel = route(Method::GET, "/channels/1/messages");
        let permit = limiter.acquire(&channel, far()).await.unwrap();
        permit.complete(Outcome::Answered {
            status: 200,
            headers: bucket_headers("b", 1, 0, 5.0),
        });
        let started = Instant::now();
        let err = limiter
            .acquire(&channel, Instant::now() + Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::RateLimited { retry_after, global: false } if retry_after > Duration::from_secs(4)),
            "{err:?}"
        );
        assert_eq!(started.elapsed(), Duration::ZERO, "failed without sleeping");
        // A deadline after the reset waits.
        let permit = limiter
            .acquire(&channel, Instant::now() + Duration::from_secs(6))
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_secs(5));
        drop(permit);
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_spaces_a_burst_by_the_global_window() {
        let limiter = RateLimiter::new("test".into());
        let started = Instant::now();
        let mut tasks = Vec::new();
        for channel in 0..120 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                let route = route(Method::GET, &format!("/channels/{channel}"));
                let permit = limiter.acquire(&route, far()).await.unwrap();
                let at = Instant::now();
                permit.complete(Outcome::Answered {
                    status: 200,
                    headers: RateLimitHeaders::default(),
                });
                at
            }));
        }
        let mut times = Vec::new();
        for task in tasks {
            times.push(task.await.unwrap());
        }
        times.sort();
        for (i, first) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|t| **t < *first + GLOBAL_WINDOW)
                .count();
            assert!(in_window <= GLOBAL_LIMIT);
        }
        assert_eq!(times[GLOBAL_LIMIT - 1] - started, Duration::ZERO);
        assert_eq!(times[GLOBAL_LIMIT] - started, GLOBAL_WINDOW);
        assert_eq!(times[2 * GLOBAL_LIMIT] - started, 2 * GLOBAL_WINDOW);
    }

    #[tokio::test(start_paused = true)]
    async fn global_429_pauses_everything_but_webhook_routes() {
        let limiter = RateLimiter::new("test".into());
        let channel = route(Method::GET, "/channels/1");
        let permit = limiter.acquire(&channel, far()).await.unwrap();
        let headers = RateLimitHeaders {
            global: true,
            scope: Some(Scope::Global),
            ..RateLimitHeaders::default()
        };
        let limit = TooManyRequests::parse(
            &headers,
            Some("application/json"),
            br#"{"retry_after":2.0,"global":true}"#,
        );
        permit.complete(Outcome::RateLimited { headers, limit });
        let started = Instant::now();
        // Webhook routes are not bound to the bot's global limit.
        let webhook = route(Method::PATCH, "/webhooks/1/tok/messages/@original");
        drop(limiter.acquire(&webhook, far()).await.unwrap());
        assert_eq!(started.elapsed(), Duration::ZERO);
        let other = route(Method::GET, "/guilds/9");
        drop(limiter.acquire(&other, far()).await.unwrap());
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_wait_hands_its_place_back() {
        let limiter = RateLimiter::new("test".into());
        let channel = route(Method::GET, "/channels/1");
        let permit = limiter.acquire(&channel, far()).await.unwrap();
        // Waits on the in-flight request, then gives up at its deadline.
        let err = limiter
            .acquire(&channel, Instant::now() + Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::DeadlineExceeded { sent: false }),
            "{err:?}"
        );
        permit.complete(Outcome::Answered {
            status: 200,
            headers: bucket_headers("b", 3, 2, 1.0),
        });
        let a = limiter.acquire(&channel, far()).await.unwrap();
        let b = limiter.acquire(&channel, far()).await.unwrap();
        drop((a, b));
    }
}
