//! The per-instance host state and the WIT imports the host provides: `kv`,
//! `log`, and captured stdout/stderr.
//!
//! Everything a guest can reach goes through here, scoped to its own bot:
//! the bot id is fixed when the instance is created and never comes from the guest.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::discord::{self as rest, Auth};
use crate::sandbox::bindings::appliance::bot::{discord, interaction, kv, log};
use crate::sandbox::{BotEnv, Responder, MAX_RESPONSE_BYTES};
use crate::store::{self, LogLine};

/// Log bytes one event may write (guest `log` calls and stdout/stderr together).
pub const LOG_BYTES_PER_EVENT: usize = 64 * 1024;
/// A longer log line is cut here.
pub const LOG_LINE_MAX: usize = 4 * 1024;

pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) env: Arc<BotEnv>,
    pub(crate) limiter: Limiter,
    pub(crate) event: EventState,
    pub(crate) stdout: Capture,
    pub(crate) stderr: Capture,
}

/// What one event accumulates; reset before each call.
pub(crate) struct EventState {
    pub interaction_id: Option<String>,
    pub deadline: Instant,
    pub logs: Vec<LogLine>,
    pub log_bytes: usize,
    pub dropped_log_bytes: usize,
    /// Where `interaction.respond` sends an early initial response; `None`
    /// once used (an interaction has one initial response).
    pub responder: Option<Responder>,
}

impl EventState {
    pub fn new(interaction_id: Option<String>, deadline: Instant) -> Self {
        EventState {
            interaction_id,
            deadline,
            logs: Vec::new(),
            log_bytes: 0,
            dropped_log_bytes: 0,
            responder: None,
        }
    }

    /// Records a line unless the event's log budget is spent.
    pub fn push(&mut self, level: &str, message: &str) {
        let message = crate::text::clip(message.trim_end(), LOG_LINE_MAX);
        if self.log_bytes + message.len() > LOG_BYTES_PER_EVENT {
            self.dropped_log_bytes += message.len();
            return;
        }
        self.log_bytes += message.len();
        self.logs.push(LogLine::new(
            level,
            self.interaction_id.clone(),
            message.to_owned(),
        ));
    }
}

impl HostState {
    pub(crate) fn new(env: Arc<BotEnv>) -> Self {
        let stdout = Capture::default();
        let stderr = Capture::default();
        // No args, no env, no preopened directories, no sockets: the guest
        // gets clocks, randomness and the two captured output streams.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let memory_bytes = env.limits.memory_mib as usize * 1024 * 1024;
        let mut table = ResourceTable::new();
        table.set_max_capacity(crate::sandbox::MAX_RESOURCES_PER_INSTANCE);
        HostState {
            wasi,
            table,
            env,
            limiter: Limiter {
                memory_bytes,
                exceeded: None,
            },
            event: EventState::new(None, Instant::now()),
            stdout,
            stderr,
        }
    }

    /// Moves captured stdout/stderr into the event's log, one line per line.
    pub(crate) fn drain_output(&mut self) {
        for (capture, level) in [(&self.stdout, "info"), (&self.stderr, "warn")] {
            let (bytes, dropped) = capture.take();
            self.event.dropped_log_bytes += dropped;
            let text = String::from_utf8_lossy(&bytes);
            for line in text.lines().filter(|line| !line.trim().is_empty()) {
                self.event.push(level, line);
            }
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Enforces the memory limit and remembers that it did, so the crash record
/// says "memory" rather than a generic trap.
pub(crate) struct Limiter {
    memory_bytes: usize,
    pub exceeded: Option<String>,
}

/// Table elements an instance may have; generous for Rust guests, small
/// enough that a table bomb is refused.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            let message = format!(
                "memory limit exceeded: tried to grow linear memory to {desired} bytes, the limit is {} bytes",
                self.memory_bytes
            );
            self.exceeded = Some(message.clone());
            // An error (not `Ok(false)`) traps at the `memory.grow`, which
            // gives a backtrace pointing at the allocation.
            return Err(wasmtime::Error::msg(message));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            let message = format!(
                "table limit exceeded: tried to grow a table to {desired} elements, the limit is {MAX_TABLE_ELEMENTS}"
            );
            self.exceeded = Some(message.clone());
            return Err(wasmtime::Error::msg(message));
        }
        Ok(true)
    }
}

/// What a host call of a removed bot's event gets. The event is being
/// stopped; until it is, nothing it asks for is done.
const REMOVED: &str = "this bot was removed";

impl HostState {
    /// The bot's environment, unless the bot was removed.
    fn live_env(&self) -> Option<Arc<BotEnv>> {
        (!self.env.retired.is_cancelled()).then(|| self.env.clone())
    }

    fn kv_env(&self) -> Result<Arc<BotEnv>, kv::KvError> {
        self.live_env()
            .ok_or_else(|| kv::KvError::Unavailable(REMOVED.into()))
    }
}

impl kv::Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, kv::KvError> {
        let env = self.kv_env()?;
        env.db.kv_get(env.bot_id, key).await.map_err(to_wit)
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), kv::KvError> {
        let env = self.kv_env()?;
        env.db
            .kv_set(env.bot_id, key, value, env.kv_quota)
            .await
            .map_err(to_wit)
    }

    async fn delete(&mut self, key: String) -> Result<(), kv::KvError> {
        let env = self.kv_env()?;
        env.db.kv_delete(env.bot_id, key).await.map_err(to_wit)
    }

    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, kv::KvError> {
        let env = self.kv_env()?;
        env.db
            .kv_list_keys(env.bot_id, prefix)
            .await
            .map_err(to_wit)
    }
}

fn to_wit(err: store::KvError) -> kv::KvError {
    match err {
        store::KvError::InvalidKey(m) => kv::KvError::InvalidKey(m),
        store::KvError::QuotaExceeded(m) => kv::KvError::QuotaExceeded(m),
        store::KvError::Unavailable(m) => kv::KvError::Unavailable(m),
    }
}

impl discord::Host for HostState {
    async fn request(
        &mut self,
        method: String,
        path: String,
        body: Option<Vec<u8>>,
    ) -> Result<discord::Response, discord::DiscordError> {
        let env = self
            .live_env()
            .ok_or_else(|| discord::DiscordError::Unauthorized(REMOVED.into()))?;
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => hyper::Method::GET,
            "POST" => hyper::Method::POST,
            "PATCH" => hyper::Method::PATCH,
            "PUT" => hyper::Method::PUT,
            "DELETE" => hyper::Method::DELETE,
            other => {
                return Err(discord::DiscordError::InvalidRequest(format!(
                    "method {other:?} is not one of GET, POST, PATCH, PUT, DELETE"
                )))
            }
        };
        let webhook = is_interaction_webhook(&path);
        let auth = match (&env.token, webhook) {
            (Some(token), _) => Auth::Bot(token.expose()),
            // Interaction webhooks need no bot token; they are still
            // counted and guarded, under this bot's application.
            (None, true) => Auth::Webhook(&env.app_id),
            // Sending without a token would only earn a 401 that counts
            // toward Discord's invalid-request ban for the whole node.
            (None, false) => {
                return Err(discord::DiscordError::Unauthorized(
                    "the bot was deployed without a token (appliance deploy --token-env or --token-file); \
                     only interaction webhooks work without one"
                        .into(),
                ))
            }
        };
        let deadline = tokio::time::Instant::from_std(self.event.deadline);
        let route = redact_path(&path);
        match env
            .discord
            .request(
                auth,
                method.clone(),
                &path,
                body.map(bytes::Bytes::from),
                deadline,
            )
            .await
        {
            Ok(response) => {
                if response.status == 403 {
                    if let Auth::Bot(token) = auth {
                        let status = env.discord.token_status(token);
                        if let Some(paused) = status.paused_for {
                            // The 403 that tripped the breaker: say so once,
                            // in the owner's logs; refused calls say it again.
                            self.event.push(
                                "error",
                                &format!(
                                    "Discord answered 403 Forbidden {} times within a minute: this bot's REST \
                                     calls are paused for {} s so the node's address stays clear of Discord's \
                                     invalid-request ban; check its permissions",
                                    status.forbidden_60s,
                                    paused.as_secs().max(1)
                                ),
                            );
                        }
                    }
                }
                Ok(discord::Response {
                    status: response.status,
                    body: response.body.to_vec(),
                })
            }
            Err(err) => {
                self.event
                    .push("warn", &format!("discord {method} {route}: {err}"));
                Err(to_wit_discord(err))
            }
        }
    }
}

/// Interaction callbacks and webhooks, which take the interaction token in
/// the path instead of the bot token.
fn is_interaction_webhook(path: &str) -> bool {
    path.starts_with("/webhooks/") || path.starts_with("/interactions/")
}

/// The path with webhook/interaction tokens replaced, fit for logs.
pub(crate) fn redact_path(path: &str) -> String {
    let mut segments: Vec<&str> = path.split('/').collect();
    // ["", "webhooks", id, token, ...] and ["", "interactions", id, token, "callback"]
    if is_interaction_webhook(path) && segments.len() > 3 {
        segments[3] = ":token";
    }
    segments.join("/")
}

fn to_wit_discord(err: rest::Error) -> discord::DiscordError {
    use discord::DiscordError as W;
    let message = err.to_string();
    match err {
        rest::Error::InvalidRequest(_) => W::InvalidRequest(message),
        rest::Error::RateLimited { retry_after, .. } => {
            W::RateLimited(retry_after.as_millis().min(u32::MAX as u128) as u32)
        }
        rest::Error::DeadlineExceeded { sent: false } => W::RateLimited(0),
        rest::Error::TokenRevoked
        | rest::Error::TooManyForbidden { .. }
        | rest::Error::NodePaused { .. } => W::Unauthorized(message),
        _ => W::Unavailable(message),
    }
}

impl interaction::Host for HostState {
    async fn respond(&mut self, response: Vec<u8>) -> Result<(), String> {
        if self.live_env().is_none() {
            return Err(REMOVED.into());
        }
        if response.len() > MAX_RESPONSE_BYTES {
            return Err(format!(
                "the response is {} bytes; the limit is {MAX_RESPONSE_BYTES}",
                response.len()
            ));
        }
        let response = crate::protocol::interaction::check_response(response)?;
        let Some(responder) = self.event.responder.take() else {
            return Err("this interaction already has its initial response".into());
        };
        responder.send(response).map_err(|_| {
            "the host already answered this interaction with a deferral at its deadline; \
             the value the bot returns will edit that answer"
                .to_owned()
        })
    }
}

impl log::Host for HostState {
    async fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => "trace",
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        // Inside the interaction span, so the line carries bot and interaction ids.
        tracing::debug!(target: "bot", level, "{message}");
        self.event.push(level, &message);
    }
}

/// A bounded in-memory sink for a guest's stdout or stderr. Writes past the
/// bound are counted and dropped but reported as written, so a chatty guest
/// never sees an I/O error (Rust's `println!` would panic on one).
#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<CaptureBuf>>);

#[derive(Default)]
struct CaptureBuf {
    bytes: Vec<u8>,
    dropped: usize,
}

impl Capture {
    fn take(&self) -> (Vec<u8>, usize) {
        let mut buf = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let dropped = std::mem::take(&mut buf.dropped);
        (std::mem::take(&mut buf.bytes), dropped)
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut buf = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let room = LOG_BYTES_PER_EVENT.saturating_sub(buf.bytes.len());
        let kept = data.len().min(room);
        buf.bytes.extend_from_slice(&data[..kept]);
        buf.dropped += data.len() - kept;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
