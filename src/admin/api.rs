//! The admin API's wire format, shared by the server and the CLI client,
//! and the files in the data dir through which the CLI finds its node.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::limits::{LimitOverrides, Limits};
use crate::store::Level;

/// The admin bearer token, created on first start (mode 0600).
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Where a running node says where it listens ([`NodeFile`]).
pub const NODE_FILE: &str = "node.json";

/// Written to `DATA_DIR/node.json` once both listeners are bound, so the CLI
/// (and tests) find a node started with port 0 or non-default addresses.
#[derive(Debug, Serialize, Deserialize)]
pub struct NodeFile {
    pub pid: u32,
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub tls: bool,
}

/// `POST /v1/bots`: create a bot or add a version to it.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeployRequest {
    pub name: String,
    pub app_id: String,
    pub public_key: String,
    /// Discord bot token; `None` keeps the token an existing bot has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(flatten)]
    pub limits: LimitOverrides,
    /// The component, base64 (standard alphabet, padded). May be left out
    /// when `wasm_sha256` names a component the node already has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasm_base64: Option<String>,
    /// The component's SHA-256 (hex). Alone, it names a component the node
    /// already stores (answered 412 if it has none: send the bytes then);
    /// with `wasm_base64`, the bytes must have this hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasm_sha256: Option<String>,
    #[serde(flatten)]
    pub gateway: GatewayFlags,
    /// Register the bot's declared commands to this server only (a guild
    /// id) instead of globally: Discord shows them there at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild: Option<String>,
}

/// A deploy's gateway settings: the same type is the CLI's flags and the
/// admin API's JSON fields.
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
pub struct GatewayFlags {
    /// Turn on gateway events: intents as Discord spells them, comma-separated
    /// (GUILDS,GUILD_MESSAGES,...), or their number. Needs a token and a
    /// component of world event-bot. A redeploy without it keeps the bot's settings
    #[arg(long, value_name = "NAMES|N", conflicts_with = "no_gateway")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intents: Option<String>,
    /// Gateway shards [default: Discord's recommended count]
    #[arg(long, value_name = "N", conflicts_with = "no_gateway")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
    /// Turn the bot's gateway off (it then gets no gateway events)
    #[arg(long)]
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_gateway: bool,
}

impl GatewayFlags {
    /// What the flags ask of the fleet; an unknown intent is an error.
    pub fn request(&self) -> Result<crate::fleet::GatewayRequest, String> {
        use crate::fleet::GatewayRequest;
        match (self.no_gateway, &self.intents, self.shards) {
            (true, None, None) => Ok(GatewayRequest::Off),
            (true, _, _) => Err("--no-gateway cannot go with --intents or --shards".into()),
            (false, Some(intents), shards) => Ok(GatewayRequest::On {
                intents: crate::protocol::gateway::parse_intents(intents)?,
                shards,
            }),
            (false, None, Some(shards)) => Ok(GatewayRequest::Shards(shards)),
            (false, None, None) => Ok(GatewayRequest::Keep),
        }
    }

    /// Warnings an operator should read before Discord refuses the session.
    pub fn warnings(&self) -> Vec<String> {
        let Some(Ok(intents)) = self
            .intents
            .as_deref()
            .map(crate::protocol::gateway::parse_intents)
        else {
            return Vec::new();
        };
        crate::protocol::gateway::privileged(intents)
            .into_iter()
            .map(|name| {
                format!(
                    "{name} is a privileged intent: enable it for the bot in Discord's Developer Portal \
                     (Bot → Privileged Gateway Intents), or Discord closes the session (4014)"
                )
            })
            .collect()
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DeployResponse {
    pub name: String,
    pub version: i64,
    pub created: bool,
    pub sha256: String,
    /// Things the operator should know (privileged intents, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The commands registered with Discord by this deploy; absent when the
    /// version declares none (Discord's commands were left alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<RegisteredCommands>,
}

/// Commands a deploy or rollback registered with Discord.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisteredCommands {
    /// `/name` for slash commands, `Name (user command)`, ...
    pub registered: Vec<String>,
    /// The server they went to; absent: globally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild: Option<String>,
}

impl RegisteredCommands {
    /// The admin API's view of a fleet registration, and its warning.
    pub fn from_registration(
        registration: &crate::fleet::Registration,
    ) -> (Option<RegisteredCommands>, Option<String>) {
        match registration {
            crate::fleet::Registration::Registered { labels, scope } => (
                Some(RegisteredCommands {
                    registered: labels.clone(),
                    guild: scope.guild().map(str::to_owned),
                }),
                None,
            ),
            other => (None, other.warning()),
        }
    }

    /// One line for the CLI: `registered /ping, /remind globally`.
    pub fn summary(&self) -> String {
        let list = if self.registered.is_empty() {
            "no commands (any registered before were deleted)".to_owned()
        } else {
            self.registered.join(", ")
        };
        match &self.guild {
            Some(guild) => format!("registered {list} in server {guild}"),
            None => format!(
                "registered {list} globally (Discord may take a few minutes to show changes; \
                 --guild ID registers to one server at once)"
            ),
        }
    }
}

/// `GET /v1/bots/{name}/commands` and `POST .../commands/sync`: the active
/// version's declared commands beside Discord's registered ones.
#[derive(Debug, Serialize, Deserialize)]
pub struct CommandsResponse {
    pub name: String,
    /// The server asked about; absent: global commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild: Option<String>,
    /// `null`: the active version declares no commands.
    pub declared: Option<Vec<serde_json::Value>>,
    pub registered: Vec<serde_json::Value>,
    pub differences: Vec<crate::protocol::commands::Difference>,
}

/// One row of `GET /v1/bots`. Never includes the bot token.
#[derive(Debug, Serialize, Deserialize)]
pub struct BotSummary {
    pub name: String,
    pub app_id: String,
    pub version: i64,
    /// `running`, `backing_off` (restarting after repeated crashes) or `quarantined`.
    pub state: String,
    pub limits: Limits,
    pub has_token: bool,
    pub idle_instances: usize,
    pub crashes: usize,
    pub last_crash: Option<String>,
    pub updated_at_ms: i64,
    /// The bot's standing with Discord's REST API; absent without a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discord: Option<RestStanding>,
    /// The bot's gateway sessions; absent when its gateway is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<crate::gateway::GatewayStanding>,
}

/// What the node's invalid-request guard knows of one bot's token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestStanding {
    /// `ok`; `paused` (its breaker tripped on repeated 403s); or `revoked`
    /// (Discord answered 401: nothing is sent until a redeploy with a valid token).
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_for_s: Option<u64>,
    /// 403 answers in the last minute (the breaker trips at 10).
    pub forbidden_60s: u64,
    /// 401, 403 and non-shared 429 answers in the last 10 minutes: what
    /// Discord counts toward banning the node's address.
    pub invalid_requests_10min: u64,
    pub requests: u64,
    pub rate_limited: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LogEntry {
    /// The id on the node that stored the line (`after` counts these).
    pub id: i64,
    /// In a fleet: the node that stored the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub at_ms: i64,
    pub level: String,
    pub interaction_id: Option<String>,
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CrashEntry {
    /// In a fleet: the node the bot crashed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub at_ms: i64,
    pub version: i64,
    pub reason: String,
    pub detail: String,
}

/// The query of `GET /v1/bots/{name}/logs`: which lines and crashes to
/// return. The node filters (in SQL), so asking for a bot's last errors
/// never moves its whole log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// At most this many lines, the newest (`lines`, default 100).
    pub lines: i64,
    /// Only lines with a greater id: where a follower left off (`after`).
    pub after: i64,
    /// Only lines and crashes at or after this Unix time in ms (`since_ms`).
    pub since_ms: Option<i64>,
    /// Only lines at this level or more serious (`level`); crash records
    /// always pass.
    pub level: Option<Level>,
    /// Crash records only, up to `lines` of them, and no lines (`crashes=only`).
    pub crashes_only: bool,
    /// In a fleet: from every node, merged by time (`nodes=all`); without
    /// it, the answering node's only (what `after` positions refer to).
    pub all_nodes: bool,
}

impl Default for LogQuery {
    fn default() -> LogQuery {
        LogQuery {
            lines: 100,
            after: 0,
            since_ms: None,
            level: None,
            crashes_only: false,
            all_nodes: false,
        }
    }
}

impl LogQuery {
    /// The URL query string (without `?`).
    pub fn to_query(&self) -> String {
        let mut query = format!("lines={}&after={}", self.lines, self.after);
        if let Some(since_ms) = self.since_ms {
            query.push_str(&format!("&since_ms={since_ms}"));
        }
        if let Some(level) = self.level {
            query.push_str(&format!("&level={}", level.as_str()));
        }
        if self.crashes_only {
            query.push_str("&crashes=only");
        }
        if self.all_nodes {
            query.push_str("&nodes=all");
        }
        query
    }

    /// Reads a URL query string; the error names the parameter at fault.
    pub fn parse(query: &str) -> Result<LogQuery, String> {
        let mut parsed = LogQuery::default();
        let number = |key: &str, value: &str| {
            value
                .parse::<i64>()
                .map_err(|_| format!("query parameter {key} must be an integer"))
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "lines" => parsed.lines = number(key, value)?,
                "after" => parsed.after = number(key, value)?,
                "since_ms" => parsed.since_ms = Some(number(key, value)?),
                "level" => {
                    parsed.level = Some(Level::parse(value).ok_or_else(|| {
                        format!("query parameter level must be trace, debug, info, warn or error, not {value:?}")
                    })?)
                }
                "crashes" if value == "only" => parsed.crashes_only = true,
                "crashes" => return Err("query parameter crashes must be \"only\"".to_owned()),
                "nodes" if value == "all" => parsed.all_nodes = true,
                "nodes" => return Err("query parameter nodes must be \"all\"".to_owned()),
                _ => return Err(format!("unknown query parameter {key}")),
            }
        }
        Ok(parsed)
    }
}

/// `GET /v1/bots/{name}/logs?`[`LogQuery`].
#[derive(Debug, Serialize, Deserialize)]
pub struct LogsResponse {
    /// In a fleet: the answering node (its lines' ids are what `after` takes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub lines: Vec<LogEntry>,
    pub crashes: Vec<CrashEntry>,
}

/// `GET /v1/status`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatusResponse {
    pub version: String,
    pub uptime_secs: u64,
    pub bots: usize,
    pub public_addr: String,
    pub admin_addr: String,
    pub tls: bool,
    /// Free space on the data dir's disk and the KV reserve (absent from
    /// older nodes, or when the node cannot read it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<DiskStatus>,
    /// Event counts over every bot's gateway (absent from older nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<crate::gateway::GatewayTotals>,
}

/// The data dir's disk, in `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiskStatus {
    pub available_bytes: u64,
    pub total_bytes: u64,
    /// Free space bots' KV writes may not take (`--disk-reserve-mib`).
    pub reserve_bytes: u64,
    /// Free space is below the reserve: KV writes are refused.
    pub kv_writes_refused: bool,
}

/// The body of every admin error response.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// `POST /v1/bots/{name}/rollback`; no version means the one before the active one.
#[derive(Debug, Serialize, Deserialize)]
pub struct RollbackRequest {
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RollbackResponse {
    pub name: String,
    pub version: i64,
    /// The version's commands, registered again; absent when it declares none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<RegisteredCommands>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `POST /v1/backups`: a backup the node prepared; the CLI reads it with
/// `GET /v1/backups/{id}?offset=N` (ranges of up to 8 MiB) and ends it with
/// `DELETE /v1/backups/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupInfo {
    pub id: String,
    /// The archive's size in bytes.
    pub size: u64,
    pub created_at_ms: i64,
    /// The data dir's files in it (`appliance.db`, `admin.token`, `tls/…`).
    pub entries: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_queries_round_trip_and_refuse_what_they_do_not_know() {
        let query = LogQuery {
            lines: 5,
            after: 7,
            since_ms: Some(1_700_000_000_000),
            level: Some(Level::Warn),
            crashes_only: true,
            all_nodes: true,
        };
        assert_eq!(LogQuery::parse(&query.to_query()), Ok(query));
        assert_eq!(LogQuery::parse(""), Ok(LogQuery::default()));
        for bad in ["level=loud", "crashes=1", "lines=x", "color=red"] {
            assert!(LogQuery::parse(bad).is_err(), "{bad}");
        }
    }
}
