//! Reading Discord's rate-limit answers: the `X-RateLimit-*` headers of
//! every response, and what a 429 asks of us.

use std::sync::Arc;
use std::time::Duration;

use hyper::HeaderMap;
/// The longest wait we believe from a header (a broken or hostile value must
/// not park a bot forever; Cloudflare bans last about an hour).
pub(super) const MAX_WAIT: Duration = Duration::from_secs(2 * 60 * 60);
/// When a 429 says nothing about how long to wait.
pub(super) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

const LIMIT: &str = "x-ratelimit-limit";
const REMAINING: &str = "x-ratelimit-remaining";
const RESET_AFTER: &str = "x-ratelimit-reset-after";
const BUCKET: &str = "x-ratelimit-bucket";
const GLOBAL: &str = "x-ratelimit-global";
const SCOPE: &str = "x-ratelimit-scope";
const RETRY_AFTER: &str = "retry-after";

/// `X-RateLimit-Scope` of a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    User,
    Global,
    /// A per-resource limit shared by everyone: not this bot's fault, and
    /// not counted as an invalid request.
    Shared,
}

/// The rate-limit headers of one response.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RateLimitHeaders {
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    pub reset_after: Option<Duration>,
    pub bucket: Option<Arc<str>>,
    pub global: bool,
    pub scope: Option<Scope>,
    pub retry_after: Option<Duration>,
}

impl RateLimitHeaders {
    /// Reads the headers; a malformed value counts as absent.
    pub fn parse(headers: &HeaderMap) -> RateLimitHeaders {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        RateLimitHeaders {
            limit: text(LIMIT).and_then(|v| v.parse().ok()),
            remaining: text(REMAINING).and_then(|v| v.parse().ok()),
            reset_after: text(RESET_AFTER).and_then(parse_seconds),
            bucket: text(BUCKET)
                .filter(|v| !v.is_empty() && v.len() <= 128)
                .map(Arc::from),
            global: text(GLOBAL).is_some_and(|v| v.eq_ignore_ascii_case("true")),
            scope: text(SCOPE).and_then(|v| match v {
                "user" => Some(Scope::User),
                "global" => Some(Scope::Global),
                "shared" => Some(Scope::Shared),
                _ => None,
            }),
            retry_after: text(RETRY_AFTER).and_then(parse_seconds),
        }
    }

    /// Whether the response carried any of Discord's rate-limit headers.
    /// Cloudflare's own 429s carry none.
    pub fn is_from_discord(&self) -> bool {
        self.bucket.is_some() || self.scope.is_some() || self.limit.is_some() || self.global
    }
}

/// What a 429 asks of us.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TooManyRequests {
    pub retry_after: Duration,
    /// Every request with this token must wait, not only this bucket.
    pub global: bool,
    pub shared: bool,
    /// Not from Discord's API but from its edge (Cloudflare, `text/plain`):
    /// a ban of this node's IP address, which every token shares.
    pub edge: bool,
}

impl TooManyRequests {
    /// Reads a 429: the JSON body's `retry_after` (seconds, float) when the
    /// body is JSON, else `Retry-After`, else `X-RateLimit-Reset-After`.
    /// Never assumes the body is JSON.
    pub fn parse(
        headers: &RateLimitHeaders,
        content_type: Option<&str>,
        body: &[u8],
    ) -> TooManyRequests {
        #[derive(serde::Deserialize)]
        struct Body {
            retry_after: Option<f64>,
            #[serde(default)]
            global: bool,
        }
        let is_json = content_type.is_some_and(|v| v.trim_start().starts_with("application/json"));
        let json = is_json
            .then(|| serde_json::from_slice::<Body>(body).ok())
            .flatten();
        let from_body = json.as_ref().and_then(|b| b.retry_after).and_then(seconds);
        let retry_after = from_body
            .or(headers.retry_after)
            .or(headers.reset_after)
            .unwrap_or(DEFAULT_RETRY_AFTER);
        TooManyRequests {
            retry_after,
            global: headers.global
                || headers.scope == Some(Scope::Global)
                || json.as_ref().is_some_and(|b| b.global),
            shared: headers.scope == Some(Scope::Shared),
            edge: json.is_none() && !headers.is_from_discord(),
        }
    }
}

fn parse_seconds(value: &str) -> Option<Duration> {
    seconds(value.parse().ok()?)
}

/// A non-negative number of seconds, capped at [`MAX_WAIT`].
fn seconds(value: f64) -> Option<Duration> {
    if value.is_nan() || value < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(value.min(MAX_WAIT.as_secs_f64())).ok()
}
