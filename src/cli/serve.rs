//! `appliance serve`.

use crate::config::{Config, FileConfig, ServeArgs};

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let config = Config::resolve(&args, file)?;
    crate::telemetry::init_as(config.log_format, config.log_filter.as_deref());
    // Before any thread starts: it clears systemd's variables.
    let inherited = crate::handover::systemd::inherited()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("appliance")
        .build()?;
    runtime.block_on(crate::app::run(config, inherited))
}
