//! Deploy once, run everywhere. A deploy at any node ends here after it
//! succeeded locally: the component goes to the object store (named by its
//! SHA-256, so a second put of the same bytes is skipped), the token to
//! `secrets` sealed, and the bot's record to `bots.<name>` by
//! compare-and-swap, so two concurrent deploys are applied one after the
//! other and both stay in the record's history. Every node watches `bots`
//! and applies each record through its own `Fleet` (compiling or loading
//! locally), then reports `status.<node>.<bot>`.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Cluster, Error};
use crate::fleet::{self, ComponentSource, DeploySpec, Fleet, GatewayRequest};
use crate::limits::{LimitOverrides, Limits};
use crate::registry;

/// How long an operator's change is retried against a pausing engine.
const RETRY_FOR: Duration = Duration::from_secs(12);

/// `attempt` until it succeeds or [`RETRY_FOR`] has passed; the last error.
async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let started = tokio::time::Instant::now();
    loop {
        match attempt().await {
            Ok(done) => return Ok(done),
            Err(err) if started.elapsed() < RETRY_FOR => {
                tracing::debug!(error = %err, "fleet engine call failed; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Deploys kept in a record's history.
const HISTORY: usize = 20;

/// `bots.<name>`: what every node should serve under that name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotSpec {
    pub name: String,
    pub app_id: String,
    pub public_key: String,
    pub sha256: String,
    pub limits: Limits,
    /// Intents and shard count when the bot takes gateway events.
    pub gateway: Option<(u64, Option<u32>)>,
    pub guild: Option<String>,
    /// The node the deploy was made at.
    pub origin: String,
    /// Component hashes of earlier deploys, newest last.
    #[serde(default)]
    pub history: Vec<String>,
    /// Where the bot's key-value data lives (`botkv`): made at the first
    /// deploy, kept by redeploys and rollbacks; empty in a record written
    /// before it existed (the bot's name is its space then).
    #[serde(default)]
    pub kv_space: String,
}

impl BotSpec {
    /// The bot's key-value space: its own, or its name in a record written
    /// before spaces existed.
    pub fn space(&self) -> &str {
        if self.kv_space.is_empty() {
            &self.name
        } else {
            &self.kv_space
        }
    }
}

/// `status.<node>.<bot>`: what a node runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub node: String,
    pub bot: String,
    pub sha256: String,
    /// The node's own version number of that component.
    pub version: i64,
    /// Why the last record could not be applied, if it could not.
    pub error: Option<String>,
}

impl Cluster {
    /// Publishes a deploy made at this node. `wasm`: the component's bytes
    /// (stored once per hash); `token`: a new token, sealed here. Retried
    /// for a few seconds: a server that just rejoined its cluster refuses
    /// stream calls until it has caught up, and a leader election pauses
    /// writes for 4–9 s.
    pub async fn publish_deploy(
        &self,
        spec: BotSpec,
        wasm: &[u8],
        token: Option<&str>,
    ) -> Result<u64, Error> {
        retrying(|| self.try_publish_deploy(spec.clone(), wasm, token)).await
    }

    async fn try_publish_deploy(
        &self,
        mut spec: BotSpec,
        wasm: &[u8],
        token: Option<&str>,
    ) -> Result<u64, Error> {
        spec.origin = self.settings.node.clone();
        if self.components.info(&spec.sha256).await.is_err() {
            let mut reader = wasm;
            self.components
                .put(spec.sha256.as_str(), &mut reader)
                .await
                .map_err(Error::engine)?;
        }
        if let Some(token) = token {
            let sealed = self.seal.seal(&spec.name, token.as_bytes());
            self.secrets
                .put(&spec.name, sealed.into())
                .await
                .map_err(Error::engine)?;
        }
        self.swap_record(&spec.name, |current| {
            let mut next = spec.clone();
            next.history = current.map(|c| c.history.clone()).unwrap_or_default();
            next.kv_space = match current {
                Some(current) => current.kv_space.clone(),
                None => super::botkv::new_space(),
            };
            next.history.push(spec.sha256.clone());
            let excess = next.history.len().saturating_sub(HISTORY);
            next.history.drain(..excess);
            Some(next)
        })
        .await
    }

    /// Takes a bot out of the fleet: every node removes it.
    /// Its key-value data goes too.
    pub async fn publish_remove(&self, name: &str) -> Result<(), Error> {
        let space = retrying(|| self.record(name))
            .await?
            .map_or_else(|| name.to_owned(), |spec| spec.space().to_owned());
        retrying(|| async {
            self.bots.delete(name).await.map_err(Error::engine)?;
            self.secrets.purge(name).await.map_err(Error::engine)
        })
        .await?;
        self.botkv.forget(name);
        retrying(|| self.botkv.purge_space(&space)).await
    }

    /// Read, change, compare-and-swap; again on a lost race.
    async fn swap_record(
        &self,
        name: &str,
        change: impl Fn(Option<&BotSpec>) -> Option<BotSpec>,
    ) -> Result<u64, Error> {
        for _ in 0..20 {
            let entry = self.bots.entry(name).await.map_err(Error::engine)?;
            let (current, revision) = match &entry {
                Some(entry) if entry.operation == kv::Operation::Put => (
                    serde_json::from_slice::<BotSpec>(&entry.value).ok(),
                    Some(entry.revision),
                ),
                Some(entry) => (None, Some(entry.revision)),
                None => (None, None),
            };
            let Some(next) = change(current.as_ref()) else {
                return Ok(revision.unwrap_or(0));
            };
            let value = serde_json::to_vec(&next).expect("spec serializes");
            // Lost the race: someone else's deploy came first; apply the
            // change on top of theirs.
            match revision {
                Some(revision) => match self.bots.update(name, value.into(), revision).await {
                    Ok(revision) => return Ok(revision),
                    Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                    Err(err) => return Err(Error::engine(err)),
                },
                None => match self.bots.create(name, value.into()).await {
                    Ok(revision) => return Ok(revision),
                    Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => continue,
                    Err(err) => return Err(Error::engine(err)),
                },
            }
        }
        Err(Error::Engine(format!(
            "the record of {name} kept changing under 20 attempts"
        )))
    }

    /// What every node reports for `bot`.
    pub async fn statuses(&self, bot: &str) -> Result<Vec<NodeStatus>, Error> {
        let mut keys = self.status.keys().await.map_err(Error::engine)?;
        let mut out = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(Error::engine)?;
            if key.rsplit_once('.').map(|(_, b)| b) != Some(bot) {
                continue;
            }
            if let Some(value) = self.status.get(&key).await.map_err(Error::engine)? {
                if let Ok(status) = serde_json::from_slice(&value) {
                    out.push(status);
                }
            }
        }
        Ok(out)
    }

    /// The names of every bot the fleet serves.
    pub async fn record_names(&self) -> Result<Vec<String>, Error> {
        let mut names = super::all_keys(&self.bots).await?;
        names.sort_unstable();
        Ok(names)
    }

    /// The record of `name`, if the fleet serves it.
    pub async fn record(&self, name: &str) -> Result<Option<BotSpec>, Error> {
        Ok(self
            .bots
            .get(name)
            .await
            .map_err(Error::engine)?
            .and_then(|value| serde_json::from_slice(&value).ok()))
    }

    /// Applies every record in `bots`, then each change, to `fleet`, for as
    /// long as the process runs (the watch is made again when it ends).
    pub fn start_following(&self, fleet: Arc<Fleet>) {
        let cluster = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(err) = cluster.follow(&fleet).await {
                    tracing::warn!(error = %err, "fleet watch ended; watching again");
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }

    async fn follow(&self, fleet: &Fleet) -> Result<(), Error> {
        let mut watch = self
            .bots
            .watch_with_history(">")
            .await
            .map_err(Error::engine)?;
        while let Some(entry) = watch.next().await {
            let entry = entry.map_err(Error::engine)?;
            match entry.operation {
                kv::Operation::Put => match serde_json::from_slice::<BotSpec>(&entry.value) {
                    Ok(spec) => {
                        self.botkv.learn(&spec.name, spec.space());
                        self.apply(fleet, spec).await
                    }
                    Err(err) => {
                        tracing::warn!(bot = %entry.key, error = %err, "unreadable fleet record")
                    }
                },
                kv::Operation::Delete | kv::Operation::Purge => {
                    self.botkv.forget(&entry.key);
                    match fleet.remove(&entry.key).await {
                        Ok(()) | Err(fleet::Error::NotFound(_)) => {}
                        Err(err) => {
                            tracing::warn!(bot = %entry.key, error = %err, "fleet removal failed here")
                        }
                    }
                    let _ = self
                        .status
                        .purge(format!("{}.{}", self.settings.node, entry.key))
                        .await;
                }
            }
        }
        Ok(())
    }

    /// Makes the local fleet serve `spec`, unless it already does.
    async fn apply(&self, fleet: &Fleet, spec: BotSpec) {
        let serving = fleet.by_name(&spec.name);
        let current = serving.as_ref().is_some_and(|d| {
            d.sha256 == spec.sha256
                && d.record.app_id == spec.app_id
                && d.record.public_key.eq_ignore_ascii_case(&spec.public_key)
                && d.record.limits == spec.limits
                && d.record.gateway.map(|g| (g.intents, g.shards)) == spec.gateway
        });
        let result = if current {
            Ok(())
        } else {
            self.deploy_here(fleet, &spec).await
        };
        let (version, error) = match (&result, fleet.by_name(&spec.name)) {
            (Ok(()), Some(d)) => (d.record.active_version, None),
            (Err(err), d) => {
                tracing::warn!(bot = %spec.name, error = %err, "cannot apply the fleet's deploy here");
                (
                    d.map(|d| d.record.active_version).unwrap_or(0),
                    Some(err.clone()),
                )
            }
            (Ok(()), None) => (0, Some("not serving after the deploy".into())),
        };
        let sha256 = fleet
            .by_name(&spec.name)
            .map(|d| d.sha256.clone())
            .unwrap_or_default();
        let status = NodeStatus {
            node: self.settings.node.clone(),
            bot: spec.name.clone(),
            sha256,
            version,
            error,
        };
        let value = serde_json::to_vec(&status).expect("status serializes");
        if let Err(err) = self
            .status
            .put(
                format!("{}.{}", self.settings.node, spec.name),
                value.into(),
            )
            .await
        {
            tracing::warn!(bot = %spec.name, error = %err, "cannot report the bot's status to the fleet");
        }
    }

    async fn deploy_here(&self, fleet: &Fleet, spec: &BotSpec) -> Result<(), String> {
        let token = match self.secrets.get(&spec.name).await {
            Ok(Some(sealed)) => Some(
                String::from_utf8(
                    self.seal
                        .open(&spec.name, &sealed)
                        .map_err(|e| e.to_string())?,
                )
                .map_err(|_| "the sealed token is not text".to_string())?,
            ),
            Ok(None) => None,
            Err(err) => return Err(format!("cannot read the token: {err}")),
        };
        let request = |wasm| DeploySpec {
            name: spec.name.clone(),
            app_id: spec.app_id.clone(),
            public_key: spec.public_key.clone(),
            token: token.clone(),
            limits: LimitOverrides {
                fuel: Some(spec.limits.fuel),
                memory_mib: Some(spec.limits.memory_mib),
                timeout_ms: Some(spec.limits.timeout_ms),
                instances: Some(spec.limits.instances),
            },
            wasm,
            gateway: match spec.gateway {
                Some((intents, shards)) => GatewayRequest::On { intents, shards },
                None => GatewayRequest::Off,
            },
            commands_scope: registry::Scope::new(spec.guild.as_deref())
                .unwrap_or(registry::Scope::Global),
            // The node the deploy was made at registered them.
            register_commands: false,
        };
        match fleet
            .deploy(request(ComponentSource::Known(spec.sha256.clone())))
            .await
        {
            Ok(_) => return Ok(()),
            Err(fleet::Error::UnknownComponent(_)) => {}
            Err(err) => return Err(err.to_string()),
        }
        let wasm = self.fetch_component(&spec.sha256).await?;
        fleet
            .deploy(request(ComponentSource::Bytes(wasm)))
            .await
            .map(|_| ())
            .map_err(|err| err.to_string())
    }

    /// The component's bytes from the object store, checked against its name.
    pub async fn fetch_component(&self, sha256: &str) -> Result<Vec<u8>, String> {
        use tokio::io::AsyncReadExt;
        let mut object = self
            .components
            .get(sha256)
            .await
            .map_err(|err| format!("cannot fetch component {sha256}: {err}"))?;
        let mut wasm = Vec::new();
        object
            .read_to_end(&mut wasm)
            .await
            .map_err(|err| format!("cannot read component {sha256}: {err}"))?;
        let actual = hex::encode(Sha256::digest(&wasm));
        if actual != sha256 {
            return Err(format!(
                "component {sha256} from the engine hashes to {actual}"
            ));
        }
        Ok(wasm)
    }
}
