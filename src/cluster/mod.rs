//! Fleet mode: several nodes share one engine, NATS JetStream (see
//! ARCHITECTURE.md, "Fleet"). This module is the only one that names
//! `async_nats`. Without `--fleet-servers` nothing here runs and the node is
//! the single box it always was.
//!
//! What lives in the engine: membership (`nodes`, one heartbeat a second
//! with a TTL), the bot records (`bots`, CAS-updated), sealed tokens
//! (`secrets`), which node runs which version (`status`), the components'
//! bytes (object store `components`, named by SHA-256), and the bots'
//! key-value data (`botkv`). Every
//! KV bucket is a stream made here with `allow_direct: false`, so reads go
//! to the stream leader rather than a possibly stale follower.

pub mod botkv;
pub mod deploy;
pub mod gather;
pub mod health;
pub mod init;
pub mod members;
pub mod owner;
pub mod seal;
pub mod shards;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store, stream};

pub use health::EngineHealth;
pub use members::Member;

/// How a node reaches the engine and names itself in it (`serve --fleet-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `nats://host:port` URLs; the node's own site's server first.
    pub servers: Vec<String>,
    /// Unique within the fleet: `[A-Za-z0-9_-]`, at most 64 bytes.
    pub node: String,
    pub site: String,
    /// A NATS `.creds` file (JWT + nkey seed).
    pub creds: Option<PathBuf>,
    /// CA bundle for the servers' TLS certificates (turns TLS on).
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key, for servers that verify clients.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// 32 random bytes (hex) every node shares: bot tokens are sealed with it
    /// before they leave the node, so the engine never holds them in clear.
    pub key_file: PathBuf,
    /// Copies of every bucket: 3 on a fleet of three voting servers, 1 for a
    /// single test server.
    pub replicas: usize,
}

impl Settings {
    /// Checks what a typo would break later; one-line reasons.
    pub fn validate(&self) -> Result<(), String> {
        if self.servers.is_empty() {
            return Err("--fleet-servers names no server".into());
        }
        for url in &self.servers {
            if !(url.starts_with("nats://") || url.starts_with("tls://")) || url.len() < 8 {
                return Err(format!(
                    "fleet server {url:?} is not a nats:// or tls:// URL"
                ));
            }
        }
        if !valid_token(&self.node) {
            return Err(format!(
                "fleet node name {:?} must be 1 to 64 letters, digits, '-' or '_'",
                self.node
            ));
        }
        if !valid_token(&self.site) {
            return Err(format!(
                "fleet site {:?} must be 1 to 64 letters, digits, '-' or '_'",
                self.site
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("--fleet-tls-cert and --fleet-tls-key go together".into());
        }
        if !(1..=5).contains(&self.replicas) {
            return Err("fleet replicas must be between 1 and 5".into());
        }
        Ok(())
    }
}

/// A name that is one NATS subject token and one KV key token.
pub fn valid_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to the fleet engine at {servers}: {reason}")]
    Connect { servers: String, reason: String },
    #[error("fleet engine: {0}")]
    Engine(String),
    #[error("fleet key: {0}")]
    Key(String),
}

impl Error {
    fn engine(err: impl std::fmt::Display) -> Error {
        Error::Engine(err.to_string())
    }
}

/// Bucket names; bots' key-value data is in `botkv::partition_name(i)`.
pub const NODES: &str = "nodes";
/// The heartbeats' second stream (see `members`).
pub const BEACONS: &str = "beacons";
pub const BOTS: &str = "bots";
pub const SECRETS: &str = "secrets";
pub const STATUS: &str = "status";
pub const COMPONENTS: &str = "components";

/// A member's heartbeat outlives it by this much; after that it is gone.
pub const MEMBER_TTL: Duration = Duration::from_secs(6);
/// A JetStream call that has no answer by then has failed (a leader
/// election takes 4–9 s; callers retry within their own deadline).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// The engine as this node sees it.
#[derive(Clone)]
pub struct Cluster {
    pub settings: Settings,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub nodes: kv::Store,
    /// Heartbeats again, on a stream kept led by another server than `nodes`.
    pub beacons: kv::Store,
    pub bots: kv::Store,
    pub secrets: kv::Store,
    pub status: kv::Store,
    pub components: object_store::ObjectStore,
    pub health: Arc<EngineHealth>,
    pub seal: Arc<seal::Sealer>,
    /// The bots this node owns (holds the lease of).
    pub ownership: Arc<owner::Ownership>,
    /// Bots' key-value data (`botkv_p00`..`botkv_p15`).
    pub botkv: Arc<botkv::EngineKv>,
    /// Gateway sessions shared for the next owner (`shards`).
    pub gwstate: kv::Store,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.settings.node)
            .field("servers", &self.settings.servers)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects and makes (or finds) the buckets. Fails when no server
    /// answers within `within`, or the engine has no JetStream quorum.
    pub async fn connect(settings: Settings, within: Duration) -> Result<Cluster, Error> {
        settings.validate().map_err(Error::Engine)?;
        let seal = Arc::new(seal::Sealer::from_file(&settings.key_file)?);
        let servers = settings.servers.join(",");
        let connect_error = |reason: String| Error::Connect {
            servers: servers.clone(),
            reason,
        };
        let mut options = async_nats::ConnectOptions::new()
            .name(format!("appliance {}", settings.node))
            // Its own site's server first; the others are fallbacks.
            .retain_servers_order()
            .connection_timeout(Duration::from_secs(2))
            .request_timeout(Some(REQUEST_TIMEOUT))
            .ping_interval(Duration::from_secs(5))
            .max_reconnects(None)
            // A lost server is retried promptly: the default backoff grows
            // to seconds, longer than the fail-closed window.
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((100 * attempts as u64).min(1_000))
            });
        if let Some(creds) = &settings.creds {
            options = options
                .credentials_file(creds)
                .await
                .map_err(|err| connect_error(format!("creds {}: {err}", creds.display())))?;
        }
        if let Some(ca) = &settings.tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        let urls: Vec<async_nats::ServerAddr> = settings
            .servers
            .iter()
            .map(|url| url.parse())
            .collect::<Result<_, _>>()
            .map_err(|err| connect_error(format!("{err}")))?;
        let client = tokio::time::timeout(within, options.connect(urls))
            .await
            .map_err(|_| connect_error(format!("no server answered within {within:?}")))?
            .map_err(|err| connect_error(err.to_string()))?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(REQUEST_TIMEOUT);
        let replicas = settings.replicas;
        // The meta leader may still be being elected on a fresh cluster:
        // retry bucket creation until `within`.
        let started = tokio::time::Instant::now();
        let buckets = loop {
            match make_buckets(&js, replicas).await {
                Ok(buckets) => break buckets,
                Err(err) if started.elapsed() < within => {
                    tracing::debug!(error = %err, "fleet engine not ready yet; retrying");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(err) => return Err(err),
            }
        };
        let (nodes, beacons, bots, secrets, status, components) = buckets;
        let health = Arc::new(EngineHealth::default());
        let (botkv, gwstate) = loop {
            let opened = async {
                let botkv = botkv::EngineKv::open(
                    client.clone(),
                    &js,
                    replicas,
                    bots.clone(),
                    health.clone(),
                )
                .await?;
                let gwstate = bucket(&js, shards::GWSTATE, replicas, Duration::ZERO).await?;
                Ok::<_, Error>((Arc::new(botkv), gwstate))
            };
            match opened.await {
                Ok(opened) => break opened,
                Err(err) if started.elapsed() < within => {
                    tracing::debug!(error = %err, "fleet engine not ready yet; retrying");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(err) => return Err(err),
            }
        };
        Ok(Cluster {
            settings,
            client,
            js,
            nodes,
            beacons,
            bots,
            secrets,
            status,
            components,
            health,
            seal,
            ownership: Arc::default(),
            botkv,
            gwstate,
        })
    }
}

type Buckets = (
    kv::Store,
    kv::Store,
    kv::Store,
    kv::Store,
    kv::Store,
    object_store::ObjectStore,
);

async fn make_buckets(js: &jetstream::Context, replicas: usize) -> Result<Buckets, Error> {
    let nodes = bucket(js, NODES, replicas, MEMBER_TTL).await?;
    let beacons = bucket(js, BEACONS, replicas, MEMBER_TTL).await?;
    let bots = bucket(js, BOTS, replicas, Duration::ZERO).await?;
    let secrets = bucket(js, SECRETS, replicas, Duration::ZERO).await?;
    let status = bucket(js, STATUS, replicas, Duration::ZERO).await?;
    let components = match js.get_object_store(COMPONENTS).await {
        Ok(store) => store,
        Err(_) => js
            .create_object_store(object_store::Config {
                bucket: COMPONENTS.into(),
                description: Some("bot components by SHA-256".into()),
                num_replicas: replicas,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(Error::engine)?,
    };
    Ok((nodes, beacons, bots, secrets, status, components))
}

/// Every key of `store`.
pub async fn all_keys(store: &kv::Store) -> Result<Vec<String>, Error> {
    use futures_util::TryStreamExt;
    store
        .keys()
        .await
        .map_err(Error::engine)?
        .try_collect()
        .await
        .map_err(Error::engine)
}

/// A KV bucket whose stream is made here rather than by the client's
/// `create_key_value`, which always sets `allow_direct` (reads from any
/// replica, stale on an isolated one).
pub async fn bucket(
    js: &jetstream::Context,
    name: &str,
    replicas: usize,
    max_age: Duration,
) -> Result<kv::Store, Error> {
    let config = stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: false,
        num_replicas: replicas,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    };
    js.get_or_create_stream(config)
        .await
        .map_err(Error::engine)?;
    js.get_key_value(name).await.map_err(Error::engine)
}
