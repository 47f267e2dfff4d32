//! The client commands: each resolves its node and token, makes one or a
//! few admin API calls, and prints a human (or `--json`) answer on stdout.

use std::future::Future;
use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use bytes::Bytes;

use crate::admin::api::{
    DeployRequest, GatewayFlags, LogQuery, NodeFile, ADMIN_TOKEN_FILE, NODE_FILE,
};
use crate::admin::client::Client;
use crate::cli::NodeArgs;
use crate::config::defaults;
use crate::limits::LimitOverrides;
use crate::text::{for_terminal, json_for_terminal};

#[derive(clap::Args, Debug)]
pub struct DeployArgs {
    /// The bot component (built for wasm32-wasip2)
    #[arg(value_name = "BOT.wasm")]
    pub wasm: PathBuf,
    /// Discord application id the bot answers for
    #[arg(long, value_name = "ID")]
    pub app_id: String,
    /// The application's Ed25519 public key (hex, from the developer portal)
    #[arg(long, value_name = "HEX")]
    pub public_key: String,
    /// Bot name [default: the file name without .wasm]
    #[arg(long)]
    pub name: Option<String>,
    /// Read the bot token from this environment variable
    #[arg(long, value_name = "VAR", conflicts_with = "token_file")]
    pub token_env: Option<String>,
    /// Read the bot token from this file
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitOverrides,
    #[command(flatten)]
    pub gateway: GatewayFlags,
    /// Register the bot's declared commands to this server (its id) instead
    /// of globally: Discord shows them there at once, for testing
    #[arg(long, value_name = "ID")]
    pub guild: Option<String>,
    /// In a fleet: wait until every live node serves this version (at most SECS seconds)
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "60")]
    pub wait: Option<u64>,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(clap::Args, Debug)]
pub struct CommandsArgs {
    /// Bot name
    pub name: String,
    /// The server whose commands to show or sync [default: where the bot's
    /// active version registered them]
    #[arg(long, value_name = "ID")]
    pub guild: Option<String>,
    /// Register the commands the bot declares again (Discord's bulk
    /// overwrite), deleting any the bot does not declare
    #[arg(long)]
    pub sync: bool,
    /// Print JSON instead of a summary
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// Bot name
    pub name: String,
    /// Keep printing new lines as they arrive
    #[arg(long, short)]
    pub follow: bool,
    /// How many recent lines to show
    #[arg(long, short = 'n', default_value_t = 100, value_name = "N")]
    pub lines: i64,
    /// Only lines and crashes since then: a time ago (30s, 10m, 2h, 1day)
    /// or an RFC 3339 time (2026-01-31T12:00:00Z)
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    pub since: Option<i64>,
    /// Only lines at this level or more serious (crashes always show)
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<crate::store::Level>,
    /// Only crash records, the last N of them, no log lines
    #[arg(long)]
    pub crashes: bool,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// `--since`: a duration ago or an RFC 3339 time, as Unix milliseconds.
fn parse_since(value: &str) -> Result<i64, String> {
    let at = match humantime::parse_duration(value) {
        Ok(ago) => std::time::SystemTime::now()
            .checked_sub(ago)
            .ok_or_else(|| format!("{value} ago is before 1970"))?,
        Err(_) => humantime::parse_rfc3339_weak(value).map_err(|_| {
            format!("{value:?} is neither a duration (10m, 2h) nor an RFC 3339 time (2026-01-31T12:00:00Z)")
        })?,
    };
    let since = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("{value} is before 1970"))?;
    Ok(since.as_millis() as i64)
}

#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    /// Bot name
    pub name: String,
    /// Version to serve [default: the one before the active version]
    #[arg(long, value_name = "N")]
    pub version: Option<i64>,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(clap::Args, Debug)]
pub struct RemoveArgs {
    /// Bot name
    pub name: String,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(clap::Args, Debug)]
pub struct InvokeArgs {
    /// Bot name
    pub name: String,
    /// Interaction JSON file, or - for standard input
    #[arg(long, value_name = "FILE|-")]
    pub json: String,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub node: NodeArgs,
}

/// Builds the client for `node` and runs `command` on a small runtime.
pub fn run<F, Fut>(node: NodeArgs, command: F) -> anyhow::Result<()>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = connect(&node)?;
    runtime.block_on(command(client))
}

fn connect(node: &NodeArgs) -> anyhow::Result<Client> {
    let url = match &node.node {
        Some(url) => url.clone(),
        None => match std::fs::read(node.data_dir.join(NODE_FILE)) {
            Ok(bytes) => {
                let file: NodeFile = serde_json::from_slice(&bytes).with_context(|| {
                    format!("invalid {}", node.data_dir.join(NODE_FILE).display())
                })?;
                format!("http://{}", file.admin_addr)
            }
            Err(_) => defaults::ADMIN_URL.to_owned(),
        },
    };
    let token = match &node.admin_token {
        Some(token) => token.clone(),
        None => {
            let path = node.data_dir.join(ADMIN_TOKEN_FILE);
            std::fs::read_to_string(&path)
                .map(|t| t.trim().to_owned())
                .with_context(|| {
                    format!(
                        "no admin token: pass --admin-token or APPLIANCE_ADMIN_TOKEN, or point --data-dir at the node's data directory ({} not readable)",
                        path.display()
                    )
                })?
        }
    };
    Ok(Client::new(&url, token)?)
}

pub async fn deploy(client: Client, args: DeployArgs) -> anyhow::Result<()> {
    let deployed = send_deploy(&client, &args).await?;
    println!(
        "deployed {} version {} ({}, sha256 {})",
        deployed.name,
        deployed.version,
        if deployed.created {
            "new bot"
        } else {
            "new version"
        },
        deployed.sha256.get(..12).unwrap_or(&deployed.sha256)
    );
    if let Some(commands) = &deployed.commands {
        println!("{}", for_terminal(&commands.summary()));
    }
    if let Some(endpoint) = endpoint(&client, &args.app_id).await {
        println!("Discord interactions endpoint: {endpoint}");
    }
    if let Some(secs) = args.wait {
        super::fleet::wait_for_version(&client, &deployed.name, &deployed.sha256, secs).await?;
    }
    Ok(())
}

/// Reads the component and the token `args` name and deploys them; prints
/// the node's warnings (on stderr) and returns its answer. Shared with `dev`.
pub(crate) async fn send_deploy(
    client: &Client,
    args: &DeployArgs,
) -> anyhow::Result<crate::admin::api::DeployResponse> {
    let wasm = std::fs::read(&args.wasm)
        .with_context(|| format!("failed to read {}", args.wasm.display()))?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => args
            .wasm
            .file_stem()
            .and_then(|s| s.to_str())
            .map(|s| s.to_lowercase())
            .context("cannot derive a bot name from the file name; pass --name")?,
    };
    let token = match (&args.token_env, &args.token_file) {
        (Some(var), _) => Some(
            std::env::var(var)
                .with_context(|| format!("environment variable {var} (--token-env) is not set"))?,
        ),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("failed to read token file {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    };
    let request = DeployRequest {
        name,
        app_id: args.app_id.clone(),
        public_key: args.public_key.clone(),
        token,
        limits: args.limits,
        wasm_base64: None,
        wasm_sha256: None,
        gateway: args.gateway.clone(),
        guild: args.guild.clone(),
    };
    let deployed = client.deploy_wasm(request, &wasm).await?;
    for warning in &deployed.warnings {
        eprintln!("warning: {}", for_terminal(warning));
    }
    Ok(deployed)
}

/// The interactions endpoint to give Discord for `app_id`, with the node's
/// own scheme and port: a node on other ports or behind a proxy
/// (--plain-http) must not be told 8443. `None` if the node does not say.
pub(crate) async fn endpoint(client: &Client, app_id: &str) -> Option<String> {
    let status = client.status().await.ok()?;
    let scheme = if status.tls { "https" } else { "http" };
    let port = status
        .public_addr
        .rsplit_once(':')
        .map_or("8443", |(_, port)| port);
    Some(format!("{scheme}://YOUR-HOST:{port}/interactions/{app_id}"))
}

pub async fn list(client: Client, args: ListArgs) -> anyhow::Result<()> {
    let bots = client.list().await?;
    if args.json {
        println!(
            "{}",
            json_for_terminal(&serde_json::to_string_pretty(&bots)?)
        );
        return Ok(());
    }
    if bots.is_empty() {
        println!("no bots deployed; deploy one with `appliance deploy BOT.wasm --app-id ID --public-key HEX`");
        return Ok(());
    }
    println!(
        "{:<24} {:<20} {:>7} {:<12} {:>7}  {:<12} {:<16} {:<16}",
        "NAME", "APP ID", "VERSION", "STATE", "CRASHES", "LAST CRASH", "DISCORD REST", "GATEWAY"
    );
    for bot in bots {
        let rest = match &bot.discord {
            None => "no token".to_owned(),
            Some(d) => match d.paused_for_s {
                Some(secs) if d.state == "paused" => format!(
                    "paused {secs}s ({} 403s/min, {} invalid/10min)",
                    d.forbidden_60s, d.invalid_requests_10min
                ),
                _ if d.invalid_requests_10min > 0 => {
                    format!("{} ({} invalid/10min)", d.state, d.invalid_requests_10min)
                }
                _ => d.state.clone(),
            },
        };
        let gateway = match &bot.gateway {
            None => "off".to_owned(),
            Some(g) => format!(
                "{} ({} shard{}; events {} in, {} handled, {} dropped)",
                g.state,
                g.shards,
                if g.shards == 1 { "" } else { "s" },
                g.events_received,
                g.events_delivered,
                g.events_dropped
            ),
        };
        println!(
            "{:<24} {:<20} {:>7} {:<12} {:>7}  {:<12} {:<16} {}",
            for_terminal(&bot.name),
            for_terminal(&bot.app_id),
            bot.version,
            for_terminal(&bot.state),
            bot.crashes,
            for_terminal(bot.last_crash.as_deref().unwrap_or("-")),
            for_terminal(&rest),
            for_terminal(&gateway)
        );
    }
    Ok(())
}

pub async fn logs(client: Client, args: LogsArgs) -> anyhow::Result<()> {
    if args.lines < 1 {
        bail!("--lines must be at least 1");
    }
    let query = LogQuery {
        lines: args.lines,
        after: 0,
        since_ms: args.since,
        level: args.level,
        crashes_only: args.crashes,
        // A fleet's every node; following then reads the answering node's.
        all_nodes: true,
    };
    let mut tail = LogTail::recent(&client, &args.name, query).await?;
    tail.query.all_nodes = false;
    if !args.follow {
        return Ok(());
    }
    loop {
        tokio::time::sleep(LogTail::POLL).await;
        tail.poll(&client).await?;
    }
}

/// Prints a bot's log lines and crash records as the node stores them:
/// `logs`, `logs --follow` and `dev` share it.
pub(crate) struct LogTail {
    name: String,
    /// What to show (`--since`, `--level`, `--crashes`); its position is `last_id`.
    query: LogQuery,
    /// The last line printed (ids grow).
    last_id: i64,
    /// The newest crash printed: crashes have no id, and the node returns
    /// its recent ones on every call.
    last_crash_ms: i64,
}

impl LogTail {
    /// How often a follower asks for new lines.
    pub(crate) const POLL: std::time::Duration = std::time::Duration::from_millis(500);

    /// Prints the bot's recent crashes and its last lines, as `query` asks.
    pub(crate) async fn recent(
        client: &Client,
        name: &str,
        query: LogQuery,
    ) -> anyhow::Result<Self> {
        let mut tail = LogTail {
            name: name.to_owned(),
            query,
            last_id: 0,
            last_crash_ms: i64::MIN,
        };
        let first = client.logs(name, &tail.query).await?;
        tail.print(first);
        Ok(tail)
    }

    /// Prints nothing yet; everything the bot logs or crashes from its
    /// start: for a bot that is not deployed yet.
    pub(crate) fn from_start(name: &str) -> Self {
        LogTail {
            name: name.to_owned(),
            query: LogQuery::default(),
            last_id: 0,
            last_crash_ms: i64::MIN,
        }
    }

    /// Prints nothing yet: only what the bot logs or crashes from now on.
    pub(crate) async fn from_now(client: &Client, name: &str) -> anyhow::Result<Self> {
        let query = LogQuery {
            lines: 1,
            ..LogQuery::default()
        };
        let now = client.logs(name, &query).await?;
        Ok(LogTail {
            name: name.to_owned(),
            query: LogQuery::default(),
            last_id: now.lines.last().map_or(0, |line| line.id),
            last_crash_ms: now
                .crashes
                .iter()
                .map(|c| c.at_ms)
                .max()
                .unwrap_or(i64::MIN),
        })
    }

    /// Prints what arrived since the last call.
    pub(crate) async fn poll(&mut self, client: &Client) -> anyhow::Result<()> {
        let query = LogQuery {
            lines: 10_000,
            after: self.last_id,
            ..self.query.clone()
        };
        let new = client.logs(&self.name, &query).await?;
        self.print(new);
        Ok(())
    }

    fn print(&mut self, logs: crate::admin::api::LogsResponse) {
        let mut crashes: Vec<_> = logs
            .crashes
            .iter()
            .filter(|crash| crash.at_ms > self.last_crash_ms)
            .collect();
        crashes.sort_by_key(|crash| crash.at_ms);
        for crash in crashes {
            // The detail is the host's lines (error, causes, backtrace frames);
            // each is escaped on its own, so guest text inside one (a panic
            // message, a function name) stays on its indented line.
            let detail: Vec<_> = crash
                .detail
                .trim_end()
                .split('\n')
                .map(|line| for_terminal(line).into_owned())
                .collect();
            println!(
                "{}{} CRASH version {}: {}\n    {}",
                format_time(crash.at_ms),
                crash
                    .node
                    .as_deref()
                    .map(|node| format!(" @{}", for_terminal(node)))
                    .unwrap_or_default(),
                crash.version,
                for_terminal(&crash.reason),
                detail.join("\n    ")
            );
            self.last_crash_ms = crash.at_ms;
        }
        for line in &logs.lines {
            print_line(line);
            // Lines gathered from other nodes have their ids, not ours.
            if line.node.is_none() || line.node == logs.node {
                self.last_id = line.id;
            }
        }
    }
}

fn print_line(line: &crate::admin::api::LogEntry) {
    let interaction = line
        .interaction_id
        .as_deref()
        .map(|id| format!(" [{}]", for_terminal(id)))
        .unwrap_or_default();
    let node = line
        .node
        .as_deref()
        .map(|node| format!(" @{}", for_terminal(node)))
        .unwrap_or_default();
    // One stored line is one printed line, whatever the guest put in it.
    println!(
        "{} {:<5}{}{} {}",
        format_time(line.at_ms),
        for_terminal(&line.level.to_uppercase()),
        node,
        interaction,
        for_terminal(&line.message)
    );
}

/// RFC 3339 UTC with milliseconds, from Unix milliseconds.
pub(crate) fn format_time(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000);
    let millis = at_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub async fn rollback(client: Client, args: RollbackArgs) -> anyhow::Result<()> {
    let rolled = client.rollback(&args.name, args.version).await?;
    for warning in &rolled.warnings {
        eprintln!("warning: {}", for_terminal(warning));
    }
    println!("{} now serves version {}", rolled.name, rolled.version);
    if let Some(commands) = &rolled.commands {
        println!("{}", for_terminal(&commands.summary()));
    }
    Ok(())
}

pub async fn commands(client: Client, args: CommandsArgs) -> anyhow::Result<()> {
    let state = client
        .commands(&args.name, args.guild.as_deref(), args.sync)
        .await?;
    if args.json {
        println!(
            "{}",
            json_for_terminal(&serde_json::to_string_pretty(&state)?)
        );
        return Ok(());
    }
    let labels = |list: &[serde_json::Value]| -> String {
        if list.is_empty() {
            "none".to_owned()
        } else {
            list.iter()
                .map(crate::protocol::commands::label)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let scope = match &state.guild {
        Some(guild) => format!("in server {guild}"),
        None => "global".to_owned(),
    };
    let mut out = format!("commands of {} ({scope})\n", state.name);
    match &state.declared {
        Some(declared) => out.push_str(&format!("  declared:   {}\n", labels(declared))),
        None => out.push_str("  declared:   nothing (the active version declares no commands)\n"),
    }
    out.push_str(&format!("  registered: {}\n", labels(&state.registered)));
    if state.declared.is_some() {
        if state.differences.is_empty() {
            out.push_str(if args.sync {
                "synced: Discord has what the bot declares\n"
            } else {
                "in sync\n"
            });
        } else {
            out.push_str("differences:\n");
            for difference in &state.differences {
                use crate::protocol::commands::DifferenceKind;
                let what = match difference.kind {
                    DifferenceKind::Missing => "declared, not registered".to_owned(),
                    DifferenceKind::Extra => "registered, not declared".to_owned(),
                    DifferenceKind::Changed => {
                        format!("differs in {}", difference.fields.join(", "))
                    }
                };
                out.push_str(&format!("  {}: {what}\n", difference.command));
            }
            out.push_str(&format!(
                "run `appliance commands {} --sync{}` to register what the bot declares\n",
                state.name,
                state
                    .guild
                    .as_ref()
                    .map(|g| format!(" --guild {g}"))
                    .unwrap_or_default()
            ));
        }
    }
    // Names come from the bot and from Discord: escaped, line by line.
    for line in out.lines() {
        println!("{}", for_terminal(line));
    }
    Ok(())
}

pub async fn remove(client: Client, args: RemoveArgs) -> anyhow::Result<()> {
    client.remove(&args.name).await?;
    println!("removed {}", args.name);
    Ok(())
}

pub async fn invoke(client: Client, args: InvokeArgs) -> anyhow::Result<()> {
    let body = if args.json == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .context("failed to read standard input")?;
        body
    } else {
        std::fs::read(&args.json).with_context(|| format!("failed to read {}", args.json))?
    };
    serde_json::from_slice::<serde_json::Value>(&body)
        .context("the interaction is not valid JSON")?;
    let answer = client.invoke(&args.name, Bytes::from(body)).await?;
    // The answer is the bot's own JSON: printed compact, with anything a
    // terminal would act on escaped (the same JSON value).
    match serde_json::from_slice::<serde_json::Value>(&answer) {
        Ok(value) => println!("{}", json_for_terminal(&serde_json::to_string(&value)?)),
        Err(_) => println!("{}", for_terminal(&String::from_utf8_lossy(&answer))),
    }
    Ok(())
}

pub async fn status(client: Client, _args: StatusArgs) -> anyhow::Result<()> {
    let status = client.status().await?;
    let scheme = if status.tls { "https" } else { "http" };
    println!("appliance {} up {} s", status.version, status.uptime_secs);
    println!("bots:   {}", status.bots);
    println!(
        "public: {scheme}://{}/interactions/APP_ID",
        status.public_addr
    );
    println!("admin:  http://{}", status.admin_addr);
    if let Some(disk) = status.disk {
        let mib = |bytes: u64| bytes >> 20;
        println!(
            "disk:   {} MiB free of {} MiB on the data dir's disk; {} MiB kept in reserve{}",
            mib(disk.available_bytes),
            mib(disk.total_bytes),
            mib(disk.reserve_bytes),
            if disk.kv_writes_refused {
                " (below it: bots' KV writes are refused; free space or lower --disk-reserve-mib)"
            } else {
                ""
            }
        );
    }
    if let Some(gateway) = status.gateway.filter(|g| g.bots > 0) {
        println!(
            "events: {} bots on the gateway ({} shards): {} received, {} delivered, {} dropped",
            gateway.bots,
            gateway.shards,
            gateway.events_received,
            gateway.events_delivered,
            gateway.events_dropped
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc_times() {
        assert_eq!(super::format_time(0), "1970-01-01T00:00:00.000Z");
        // `date -u -d @1795000000`
        assert_eq!(
            super::format_time(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            super::format_time(1_795_000_000_123),
            "2026-11-18T11:06:40.123Z"
        );
    }
}
