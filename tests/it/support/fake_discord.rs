//! A fake Discord REST API on loopback: real HTTP/1.1, Discord's rate-limit
//! rules and headers, scripted failures, and a record of everything it saw.
//!
//! Limits follow Discord's rules, implemented independently of the client:
//! per-route buckets (a fixed window that starts at the window's first
//! request) kept per token *and* major parameter, and a global 50 requests
//! per rolling second per token from which interaction/webhook-token routes
//! are exempt. A request that arrives in an exhausted bucket, over the global
//! limit, or during a global pause is answered 429 *and counted as a
//! violation*: a well-behaved client never causes one.
//!
//! `GET /gateway/bot` answers what the test configured with
//! [`FakeDiscord::set_gateway_bot`] (for a `fake_gateway::FakeGateway`,
//! `FakeGateway::gateway_bot` builds it); until then it is a 404, as for a
//! route this fake does not serve.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A per-route limit: `template` uses `{id}` for ids and `{major}` for the
/// major parameter, e.g. `/channels/{major}/messages`.
#[derive(Debug, Clone)]
pub struct RouteLimit {
    pub method: &'static str,
    pub template: &'static str,
    pub bucket: &'static str,
    pub limit: u32,
    pub window: Duration,
}

#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// Bot tokens the fake accepts.
    pub tokens: Vec<String>,
    pub routes: Vec<RouteLimit>,
    /// Routes not listed get a bucket of their own with this limit...
    pub default_limit: u32,
    /// ...per this window.
    pub default_window: Duration,
    /// Per token per rolling second (Discord: 50).
    pub global_limit: usize,
}

impl Default for FakeConfig {
    fn default() -> FakeConfig {
        FakeConfig {
            tokens: vec!["token-a".into(), "token-b".into()],
            routes: Vec::new(),
            default_limit: 5,
            default_window: Duration::from_millis(200),
            global_limit: 50,
        }
    }
}

/// A scripted answer for the next `times` requests whose path starts with `path_prefix`.
#[derive(Debug, Clone)]
pub struct Script {
    pub method: &'static str,
    pub path_prefix: String,
    pub times: u32,
    pub reply: Reply,
}

#[derive(Debug, Clone)]
pub enum Reply {
    /// This status with a Discord-style JSON error body.
    Status(u16),
    /// A 429 with `retry_after` seconds; `global` also pauses the token.
    RateLimited {
        retry_after: f64,
        global: bool,
        scope: &'static str,
    },
    /// Cloudflare's ban page: `text/plain`, only `Retry-After`.
    Cloudflare { retry_after_secs: u64 },
    /// Answer normally, but only after this long.
    Slow(Duration),
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    pub method: String,
    /// Path and query after the `/api/v10` prefix.
    pub path: String,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub status: u16,
    /// Counted towards the token's global limit.
    pub global: bool,
}

/// What `GET /gateway/bot` answers: Discord's Get Gateway Bot object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayBot {
    /// The gateway's URL, e.g. `ws://127.0.0.1:PORT` (Discord: `wss://gateway.discord.gg`).
    pub url: String,
    /// Recommended number of shards.
    pub shards: u32,
    /// `session_start_limit.total`: identifies allowed per reset period.
    pub total: u32,
    /// `session_start_limit.remaining`.
    pub remaining: u32,
    /// `session_start_limit.reset_after`, in milliseconds.
    pub reset_after_ms: u64,
    /// `session_start_limit.max_concurrency`: identify buckets per 5 s.
    pub max_concurrency: u32,
}

impl GatewayBot {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "url": self.url,
            "shards": self.shards,
            "session_start_limit": {
                "total": self.total,
                "remaining": self.remaining,
                "reset_after": self.reset_after_ms,
                "max_concurrency": self.max_concurrency,
            },
        })
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Violations {
    /// Requests that arrived in a bucket already known to be empty.
    pub bucket: u64,
    /// Requests over the global limit.
    pub global: u64,
    /// Requests during a global 429's pause.
    pub pause: u64,
}

pub struct FakeDiscord {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    connections: Arc<AtomicU64>,
    accept: JoinHandle<()>,
}

struct State {
    config: FakeConfig,
    invalid_tokens: Vec<String>,
    forbidden_tokens: Vec<String>,
    scripts: Vec<Script>,
    records: Vec<Recorded>,
    windows: HashMap<(String, String, String), Window>,
    global: HashMap<String, Vec<Instant>>,
    paused: HashMap<String, Instant>,
    violations: Violations,
    next_id: u64,
    gateway_bot: Option<GatewayBot>,
    gateway_bot_calls: u64,
    /// Registered application commands by (application id, guild id or
    /// `None` for global ones), as Discord stores them.
    commands: HashMap<(String, Option<String>), Vec<serde_json::Value>>,
    /// Discord's 400 body for the next bulk overwrite.
    refuse_commands: Option<serde_json::Value>,
}

struct Window {
    start: Instant,
    count: u32,
}

impl FakeDiscord {
    pub async fn start(config: FakeConfig) -> FakeDiscord {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            config,
            invalid_tokens: Vec::new(),
            forbidden_tokens: Vec::new(),
            scripts: Vec::new(),
            records: Vec::new(),
            windows: HashMap::new(),
            global: HashMap::new(),
            paused: HashMap::new(),
            violations: Violations::default(),
            next_id: 1_180_000_000_000_000_000,
            gateway_bot: None,
            gateway_bot_calls: 0,
            commands: HashMap::new(),
            refuse_commands: None,
        }));
        let connections = Arc::new(AtomicU64::new(0));
        let accept = tokio::spawn({
            let state = state.clone();
            let connections = connections.clone();
            async move {
                // Connections live in this set, so aborting the accept task closes them.
                let mut tasks = tokio::task::JoinSet::new();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    connections.fetch_add(1, Ordering::SeqCst);
                    let state = state.clone();
                    tasks.spawn(async move {
                        let service = service_fn(move |request| handle(state.clone(), request));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                    while tasks.try_join_next().is_some() {}
                }
            }
        });
        FakeDiscord {
            addr,
            state,
            connections,
            accept,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/api/v10", self.addr)
    }

    pub fn script(&self, script: Script) {
        self.lock().scripts.push(script);
    }

    /// From now on `token` is answered 401.
    /// Every later request with `token` gets 403 (missing permissions).
    pub fn forbid_token(&self, token: &str) {
        self.lock().forbidden_tokens.push(token.to_owned());
    }

    pub fn invalidate_token(&self, token: &str) {
        self.lock().invalid_tokens.push(token.to_owned());
    }

    /// From now on `GET /gateway/bot` answers `gateway` (200) to a valid
    /// token. The route keeps the other routes' rules: 401 without a valid
    /// token, 403 for a forbidden one, scripts, and a bucket of its own under
    /// the default limit.
    pub fn set_gateway_bot(&self, gateway: GatewayBot) {
        self.lock().gateway_bot = Some(gateway);
    }

    /// The application commands registered for `app_id` (in `guild`, or
    /// global ones), as Discord would list them.
    pub fn commands(&self, app_id: &str, guild: Option<&str>) -> Vec<serde_json::Value> {
        self.lock()
            .commands
            .get(&(app_id.to_owned(), guild.map(str::to_owned)))
            .cloned()
            .unwrap_or_default()
    }

    /// Changes the registered commands behind the node's back (someone
    /// editing them with curl or another tool).
    pub fn set_commands(
        &self,
        app_id: &str,
        guild: Option<&str>,
        commands: Vec<serde_json::Value>,
    ) {
        self.lock()
            .commands
            .insert((app_id.to_owned(), guild.map(str::to_owned)), commands);
    }

    /// The next bulk overwrite of commands is refused with a 400 and this
    /// body (Discord's `{"code":50035,"errors":{...},"message":"Invalid Form Body"}`).
    pub fn refuse_next_commands(&self, body: serde_json::Value) {
        self.lock().refuse_commands = Some(body);
    }

    /// `GET /gateway/bot` is a 404 again, as before any [`Self::set_gateway_bot`].
    pub fn clear_gateway_bot(&self) {
        self.lock().gateway_bot = None;
    }

    /// `GET /gateway/bot` requests received, whatever they were answered.
    pub fn gateway_bot_calls(&self) -> u64 {
        self.lock().gateway_bot_calls
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().records.clone()
    }

    /// Requests that carried `Authorization: Bot <token>`.
    pub fn requests_with_token(&self, token: &str) -> usize {
        let header = format!("Bot {token}");
        self.lock()
            .records
            .iter()
            .filter(|r| r.authorization.as_deref() == Some(&header))
            .count()
    }

    pub fn violations(&self) -> Violations {
        self.lock().violations
    }

    /// 429 answers sent, for any reason.
    pub fn rate_limited(&self) -> usize {
        self.lock()
            .records
            .iter()
            .filter(|r| r.status == 429)
            .count()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// The most requests counted towards `token`'s global limit in any rolling second.
    pub fn max_per_second(&self, token: &str) -> usize {
        let header = format!("Bot {token}");
        let times: Vec<Instant> = self
            .lock()
            .records
            .iter()
            .filter(|r| r.global && r.authorization.as_deref() == Some(&header))
            .map(|r| r.at)
            .collect();
        let mut max = 0;
        let mut first = 0;
        for (last, at) in times.iter().enumerate() {
            while *at - times[first] >= Duration::from_secs(1) {
                first += 1;
            }
            max = max.max(last - first + 1);
        }
        max
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// What the fake makes of a path: `(template, major, exempt from the global limit)`.
fn classify(path: &str) -> (String, String, bool) {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut major = String::new();
    let mut exempt = false;
    let mut template = String::new();
    for (i, segment) in segments.iter().enumerate() {
        let part = match (segments[0], i) {
            ("channels" | "guilds" | "webhooks" | "interactions", 1) if numeric(segment) => {
                major = segment.to_string();
                "{major}".to_string()
            }
            ("webhooks" | "interactions", 2) if !numeric(segment) => {
                major = format!("{major}/{segment}");
                exempt = true;
                "{token}".to_string()
            }
            _ if i > 0 && segments[i - 1] == "reactions" => "{emoji}".to_string(),
            _ if numeric(segment) => "{id}".to_string(),
            _ => segment.to_string(),
        };
        template.push('/');
        template.push_str(&part);
    }
    (template, major, exempt)
}

async fn handle(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = Instant::now();
    let method = request.method().to_string();
    let full_path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let path = full_path
        .strip_prefix("/api/v10")
        .unwrap_or(full_path)
        .to_owned();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header("authorization");
    let user_agent = header("user-agent");
    let content_type = header("content-type");
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();

    let (template, major, exempt) = classify(path.split('?').next().unwrap_or_default());
    let (reply, delay) = {
        let mut state = state.lock().unwrap();
        let reply = state.decide(
            at,
            &method,
            &path,
            &template,
            &major,
            exempt,
            authorization.as_deref(),
            &body,
        );
        let counted = !exempt && reply.status != 401;
        let delay = reply.delay;
        state.records.push(Recorded {
            at,
            method,
            path,
            authorization,
            user_agent,
            content_type,
            body,
            status: reply.status,
            global: counted,
        });
        (reply, delay)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type);
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    Ok(response.body(Full::new(reply.body)).unwrap())
}

struct Decision {
    status: u16,
    headers: Vec<(&'static str, String)>,
    content_type: &'static str,
    body: Bytes,
    delay: Option<Duration>,
}

impl Decision {
    fn json(status: u16, value: serde_json::Value) -> Decision {
        Decision {
            status,
            headers: Vec::new(),
            content_type: "application/json",
            body: Bytes::from(value.to_string()),
            delay: None,
        }
    }

    fn too_many(retry_after: f64, global: bool, scope: &'static str) -> Decision {
        let mut decision = Decision::json(
            429,
            json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": global, "code": 0}),
        );
        decision
            .headers
            .push(("retry-after", format!("{}", retry_after.ceil() as u64)));
        decision
            .headers
            .push(("x-ratelimit-scope", scope.to_owned()));
        if global {
            decision
                .headers
                .push(("x-ratelimit-global", "true".to_owned()));
        }
        decision
    }
}

impl State {
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        now: Instant,
        method: &str,
        path: &str,
        template: &str,
        major: &str,
        exempt: bool,
        authorization: Option<&str>,
        body: &Bytes,
    ) -> Decision {
        if method == "GET" && template == "/gateway/bot" {
            self.gateway_bot_calls += 1;
        }
        // Webhook-token routes need no token; the others need a valid one.
        let token = authorization
            .and_then(|a| a.strip_prefix("Bot "))
            .unwrap_or_default()
            .to_owned();
        let valid = self.config.tokens.contains(&token) && !self.invalid_tokens.contains(&token);
        if !exempt && !valid {
            return Decision::json(401, json!({"message": "401: Unauthorized", "code": 0}));
        }
        if !exempt && self.forbidden_tokens.contains(&token) {
            return Decision::json(403, json!({"message": "Missing Access", "code": 50001}));
        }
        let limiter = if exempt {
            major.to_owned()
        } else {
            token.clone()
        };

        let mut delay = None;
        if let Some(index) = self
            .scripts
            .iter()
            .position(|s| s.method == method && path.starts_with(&s.path_prefix) && s.times > 0)
        {
            self.scripts[index].times -= 1;
            match self.scripts[index].reply.clone() {
                Reply::Status(status) => {
                    return Decision::json(
                        status,
                        json!({"message": format!("scripted {status}"), "code": 0}),
                    );
                }
                Reply::RateLimited {
                    retry_after,
                    global,
                    scope,
                } => {
                    if global {
                        self.paused
                            .insert(token, now + Duration::from_secs_f64(retry_after));
                    }
                    return Decision::too_many(retry_after, global, scope);
                }
                Reply::Cloudflare { retry_after_secs } => {
                    return Decision {
                        status: 429,
                        headers: vec![("retry-after", retry_after_secs.to_string())],
                        content_type: "text/plain",
                        body: Bytes::from_static(b"error code: 1015"),
                        delay: None,
                    };
                }
                Reply::Slow(duration) => delay = Some(duration),
            }
        }

        if !exempt {
            if let Some(until) = self.paused.get(&token).filter(|until| **until > now) {
                self.violations.pause += 1;
                return Decision::too_many((*until - now).as_secs_f64(), true, "global");
            }
            let global_limit = self.config.global_limit;
            let sent = self.global.entry(token.clone()).or_default();
            sent.retain(|t| now - *t < Duration::from_secs(1));
            if sent.len() >= global_limit {
                self.violations.global += 1;
                return Decision::too_many(1.0 - (now - sent[0]).as_secs_f64(), true, "global");
            }
            sent.push(now);
        }

        let (bucket, limit, window) = match self
            .config
            .routes
            .iter()
            .find(|r| r.method == method && r.template == template)
        {
            Some(route) => (route.bucket.to_owned(), route.limit, route.window),
            None => {
                let mut hasher = DefaultHasher::new();
                (method, template).hash(&mut hasher);
                let bucket = format!("{:016x}", hasher.finish());
                (
                    bucket,
                    self.config.default_limit,
                    self.config.default_window,
                )
            }
        };
        let entry = self
            .windows
            .entry((limiter, bucket.clone(), major.to_owned()))
            .or_insert(Window {
                start: now,
                count: 0,
            });
        if now >= entry.start + window {
            *entry = Window {
                start: now,
                count: 0,
            };
        }
        let reset_after = (entry.start + window - now).as_secs_f64();
        // Discord gives milliseconds; round up so the reset is never early.
        let reset_after = (reset_after * 1000.0).ceil() / 1000.0;
        if entry.count >= limit {
            self.violations.bucket += 1;
            let mut decision = Decision::too_many(reset_after, false, "user");
            decision
                .headers
                .extend(bucket_headers(&bucket, limit, 0, reset_after));
            return decision;
        }
        entry.count += 1;
        let remaining = limit - entry.count;

        self.next_id += 1;
        let id = self.next_id.to_string();
        let commands_scope = match template {
            "/applications/{id}/commands" => Some(None),
            "/applications/{id}/guilds/{id}/commands" => {
                Some(path.split('/').nth(4).map(str::to_owned))
            }
            _ => None,
        };
        let app_id = path.split('/').nth(2).unwrap_or_default().to_owned();
        let mut decision = match (method, commands_scope) {
            ("PUT", Some(guild)) => self.overwrite_commands(app_id, guild, body),
            ("GET", Some(guild)) => Decision::json(
                200,
                serde_json::Value::Array(
                    self.commands
                        .get(&(app_id, guild))
                        .cloned()
                        .unwrap_or_default(),
                ),
            ),
            _ => match (method, template) {
                ("POST", "/channels/{major}/messages") | ("POST", "/webhooks/{major}/{token}") => {
                    let content = serde_json::from_slice::<serde_json::Value>(body)
                        .ok()
                        .and_then(|v| v.get("content").cloned())
                        .unwrap_or(serde_json::Value::Null);
                    Decision::json(
                        200,
                        json!({"id": id, "channel_id": major, "content": content, "type": 0}),
                    )
                }
                ("DELETE" | "PUT", _) | ("POST", "/interactions/{major}/{token}/callback") => {
                    Decision {
                        status: 204,
                        headers: Vec::new(),
                        content_type: "application/json",
                        body: Bytes::new(),
                        delay: None,
                    }
                }
                ("GET", "/gateway/bot") => match &self.gateway_bot {
                    Some(gateway) => Decision::json(200, gateway.to_json()),
                    None => Decision::json(404, json!({"message": "404: Not Found", "code": 0})),
                },
                _ => Decision::json(200, json!({"id": id, "method": method, "path": path})),
            },
        };
        decision
            .headers
            .extend(bucket_headers(&bucket, limit, remaining, reset_after));
        decision.delay = delay;
        decision
    }
}

impl State {
    /// Discord's bulk overwrite: the list replaces the scope's commands; a
    /// command keeps its id when one of its type and name existed.
    fn overwrite_commands(
        &mut self,
        app_id: String,
        guild: Option<String>,
        body: &Bytes,
    ) -> Decision {
        if let Some(refusal) = self.refuse_commands.take() {
            return Decision::json(400, refusal);
        }
        let form_error = |index: usize, field: &str, message: &str| {
            Decision::json(
                400,
                json!({"code": 50035, "message": "Invalid Form Body", "errors": {
                    index.to_string(): {field: {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": message}]}}}}),
            )
        };
        let Ok(serde_json::Value::Array(list)) = serde_json::from_slice::<serde_json::Value>(body)
        else {
            return Decision::json(
                400,
                json!({"code": 50109, "message": "The request body contains invalid JSON."}),
            );
        };
        let old = self
            .commands
            .get(&(app_id.clone(), guild.clone()))
            .cloned()
            .unwrap_or_default();
        let mut stored = Vec::new();
        for (index, mut command) in list.into_iter().enumerate() {
            let Some(name) = command
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_owned)
            else {
                return form_error(index, "name", "This field is required");
            };
            let kind = command.get("type").and_then(|t| t.as_u64()).unwrap_or(1);
            let id = old
                .iter()
                .find(|c| c["name"] == name.as_str() && c["type"] == kind)
                .and_then(|c| c["id"].as_str().map(str::to_owned))
                .unwrap_or_else(|| {
                    self.next_id += 1;
                    self.next_id.to_string()
                });
            let fields = command.as_object_mut().unwrap();
            fields.insert("id".into(), json!(id));
            fields.insert("application_id".into(), json!(app_id));
            fields.insert("type".into(), json!(kind));
            fields.insert("version".into(), json!(id));
            fields.entry("description").or_insert(json!(""));
            fields
                .entry("default_member_permissions")
                .or_insert(serde_json::Value::Null);
            fields.entry("nsfw").or_insert(json!(false));
            match &guild {
                Some(guild) => {
                    fields.insert("guild_id".into(), json!(guild));
                }
                None => {
                    fields.entry("contexts").or_insert(serde_json::Value::Null);
                    fields.entry("integration_types").or_insert(json!([0]));
                    fields.entry("dm_permission").or_insert(json!(true));
                }
            }
            stored.push(command);
        }
        self.commands.insert((app_id, guild), stored.clone());
        Decision::json(200, serde_json::Value::Array(stored))
    }
}

fn bucket_headers(
    bucket: &str,
    limit: u32,
    remaining: u32,
    reset_after: f64,
) -> Vec<(&'static str, String)> {
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    vec![
        ("x-ratelimit-bucket", bucket.to_owned()),
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", format!("{:.3}", epoch + reset_after)),
        ("x-ratelimit-reset-after", format!("{reset_after:.3}")),
    ]
}
