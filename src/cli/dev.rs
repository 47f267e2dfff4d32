//! `appliance dev`: build, deploy, watch, rebuild and redeploy on save,
//! with the bot's logs streamed in between.

use std::path::PathBuf;

use crate::cli::NodeArgs;

#[derive(clap::Args, Debug)]
pub struct DevArgs {
    /// The bot's crate (the directory holding its Cargo.toml)
    #[arg(default_value = ".", value_name = "PATH")]
    pub path: PathBuf,
    /// Bot name on the node
    #[arg(long)]
    pub name: String,
    /// Discord application id the bot answers for
    #[arg(long, value_name = "ID")]
    pub app_id: String,
    /// The application's Ed25519 public key (hex, from the developer portal)
    #[arg(long, value_name = "HEX")]
    pub public_key: String,
    /// Read the bot token from this environment variable
    #[arg(long, value_name = "VAR", conflicts_with = "token_file")]
    pub token_env: Option<String>,
    /// Read the bot token from this file
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Register the bot's commands to this server only (instant, for testing)
    #[arg(long, value_name = "ID")]
    pub guild: Option<String>,
    #[command(flatten)]
    pub node: NodeArgs,
}

pub fn run(_args: DevArgs) -> anyhow::Result<()> {
    anyhow::bail!("`appliance dev` is not written yet")
}
