//! The only module that sends requests to Discord's REST API.
//!
//! [`Client`] holds one pooled HTTPS client (rustls, keep-alive, HTTP/2 when
//! the server offers it through ALPN) and, per bot token, a rate limiter
//! ([`ratelimit`]) and an invalid-request guard ([`guard`]). Every call
//! carries the caller's deadline: waits for rate limits and retries happen
//! only if they can finish before it, otherwise the call fails at once
//! (queues without deadlines hang bots for minutes).
//!
//! Tokens stay here: they go into `Authorization` headers and nowhere else.
//! Logs name a token by the first 8 hex digits of its SHA-256.

mod guard;
mod ratelimit;
mod route;
pub mod stats;

/// Entry points for the fuzz targets in `fuzz/`; not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use super::ratelimit::fuzz_answer;
}

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use hyper::{HeaderMap, Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::discord::guard::{NodeGuard, TokenStanding};
use crate::discord::ratelimit::{Outcome, RateLimitHeaders, RateLimiter, TooManyRequests};
pub use crate::discord::route::{is_interaction_webhook, parse_method, redact_path};
use crate::discord::route::{Route, RouteKind};
use crate::discord::stats::{RestFigures, RestStats};
use crate::sync::lock;

/// Discord's API base; `serve --discord-api` overrides it (tests point it at a fake).
pub const DEFAULT_BASE_URL: &str = "https://discord.com/api/v10";

const USER_AGENT_VALUE: &str = concat!(
    "DiscordBot (https://github.com/appliance/appliance, ",
    env!("CARGO_PKG_VERSION"),
    ")"
);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One attempt (send and read the whole answer) never takes longer than this,
/// whatever the deadline.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Larger answers are refused (the largest Discord pages are well under this).
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Attempts for idempotent requests that meet a 5xx or a connection error.
const MAX_ATTEMPTS: u32 = 3;
const RETRY_BACKOFF: Duration = Duration::from_millis(250);
/// Right after a deferral, `PATCH …/@original` and follow-ups can answer 404
/// for a few seconds; webhook routes retry a 404 this many times.
/// See: <https://github.com/discord/discord-api-docs/issues/7220>
const WEBHOOK_404_RETRIES: u32 = 2;
const WEBHOOK_404_BACKOFF: Duration = Duration::from_millis(500);

/// Largest JSON body sent to Discord. Its largest real ones are image data
/// URIs (emoji 256 KiB, stickers 512 KiB, avatars and banners a few MiB once
/// base64-encoded) and bulk command overwrites (well under 1 MiB); anything
/// bigger is refused before it costs a rate-limit slot or the node's bandwidth.
pub const MAX_REQUEST_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Why a request to Discord did not produce an answer. The messages are
/// meant for bot authors: each says what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is malformed (bad path, bad token characters).
    #[error("{0}")]
    InvalidRequest(String),
    #[error("invalid Discord API base URL {url:?}: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error(
        "rate limited by Discord{}: retry after {:.3} s",
        if *global { " (this bot's global limit)" } else { "" },
        retry_after.as_secs_f64()
    )]
    RateLimited { retry_after: Duration, global: bool },
    #[error("{}", if *sent {
        "the deadline passed while waiting for Discord's answer; the request may have been carried out"
    } else {
        "the deadline would pass before rate limits allow this request, so it was not sent"
    })]
    DeadlineExceeded { sent: bool },
    #[error(
        "Discord rejected this bot's token (401 Unauthorized); no more requests are sent with it \
         until the bot is redeployed with a valid token"
    )]
    TokenRevoked,
    #[error(
        "this bot got {count} 403 Forbidden answers within a minute, so its requests are paused \
         for {} s; check the bot's permissions in the guild or channel",
        retry_after.as_secs().max(1)
    )]
    TooManyForbidden { retry_after: Duration, count: u64 },
    #[error(
        "requests to Discord from this node are paused for {} s to stay clear of Discord's \
         invalid-request ban",
        retry_after.as_secs().max(1)
    )]
    NodePaused { retry_after: Duration },
    #[error("could not reach Discord: {0}")]
    Transport(String),
    #[error("Discord's answer was larger than {0} bytes")]
    ResponseTooLarge(usize),
    #[error("the rate limiter for this bot stopped unexpectedly")]
    LimiterStopped,
}

/// Whose authority a request carries.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// `Authorization: Bot <token>` (left off on webhook-token routes, which
    /// are still counted and guarded under this token).
    Bot(&'a str),
    /// No token: only interaction webhooks, counted and guarded under the
    /// application id given, so one tenant's failures never pause another's.
    Webhook(&'a str),
}

impl std::fmt::Debug for Auth<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bot(token) => write!(f, "Bot({})", token_label(token)),
            Auth::Webhook(app_id) => write!(f, "Webhook(app {app_id})"),
        }
    }
}

/// Discord's answer. Every status but those turned into [`Error`]s (401 on
/// an authorised route, 429 that could not be waited out) comes back here.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A token's counters, for `appliance status`, logs and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenStatus {
    /// Discord answered 401: nothing is sent with this token until
    /// [`Client::reset_token`](crate::discord::Client::reset_token).
    pub revoked: bool,
    /// Time left in a 403 cool-down, if one is running.
    pub paused_for: Option<Duration>,
    /// 401, 403 and non-shared 429 answers in the last 10 minutes.
    pub invalid_requests_10min: u64,
    /// 403 answers in the last 60 seconds.
    pub forbidden_60s: u64,
    /// Requests sent with this token since it was (re)set.
    pub requests: u64,
    /// 429 answers since it was (re)set.
    pub rate_limited: u64,
}

type HttpClient = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The Discord REST client. Cheap to clone; clones share the connection pool,
/// rate limits and token state.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    /// Base URL without a trailing slash.
    base: String,
    http: HttpClient,
    user_agent: HeaderValue,
    /// Per token (the empty key is for unauthenticated requests).
    tokens: Mutex<HashMap<String, Arc<TokenState>>>,
    node: Mutex<NodeGuard>,
    stats: RestStats,
}

struct TokenState {
    label: String,
    limiter: RateLimiter,
    standing: Mutex<TokenStanding>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.base)
            .finish_non_exhaustive()
    }
}

/// Names a token in logs without revealing it.
pub fn token_label(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    hex::encode(&digest[..4])
}

impl Client {
    /// A client for the API at `base_url` (`https://discord.com/api/v10`, or
    /// `http://127.0.0.1:PORT/api/v10` in tests).
    pub fn new(base_url: &str) -> Result<Client, Error> {
        let base = base_url.trim_end_matches('/').to_owned();
        let invalid = |reason: &str| Error::InvalidBaseUrl {
            url: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = base.parse().map_err(|_| invalid("not a URL"))?;
        match uri.scheme_str() {
            Some("https" | "http") => {}
            _ => return Err(invalid("must start with https:// or http://")),
        }
        if uri.host().is_none() {
            return Err(invalid("has no host"));
        }
        if uri.query().is_some() {
            return Err(invalid("must not have a query"));
        }
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let provider = rustls::crypto::ring::default_provider();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|err| invalid(&format!("TLS setup failed: {err}")))?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(connector);
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(https);
        Ok(Client {
            inner: Arc::new(Inner {
                base,
                http,
                user_agent: HeaderValue::from_static(USER_AGENT_VALUE),
                tokens: Mutex::new(HashMap::new()),
                node: Mutex::new(NodeGuard::default()),
                stats: RestStats::default(),
            }),
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// Sends `method path` (relative to the base, e.g. `/channels/1/messages`)
    /// with `body` as JSON, honouring rate limits, and returns Discord's
    /// answer; gives up with [`Error::DeadlineExceeded`] or
    /// [`Error::RateLimited`] rather than wait past `deadline`.
    ///
    /// Idempotent methods are retried on 5xx and connection errors; a 429 is
    /// waited out and retried once. Interaction and webhook-token routes are
    /// sent without `Authorization` and outside the global limit.
    pub async fn request(
        &self,
        auth: Auth<'_>,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        deadline: Instant,
    ) -> Result<Response, Error> {
        if let Some(body) = &body {
            if body.len() > MAX_REQUEST_BODY_BYTES {
                return Err(Error::InvalidRequest(format!(
                    "the request body is {} bytes; the limit is {MAX_REQUEST_BODY_BYTES} \
                     (no JSON body Discord accepts comes near it)",
                    body.len()
                )));
            }
        }
        let route = Route::parse(method, path)?;
        let token = match auth {
            Auth::Bot(token) => Some(check_token(token)?),
            Auth::Webhook(_) => None,
        };
        let authorization = match (token, route.kind) {
            (Some(header), RouteKind::Bot) => Some(header),
            _ => None,
        };
        let state = match auth {
            Auth::Bot(token) => self.token_state(token),
            Auth::Webhook(app_id) => self.webhook_state(app_id),
        };
        let uri: Uri = format!("{}{}", self.inner.base, route.path_and_query)
            .parse()
            .map_err(|_| Error::InvalidRequest("invalid API path: not a valid URI".into()))?;

        let mut attempt = 0u32;
        let mut retried_429 = false;
        let mut webhook_404s = 0u32;
        loop {
            attempt += 1;
            let waiting = Instant::now();
            self.admit(&state, authorization.is_some(), deadline)
                .await?;
            let permit = state.limiter.acquire(&route, deadline).await?;
            self.inner.stats.waited(waiting.elapsed());
            lock(&state.standing).sent();

            let mut request = Request::builder()
                .method(route.key.method.clone())
                .uri(uri.clone())
                .header(USER_AGENT, self.inner.user_agent.clone());
            if let Some(header) = &authorization {
                request = request.header(AUTHORIZATION, header.clone());
            }
            if body.is_some() {
                request =
                    request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            let request = request
                .body(Full::new(body.clone().unwrap_or_default()))
                .map_err(|err| Error::InvalidRequest(format!("invalid request: {err}")))?;

            let attempt_deadline = deadline.min(Instant::now() + ATTEMPT_TIMEOUT);
            let answer = tokio::time::timeout_at(attempt_deadline, self.send(request)).await;
            match &answer {
                Ok(Ok(answer)) => self.inner.stats.answered(answer.status),
                _ => self.inner.stats.failed(),
            }
            let answer = match answer {
                Ok(Ok(answer)) => answer,
                Ok(Err(SendError::TooLarge)) => {
                    permit.complete(Outcome::NoResponse);
                    return Err(Error::ResponseTooLarge(MAX_RESPONSE_BYTES));
                }
                Ok(Err(SendError::Transport(message))) => {
                    permit.complete(Outcome::NoResponse);
                    debug!(bot = %state.label, route = %route.key, attempt, error = %message, "request failed");
                    if is_idempotent(&route.key.method)
                        && attempt < MAX_ATTEMPTS
                        && backoff(attempt, deadline).await
                    {
                        continue;
                    }
                    return Err(Error::Transport(message));
                }
                Err(_elapsed) => {
                    permit.complete(Outcome::NoResponse);
                    if Instant::now() >= deadline {
                        return Err(Error::DeadlineExceeded { sent: true });
                    }
                    return Err(Error::Transport(format!(
                        "no answer within {} s",
                        ATTEMPT_TIMEOUT.as_secs()
                    )));
                }
            };

            let status = answer.status;
            let headers = RateLimitHeaders::parse(&answer.headers);
            let now = Instant::now();
            debug!(bot = %state.label, route = %route.key, status, attempt, "answered");
            match status {
                429 => {
                    let content_type = answer
                        .headers
                        .get(CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok());
                    let limit = TooManyRequests::parse(&headers, content_type, &answer.body);
                    self.inner.stats.too_many_requests(&limit);
                    permit.complete(Outcome::RateLimited { headers, limit });
                    lock(&state.standing).rate_limited(limit.shared, now);
                    if !limit.shared {
                        lock(&self.inner.node).invalid(now);
                    }
                    if limit.edge {
                        // Cloudflare bans the address, not the token: everyone waits.
                        lock(&self.inner.node).pause(now + limit.retry_after);
                    }
                    warn!(
                        bot = %state.label,
                        route = %route.key,
                        retry_after_ms = limit.retry_after.as_millis() as u64,
                        global = limit.global,
                        shared = limit.shared,
                        edge = limit.edge,
                        "429 from Discord"
                    );
                    if !retried_429 && now + limit.retry_after <= deadline {
                        retried_429 = true;
                        continue;
                    }
                    return Err(Error::RateLimited {
                        retry_after: limit.retry_after,
                        global: limit.global,
                    });
                }
                401 if authorization.is_some() => {
                    permit.complete(Outcome::Answered { status, headers });
                    lock(&state.standing).unauthorized(now);
                    lock(&self.inner.node).invalid(now);
                    warn!(bot = %state.label, "Discord answered 401: token disabled until reset");
                    return Err(Error::TokenRevoked);
                }
                401 | 403 => {
                    permit.complete(Outcome::Answered { status, headers });
                    lock(&self.inner.node).invalid(now);
                    if lock(&state.standing).forbidden(now) {
                        warn!(bot = %state.label, "too many 403s: requests paused");
                    }
                    return Ok(answer);
                }
                404 if is_fresh_webhook_edit(&route)
                    && webhook_404s < WEBHOOK_404_RETRIES
                    && Instant::now() + WEBHOOK_404_BACKOFF * (webhook_404s + 1) < deadline =>
                {
                    permit.complete(Outcome::Answered { status, headers });
                    webhook_404s += 1;
                    attempt -= 1;
                    tokio::time::sleep(WEBHOOK_404_BACKOFF * webhook_404s).await;
                    continue;
                }
                500..=599 => {
                    permit.complete(Outcome::Answered { status, headers });
                    if is_idempotent(&route.key.method)
                        && attempt < MAX_ATTEMPTS
                        && backoff(attempt, deadline).await
                    {
                        continue;
                    }
                    return Ok(answer);
                }
                _ => {
                    permit.complete(Outcome::Answered { status, headers });
                    return Ok(answer);
                }
            }
        }
    }

    /// The node-wide figures, for `/metrics`.
    pub fn figures(&self) -> RestFigures {
        let invalid = lock(&self.inner.node).invalid_requests(Instant::now());
        self.inner
            .stats
            .figures(invalid, guard::NODE_INVALID_BUDGET)
    }

    /// Counters for `token` (all zero for a token never used).
    pub fn token_status(&self, token: &str) -> TokenStatus {
        let state = lock(&self.inner.tokens).get(token).cloned();
        match state {
            Some(state) => lock(&state.standing).status(Instant::now()),
            None => TokenStatus::default(),
        }
    }

    /// Forgets `token`'s standing (a 401 revocation, the 403 breaker and the
    /// counters), e.g. after the bot is redeployed with it. The rate limits
    /// learned for it stay: Discord's buckets and windows do not reset because
    /// we redeployed, and requests still in flight hold their places.
    pub fn reset_token(&self, token: &str) {
        if let Some(state) = lock(&self.inner.tokens).get(token) {
            *lock(&state.standing) = TokenStanding::default();
            debug!(bot = %token_label(token), "token standing reset");
        }
    }

    /// Stops every request with `token` until [`Client::reset_token`]:
    /// Discord refused the token elsewhere (the gateway's close 4004).
    pub fn revoke_token(&self, token: &str) {
        lock(&self.token_state(token).standing).revoke();
        debug!(bot = %token_label(token), "token revoked");
    }

    fn token_state(&self, token: &str) -> Arc<TokenState> {
        self.state_for(token.to_owned(), || token_label(token))
    }

    /// The state for token-less webhook calls of one application. Its key
    /// cannot collide with a token: a newline is refused in one.
    fn webhook_state(&self, app_id: &str) -> Arc<TokenState> {
        self.state_for(format!("\napp {app_id}"), || {
            format!("app {app_id} (no token)")
        })
    }

    fn state_for(&self, key: String, label: impl FnOnce() -> String) -> Arc<TokenState> {
        let mut tokens = lock(&self.inner.tokens);
        tokens
            .entry(key)
            .or_insert_with(|| {
                let label = label();
                Arc::new(TokenState {
                    limiter: RateLimiter::new(label.clone()),
                    label,
                    standing: Mutex::new(TokenStanding::default()),
                })
            })
            .clone()
    }

    /// Applies the token's and the node's guards, waiting out a node-wide
    /// pause if it ends before `deadline`.
    async fn admit(
        &self,
        state: &TokenState,
        authorized: bool,
        deadline: Instant,
    ) -> Result<(), Error> {
        let now = Instant::now();
        lock(&state.standing).admit(authorized, now)?;
        let paused_until = lock(&self.inner.node).admit(now)?;
        if let Some(until) = paused_until {
            if until > deadline {
                return Err(Error::RateLimited {
                    retry_after: until - now,
                    global: true,
                });
            }
            tokio::time::sleep_until(until).await;
        }
        Ok(())
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<Response, SendError> {
        let response = self
            .inner
            .http
            .request(request)
            .await
            .map_err(|err| SendError::Transport(error_chain(&err)))?;
        let (parts, body) = response.into_parts();
        let declared = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > MAX_RESPONSE_BYTES as u64) {
            return Err(SendError::TooLarge);
        }
        let body = match Limited::new(body, MAX_RESPONSE_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) if err.is::<http_body_util::LengthLimitError>() => {
                return Err(SendError::TooLarge)
            }
            Err(err) => return Err(SendError::Transport(format!("reading the answer: {err}"))),
        };
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}

enum SendError {
    Transport(String),
    TooLarge,
}

/// Checks the token can go into a header, and builds that header.
fn check_token(token: &str) -> Result<HeaderValue, Error> {
    let token = token.strip_prefix("Bot ").unwrap_or(token);
    if token.is_empty() {
        return Err(Error::InvalidRequest("the bot token is empty".into()));
    }
    let mut value = HeaderValue::from_str(&format!("Bot {token}")).map_err(|_| {
        Error::InvalidRequest(
            "the bot token contains characters not allowed in an HTTP header".into(),
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Follow-ups and edits of an interaction's messages (`POST`/`PATCH
/// /webhooks/{id}/{token}...`), which can 404 briefly right after a deferral.
fn is_fresh_webhook_edit(route: &Route) -> bool {
    route.kind == RouteKind::Webhook
        && route.key.template.starts_with("/webhooks/")
        && matches!(route.key.method, Method::POST | Method::PATCH)
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

/// Sleeps before retry number `attempt` (250 ms, 500 ms, ... plus jitter) if
/// that still leaves time before `deadline`; returns whether it did.
async fn backoff(attempt: u32, deadline: Instant) -> bool {
    let base = RETRY_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1));
    let jitter = Duration::from_millis(rand::random_range(0..=base.as_millis() as u64 / 4));
    let until = Instant::now() + base + jitter;
    if until >= deadline {
        return false;
    }
    tokio::time::sleep_until(until).await;
    true
}

/// An error with its causes, `a: b: c` (hyper's own message alone is vague).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        for url in [
            "discord.com/api",
            "ftp://discord.com/api",
            "https:///api",
            "https://d.com/api?x=1",
        ] {
            assert!(
                matches!(Client::new(url), Err(Error::InvalidBaseUrl { .. })),
                "{url} accepted"
            );
        }
    }

    #[tokio::test]
    async fn tokens_never_appear_in_debug_output_or_errors() {
        let client = Client::new("http://127.0.0.1:9/api/v10/").unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:9/api/v10");
        let secret = "MTIzNDU2Nzg5.secret.token";
        assert!(!format!("{:?}", Auth::Bot(secret)).contains("secret"));
        let err = check_token("bad\ntoken-secret").unwrap_err();
        assert!(!err.to_string().contains("secret"));
        assert!(check_token("").is_err());
        assert!(check_token(secret).unwrap().is_sensitive());
        let err = client
            .request(
                Auth::Bot(secret),
                Method::GET,
                "https://evil/",
                None,
                Instant::now(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)));
        assert!(!err.to_string().contains("secret"));
    }

    #[test]
    fn user_agent_is_discords_format() {
        assert!(
            USER_AGENT_VALUE.starts_with("DiscordBot (https://github.com/appliance/appliance, 0.")
        );
        assert!(USER_AGENT_VALUE.ends_with(')'));
    }
}
