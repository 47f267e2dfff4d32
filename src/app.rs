//! Wiring for `appliance serve`: data dir, store, sandbox engine, fleet,
//! both listeners, and shutdown on SIGINT/SIGTERM.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::admin::api::{NodeFile, ADMIN_TOKEN_FILE, NODE_FILE};
use crate::admin::Admin;
use crate::config::{Config, Tls};
use crate::dispatch::Dispatcher;
use crate::edge::{ConnGuard, EdgeLimits};
use crate::fleet::Fleet;
use crate::gateway::Gateway;
use crate::http::tls::{self, ReloadingCert, Terminator};
use crate::ingress::ready::Readiness;
use crate::ingress::replay::{Entry, ReplayMemory};
use crate::ingress::Ingress;
use crate::metrics::Metrics;
use crate::store::Db;
use crate::{fsutil, handover, http, sandbox};

const DB_FILE: &str = "appliance.db";
/// A live instance unused this long is dropped; the next event instantiates
/// a fresh one from the cached artifact in microseconds.
const IDLE_INSTANCE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
const IDLE_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a shutdown waits for in-flight work: long enough for a bot at
/// the default 10 s limit plus the delivery of its late answer.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);
/// How often certificate files are checked for changes.
const CERT_POLL_EVERY: std::time::Duration = std::time::Duration::from_secs(2);
/// How long a fleet member's start waits for the engine (a fresh
/// cluster elects its JetStream leader in under a second).
const FLEET_CONNECT_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// `inherited`: listeners systemd passed (socket activation), taken before
/// the runtime started.
pub async fn run(config: Config, inherited: handover::systemd::Inherited) -> anyhow::Result<()> {
    let started = Instant::now();
    let data_dir = &config.data_dir;
    // What an operator named is checked before anything is created: a typo
    // in a certificate path or a port in use must not leave a half-made data
    // dir behind on a first start.
    let named_cert = match &config.tls {
        Tls::Files { cert, key } => Some(Terminator::files(Arc::new(ReloadingCert::load(
            cert, key, false,
        )?))?),
        Tls::Acme {
            ca_root: Some(ca_root),
            ..
        } => {
            tls::acme_client_config(ca_root)?;
            None
        }
        _ => None,
    };
    let named_cache = config
        .compile_cache
        .as_deref()
        .map(open_compile_cache)
        .transpose()?;
    // A fleet setting a typo broke (a name, the key file) is refused before
    // the data dir is made, like a bad certificate.
    if let Some(settings) = &config.fleet {
        settings.validate().map_err(anyhow::Error::msg)?;
        crate::cluster::seal::Sealer::from_file(&settings.key_file)?;
    }
    // Listeners and the data-dir lock come from the node serving the data
    // dir (a takeover, once this one has loaded every bot), or are bound here.
    let origin = if config.takeover {
        create_private_dir(data_dir)?;
        Origin::Predecessor(handover::Taker::connect(data_dir).await?)
    } else {
        let (public, admin) = own_listeners(&config, inherited).await?;
        create_private_dir(data_dir)?;
        // Two nodes on one data dir would both hold every bot's gateway
        // sessions (Discord would send each event twice); the lock is
        // released when the process ends, however it ends.
        let lock = lock_data_dir(data_dir)?;
        Origin::Own {
            public,
            admin,
            lock,
        }
    };
    // Opening runs the migrations: off the async executor.
    let db_path = data_dir.join(DB_FILE);
    let db = tokio::task::spawn_blocking(move || Db::open(&db_path))
        .await?
        .with_context(|| format!("failed to open database in {}", data_dir.display()))?;
    // Tenants' KV writes leave this much of the disk to the node's own work.
    db.set_disk_reserve(crate::store::DiskReserve::new(
        data_dir,
        config.disk_reserve_mib,
    ));
    let token = admin_token(data_dir)?;

    let pool = sandbox::PoolConfig {
        max_instances: config.max_instances,
        max_memory_mib: crate::limits::MAX_MEMORY_MIB,
    };
    // Compiled functions outlive a bot: the next deploy of a bot carrying
    // the same code (a JS or Python engine, an unchanged library) reuses them.
    let cache = match named_cache {
        Some(cache) => cache,
        None => open_compile_cache(&data_dir.join("compile-cache"))?,
    };
    let engine = Arc::new(
        sandbox::Engine::with_compile_cache(pool, Some(Arc::new(cache)))
            .context("failed to start the WebAssembly engine")?,
    );
    let artifacts = data_dir.join("artifacts");
    create_private_dir(&artifacts)?;
    let discord = Arc::new(
        crate::discord::Client::new(&config.discord_api)
            .with_context(|| format!("invalid --discord-api {}", config.discord_api))?,
    );
    // In a fleet, the engine is reached before the node serves (a node
    // that cannot reach it would only answer 503 on /readyz), and before
    // the bots load: their key-value data lives there.
    let cluster = match &config.fleet {
        Some(settings) => Some(Arc::new(
            crate::cluster::Cluster::connect(settings.clone(), FLEET_CONNECT_WITHIN).await?,
        )),
        None => None,
    };
    let commands = Arc::new(crate::gateway::CommandRouter::default());
    let mut fleet =
        Fleet::new(engine, db.clone(), artifacts, discord.clone()).with_gateway(commands.clone());
    if let Some(cluster) = &cluster {
        cluster
            .botkv
            .keep_unknown_bots_in(crate::sandbox::LocalKv(db.clone()));
        fleet = fleet.with_kv(cluster.botkv.clone());
    }
    let fleet = Arc::new(fleet);
    let loaded = fleet.load_all().await?;

    let terminator = tls_terminator(&config, named_cert)?.map(Arc::new);
    if let Some(cert) = terminator.as_ref().and_then(|t| t.reloading()) {
        let info = cert.info();
        info!(
            cert = %info.cert_path.display(),
            sha256 = %info.sha256_fingerprint,
            self_signed = info.self_signed,
            "TLS certificate (reloaded on SIGHUP or when the files change)"
        );
        tokio::spawn(watch_certificate(cert.clone()));
    } else {
        tokio::spawn(ignore_hangup());
    }
    let tls_enabled = terminator.is_some();
    raise_open_files_limit(config.limits.max_connections);
    let mut signals = Signals::new()?;

    // Everything that can fail has: only now are the listeners taken over.
    let Listeners {
        public,
        admin,
        lock,
        replay,
        predecessor,
    } = origin.listeners().await?;
    let replay = replay.or_else(|| take_saved_replay(data_dir));
    let public_addr = public.local_addr()?;
    let admin_addr = admin.local_addr()?;
    if !admin_addr.ip().is_loopback() {
        warn!(%admin_addr, "the admin API listens beyond loopback; protect its port and token");
    }
    // The accept loops own the listeners; these copies are for a successor.
    let public_fd = public.as_fd().try_clone_to_owned()?;

    let limits = Arc::new(config.limits.clone());
    let metrics = Arc::new(Metrics::default());
    let dispatcher = Dispatcher::new(db.clone(), discord.clone(), config.defer_after);
    let gateway = Gateway::new(db.clone(), fleet.clone(), dispatcher.clone(), discord);
    commands.set(&gateway);
    if let Some(cluster) = &cluster {
        // Only a bot's owner holds its sessions, resuming its predecessor's.
        gateway.hold_only(cluster.session_holding());
    }
    let readiness = Readiness::new(db.clone());
    let readiness = Arc::new(match &cluster {
        Some(cluster) => readiness.with_engine(cluster.health.clone()),
        None => readiness,
    });
    // The listeners serve from here on, and every bot is loaded.
    readiness.loaded();
    let ingress = Ingress::new(
        fleet.clone(),
        dispatcher.clone(),
        limits.clone(),
        metrics.clone(),
        readiness.clone(),
        replay,
    );
    let ingress = Arc::new(match &cluster {
        Some(cluster) => ingress.with_cluster(cluster.clone(), config.defer_after),
        None => ingress,
    });
    let drainer = dispatcher.clone();
    let admin_state = Arc::new(Admin {
        fleet,
        db,
        dispatcher,
        metrics: metrics.clone(),
        gateway: Some(gateway.clone()),
        token,
        started,
        public_addr: public_addr.to_string(),
        admin_addr: admin_addr.to_string(),
        tls: tls_enabled,
        backups: crate::admin::backups::Backups::new(data_dir),
        cluster: cluster.clone(),
    });
    if let Some(cluster) = &cluster {
        let fleet = admin_state.fleet.clone();
        let member = crate::cluster::Member {
            node: cluster.settings.node.clone(),
            site: cluster.settings.site.clone(),
            public_addr: public_addr.to_string(),
            admin_addr: admin_addr.to_string(),
            at_ms: 0,
            started_ms: crate::clock::unix_ms(),
            bots: 0,
        };
        let counted = fleet.clone();
        cluster.start_heartbeat(move || crate::cluster::Member {
            at_ms: crate::clock::unix_ms(),
            bots: counted.all().len(),
            ..member.clone()
        });
        cluster.start_owning(fleet.clone(), admin_state.dispatcher.clone());
        let admin = admin_state.clone();
        cluster.answer_logs(Arc::new(move |bot: String, query: String| {
            let admin = admin.clone();
            Box::pin(async move { admin.logs_for_fleet(&bot, &query).await })
        }));
        cluster.start_following(fleet);
        info!(node = %cluster.settings.node, site = %cluster.settings.site, "joined the fleet");
    }

    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    // Idle bots give their instances back: they then cost only their artifact.
    let sweeper_fleet = admin_state.fleet.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(IDLE_SWEEP_EVERY);
        loop {
            tick.tick().await;
            let dropped = sweeper_fleet.evict_idle(IDLE_INSTANCE_TIMEOUT);
            if dropped > 0 {
                tracing::debug!(dropped, "evicted idle instances");
            }
        }
    });
    let public_options = http::ListenerOptions {
        tls: terminator,
        conns: Some(ConnGuard::new(
            limits.max_connections,
            limits.max_connections_per_ip,
        )),
        limits,
        idle_watchdog: true,
        metrics: Some(metrics.clone()),
    };
    // The admin API is on loopback for the operator: no caps, and no idle
    // watchdog (`appliance invoke` may wait on a slow bot).
    let admin_options = http::ListenerOptions {
        tls: None,
        limits: Arc::new(EdgeLimits::default()),
        conns: None,
        idle_watchdog: false,
        metrics: None,
    };
    let public_ingress = ingress.clone();
    let public_task = tokio::spawn(http::serve(
        public,
        public_options,
        Arc::new(move |request, peer| public_ingress.clone().handle(request, peer)),
        shutdown_rx,
    ));
    let admin_handler = Arc::new(
        move |request: hyper::Request<hyper::body::Incoming>, _peer: std::net::SocketAddr| {
            admin_state.clone().handle(request)
        },
    );
    let mut admin = AdminListener::start(admin, move |listener, stop| {
        tokio::spawn(http::serve(
            listener,
            admin_options.clone(),
            admin_handler.clone(),
            stop,
        ))
    })?;

    // Sessions start once the node can serve their bots' interactions too,
    // and, after a takeover, once the old node has saved its own.
    match predecessor {
        None => gateway.start(),
        Some(predecessor) => follow_predecessor(predecessor, ingress.clone(), gateway.clone()),
    }
    let offer = handover::Offer::listen(data_dir)
        .inspect_err(|err| warn!(error = %err, "cannot offer a handover; `serve --takeover` will not find this node"))
        .ok();

    // Listening starts before `node.json` says the node serves.
    let node_file = NodeFile {
        pid: std::process::id(),
        public_addr,
        admin_addr,
        tls: tls_enabled,
    };
    fsutil::write_atomic(
        &data_dir.join(NODE_FILE),
        &serde_json::to_vec_pretty(&node_file)?,
    )?;
    let scheme = if tls_enabled { "https" } else { "http" };
    info!(
        bots = loaded,
        public = %format!("{scheme}://{public_addr}/interactions/APP_ID"),
        admin = %format!("http://{admin_addr}"),
        data_dir = %data_dir.display(),
        startup_ms = started.elapsed().as_millis() as u64,
        "node serving"
    );

    let successor = tokio::select! {
        _ = signals.recv() => None,
        successor = wait_for_successor(offer, &mut admin, &ingress, public_fd.as_fd(), lock.as_fd()) => Some(successor),
    };
    readiness.draining();
    let handed_over = successor.is_some();
    if handed_over {
        info!(
            grace_secs = SHUTDOWN_GRACE.as_secs(),
            "handed the listeners over to the new process; finishing in-flight interactions"
        );
    } else {
        info!(
            grace_secs = SHUTDOWN_GRACE.as_secs(),
            "shutting down: no new connections; finishing in-flight interactions (signal again to exit now)"
        );
    }
    let _ = shutdown_tx.send(true);
    // Ids still accepted on open connections go to the successor, and so
    // does the word that the gateway sessions are saved.
    let (released, forwarding) = match successor {
        Some((giver, forwarded)) => {
            let (released, on_release) = tokio::sync::oneshot::channel();
            let feeding = feed_successor(giver, forwarded, on_release);
            (Some(released), Some(tokio::spawn(feeding)))
        }
        None => (None, None),
    };
    // In-flight requests get their answers (deferrals included), then the
    // bots still running finish and their late answers and logs go out.
    // Gateway sessions close resumable (4000) with their watermarks saved.
    let drain = async {
        gateway.shutdown().await;
        if let Some(released) = released {
            let _ = released.send(());
        }
        let _ = public_task.await;
        if !handed_over {
            save_replay(data_dir, &ingress.replay().snapshot());
        }
        admin.stop().await;
        // The last handle on the replay memory: its forwarding ends with it.
        drop(ingress);
        if let Some(forwarding) = forwarding {
            let _ = forwarding.await;
        }
        drainer.drain().await;
    };
    // After a handover, `node.json` and the lock are the new process's.
    let leave = || {
        if !handed_over {
            let _ = std::fs::remove_file(data_dir.join(NODE_FILE));
        }
    };
    tokio::select! {
        _ = drain => info!("drained"),
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => warn!("in-flight work outlived the shutdown grace period; exiting anyway"),
        _ = signals.recv() => {
            warn!("second signal: exiting now");
            leave();
            std::process::exit(1);
        }
    }
    leave();
    drop(lock);
    Ok(())
}

/// Where a clean stop leaves the replay memory for the next start.
const REPLAY_FILE: &str = "replay.mem";

fn open_compile_cache(dir: &Path) -> anyhow::Result<sandbox::DiskCache> {
    sandbox::DiskCache::open(dir)
        .with_context(|| format!("failed to open the compile cache {}", dir.display()))
}

/// The replay memory the last process left at a clean stop, taken (the
/// file is deleted as it is read, so only the latest clean stop counts). A
/// restart (systemd's included, where no `--takeover` hands it over) then
/// still refuses what the last process accepted, and answers a request
/// signed a moment before the restart. Without the file (first start,
/// `kill -9`), the new guard refuses everything signed before it started.
fn take_saved_replay(data_dir: &Path) -> Option<ReplayMemory> {
    let path = data_dir.join(REPLAY_FILE);
    let bytes = std::fs::read(&path).ok()?;
    if let Err(err) = std::fs::remove_file(&path) {
        // Kept, it could be read again at a later start: start afresh.
        warn!(error = %err, "cannot remove the saved replay memory; starting without it");
        return None;
    }
    match ReplayMemory::from_bytes(&bytes) {
        Ok(memory) => {
            info!(
                ids = memory.entries.len(),
                "replay memory of the last clean stop carried on"
            );
            Some(memory)
        }
        Err(err) => {
            warn!(error = %err, "ignoring the saved replay memory");
            None
        }
    }
}

fn save_replay(data_dir: &Path, memory: &ReplayMemory) {
    if let Err(err) = fsutil::write_private(&data_dir.join(REPLAY_FILE), &memory.to_bytes()) {
        warn!(error = %format!("{err:#}"), "cannot save the replay memory; the next start refuses requests signed before it");
    }
}

/// Where a node's listeners come from.
enum Origin {
    /// Bound here (or passed by systemd), with the data-dir lock taken.
    Own {
        public: TcpListener,
        admin: TcpListener,
        lock: std::fs::File,
    },
    /// The node serving the data dir, ready to hand them over.
    Predecessor(handover::Taker),
}

struct Listeners {
    public: TcpListener,
    admin: TcpListener,
    lock: std::fs::File,
    /// The predecessor's replay memory, carried on.
    replay: Option<ReplayMemory>,
    /// The predecessor, still finishing its work.
    predecessor: Option<handover::Taker>,
}

impl Origin {
    async fn listeners(self) -> anyhow::Result<Listeners> {
        match self {
            Origin::Own {
                public,
                admin,
                lock,
            } => Ok(Listeners {
                public,
                admin,
                lock,
                replay: None,
                predecessor: None,
            }),
            Origin::Predecessor(mut taker) => {
                let inherited = taker.take().await?;
                info!("took over the listeners from the node serving this data dir");
                Ok(Listeners {
                    public: adopt(inherited.public)?,
                    admin: adopt(inherited.admin)?,
                    lock: inherited.lock,
                    replay: Some(inherited.replay),
                    predecessor: Some(taker),
                })
            }
        }
    }
}

/// The listeners systemd passed, else bound as configured.
async fn own_listeners(
    config: &Config,
    inherited: handover::systemd::Inherited,
) -> anyhow::Result<(TcpListener, TcpListener)> {
    let public = match inherited.public {
        Some(listener) => adopt(listener)?,
        None => TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("failed to listen on {} (--listen)", config.listen))?,
    };
    let admin = match inherited.admin {
        Some(listener) => adopt(listener)?,
        None => TcpListener::bind(config.admin_listen)
            .await
            .with_context(|| {
                format!(
                    "failed to listen on {} (--admin-listen)",
                    config.admin_listen
                )
            })?,
    };
    Ok((public, admin))
}

/// A listener from elsewhere (systemd, a predecessor), for tokio.
fn adopt(listener: std::net::TcpListener) -> std::io::Result<TcpListener> {
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

/// The admin API's accept loop, which a handover pauses (so no deploy lands
/// after the successor read the fleet) and resumes if the successor gives up.
struct AdminListener {
    /// A copy of the listener, to serve again or hand over.
    fd: std::os::fd::OwnedFd,
    spawn: Box<dyn Fn(TcpListener, tokio::sync::watch::Receiver<bool>) -> JoinHandle<()> + Send>,
    running: Option<(tokio::sync::watch::Sender<bool>, JoinHandle<()>)>,
}

impl AdminListener {
    /// Serves `listener` with `spawn` (which starts an accept loop).
    fn start(
        listener: TcpListener,
        spawn: impl Fn(TcpListener, tokio::sync::watch::Receiver<bool>) -> JoinHandle<()>
            + Send
            + 'static,
    ) -> std::io::Result<AdminListener> {
        let mut admin = AdminListener {
            fd: listener.as_fd().try_clone_to_owned()?,
            spawn: Box::new(spawn),
            running: None,
        };
        admin.serve(listener);
        Ok(admin)
    }

    fn serve(&mut self, listener: TcpListener) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        self.running = Some((stop, (self.spawn)(listener, stopped)));
    }

    /// Stops accepting and waits for the open connections' requests.
    async fn stop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(true);
            let _ = task.await;
        }
    }

    fn resume(&mut self) -> std::io::Result<()> {
        if self.running.is_none() {
            let listener = std::net::TcpListener::from(self.fd.try_clone()?);
            self.serve(adopt(listener)?);
        }
        Ok(())
    }
}

/// Waits until a successor (`serve --takeover`) has taken the listeners,
/// the lock and the replay memory; never returns without one.
async fn wait_for_successor(
    offer: Option<handover::Offer>,
    admin: &mut AdminListener,
    ingress: &Ingress,
    public: BorrowedFd<'_>,
    lock: BorrowedFd<'_>,
) -> (handover::Giver, UnboundedReceiver<Entry>) {
    let Some(offer) = offer else {
        return std::future::pending().await;
    };
    loop {
        let mut giver = match offer.next().await {
            Ok(giver) => giver,
            Err(err) => {
                warn!(error = %err, "handover socket failed");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        info!("a new process is taking over: admin requests wait until it serves");
        admin.stop().await;
        let attempt = async {
            giver.ready().await?;
            giver.taken().await?;
            let (forward, forwarded) = tokio::sync::mpsc::unbounded_channel();
            let memory = ingress.replay().hand_over(forward);
            giver.give(public, admin.fd.as_fd(), lock, &memory).await?;
            Ok::<_, handover::Error>(forwarded)
        };
        match attempt.await {
            Ok(forwarded) => return (giver, forwarded),
            Err(err) => {
                warn!(error = %err, "the new process gave up taking over; serving on");
                if let Err(err) = admin.resume() {
                    warn!(error = %err, "cannot serve the admin API again");
                }
            }
        }
    }
}

/// The old node's side after the handover: forwards the ids it still
/// accepts (until its ingress is gone), and says when its gateway sessions
/// are saved.
async fn feed_successor(
    mut giver: handover::Giver,
    mut forwarded: UnboundedReceiver<Entry>,
    mut released: tokio::sync::oneshot::Receiver<()>,
) {
    let mut released_sent = false;
    loop {
        tokio::select! {
            entry = forwarded.recv() => {
                let Some(entry) = entry else { break };
                let mut entries = vec![entry];
                while let Ok(entry) = forwarded.try_recv() {
                    entries.push(entry);
                }
                if let Err(err) = giver.forward(&entries).await {
                    warn!(error = %err, "the new process stopped listening to the handover");
                    return;
                }
            }
            result = &mut released, if !released_sent => {
                released_sent = true;
                if result.is_ok() {
                    let _ = giver.gateway_released().await;
                }
            }
        }
    }
    if !released_sent && (&mut released).await.is_ok() {
        let _ = giver.gateway_released().await;
    }
}

/// The new node's side after the handover: takes in the ids the old node
/// still accepts, and starts the gateway once the old node's sessions are
/// saved (or it is gone).
fn follow_predecessor(predecessor: handover::Taker, ingress: Arc<Ingress>, gateway: Gateway) {
    let (released, on_release) = tokio::sync::oneshot::channel();
    tokio::spawn(predecessor.follow(move |entries| ingress.replay().absorb(entries), released));
    tokio::spawn(async move {
        let _ = on_release.await;
        info!("the old process saved its gateway sessions; starting ours");
        gateway.start();
    });
}

/// The public listener's TLS, `None` for plain HTTP; `named_cert` is the
/// operator's certificate (`--tls-cert`/`--tls-key`), already loaded and checked.
fn tls_terminator(
    config: &Config,
    named_cert: Option<Terminator>,
) -> anyhow::Result<Option<Terminator>> {
    let data_dir = &config.data_dir;
    match &config.tls {
        Tls::Plain => Ok(None),
        // Loaded and checked before the data dir was created.
        Tls::Files { .. } => Ok(named_cert),
        Tls::SelfSigned => {
            let (cert, key) = tls::ensure_self_signed(&data_dir.join("tls"))?;
            let cert = ReloadingCert::load(&cert, &key, true)?;
            Ok(Some(Terminator::files(Arc::new(cert))?))
        }
        Tls::Acme {
            domains,
            contact,
            directory,
            ca_root,
        } => {
            info!(domains = %domains.join(","), %directory, "TLS certificates by ACME (TLS-ALPN-01)");
            Ok(Some(Terminator::acme(tls::AcmeSettings {
                domains: domains.clone(),
                contact: contact.clone(),
                directory: directory.clone(),
                ca_root: ca_root.clone(),
                cache_dir: data_dir.join("acme"),
            })?))
        }
    }
}

/// SIGHUP (`systemctl reload`) when there are no certificate files to read
/// again (ACME renews by itself; plain HTTP has none): logged, not fatal,
/// as the signal's default action would be.
async fn ignore_hangup() {
    let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        warn!("cannot listen for SIGHUP; a reload would stop the node");
        return;
    };
    while hangup.recv().await.is_some() {
        info!("SIGHUP: no certificate files to reload (ACME certificates renew by themselves)");
    }
}

/// Reloads the certificate on SIGHUP, and when its files change (checked
/// every couple of seconds, for renewal tools that do not signal).
async fn watch_certificate(cert: Arc<ReloadingCert>) {
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(err) => {
            warn!(error = %err, "cannot listen for SIGHUP; certificate files are still watched");
            None
        }
    };
    let mut poll = tokio::time::interval(CERT_POLL_EVERY);
    loop {
        let forced = tokio::select! {
            _ = poll.tick() => false,
            Some(()) = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            } => true,
        };
        let cert = cert.clone();
        // Reading files is blocking work.
        let _ = tokio::task::spawn_blocking(move || cert.reload_if(forced)).await;
    }
}

/// Each connection is a file descriptor: lift the soft limit to the hard
/// one, and say so if it still cannot hold `max_connections`.
fn raise_open_files_limit(max_connections: usize) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < max_connections as u64 + 256 => warn!(
            open_files = limit,
            max_connections,
            "the open-files limit is below max_connections; raise LimitNOFILE or lower [limits] max_connections"
        ),
        Ok(_) => {}
        Err(err) => warn!(error = %err, "could not raise the open-files limit"),
    }
}

/// SIGINT and SIGTERM, listened for once for the node's whole life: a
/// second signal that arrives while the node moves from serving to draining
/// is kept, not lost (a listener made afresh would miss it).
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// Holds an exclusive lock on `DATA_DIR/node.lock` for the process's life.
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = data_dir.join("node.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("failed to open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another appliance node is serving {}; stop it first, or replace it with `appliance serve --takeover` (two nodes on one data dir would both hold the bots' gateway sessions)",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(err)) => {
            Err(err).with_context(|| format!("failed to lock {}", path.display()))
        }
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("failed to create data directory {}", dir.display()))
}

/// Reads the admin token, creating a random one (mode 0600) on first start.
fn admin_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_owned()),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("failed to read {}", path.display())),
    }
    let token = hex::encode(rand::random::<[u8; 32]>());
    fsutil::write_private(&path, token.as_bytes())?;
    info!(path = %path.display(), "created admin token");
    Ok(token)
}
