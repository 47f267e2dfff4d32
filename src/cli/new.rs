//! `appliance new`: writes a bot crate that builds on its own.

use std::path::PathBuf;

/// The kind of bot a new crate starts as.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Template {
    /// One typed slash command with an option, and a button
    #[default]
    Command,
    /// A counter kept in the bot's key-value store
    Counter,
    /// A bot that reacts to gateway events
    Events,
}

#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// The bot's crate name (letters, digits, `-` and `_`)
    pub name: String,
    /// What the bot starts as
    #[arg(long, value_enum, default_value_t = Template::Command)]
    pub template: Template,
    /// Where to write the crate [default: ./NAME]
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
}

pub fn run(_args: NewArgs) -> anyhow::Result<()> {
    anyhow::bail!("`appliance new` is not written yet")
}
