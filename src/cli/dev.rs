//! `appliance dev`: build, deploy, watch, rebuild and redeploy on save,
//! with the bot's logs streamed in between.
//!
//! The bot on the node only ever changes by a successful build and deploy:
//! a build the compiler refuses, or a deploy the node refuses, leaves the
//! last good version serving, and the loop waits for the next save.

mod build;
mod watch;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::admin::api::GatewayFlags;
use crate::admin::client::Client;
use crate::cli::client::{self, DeployArgs, LogTail};
use crate::cli::NodeArgs;
use crate::limits::LimitOverrides;
use crate::text::for_terminal;

/// How often the sources are looked at.
const POLL: Duration = Duration::from_millis(250);
/// A burst of saves (an editor writing several files, a formatter) is over
/// once nothing changed for this long; then one build starts.
const QUIET: Duration = Duration::from_millis(300);

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
    /// Register the bot's commands to this server (its id) instead of
    /// globally: Discord shows them there at once
    #[arg(long, value_name = "ID")]
    pub guild: Option<String>,
    #[command(flatten)]
    pub limits: LimitOverrides,
    #[command(flatten)]
    pub gateway: GatewayFlags,
    #[command(flatten)]
    pub node: NodeArgs,
}

pub fn run(args: DevArgs) -> anyhow::Result<()> {
    let manifest = args.path.join("Cargo.toml");
    let manifest = manifest.canonicalize().with_context(|| {
        format!(
            "{} is not a crate (no Cargo.toml there): pass the bot crate's directory, or write one with `appliance new NAME`",
            args.path.display()
        )
    })?;
    let dir = manifest.parent().expect("a file has a parent").to_owned();
    build::preflight(&dir)?;
    // What the node would refuse at every deploy fails before anything is built.
    crate::protocol::signature::parse_public_key(&args.public_key).map_err(anyhow::Error::msg)?;
    args.gateway.request().map_err(anyhow::Error::msg)?;
    crate::registry::Scope::new(args.guild.as_deref()).map_err(anyhow::Error::msg)?;
    client::run(args.node.clone(), |c| dev(c, args, manifest))
}

/// What the node serves, as far as this loop knows.
struct Deployed {
    version: i64,
    sha256: [u8; 32],
}

async fn dev(client: Client, args: DevArgs, manifest: PathBuf) -> anyhow::Result<()> {
    // An unreachable node is worth knowing before the first build.
    client.status().await?;
    let dir = manifest.parent().expect("a file has a parent");
    let mut watch = watch::Watch::new(dir);
    let mut stop = std::pin::pin!(stop_signal());
    let mut deployed: Option<Deployed> = None;
    // Where the bot's log starts for this session, taken before the first
    // deploy so no line after it is missed: the bot's last line now, or
    // its first if this loop is about to create it.
    let mut tail = Some(match LogTail::from_now(&client, &args.name).await {
        Ok(tail) => tail,
        Err(err) if is_not_found(&err) => LogTail::from_start(&args.name),
        Err(err) => return Err(err),
    });
    let mut logs: Option<tokio::task::JoinHandle<()>> = None;
    say(&format!(
        "watching {} ({}); Ctrl-C stops",
        dir.display(),
        watch::Watch::describe()
    ));
    let mut reason = "first build".to_owned();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            () = round(&client, &args, &manifest, &reason, &mut deployed) => {}
        }
        if deployed.is_some() {
            if let Some(tail) = tail.take() {
                logs = Some(tokio::spawn(follow_logs(client.clone(), tail)));
            }
        }
        // Changes during the build are seen here, against the sources
        // as they were before it.
        let changed = tokio::select! {
            _ = &mut stop => break,
            changed = next_change(&mut watch) => changed,
        };
        reason = format!("{} changed", changed.display());
    }
    if let Some(logs) = logs {
        logs.abort();
    }
    match deployed {
        Some(d) => say(&format!(
            "stopped; {} version {} keeps running on the node",
            args.name, d.version
        )),
        None => say("stopped; nothing was deployed"),
    }
    Ok(())
}

/// One build, and a deploy if it built something new.
async fn round(
    client: &Client,
    args: &DevArgs,
    manifest: &Path,
    reason: &str,
    deployed: &mut Option<Deployed>,
) {
    let keeps = match deployed {
        Some(d) => format!("version {} keeps running", d.version),
        None => "nothing deployed yet".to_owned(),
    };
    say(&format!("building ({reason})"));
    let started = Instant::now();
    let wasm = match build::build(manifest).await {
        Ok(build::Built::Wasm(wasm)) => wasm,
        Ok(build::Built::Failed) => {
            say(&format!(
                "build failed; fix the error above and save ({keeps})"
            ));
            return;
        }
        Err(err) => {
            say(&format!("build failed: {err} ({keeps})"));
            return;
        }
    };
    let built_in = started.elapsed();
    let sha256: [u8; 32] = match std::fs::read(&wasm) {
        Ok(bytes) => Sha256::digest(&bytes).into(),
        Err(err) => {
            say(&format!("cannot read {}: {err} ({keeps})", wasm.display()));
            return;
        }
    };
    if let Some(d) = deployed {
        if d.sha256 == sha256 {
            say(&format!(
                "built in {:.1} s; the component is unchanged, version {} keeps running",
                built_in.as_secs_f64(),
                d.version
            ));
            return;
        }
    }
    let deploy = DeployArgs {
        wasm,
        app_id: args.app_id.clone(),
        public_key: args.public_key.clone(),
        name: Some(args.name.clone()),
        token_env: args.token_env.clone(),
        token_file: args.token_file.clone(),
        limits: args.limits,
        gateway: args.gateway.clone(),
        guild: args.guild.clone(),
        wait: None,
        node: args.node.clone(),
    };
    let deploying = Instant::now();
    match client::send_deploy(client, &deploy).await {
        Ok(answer) => {
            say(&format!(
                "deployed {} version {} (built in {:.1} s, deployed in {:.1} s)",
                for_terminal(&answer.name),
                answer.version,
                built_in.as_secs_f64(),
                deploying.elapsed().as_secs_f64()
            ));
            if let Some(commands) = &answer.commands {
                say(&for_terminal(&commands.summary()));
            }
            if deployed.is_none() {
                if let Some(endpoint) = client::endpoint(client, &args.app_id).await {
                    say(&format!("Discord interactions endpoint: {endpoint}"));
                }
            }
            *deployed = Some(Deployed {
                version: answer.version,
                sha256,
            });
        }
        Err(err) => say(&format!(
            "deploy refused: {} ({keeps})",
            for_terminal(&format!("{err:#}"))
        )),
    }
}

/// Waits for a change to the sources, then for the burst it starts to
/// end; returns the first file changed.
async fn next_change(watch: &mut watch::Watch) -> PathBuf {
    let first = loop {
        tokio::time::sleep(POLL).await;
        if let Some(path) = watch.changed() {
            break path;
        }
    };
    loop {
        tokio::time::sleep(QUIET).await;
        if watch.changed().is_none() {
            return first;
        }
    }
}

/// Prints the bot's new log lines and crashes until aborted. A failed
/// poll (the node restarting, the bot removed) is said once, and the
/// follower keeps trying.
async fn follow_logs(client: Client, mut tail: LogTail) {
    let mut last_error = None;
    loop {
        tokio::time::sleep(LogTail::POLL).await;
        match tail.poll(&client).await {
            Ok(()) => last_error = None,
            Err(err) => {
                let err = format!("{err:#}");
                if last_error.as_ref() != Some(&err) {
                    say(&format!("logs: {}", for_terminal(&err)));
                    last_error = Some(err);
                }
            }
        }
    }
}

/// The node's answer for a bot it does not have.
fn is_not_found(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<crate::admin::client::Error>(),
        Some(crate::admin::client::Error::Api { status, .. }) if *status == hyper::StatusCode::NOT_FOUND
    )
}

/// Ctrl-C, or SIGTERM (a supervisor, `kill PID`).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// One line of the dev loop's own, in the logs' format (time, then a
/// column saying whose line it is).
fn say(message: &str) {
    println!(
        "{} dev   {message}",
        client::format_time(crate::clock::unix_ms())
    );
}
