//! Command-line interface: `serve` runs a node; every other command is a
//! client of a node's admin API.

mod backup;
mod client;
mod dev;
mod doctor;
mod fleet;
mod new;
mod serve;
mod show_config;

use std::path::PathBuf;

/// Host many Discord bots, each a sandboxed WebAssembly component, on one node.
#[derive(clap::Parser, Debug)]
#[command(name = "appliance", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Run a node: the public interactions endpoint and the admin API
    Serve(crate::config::ServeArgs),
    /// Deploy a bot component, or a new version of a deployed bot
    Deploy(client::DeployArgs),
    /// List the bots deployed on the node
    List(client::ListArgs),
    /// Show a bot's log lines and crash records
    Logs(client::LogsArgs),
    /// Serve an earlier version of a bot again (lifts a quarantine)
    Rollback(client::RollbackArgs),
    /// Stop serving a bot and delete it with its data
    Remove(client::RemoveArgs),
    /// Send an interaction body to a bot through the admin API (no Discord, no signature)
    Invoke(client::InvokeArgs),
    /// Show the node's addresses, uptime and bot count
    Status(client::StatusArgs),
    /// Show a bot's declared and registered slash commands, or sync them
    Commands(client::CommandsArgs),
    /// Write a new bot crate from a template
    New(new::NewArgs),
    /// Build, deploy and watch a bot crate: redeploy on every save, stream its logs
    Dev(dev::DevArgs),
    /// Check what breaks nodes (clock, certificate, limits, disk, permissions, listeners)
    Doctor(doctor::DoctorArgs),
    /// Show the configuration `serve` runs with
    #[command(subcommand)]
    Config(show_config::ConfigCommand),
    /// Write a checked backup of a running node to FILE (database, admin token, TLS material: secrets)
    Backup(backup::BackupArgs),
    /// Bring a node's data directory back from a backup (the node must not be running on it)
    Restore(backup::RestoreArgs),
    /// Fleets of nodes on NATS JetStream: members and health, and the engine's configs
    #[command(subcommand)]
    Fleet(fleet::FleetCommand),
}

/// How a client command reaches its node.
#[derive(clap::Args, Debug, Clone)]
pub struct NodeArgs {
    /// Admin API URL [default: from DATA_DIR/node.json, else http://127.0.0.1:8444]
    #[arg(long, env = "APPLIANCE_NODE", value_name = "URL")]
    pub node: Option<String>,
    /// Admin token [default: read from DATA_DIR/admin.token]
    #[arg(
        long,
        env = "APPLIANCE_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// The node's data directory, where the CLI finds its address and token
    #[arg(long, env = "APPLIANCE_DATA_DIR", value_name = "DIR", default_value = crate::config::defaults::DATA_DIR)]
    pub data_dir: PathBuf,
}

impl Cli {
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => serve::run(args),
            Command::Backup(args) => client::run(args.node.clone(), |c| backup::backup(c, args)),
            Command::Restore(args) => backup::restore(args),
            Command::Deploy(args) => {
                // A typo in an intent fails first, before the node is looked for.
                args.gateway.request().map_err(anyhow::Error::msg)?;
                crate::registry::Scope::new(args.guild.as_deref()).map_err(anyhow::Error::msg)?;
                client::run(args.node.clone(), |c| client::deploy(c, args))
            }
            Command::List(args) => client::run(args.node.clone(), |c| client::list(c, args)),
            Command::Logs(args) => client::run(args.node.clone(), |c| client::logs(c, args)),
            Command::Rollback(args) => {
                client::run(args.node.clone(), |c| client::rollback(c, args))
            }
            Command::Remove(args) => client::run(args.node.clone(), |c| client::remove(c, args)),
            Command::Invoke(args) => client::run(args.node.clone(), |c| client::invoke(c, args)),
            Command::Status(args) => client::run(args.node.clone(), |c| client::status(c, args)),
            Command::Commands(args) => {
                client::run(args.node.clone(), |c| client::commands(c, args))
            }
            Command::New(args) => new::run(args),
            Command::Dev(args) => dev::run(args),
            Command::Doctor(args) => doctor::run(args),
            Command::Config(command) => show_config::run(command),
            Command::Fleet(command) => fleet::run(command),
        }
    }
}
