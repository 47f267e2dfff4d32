//! `appliance doctor`: checks what breaks nodes in practice, one line per
//! check (ok, warn or fail) with what to do about it; exits 1 if any fails.
//!
//! It reads the configuration exactly as `serve` would (same flags, env
//! and file), so it checks the node as it runs or would start, and it only
//! reads: nothing is created or changed.

mod cert;
mod clock;
mod host;
mod listeners;

use std::time::Duration;

use crate::config::{Config, FileConfig, ServeArgs};

#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Compare the clock with this server's HTTP `Date` header
    /// [default: the Discord API's /gateway]
    #[arg(long, value_name = "URL")]
    pub time_url: Option<String>,
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Warn,
    Fail,
}

/// One checked thing: what was found and, unless it is fine, what to do.
#[derive(Debug)]
pub(crate) struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

impl Check {
    pub fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Ok, detail)
    }
    pub fn warn(name: &'static str, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Warn, detail)
    }
    pub fn fail(name: &'static str, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Fail, detail)
    }
    fn new(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
        Check {
            name,
            status,
            detail: detail.into(),
        }
    }
}

/// Network checks give up after this long.
pub(crate) const NETWORK_TIMEOUT: Duration = Duration::from_secs(5);

pub fn run(args: DoctorArgs) -> anyhow::Result<()> {
    let file = match &args.serve.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let config = Config::resolve(&args.serve, file)?;
    let time_url = args
        .time_url
        .unwrap_or_else(|| format!("{}/gateway", config.discord_api));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let checks = runtime.block_on(async {
        let mut checks = vec![
            clock::check(&time_url, config.limits.signature_max_age_s).await,
            cert::check(&config),
        ];
        checks.extend(host::checks(&config));
        checks.extend(listeners::check(&config).await);
        checks
    });
    for check in &checks {
        let status = match check.status {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        };
        // Paths and server answers may hold anything; one check, one line.
        println!(
            "{status:<4}  {:<12} {}",
            check.name,
            crate::text::for_terminal(&check.detail)
        );
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    anyhow::ensure!(
        failed == 0,
        "{failed} check{} failed",
        if failed == 1 { "" } else { "s" }
    );
    Ok(())
}
