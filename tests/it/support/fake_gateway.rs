//! A fake Discord gateway on loopback: a real WebSocket server
//! (tokio-websockets) that speaks gateway v10 JSON as Discord does, keeps
//! sessions that outlive their connections, enforces Discord's rules
//! (implemented from Discord's documentation, independently of any client),
//! and records everything the client did.
//!
//! What it models (facts P1–P16 of the gateway research):
//! - HELLO with a configurable `heartbeat_interval`; op 1 answered with
//!   op 11 unless the test withholds ACKs; op 1 sent on cue.
//! - IDENTIFY: the token (with or without `Bot `) must be a configured bot's
//!   (else close 4004); `shard: [id, num]` needs `id < num` (4010) and at least
//!   the bot's `min_shards` (4011); unknown intent bits close 4013, a
//!   privileged intent the bot may not use closes 4014. `max_concurrency`: a
//!   second identify in the same bucket (`shard_id % max_concurrency`, per
//!   token) within `identify_interval` (Discord: 5 s) gets INVALID_SESSION
//!   `false`. Otherwise a new session and READY (seq 1) with the session id,
//!   `resume_gateway_url` (this server), and the bot's guilds that route to
//!   the shard (`(guild_id >> 22) % num`) as unavailable guilds.
//! - Sessions outlive connections. RESUME of a live session replays every
//!   dispatch after the given seq, in order, then RESUMED; an unknown,
//!   invalidated, timed-out or foreign session gets INVALID_SESSION `false`,
//!   a seq the session never reached closes 4007. A client close 1000/1001
//!   invalidates the session; any other close, or a dropped TCP connection,
//!   leaves it resumable (for `session_timeout`, if set). One live connection
//!   per session: a resume closes (4000) the connection that held it.
//! - What a client gets wrong closes the connection as Discord does: 4001
//!   unknown opcode, 4002 decode error (not JSON, no `op`, a binary frame, a
//!   payload over 4096 bytes), 4003 a command before IDENTIFY/RESUME, 4005 a
//!   second IDENTIFY/RESUME, 4008 over 120 messages per 60 s (heartbeats
//!   count), 4012 an API version other than 9 or 10.
//! - Op 8 asking for all members (`query: ""`, `limit: 0`) more than once
//!   per guild per 30 s gets a `RATE_LIMITED` dispatch (P14).
//! - Test controls for dispatches (one, or a bulk flood), op 7, op 9, server
//!   close codes, dropped connections, malformed frames.
//! - With `GatewayConfig::zstd` and a connection that asked for
//!   `compress=zstd-stream`, every frame is binary: one zstd stream per
//!   connection, flushed after each message (P17). Otherwise frames are text,
//!   which clients accept whatever `compress` they asked for.
//!
//! What it does not model: ETF (JSON only; `encoding=etf` closes 4002),
//! zlib-stream and payload `compress: true` (frames stay uncompressed text),
//! the daily identify budget (identifies are recorded, so count them), a
//! server-side heartbeat timeout, guild state (nothing follows READY unless
//! the test dispatches it; dispatches go to one session, not to every
//! session of the shard), presence and voice semantics (commands are only
//! recorded), TLS.
//!
//! A server-initiated disconnect (op 7, op 9, a close, a dropped connection)
//! detaches the session from the connection at once: later dispatches are
//! kept for the resume and never reach the old connection, as with Discord,
//! which sends nothing after op 7.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_websockets::{CloseCode, Message, ServerBuilder, WebSocketStream};

use super::fake_discord::GatewayBot;

/// Privileged intents (P15): allowed per bot in [`BotAccount::privileged_intents`].
pub const GUILD_MEMBERS: u64 = 1 << 1;
pub const GUILD_PRESENCES: u64 = 1 << 8;
pub const MESSAGE_CONTENT: u64 = 1 << 15;
pub const PRIVILEGED_INTENTS: u64 = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT;
/// Every intent Discord defines (P15); any other bit closes 4013.
pub const KNOWN_INTENTS: u64 = ((1 << 17) - 1) | (1 << 20) | (1 << 21) | (1 << 24) | (1 << 25);

/// Close codes after which Discord wants a new session: the fatal ones
/// (4004, 4010–4014) and 4007/4009. A server close with one of these
/// invalidates the session.
pub fn ends_session(code: u16) -> bool {
    matches!(code, 4004 | 4007 | 4009 | 4010..=4014)
}

/// One bot the gateway knows.
#[derive(Debug, Clone)]
pub struct BotAccount {
    /// The token, without `Bot `.
    pub token: String,
    pub user_id: u64,
    pub application_id: u64,
    pub username: String,
    /// Privileged intents enabled for the bot in the developer portal.
    pub privileged_intents: u64,
    /// Guild ids; READY lists those of the identifying shard as unavailable.
    pub guilds: Vec<u64>,
    /// An identify with fewer shards closes 4011 (sharding required).
    pub min_shards: u32,
}

impl BotAccount {
    /// A bot whose application id is its user id, no privileged intents, no guilds.
    pub fn new(token: &str, user_id: u64) -> BotAccount {
        BotAccount {
            token: token.to_owned(),
            user_id,
            application_id: user_id,
            username: format!("fake-bot-{token}"),
            privileged_intents: 0,
            guilds: Vec::new(),
            min_shards: 1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub bots: Vec<BotAccount>,
    /// HELLO's `heartbeat_interval` (Discord: 41.25 s; tests use a few hundred ms).
    pub heartbeat_interval: Duration,
    /// Identify buckets per token (Discord: 1 for most bots).
    pub max_concurrency: u32,
    /// The time one bucket needs between two identifies (Discord: 5 s).
    pub identify_interval: Duration,
    /// Larger client payloads close 4002 (Discord: 4096 bytes).
    pub max_payload: usize,
    /// Client messages allowed per connection per `client_window` (Discord: 120)...
    pub client_limit: usize,
    /// ...per this window (Discord: 60 s).
    pub client_window: Duration,
    /// Heartbeats count towards `client_limit`, as with Discord. With a
    /// heartbeat interval under 0.5 s heartbeats alone pass 120 per 60 s
    /// after a while: long tests with a short interval turn this off.
    pub rate_limit_heartbeats: bool,
    /// One all-members op 8 per guild per this (Discord: 30 s).
    pub member_request_interval: Duration,
    /// Dispatches kept per session for replay; a resume from before the
    /// oldest kept one gets INVALID_SESSION `false`.
    pub replay_buffer: usize,
    /// A session nobody holds this long can no longer be resumed (Discord:
    /// "a few minutes", undocumented). `None`: never times out.
    pub session_timeout: Option<Duration>,
    /// zstd-stream frames for connections that ask for `compress=zstd-stream`.
    pub zstd: bool,
}

impl Default for GatewayConfig {
    fn default() -> GatewayConfig {
        GatewayConfig {
            bots: vec![
                BotAccount::new("token-a", 1_100_000_000_000_000_001),
                BotAccount::new("token-b", 1_100_000_000_000_000_002),
            ],
            heartbeat_interval: Duration::from_millis(41_250),
            max_concurrency: 1,
            identify_interval: Duration::from_secs(5),
            max_payload: 4096,
            client_limit: 120,
            client_window: Duration::from_secs(60),
            rate_limit_heartbeats: true,
            member_request_interval: Duration::from_secs(30),
            replay_buffer: 100_000,
            session_timeout: None,
            zstd: false,
        }
    }
}

/// Which live connections a control acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every connection identified or resumed as this token's shard `shard`.
    Shard { token: String, shard: u32 },
    /// Every open connection, identified or not.
    All,
}

impl From<(&str, u32)> for Target {
    fn from((token, shard): (&str, u32)) -> Target {
        Target::Shard {
            token: token.to_owned(),
            shard,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentifyOutcome {
    /// READY was sent for this new session.
    Ready { session_id: String },
    /// INVALID_SESSION `false`: the bucket identified less than `identify_interval` ago.
    InvalidSession,
    /// The connection was closed with this code.
    Closed(u16),
}

/// One IDENTIFY as the fake received it.
#[derive(Debug, Clone)]
pub struct Identify {
    pub conn: u64,
    pub at: Instant,
    /// Without `Bot `; empty if missing.
    pub token: String,
    pub intents: u64,
    /// `[id, num]`; `[0, 1]` when the client sent none.
    pub shard: [u32; 2],
    pub properties: Value,
    /// The whole `d`.
    pub payload: Value,
    pub outcome: IdentifyOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeOutcome {
    /// This many dispatches were replayed, then RESUMED.
    Resumed {
        replayed: usize,
    },
    /// INVALID_SESSION `false`.
    InvalidSession,
    Closed(u16),
}

/// One RESUME as the fake received it.
#[derive(Debug, Clone)]
pub struct Resume {
    pub conn: u64,
    pub at: Instant,
    /// Without `Bot `.
    pub token: String,
    pub session_id: String,
    /// `None` if the client sent `null`.
    pub seq: Option<u64>,
    pub outcome: ResumeOutcome,
}

/// One WebSocket handshake.
#[derive(Debug, Clone)]
pub struct Connect {
    pub conn: u64,
    pub at: Instant,
    /// The URL's query, e.g. `v=10&encoding=json&compress=zstd-stream`.
    pub query: String,
    /// Frames on this connection are zstd-stream compressed.
    pub zstd: bool,
}

/// One heartbeat (op 1) from a client.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    pub conn: u64,
    pub at: Instant,
    /// The connection's token and shard once it identified or resumed.
    pub token: Option<String>,
    pub shard: Option<u32>,
    /// The heartbeat's `d`: the client's last seq, or null.
    pub d: Value,
}

/// A close frame, from the client or from the fake.
#[derive(Debug, Clone)]
pub struct Close {
    pub conn: u64,
    pub at: Instant,
    pub token: Option<String>,
    pub shard: Option<u32>,
    /// 1005 when the frame carried no code.
    pub code: u16,
    pub reason: String,
}

/// A client message other than heartbeat, identify and resume (ops 3, 4, 8,
/// 31, 43, and unknown ones, which then close 4001).
#[derive(Debug, Clone)]
pub struct Command {
    pub conn: u64,
    pub at: Instant,
    pub token: Option<String>,
    pub shard: Option<u32>,
    pub op: u64,
    /// The whole message.
    pub payload: Value,
}

pub struct FakeGateway {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    accept: JoinHandle<()>,
}

struct State {
    config: GatewayConfig,
    /// `ws://127.0.0.1:PORT`
    url: String,
    conns: HashMap<u64, Conn>,
    sessions: HashMap<String, Session>,
    next_conn: u64,
    next_ordinal: u64,
    /// Last admitted identify per (token, bucket).
    last_identify: HashMap<(String, u32), Instant>,
    /// Last all-members op 8 per (token, guild id).
    member_requests: HashMap<(String, String), Instant>,
    withhold_acks: bool,
    /// While true, new connections wait for HELLO.
    hold_hello: watch::Sender<bool>,
    connects: Vec<Connect>,
    identifies: Vec<Identify>,
    resumes: Vec<Resume>,
    heartbeats: Vec<Heartbeat>,
    client_closes: Vec<Close>,
    server_closes: Vec<Close>,
    commands: Vec<Command>,
}

/// A live connection, as the state knows it.
struct Conn {
    tx: mpsc::UnboundedSender<Control>,
    token: Option<String>,
    shard: Option<u32>,
    /// The session this connection identified or resumed, even once detached.
    session: Option<String>,
}

struct Session {
    token: String,
    shard: [u32; 2],
    /// Creation order: the newest session of a shard gets the test's dispatches.
    ordinal: u64,
    /// The last seq given out.
    seq: u64,
    /// Dispatches kept for replay (not READY and RESUMED).
    history: VecDeque<(u64, Bytes)>,
    /// The highest seq dropped from `history`.
    dropped_through: u64,
    /// The connection the session's dispatches go to.
    conn: Option<u64>,
    invalidated: bool,
    /// Since when nobody holds it.
    detached_at: Option<Instant>,
}

impl Session {
    /// Gives out the next seq for a dispatch frame, kept for replay if `keep`.
    fn dispatch(&mut self, name: &str, d: &str, keep: bool, replay_buffer: usize) -> (u64, Bytes) {
        self.seq += 1;
        let frame = dispatch_frame(name, d, self.seq);
        if keep {
            self.history.push_back((self.seq, frame.clone()));
            while self.history.len() > replay_buffer {
                let (seq, _) = self.history.pop_front().unwrap();
                self.dropped_through = seq;
            }
        }
        (self.seq, frame)
    }

    fn detach(&mut self, now: Instant) {
        if self.conn.take().is_some() {
            self.detached_at = Some(now);
        }
    }
}

/// What a connection's task is told to do.
enum Control {
    /// Send these text payloads, in order.
    Send(Vec<Bytes>),
    /// Send a close frame with this code and reason, then end.
    Close(u16, String),
    /// End without a close frame.
    Drop,
}

/// What the protocol answers one client message with.
enum Out {
    Frame(Bytes),
    Close(u16, &'static str),
}

/// How a connection ended.
enum End {
    /// The client sent a close frame with this code.
    Client(u16),
    /// The fake sent a close frame with this code.
    Server(u16),
    /// No close frame: a dropped TCP connection, either side.
    Dropped,
}

fn dispatch_frame(name: &str, d: &str, seq: u64) -> Bytes {
    let name = Value::from(name);
    Bytes::from(format!(r#"{{"op":0,"d":{d},"s":{seq},"t":{name}}}"#))
}

fn op_frame(op: u8, d: Value) -> Bytes {
    Bytes::from(json!({"op": op, "d": d, "s": null, "t": null}).to_string())
}

/// Discord's reason for a close code it sends.
fn reason(code: u16) -> &'static str {
    match code {
        4000 => "Unknown error.",
        4001 => "Unknown opcode.",
        4002 => "Error while decoding payload.",
        4003 => "Not authenticated.",
        4004 => "Authentication failed.",
        4005 => "Already authenticated.",
        4007 => "Invalid seq.",
        4008 => "Rate limited.",
        4009 => "Session timed out.",
        4010 => "Invalid shard.",
        4011 => "Sharding required.",
        4012 => "Invalid API version.",
        4013 => "Invalid intent(s).",
        4014 => "Disallowed intent(s).",
        _ => "",
    }
}

fn strip_bot(token: &str) -> &str {
    token.strip_prefix("Bot ").unwrap_or(token)
}

impl FakeGateway {
    pub async fn start(config: GatewayConfig) -> FakeGateway {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            config,
            url: format!("ws://{addr}"),
            conns: HashMap::new(),
            sessions: HashMap::new(),
            next_conn: 0,
            next_ordinal: 0,
            last_identify: HashMap::new(),
            member_requests: HashMap::new(),
            withhold_acks: false,
            hold_hello: watch::Sender::new(false),
            connects: Vec::new(),
            identifies: Vec::new(),
            resumes: Vec::new(),
            heartbeats: Vec::new(),
            client_closes: Vec::new(),
            server_closes: Vec::new(),
            commands: Vec::new(),
        }));
        let accept = tokio::spawn({
            let state = state.clone();
            async move {
                // Connections live in this set, so aborting the accept task closes them.
                let mut tasks = tokio::task::JoinSet::new();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    tasks.spawn(serve(state.clone(), stream));
                    while tasks.try_join_next().is_some() {}
                }
            }
        });
        FakeGateway {
            addr,
            state,
            accept,
        }
    }

    /// `ws://127.0.0.1:PORT`: for `/gateway/bot`, a proxy URL, or READY's
    /// `resume_gateway_url` (which it is).
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What `/gateway/bot` would answer for this gateway: its URL, `shards`,
    /// its `max_concurrency`, and a full budget of 1000 identifies resetting
    /// in 24 h. Change fields with struct update syntax.
    pub fn gateway_bot(&self, shards: u32) -> GatewayBot {
        GatewayBot {
            url: self.url(),
            shards,
            total: 1000,
            remaining: 1000,
            reset_after_ms: 86_400_000,
            max_concurrency: self.lock().config.max_concurrency,
        }
    }

    // ---- Controls ----

    /// Dispatches event `name` with data `d` in the newest valid session of
    /// `token`'s shard `shard`: gives it the session's next seq (returned),
    /// keeps it for replay, and sends it if a connection holds the session.
    /// Panics if the shard has no valid session.
    pub fn dispatch(&self, token: &str, shard: u32, name: &str, d: Value) -> u64 {
        self.dispatch_many(token, shard, name, d, 1).start
    }

    /// Dispatches `n` copies of one event (`d` is serialized once) as one
    /// batch: for floods and benchmarks. Returns their seqs.
    pub fn dispatch_many(
        &self,
        token: &str,
        shard: u32,
        name: &str,
        d: Value,
        n: usize,
    ) -> Range<u64> {
        let d = d.to_string();
        let mut state = self.lock();
        let replay_buffer = state.config.replay_buffer;
        let id = state
            .newest_session(token, shard)
            .unwrap_or_else(|| panic!("no valid session for {token} shard {shard}"));
        let session = state.sessions.get_mut(&id).unwrap();
        let first = session.seq + 1;
        let frames: Vec<Bytes> = (0..n)
            .map(|_| session.dispatch(name, &d, true, replay_buffer).1)
            .collect();
        let last = session.seq;
        let conn = session.conn;
        if let Some(conn) = conn.and_then(|conn| state.conns.get(&conn)) {
            let _ = conn.tx.send(Control::Send(frames));
        }
        first..last + 1
    }

    /// Sends op 7 RECONNECT. Returns the connections reached.
    pub fn reconnect(&self, target: impl Into<Target>) -> usize {
        self.disconnect(target.into(), false, || {
            Control::Send(vec![op_frame(7, Value::Null)])
        })
    }

    /// Sends op 9 INVALID_SESSION with `d: resumable`; if not resumable, the
    /// session is invalidated.
    pub fn invalid_session(&self, target: impl Into<Target>, resumable: bool) -> usize {
        self.disconnect(target.into(), !resumable, || {
            Control::Send(vec![op_frame(9, Value::Bool(resumable))])
        })
    }

    /// Closes with `code` (Discord's reason for its own codes). Codes that
    /// end a session ([`ends_session`]) invalidate it. A code that cannot
    /// be sent (1005, 1006, 1015, or outside 1000..=4999) drops the connection.
    pub fn close(&self, target: impl Into<Target>, code: u16) -> usize {
        self.disconnect(target.into(), ends_session(code), || {
            Control::Close(code, reason(code).to_owned())
        })
    }

    /// Ends the TCP connection without a close frame; the session stays resumable.
    pub fn drop_connection(&self, target: impl Into<Target>) -> usize {
        self.disconnect(target.into(), false, || Control::Drop)
    }

    /// While `true`, heartbeats get no ACK (zombie connections).
    pub fn withhold_acks(&self, withhold: bool) {
        self.lock().withhold_acks = withhold;
    }

    /// While `true`, new connections get no HELLO: they wait, so a client
    /// cannot identify or resume yet (dispatches meanwhile are kept for the
    /// resume). `false` sends HELLO to every waiting connection.
    pub fn hold_hello(&self, hold: bool) {
        self.lock().hold_hello.send_replace(hold);
    }

    /// Sends `text` as one frame as it is (malformed payloads, unknown opcodes).
    pub fn send_raw(&self, target: impl Into<Target>, text: &str) -> usize {
        let state = self.lock();
        let conns = state.targets(&target.into());
        for conn in &conns {
            let frame = Bytes::from(text.to_owned());
            let _ = state.conns[conn].tx.send(Control::Send(vec![frame]));
        }
        conns.len()
    }

    /// Sends op 1: the client must heartbeat at once (P3).
    pub fn send_heartbeat_request(&self, target: impl Into<Target>) -> usize {
        let state = self.lock();
        let conns = state.targets(&target.into());
        for conn in &conns {
            let frame = op_frame(1, Value::Null);
            let _ = state.conns[conn].tx.send(Control::Send(vec![frame]));
        }
        conns.len()
    }

    /// Forgets every session of `token`'s shard `shard` without telling its
    /// connection, as Discord does when a session times out: the next RESUME
    /// gets INVALID_SESSION `false`. Returns the sessions invalidated.
    pub fn expire_sessions(&self, token: &str, shard: u32) -> usize {
        let mut state = self.lock();
        let mut expired = 0;
        for session in state.sessions.values_mut() {
            if session.token == token && session.shard[0] == shard && !session.invalidated {
                session.invalidated = true;
                expired += 1;
            }
        }
        expired
    }

    /// Detaches the targets' sessions (so later dispatches wait for the
    /// resume), invalidates them if `invalidate`, and sends each `control()`.
    fn disconnect(&self, target: Target, invalidate: bool, control: impl Fn() -> Control) -> usize {
        let now = Instant::now();
        let mut state = self.lock();
        let conns = state.targets(&target);
        for conn in &conns {
            let session = state.conns[conn].session.clone();
            if let Some(session) = session.and_then(|id| state.sessions.get_mut(&id)) {
                if session.conn == Some(*conn) {
                    session.detach(now);
                    session.invalidated |= invalidate;
                }
            }
            let _ = state.conns[conn].tx.send(control());
        }
        conns.len()
    }

    // ---- Observations ----

    pub fn identifies(&self) -> Vec<Identify> {
        self.lock().identifies.clone()
    }

    pub fn resumes(&self) -> Vec<Resume> {
        self.lock().resumes.clone()
    }

    pub fn heartbeats(&self) -> Vec<Heartbeat> {
        self.lock().heartbeats.clone()
    }

    /// Close frames clients sent (not their echo of the fake's own).
    pub fn client_closes(&self) -> Vec<Close> {
        self.lock().client_closes.clone()
    }

    /// Close frames the fake sent, on cue or for a protocol error.
    pub fn server_closes(&self) -> Vec<Close> {
        self.lock().server_closes.clone()
    }

    pub fn commands(&self) -> Vec<Command> {
        self.lock().commands.clone()
    }

    /// Every WebSocket handshake completed so far, with the URL's query.
    pub fn connects(&self) -> Vec<Connect> {
        self.lock().connects.clone()
    }

    /// WebSocket handshakes completed so far.
    pub fn connections_total(&self) -> u64 {
        self.lock().connects.len() as u64
    }

    /// Open WebSocket connections.
    pub fn live_connections(&self) -> usize {
        self.lock().conns.len()
    }

    /// The last seq of the newest valid session of `token`'s shard `shard`.
    pub fn last_seq(&self, token: &str, shard: u32) -> Option<u64> {
        let state = self.lock();
        let id = state.newest_session(token, shard)?;
        Some(state.sessions[&id].seq)
    }

    /// The id of the newest valid session of `token`'s shard `shard`.
    pub fn session_id(&self, token: &str, shard: u32) -> Option<String> {
        self.lock().newest_session(token, shard)
    }

    /// Whether a connection holds the newest valid session of `token`'s shard `shard`.
    pub fn is_held(&self, token: &str, shard: u32) -> bool {
        let state = self.lock();
        state
            .newest_session(token, shard)
            .is_some_and(|id| state.sessions[&id].conn.is_some())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

impl Drop for FakeGateway {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl State {
    fn newest_session(&self, token: &str, shard: u32) -> Option<String> {
        self.sessions
            .iter()
            .filter(|(_, s)| s.token == token && s.shard[0] == shard && !s.invalidated)
            .max_by_key(|(_, s)| s.ordinal)
            .map(|(id, _)| id.clone())
    }

    fn targets(&self, target: &Target) -> Vec<u64> {
        let mut conns: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, conn)| match target {
                Target::All => true,
                Target::Shard { token, shard } => {
                    conn.token.as_deref() == Some(token) && conn.shard == Some(*shard)
                }
            })
            .map(|(id, _)| *id)
            .collect();
        conns.sort_unstable();
        conns
    }

    fn close_record(&self, conn: u64, code: u16, reason: &str) -> Close {
        let known = self.conns.get(&conn);
        Close {
            conn,
            at: Instant::now(),
            token: known.and_then(|c| c.token.clone()),
            shard: known.and_then(|c| c.shard),
            code,
            reason: reason.to_owned(),
        }
    }

    /// Op 1: recorded, and ACKed unless ACKs are withheld.
    fn heartbeat(&mut self, conn: u64, d: Value, now: Instant) -> Vec<Out> {
        let known = &self.conns[&conn];
        self.heartbeats.push(Heartbeat {
            conn,
            at: now,
            token: known.token.clone(),
            shard: known.shard,
            d,
        });
        if self.withhold_acks {
            Vec::new()
        } else {
            vec![Out::Frame(op_frame(11, Value::Null))]
        }
    }

    /// Op 2.
    fn identify(&mut self, conn: u64, d: Value, now: Instant) -> Vec<Out> {
        let token = d["token"].as_str().map(|t| strip_bot(t).to_owned());
        let intents = d["intents"].as_u64();
        let shard = match &d["shard"] {
            Value::Null => Some([0, 1]),
            Value::Array(pair) if pair.len() == 2 => match (pair[0].as_u64(), pair[1].as_u64()) {
                (Some(id), Some(num)) => u32::try_from(id).ok().zip(u32::try_from(num).ok()),
                _ => None,
            }
            .map(|(id, num)| [id, num]),
            _ => None,
        };
        let outcome = match (&token, intents, shard) {
            _ if self.conns[&conn].session.is_some() => IdentifyOutcome::Closed(4005),
            (Some(token), Some(intents), Some(shard)) => {
                self.admit(conn, token, intents, shard, now)
            }
            _ => IdentifyOutcome::Closed(4002),
        };
        let mut out = Vec::new();
        match &outcome {
            IdentifyOutcome::Ready { session_id } => {
                out.push(Out::Frame(self.ready(session_id)));
            }
            IdentifyOutcome::InvalidSession => out.push(Out::Frame(op_frame(9, false.into()))),
            IdentifyOutcome::Closed(code) => out.push(Out::Close(*code, reason(*code))),
        }
        self.identifies.push(Identify {
            conn,
            at: now,
            token: token.unwrap_or_default(),
            intents: intents.unwrap_or_default(),
            shard: shard.unwrap_or([0, 1]),
            properties: d["properties"].clone(),
            payload: d,
            outcome,
        });
        out
    }

    /// Checks an identify as Discord does; creates the session if it passes.
    fn admit(
        &mut self,
        conn: u64,
        token: &str,
        intents: u64,
        shard: [u32; 2],
        now: Instant,
    ) -> IdentifyOutcome {
        let Some(bot) = self.config.bots.iter().find(|bot| bot.token == token) else {
            return IdentifyOutcome::Closed(4004);
        };
        let [id, num] = shard;
        if num == 0 || id >= num {
            return IdentifyOutcome::Closed(4010);
        }
        if num < bot.min_shards {
            return IdentifyOutcome::Closed(4011);
        }
        if intents & !KNOWN_INTENTS != 0 {
            return IdentifyOutcome::Closed(4013);
        }
        if intents & PRIVILEGED_INTENTS & !bot.privileged_intents != 0 {
            return IdentifyOutcome::Closed(4014);
        }
        let bucket = (token.to_owned(), id % self.config.max_concurrency.max(1));
        if self
            .last_identify
            .get(&bucket)
            .is_some_and(|last| now.duration_since(*last) < self.config.identify_interval)
        {
            return IdentifyOutcome::InvalidSession;
        }
        self.last_identify.insert(bucket, now);

        let session_id = format!("{:032x}", rand::random::<u128>());
        self.next_ordinal += 1;
        self.sessions.insert(
            session_id.clone(),
            Session {
                token: token.to_owned(),
                shard,
                ordinal: self.next_ordinal,
                seq: 0,
                history: VecDeque::new(),
                dropped_through: 0,
                conn: Some(conn),
                invalidated: false,
                detached_at: None,
            },
        );
        let known = self.conns.get_mut(&conn).unwrap();
        known.token = Some(token.to_owned());
        known.shard = Some(id);
        known.session = Some(session_id.clone());
        IdentifyOutcome::Ready { session_id }
    }

    /// READY for a session just created: seq 1, not kept for replay.
    fn ready(&mut self, session_id: &str) -> Bytes {
        let session = &self.sessions[session_id];
        let bot = self
            .config
            .bots
            .iter()
            .find(|bot| bot.token == session.token)
            .unwrap();
        let [id, num] = session.shard;
        let guilds: Vec<Value> = bot
            .guilds
            .iter()
            .filter(|guild| (*guild >> 22) % u64::from(num) == u64::from(id))
            .map(|guild| json!({"id": guild.to_string(), "unavailable": true}))
            .collect();
        let d = json!({
            "v": 10,
            "user": {
                "id": bot.user_id.to_string(),
                "username": bot.username,
                "global_name": null,
                "discriminator": "0000",
                "avatar": null,
                "bot": true,
                "flags": 0,
                "mfa_enabled": false,
                "verified": true,
                "email": null,
            },
            "guilds": guilds,
            "session_id": session_id,
            "resume_gateway_url": self.url,
            "shard": [id, num],
            "application": {"id": bot.application_id.to_string(), "flags": 0},
            "_trace": ["fake-gateway"],
        })
        .to_string();
        let replay_buffer = self.config.replay_buffer;
        let session = self.sessions.get_mut(session_id).unwrap();
        session.dispatch("READY", &d, false, replay_buffer).1
    }

    /// Op 6.
    fn resume(&mut self, conn: u64, d: Value, now: Instant) -> Vec<Out> {
        let token = d["token"].as_str().map(|t| strip_bot(t).to_owned());
        let session_id = d["session_id"].as_str().map(str::to_owned);
        let seq = d["seq"].as_u64();
        let mut out = Vec::new();
        let outcome = match (&token, &session_id) {
            _ if self.conns[&conn].session.is_some() => ResumeOutcome::Closed(4005),
            (Some(token), Some(session_id)) => {
                self.take_over(conn, token, session_id, seq.unwrap_or(0), now, &mut out)
            }
            _ => ResumeOutcome::Closed(4002),
        };
        match outcome {
            ResumeOutcome::Resumed { .. } => {}
            ResumeOutcome::InvalidSession => out.push(Out::Frame(op_frame(9, false.into()))),
            ResumeOutcome::Closed(code) => out.push(Out::Close(code, reason(code))),
        }
        self.resumes.push(Resume {
            conn,
            at: now,
            token: token.unwrap_or_default(),
            session_id: session_id.unwrap_or_default(),
            seq,
            outcome,
        });
        out
    }

    /// Resumes `session_id` on `conn` if it can be: the replay and RESUMED go to `out`.
    fn take_over(
        &mut self,
        conn: u64,
        token: &str,
        session_id: &str,
        seq: u64,
        now: Instant,
        out: &mut Vec<Out>,
    ) -> ResumeOutcome {
        let timeout = self.config.session_timeout;
        let replay_buffer = self.config.replay_buffer;
        let Some(session) = self.sessions.get_mut(session_id) else {
            return ResumeOutcome::InvalidSession;
        };
        if session.invalidated || session.token != token {
            return ResumeOutcome::InvalidSession;
        }
        let timed_out = session.conn.is_none()
            && timeout.is_some_and(|timeout| {
                session
                    .detached_at
                    .is_some_and(|at| now.duration_since(at) >= timeout)
            });
        if timed_out || seq < session.dropped_through {
            session.invalidated = true;
            return ResumeOutcome::InvalidSession;
        }
        if seq > session.seq {
            session.invalidated = true;
            return ResumeOutcome::Closed(4007);
        }
        let previous = session.conn.replace(conn);
        session.detached_at = None;
        let replay: Vec<Bytes> = session
            .history
            .iter()
            .filter(|(s, _)| *s > seq)
            .map(|(_, frame)| frame.clone())
            .collect();
        let replayed = replay.len();
        out.extend(replay.into_iter().map(Out::Frame));
        let resumed = session.dispatch(
            "RESUMED",
            r#"{"_trace":["fake-gateway"]}"#,
            false,
            replay_buffer,
        );
        out.push(Out::Frame(resumed.1));
        let shard = session.shard[0];
        if let Some(old) = previous.filter(|old| *old != conn) {
            if let Some(old) = self.conns.get(&old) {
                let _ = old.tx.send(Control::Close(
                    4000,
                    "Session resumed elsewhere.".to_owned(),
                ));
            }
        }
        let known = self.conns.get_mut(&conn).unwrap();
        known.token = Some(token.to_owned());
        known.shard = Some(shard);
        known.session = Some(session_id.to_owned());
        ResumeOutcome::Resumed { replayed }
    }

    /// Ops 3, 4, 8, 31, 43: recorded; they need an identified connection.
    /// An all-members op 8 is limited per guild (P14).
    fn command(&mut self, conn: u64, op: u64, payload: Value, now: Instant) -> Vec<Out> {
        let known = &self.conns[&conn];
        let (token, shard, session) = (known.token.clone(), known.shard, known.session.clone());
        self.commands.push(Command {
            conn,
            at: now,
            token: token.clone(),
            shard,
            op,
            payload: payload.clone(),
        });
        let (Some(token), Some(session)) = (token, session) else {
            return vec![Out::Close(4003, reason(4003))];
        };
        let d = &payload["d"];
        if op != 8 || d["query"].as_str() != Some("") || d["limit"].as_u64() != Some(0) {
            return Vec::new();
        }
        let guild = match &d["guild_id"] {
            Value::String(id) => id.clone(),
            other => other.to_string(),
        };
        let interval = self.config.member_request_interval;
        let key = (token, guild.clone());
        match self.member_requests.get(&key) {
            Some(last) if now.duration_since(*last) < interval => {
                let retry_after = (interval - now.duration_since(*last)).as_secs_f64();
                let mut meta = json!({ "guild_id": guild });
                if let Some(nonce) = d.get("nonce") {
                    meta["nonce"] = nonce.clone();
                }
                let limited =
                    json!({"opcode": 8, "retry_after": retry_after, "meta": meta}).to_string();
                let replay_buffer = self.config.replay_buffer;
                let Some(session) = self.sessions.get_mut(&session) else {
                    return Vec::new();
                };
                let (_, frame) = session.dispatch("RATE_LIMITED", &limited, true, replay_buffer);
                // Through the connection's queue, behind dispatches already queued there.
                if session.conn == Some(conn) {
                    let _ = self.conns[&conn].tx.send(Control::Send(vec![frame]));
                }
            }
            _ => {
                self.member_requests.insert(key, now);
            }
        }
        Vec::new()
    }

    /// A connection ended: its session is detached, and invalidated if the
    /// client closed 1000/1001 or the fake closed with a code that ends it.
    fn finish(&mut self, conn: u64, end: End) {
        let Some(known) = self.conns.remove(&conn) else {
            return;
        };
        let Some(session) = known.session.and_then(|id| self.sessions.get_mut(&id)) else {
            return;
        };
        // Not if a newer connection resumed it meanwhile.
        let mine = session.conn.is_none_or(|holder| holder == conn);
        if session.conn == Some(conn) {
            session.detach(Instant::now());
        }
        let ends = match end {
            End::Client(code) => matches!(code, 1000 | 1001),
            End::Server(code) => ends_session(code),
            End::Dropped => false,
        };
        if mine && ends {
            session.invalidated = true;
        }
    }
}

/// What the client asked for in the connect URL.
struct Query {
    version: Option<String>,
    encoding: Option<String>,
    compress: Option<String>,
}

impl Query {
    fn parse(query: &str) -> Query {
        let mut parsed = Query {
            version: None,
            encoding: None,
            compress: None,
        };
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = Some(value.to_owned());
            match key {
                "v" => parsed.version = value,
                "encoding" => parsed.encoding = value,
                "compress" => parsed.compress = value,
                _ => {}
            }
        }
        parsed
    }

    /// The close code Discord would answer this URL with, if any.
    fn refusal(&self) -> Option<(u16, &'static str)> {
        if self
            .version
            .as_deref()
            .is_some_and(|v| v != "10" && v != "9")
        {
            return Some((4012, reason(4012)));
        }
        if self.encoding.as_deref().is_some_and(|e| e != "json") {
            return Some((4002, "The fake gateway speaks JSON only."));
        }
        None
    }
}

/// How frames go on the wire: plain text, or a zstd stream.
enum Wire {
    Text,
    Zstd(zstd::zstd_safe::CCtx<'static>),
}

impl Wire {
    fn new(zstd: bool) -> Wire {
        if zstd {
            Wire::Zstd(zstd::zstd_safe::CCtx::create())
        } else {
            Wire::Text
        }
    }

    fn encode(&mut self, payload: Bytes) -> Message {
        match self {
            Wire::Text => Message::text(payload),
            Wire::Zstd(ctx) => {
                use zstd::zstd_safe::zstd_sys::ZSTD_EndDirective;
                use zstd::zstd_safe::{InBuffer, OutBuffer};
                let mut compressed = Vec::with_capacity(payload.len() / 2 + 64);
                let mut input = InBuffer::around(&payload);
                let mut chunk = vec![0; zstd::zstd_safe::CCtx::out_size().max(payload.len() + 64)];
                // Flush, not end: the stream (one frame) spans the whole
                // connection, and every message decodes completely on arrival.
                loop {
                    let mut output = OutBuffer::around(&mut chunk[..]);
                    let remaining = ctx
                        .compress_stream2(&mut output, &mut input, ZSTD_EndDirective::ZSTD_e_flush)
                        .expect("zstd compression");
                    compressed.extend_from_slice(output.as_slice());
                    if remaining == 0 && input.pos == payload.len() {
                        break;
                    }
                }
                Message::binary(compressed)
            }
        }
    }
}

/// One WebSocket connection's task.
async fn serve(state: Arc<Mutex<State>>, stream: TcpStream) {
    let Ok((request, ws)) = ServerBuilder::new().accept(stream).await else {
        return;
    };
    let raw_query = request.uri().query().unwrap_or_default().to_owned();
    let query = Query::parse(&raw_query);
    let (tx, rx) = mpsc::unbounded_channel();
    let (id, zstd) = {
        let mut state = state.lock().unwrap();
        state.next_conn += 1;
        let id = state.next_conn;
        let zstd = state.config.zstd && query.compress.as_deref() == Some("zstd-stream");
        state.connects.push(Connect {
            conn: id,
            at: Instant::now(),
            query: raw_query,
            zstd,
        });
        state.conns.insert(
            id,
            Conn {
                tx,
                token: None,
                shard: None,
                session: None,
            },
        );
        (id, zstd)
    };
    let mut connection = Connection {
        id,
        ws,
        rx,
        state: state.clone(),
        wire: Wire::new(zstd),
        recent: VecDeque::new(),
    };
    let end = connection.run(&query).await;
    state.lock().unwrap().finish(id, end);
}

struct Connection {
    id: u64,
    ws: WebSocketStream<TcpStream>,
    rx: mpsc::UnboundedReceiver<Control>,
    state: Arc<Mutex<State>>,
    wire: Wire,
    /// When the client's recent messages arrived, for the 120 per 60 s limit.
    recent: VecDeque<Instant>,
}

impl Connection {
    async fn run(&mut self, query: &Query) -> End {
        if let Some((code, reason)) = query.refusal() {
            return self.close(code, reason).await;
        }
        let (interval, mut hold) = {
            let state = self.state.lock().unwrap();
            (
                state.config.heartbeat_interval,
                state.hold_hello.subscribe(),
            )
        };
        let _ = hold.wait_for(|held| !*held).await;
        let interval = u64::try_from(interval.as_millis()).unwrap();
        let hello = op_frame(
            10,
            json!({"heartbeat_interval": interval, "_trace": ["fake-gateway"]}),
        );
        if self.send(vec![hello]).await.is_err() {
            return End::Dropped;
        }
        loop {
            tokio::select! {
                incoming = self.ws.next() => {
                    let Some(Ok(message)) = incoming else {
                        return End::Dropped;
                    };
                    if let Some((code, text)) = message.as_close() {
                        let code = u16::from(code);
                        self.record_close(true, code, text);
                        self.drain().await;
                        return End::Client(code);
                    }
                    let outs = if let Some(text) = message.as_text() {
                        self.receive(text)
                    } else if message.is_binary() {
                        vec![Out::Close(4002, reason(4002))]
                    } else {
                        continue; // ping, pong: tokio-websockets answers pings
                    };
                    for out in outs {
                        match out {
                            Out::Frame(frame) => {
                                if self.send(vec![frame]).await.is_err() {
                                    return End::Dropped;
                                }
                            }
                            Out::Close(code, reason) => return self.close(code, reason).await,
                        }
                    }
                }
                control = self.rx.recv() => match control {
                    Some(Control::Send(frames)) => {
                        if self.send(frames).await.is_err() {
                            return End::Dropped;
                        }
                    }
                    Some(Control::Close(code, reason)) => return self.close(code, &reason).await,
                    Some(Control::Drop) | None => return End::Dropped,
                },
            }
        }
    }

    /// One text message from the client.
    fn receive(&mut self, text: &str) -> Vec<Out> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap();
        if text.len() > state.config.max_payload {
            return vec![Out::Close(4002, reason(4002))];
        }
        let Ok(payload) = serde_json::from_str::<Value>(text) else {
            return vec![Out::Close(4002, reason(4002))];
        };
        let Some(op) = payload["op"].as_u64() else {
            return vec![Out::Close(4002, reason(4002))];
        };
        if op != 1 || state.config.rate_limit_heartbeats {
            let window = state.config.client_window;
            while self
                .recent
                .front()
                .is_some_and(|at| now.duration_since(*at) >= window)
            {
                self.recent.pop_front();
            }
            self.recent.push_back(now);
            if self.recent.len() > state.config.client_limit {
                return vec![Out::Close(4008, reason(4008))];
            }
        }
        let d = payload["d"].clone();
        match op {
            1 => state.heartbeat(self.id, d, now),
            2 => state.identify(self.id, d, now),
            6 => state.resume(self.id, d, now),
            3 | 4 | 8 | 31 | 43 => state.command(self.id, op, payload, now),
            _ => {
                state.command(self.id, op, payload, now);
                vec![Out::Close(4001, reason(4001))]
            }
        }
    }

    async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), tokio_websockets::Error> {
        for frame in frames {
            let message = self.wire.encode(frame);
            self.ws.feed(message).await?;
        }
        self.ws.flush().await
    }

    /// Records a close frame the client (`from_client`) or the fake sent.
    fn record_close(&self, from_client: bool, code: u16, text: &str) {
        let mut state = self.state.lock().unwrap();
        let record = state.close_record(self.id, code, text);
        if from_client {
            state.client_closes.push(record);
        } else {
            state.server_closes.push(record);
        }
    }

    /// Sends a close frame and waits (briefly) for the client's answer.
    async fn close(&mut self, code: u16, text: &str) -> End {
        self.record_close(false, code, text);
        match CloseCode::try_from(code) {
            Ok(close_code) if !close_code.is_reserved() => {
                let text = &text[..text.len().min(123)];
                let _ = self.ws.send(Message::close(Some(close_code), text)).await;
                self.drain().await;
                End::Server(code)
            }
            _ => End::Dropped,
        }
    }

    /// Reads until the close handshake completes (tokio-websockets answers a
    /// client's close frame while being read), for at most 2 s.
    async fn drain(&mut self) {
        let ws = &mut self.ws;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
}
