//! `appliance fleet status` (members, engine health, who runs what) and
//! `appliance fleet init` (the voting servers' nats-server configs and the
//! fleet key), and `deploy --wait`'s wait.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{client, NodeArgs};
use crate::admin::client::Client;
use crate::cluster::init::{self, VotingServer};
use crate::text::for_terminal;

#[derive(clap::Subcommand, Debug)]
pub enum FleetCommand {
    /// Show the fleet's members, this node's standing with the engine, and which version each node runs
    Status(StatusArgs),
    /// Write the nats-server config of each voting server, and the fleet key, into a directory
    Init(InitArgs),
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Print JSON instead of a summary
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// A voting server as NAME,HOST,SITE (give 3 or 5, each in its own site if you can)
    #[arg(long = "server", value_name = "NAME,HOST,SITE", required = true)]
    pub servers: Vec<VotingServer>,
    /// Where the configs go (created; existing files are not overwritten)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The servers' JetStream directory
    #[arg(long, value_name = "DIR", default_value = "/var/lib/nats/jetstream")]
    pub store_dir: String,
}

pub fn run(command: FleetCommand) -> anyhow::Result<()> {
    match command {
        FleetCommand::Status(args) => {
            client::run(
                args.node.clone(),
                |c| async move { status(c, args.json).await },
            )
        }
        FleetCommand::Init(args) => init(args),
    }
}

async fn status(client: Client, json: bool) -> anyhow::Result<()> {
    let fleet = client.fleet().await?;
    if json {
        println!(
            "{}",
            crate::text::json_for_terminal(&serde_json::to_string_pretty(&fleet)?)
        );
        return Ok(());
    }
    let engine = &fleet["engine"];
    println!(
        "node {} (site {}): engine {}",
        for_terminal(fleet["node"].as_str().unwrap_or("?")),
        for_terminal(fleet["site"].as_str().unwrap_or("?")),
        if engine["healthy"].as_bool() == Some(true) {
            "healthy".to_owned()
        } else {
            format!(
                "NOT healthy: {}",
                for_terminal(engine["reason"].as_str().unwrap_or("?"))
            )
        }
    );
    println!("members:");
    for member in fleet["members"].as_array().into_iter().flatten() {
        println!(
            "  {:<16} site {:<10} bots {:<5} public {}",
            for_terminal(member["node"].as_str().unwrap_or("?")),
            for_terminal(member["site"].as_str().unwrap_or("?")),
            member["bots"],
            for_terminal(member["public_addr"].as_str().unwrap_or("?")),
        );
    }
    let owner_of = |bot: &str| {
        fleet["owners"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["bot"] == bot)
            .and_then(|o| o["node"].as_str())
            .unwrap_or("none")
            .to_owned()
    };
    println!("bots:");
    for bot in fleet["bots"].as_array().into_iter().flatten() {
        let sha = bot["sha256"].as_str().unwrap_or("");
        let nodes: Vec<String> = bot["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| {
                let theirs = n["sha256"].as_str().unwrap_or("");
                let node = n["node"].as_str().unwrap_or("?");
                match n["error"].as_str() {
                    Some(error) => format!("{node} cannot apply it: {error}"),
                    None => format!(
                        "{node} v{}{}",
                        n["version"],
                        if theirs == sha { "" } else { " (behind)" }
                    ),
                }
            })
            .collect();
        let name = bot["name"].as_str().unwrap_or("?");
        if sha.is_empty() {
            println!(
                "  {:<16} served by this node only (deployed before it joined the fleet)",
                for_terminal(name)
            );
            continue;
        }
        println!(
            "  {:<16} sha256 {}  owner {}  {}",
            for_terminal(name),
            sha.get(..12).unwrap_or(sha),
            for_terminal(&owner_of(name)),
            for_terminal(&nodes.join(", "))
        );
    }
    Ok(())
}

/// Waits until every live member reports `sha256` for `bot`.
pub async fn wait_for_version(
    client: &Client,
    bot: &str,
    sha256: &str,
    secs: u64,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let fleet = client.fleet().await?;
        let members: Vec<&str> = fleet["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["node"].as_str())
            .collect();
        let on_it: Vec<&str> = fleet["bots"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["name"] == bot)
            .flat_map(|b| b["nodes"].as_array().into_iter().flatten())
            .filter(|n| n["sha256"] == sha256 && n["error"].is_null())
            .filter_map(|n| n["node"].as_str())
            .collect();
        let behind: Vec<&str> = members
            .iter()
            .copied()
            .filter(|m| !on_it.contains(m))
            .collect();
        if !members.is_empty() && behind.is_empty() {
            println!(
                "{}/{} nodes serve {bot} sha256 {}",
                members.len(),
                members.len(),
                sha256.get(..12).unwrap_or(sha256)
            );
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(secs),
            "after {secs} s, {}/{} nodes serve this version; still behind: {}",
            members.len() - behind.len(),
            members.len(),
            for_terminal(&behind.join(", "))
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn init(args: InitArgs) -> anyhow::Result<()> {
    init::validate(&args.servers).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("failed to create {}", args.out.display()))?;
    let mut files = Vec::new();
    for (index, server) in args.servers.iter().enumerate() {
        files.push((
            args.out.join(format!("{}.conf", server.name)),
            init::server_config(&args.servers, index, &args.store_dir),
        ));
    }
    let key = args.out.join("fleet.key");
    files.push((
        key.clone(),
        crate::cluster::seal::Sealer::generate_hex() + "\n",
    ));
    for (path, _) in &files {
        anyhow::ensure!(
            !path.exists(),
            "{} exists; not overwriting it",
            path.display()
        );
    }
    for (path, text) in &files {
        if *path == key {
            crate::fsutil::write_private(path, text.as_bytes())?;
        } else {
            std::fs::write(path, text)
                .with_context(|| format!("failed to write {}", path.display()))?;
        }
        println!("wrote {}", path.display());
    }
    let mut sites: Vec<&str> = args.servers.iter().map(|s| s.site.as_str()).collect();
    sites.sort();
    sites.dedup();
    println!("run on each server: nats-server -c NAME.conf (nats-server 2.12 or later)");
    println!("copy fleet.key to every node (mode 0600), then on a node at each site:");
    for site in sites {
        println!(
            "  appliance serve --fleet-servers {} --fleet-site {site} --fleet-node NAME --fleet-key-file /path/to/fleet.key",
            init::servers_flag(&args.servers, site)
        );
    }
    Ok(())
}
