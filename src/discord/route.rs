//! Turns a guest-supplied API path into a checked [`Route`]: the path itself
//! (validated, because it comes from untrusted wasm) plus the rate-limit
//! identity Discord gives it.
//!
//! Discord limits each route *per major parameter*: `channel_id`, `guild_id`,
//! or `webhook_id` + `webhook_token`. Two requests share a limit only if they
//! have the same route template (method + path with ids replaced) *and* the
//! same major parameter. Route templates are later mapped to the opaque
//! `X-RateLimit-Bucket` ids Discord reports, so routes that share a bucket
//! share one limit per major parameter.
//!
//! See: <https://discord.com/developers/docs/topics/rate-limits>

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::Method;
use sha2::{Digest, Sha256};

use crate::discord::Error;

/// The longest path (with query) we forward; Discord's own routes are far shorter.
const MAX_PATH_LEN: usize = 2048;
/// Discord's epoch (2015-01-01T00:00:00Z) in Unix milliseconds, for snowflake ages.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
/// Messages older than this are deleted through a separate, stricter bucket.
const OLD_MESSAGE_AGE: Duration = Duration::from_secs(14 * 24 * 60 * 60);

/// How a route is authenticated and whether it counts against the bot's global limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum RouteKind {
    /// A normal API route: `Authorization: Bot <token>`, counted in the global 50/s.
    Bot,
    /// A route authorised by a token inside the path (interaction callbacks,
    /// interaction and webhook follow-ups): sent without `Authorization` and
    /// not bound to the bot's global limit.
    /// See: <https://github.com/discord/discord-api-docs/issues/4142>
    Webhook,
}

/// The HTTP method a bot names, from the methods Discord's API uses.
pub fn parse_method(name: &str) -> Result<Method, Error> {
    match name.to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "POST" => Ok(Method::POST),
        "PATCH" => Ok(Method::PATCH),
        "PUT" => Ok(Method::PUT),
        "DELETE" => Ok(Method::DELETE),
        other => Err(Error::InvalidRequest(format!(
            "method {other:?} is not one of GET, POST, PATCH, PUT, DELETE"
        ))),
    }
}

/// Interaction callbacks and webhooks, which take the interaction token in
/// the path instead of the bot token.
pub fn is_interaction_webhook(path: &str) -> bool {
    path.starts_with("/webhooks/") || path.starts_with("/interactions/")
}

/// The path with webhook/interaction tokens replaced, fit for logs.
pub fn redact_path(path: &str) -> String {
    let mut segments: Vec<&str> = path.split('/').collect();
    // ["", "webhooks", id, token, ...] and ["", "interactions", id, token, "callback"]
    if is_interaction_webhook(path) && segments.len() > 3 {
        segments[3] = ":token";
    }
    segments.join("/")
}

/// A route's identity for rate limiting: method and template, e.g.
/// `PATCH /webhooks/:major/:token/messages/@original`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RouteKey {
    pub method: Method,
    pub template: String,
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.template)
    }
}

/// A validated request target.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    /// The path and query to append to the base URL, exactly as given.
    pub path_and_query: String,
    pub key: RouteKey,
    /// The major parameter's value: a channel or guild id, or
    /// `webhook_id/<hash of webhook token>`; empty if the route has none.
    /// Never contains a token in clear, so it may be logged.
    pub major: String,
    pub kind: RouteKind,
}

impl Route {
    /// Validates `path` (relative to the API base, e.g. `/channels/1/messages?limit=5`)
    /// and computes its rate-limit identity.
    pub fn parse(method: Method, path: &str) -> Result<Route, Error> {
        Route::parse_at(method, path, SystemTime::now())
    }

    fn parse_at(method: Method, path: &str, now: SystemTime) -> Result<Route, Error> {
        validate(path)?;
        let path_only = path.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path_only[1..].split('/').collect();
        let mut template = String::with_capacity(path_only.len());
        let mut major = String::new();
        let mut kind = RouteKind::Bot;
        let mut after_reactions = None;
        for (index, segment) in segments.iter().enumerate() {
            template.push('/');
            let first = segments[0];
            let replacement = match (index, first) {
                (1, "channels" | "guilds") if is_id(segment) => {
                    major = (*segment).to_owned();
                    ":major"
                }
                (1, "webhooks" | "interactions") if is_id(segment) => {
                    major = (*segment).to_owned();
                    ":major"
                }
                // `/webhooks/{id}/{token}` and `/interactions/{id}/{token}/callback`:
                // the token authorises the call and is part of the major parameter.
                (2, "webhooks" | "interactions") if is_id(segments[1]) && !is_id(segment) => {
                    major.push('/');
                    major.push_str(&short_hash(segment));
                    kind = RouteKind::Webhook;
                    ":token"
                }
                _ if index > 0 && after_reactions == Some(index - 1) => ":emoji",
                _ if is_id(segment) => ":id",
                _ => segment,
            };
            if *segment == "reactions" {
                after_reactions = Some(index);
            }
            template.push_str(replacement);
        }
        // Deleting a message older than two weeks has its own, stricter bucket.
        if method == Method::DELETE && template == "/channels/:major/messages/:id" {
            if let Some(age) = segments.get(3).and_then(|id| snowflake_age(id, now)) {
                if age > OLD_MESSAGE_AGE {
                    template.push_str(" (older than 14 days)");
                }
            }
        }
        Ok(Route {
            path_and_query: path.to_owned(),
            key: RouteKey { method, template },
            major,
            kind,
        })
    }
}

/// Rejects anything that is not a plain relative API path: the path is
/// appended to the base URL, so it must not be able to name another host
/// or climb out of the API prefix.
fn validate(path: &str) -> Result<(), Error> {
    let invalid = |reason: &str| Err(Error::InvalidRequest(format!("invalid API path: {reason}")));
    if path.len() > MAX_PATH_LEN {
        return invalid(&format!("longer than {MAX_PATH_LEN} bytes"));
    }
    if !path.starts_with('/') {
        return invalid(
            "must start with '/' and be relative to the API base, like /channels/123/messages",
        );
    }
    if path.starts_with("//") {
        return invalid("must not start with '//'");
    }
    if let Some(c) = path.chars().find(|c| {
        !c.is_ascii_graphic()
            || matches!(
                c,
                '#' | '\\' | '"' | '<' | '>' | '`' | '{' | '}' | '|' | '^'
            )
    }) {
        return invalid(&format!(
            "contains {c:?}; percent-encode non-ASCII characters (e.g. emoji)"
        ));
    }
    let path_only = path.split('?').next().unwrap_or_default();
    if path_only.contains("://") {
        return invalid("must not contain a scheme or host");
    }
    for segment in path_only.split('/') {
        let lower = segment.to_ascii_lowercase();
        let decoded = lower.replace("%2e", ".");
        if decoded == "." || decoded == ".." {
            return invalid("must not contain '.' or '..' segments");
        }
    }
    Ok(())
}

/// Discord ids are snowflakes: decimal integers.
fn is_id(segment: &str) -> bool {
    !segment.is_empty() && segment.len() <= 20 && segment.bytes().all(|b| b.is_ascii_digit())
}

fn snowflake_age(id: &str, now: SystemTime) -> Option<Duration> {
    let id: u64 = id.parse().ok()?;
    let created_ms = (id >> 22) + DISCORD_EPOCH_MS;
    let now_ms = u64::try_from(now.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    Some(Duration::from_millis(now_ms.saturating_sub(created_ms)))
}

/// The first 16 hex digits of SHA-256: identifies a secret without revealing it.
pub(crate) fn short_hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    hex::encode(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(method: Method, path: &str, template: &str, major: &str, kind: RouteKind) {
        let route = Route::parse(method, path).unwrap();
        assert_eq!(route.key.template, template, "template of {path}");
        assert_eq!(route.major, major, "major parameter of {path}");
        assert_eq!(route.kind, kind, "kind of {path}");
        assert_eq!(route.path_and_query, path);
    }

    #[test]
    fn major_parameters_stay_minor_ids_become_placeholders() {
        use RouteKind::*;
        check(
            Method::POST,
            "/channels/123/messages",
            "/channels/:major/messages",
            "123",
            Bot,
        );
        check(
            Method::GET,
            "/channels/123/messages/456?limit=5",
            "/channels/:major/messages/:id",
            "123",
            Bot,
        );
        check(
            Method::PUT,
            "/guilds/77/members/88/roles/99",
            "/guilds/:major/members/:id/roles/:id",
            "77",
            Bot,
        );
        check(Method::GET, "/users/@me", "/users/@me", "", Bot);
        check(Method::GET, "/users/42", "/users/:id", "", Bot);
        check(
            Method::PUT,
            "/applications/11/guilds/22/commands",
            "/applications/:id/guilds/:id/commands",
            "",
            Bot,
        );
        check(Method::GET, "/gateway/bot", "/gateway/bot", "", Bot);
    }

    #[test]
    fn reactions_share_one_route_per_message_whatever_the_emoji() {
        let thumbs = Route::parse(
            Method::PUT,
            "/channels/1/messages/2/reactions/%F0%9F%91%8D/@me",
        )
        .unwrap();
        let custom = Route::parse(
            Method::PUT,
            "/channels/1/messages/3/reactions/party:1234/@me",
        )
        .unwrap();
        assert_eq!(thumbs.key, custom.key);
        assert_eq!(
            thumbs.key.template,
            "/channels/:major/messages/:id/reactions/:emoji/@me"
        );
        check(
            Method::DELETE,
            "/channels/1/messages/2/reactions/x/55",
            "/channels/:major/messages/:id/reactions/:emoji/:id",
            "1",
            RouteKind::Bot,
        );
        check(
            Method::DELETE,
            "/channels/1/messages/2/reactions",
            "/channels/:major/messages/:id/reactions",
            "1",
            RouteKind::Bot,
        );
    }

    #[test]
    fn webhook_token_routes_are_keyed_by_id_and_token_and_never_show_the_token() {
        let a = Route::parse(Method::PATCH, "/webhooks/10/tokenA/messages/@original").unwrap();
        let b = Route::parse(Method::PATCH, "/webhooks/10/tokenB/messages/@original").unwrap();
        assert_eq!(a.key, b.key);
        assert_eq!(a.key.template, "/webhooks/:major/:token/messages/@original");
        assert_ne!(a.major, b.major, "two interaction tokens are two limits");
        assert!(a.major.starts_with("10/") && !a.major.contains("tokenA"));
        assert_eq!(a.kind, RouteKind::Webhook);
        check(
            Method::POST,
            "/webhooks/10/tok?wait=true",
            "/webhooks/:major/:token",
            &format!("10/{}", short_hash("tok")),
            RouteKind::Webhook,
        );
        check(
            Method::POST,
            "/interactions/5/tok/callback",
            "/interactions/:major/:token/callback",
            &format!("5/{}", short_hash("tok")),
            RouteKind::Webhook,
        );
        // Without a token in the path, a webhook route needs the bot's authorisation.
        check(
            Method::GET,
            "/webhooks/10",
            "/webhooks/:major",
            "10",
            RouteKind::Bot,
        );
        check(
            Method::GET,
            "/channels/9/webhooks",
            "/channels/:major/webhooks",
            "9",
            RouteKind::Bot,
        );
    }

    #[test]
    fn deleting_old_messages_is_its_own_route() {
        let now =
            UNIX_EPOCH + Duration::from_millis(DISCORD_EPOCH_MS) + Duration::from_secs(100 * 86400);
        let day = 86_400_000u64 << 22;
        let fresh = (99 * day).to_string();
        let old = (10 * day).to_string();
        let template = |id: &str, method: Method| {
            Route::parse_at(method, &format!("/channels/1/messages/{id}"), now)
                .unwrap()
                .key
                .template
        };
        assert_eq!(
            template(&fresh, Method::DELETE),
            "/channels/:major/messages/:id"
        );
        assert_eq!(
            template(&old, Method::DELETE),
            "/channels/:major/messages/:id (older than 14 days)"
        );
        assert_eq!(template(&old, Method::GET), "/channels/:major/messages/:id");
    }

    #[test]
    fn paths_that_could_escape_the_api_are_rejected() {
        for path in [
            "",
            "channels/1",
            "https://evil.example/api",
            "//evil.example/x",
            "/channels/../oauth2",
            "/channels/%2E%2e/x",
            "/channels/./1",
            "/channels/1 /messages",
            "/channels/1\n/messages",
            "/channels/1\u{7f}",
            "/channels/1#frag",
            "/channels/\u{1F44D}",
            "/a/http://b",
            "/a\\b",
        ] {
            let err = Route::parse(Method::GET, path).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidRequest(message) if message.starts_with("invalid API path")),
                "{path:?} gave {err:?}"
            );
        }
        let long = format!("/channels/{}", "1".repeat(MAX_PATH_LEN));
        assert!(Route::parse(Method::GET, &long).is_err());
        // Query strings may carry anything a URL allows.
        assert!(Route::parse(Method::GET, "/guilds/1/members?limit=1000&after=0").is_ok());
    }
}
