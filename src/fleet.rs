//! The bots this node serves: deploy, remove and look up, by application id
//! (for ingress) or by name (for the admin API).
//!
//! Owns the mapping from stored bots to live `sandbox::Bot`s and the
//! precompiled artifact cache in `DATA_DIR/artifacts/<sha256>.cwasm`, so a
//! restart deserializes instead of recompiling. Deploys are serialized; a
//! deploy swaps the live bot in one step, and events already running keep
//! the `Arc` of the version they started on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::discord;
use crate::health::CrashLoop;
use crate::limits::{Language, LimitOverrides, Limits};
use crate::protocol::commands::{self, Commands};
use crate::protocol::signature::parse_public_key;
use crate::registry;
use crate::sandbox::{self, BotEnv, CompileError};
use crate::secret::Secret;
use crate::store::{self, BotRecord, Db, GatewayChange, GatewaySettings, KvQuota, LogBudget};
use crate::sync::{self, lock};

/// A bot version that is serving.
#[derive(Debug)]
pub struct Deployed {
    pub record: BotRecord,
    pub public_key: VerifyingKey,
    pub bot: sandbox::Bot,
    /// Content hash of the component this version runs.
    pub sha256: String,
    /// Crash-loop state of this version; a new version starts healthy.
    health: Mutex<CrashLoop>,
    /// Log bytes stored in the current minute.
    pub log_budget: Mutex<LogBudget>,
}

impl Deployed {
    pub fn health(&self) -> std::sync::MutexGuard<'_, CrashLoop> {
        lock(&self.health)
    }

    /// True once the bot was removed: its events are being stopped, and
    /// nothing of theirs is stored or sent with its token.
    pub fn is_retired(&self) -> bool {
        self.bot.env().retired.is_cancelled()
    }
}

/// What an operator asks for in a deploy; unset limits keep the bot's
/// current values (or the defaults for a new bot).
#[derive(Debug)]
pub struct DeploySpec {
    pub name: String,
    pub app_id: String,
    pub public_key: String,
    pub token: Option<String>,
    pub limits: LimitOverrides,
    pub wasm: ComponentSource,
    pub gateway: GatewayRequest,
    /// Where the bot's declared commands are registered (`--guild`).
    pub commands_scope: registry::Scope,
    /// False when a fleet node applies a deploy another node made: that
    /// node registered the commands with Discord once, for the whole fleet.
    pub register_commands: bool,
}

/// What a deploy asks of the bot's gateway (`--intents`, `--shards`, `--no-gateway`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GatewayRequest {
    /// Keep the bot's current settings (none for a new bot).
    #[default]
    Keep,
    On {
        intents: u64,
        shards: Option<u32>,
    },
    /// A new shard count for a bot whose gateway is on.
    Shards(u32),
    Off,
}

/// Shards one bot may hold on this node.
pub const MAX_SHARDS: u32 = 128;

/// The component of a deploy: its bytes, or the hash of one the node has.
#[derive(Debug)]
pub enum ComponentSource {
    Bytes(Vec<u8>),
    /// The SHA-256 (lowercase hex) of a component the node already stores:
    /// a deploy of known code sends no megabytes and hashes none.
    Known(String),
}

#[derive(Debug)]
pub struct Deployment {
    pub name: String,
    pub version: i64,
    pub created: bool,
    pub sha256: String,
    pub commands: Registration,
}

/// What became of a version's declared commands at a deploy or rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// The version declares none (no `commands` export, or `none`):
    /// Discord's commands were left as they were.
    Undeclared,
    /// Registered with Discord: these commands, in this scope.
    Registered {
        labels: Vec<String>,
        scope: registry::Scope,
    },
    /// Declared and checked, but the bot has no token to register them with.
    NoToken { count: usize },
    /// Registered by the fleet node the deploy was made at.
    ByOrigin,
}

impl Registration {
    /// What the operator should be told, if anything.
    pub fn warning(&self) -> Option<String> {
        match self {
            Registration::NoToken { count } => Some(format!(
                "the bot declares {count} command(s) but has no token to register them with: \
                 deploy with --token-env or --token-file"
            )),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Internal(String),
    /// A deploy named its component by hash, and the node has none by that hash.
    #[error("the node has no component with sha256 {0}; send its bytes")]
    UnknownComponent(String),
    /// The bot's commands are not valid: the field, and Discord's rule.
    #[error("the bot's commands are invalid: {0}; nothing was deployed")]
    InvalidCommands(String),
    /// Discord refused or could not take the bot's commands.
    #[error("{0}; nothing was deployed")]
    Registration(#[from] registry::Error),
}

impl From<store::Error> for Error {
    fn from(err: store::Error) -> Self {
        match err {
            store::Error::Conflict(m) => Error::Conflict(m),
            store::Error::NotFound(m) => Error::NotFound(m),
            store::Error::UnknownComponent(sha256) => Error::UnknownComponent(sha256),
            other => Error::Internal(other.to_string()),
        }
    }
}

#[derive(Default)]
struct Live {
    by_app_id: HashMap<String, Arc<Deployed>>,
    by_name: HashMap<String, Arc<Deployed>>,
    /// How many serving bots run each component (by hash), so a component
    /// nobody runs any more is dropped in O(1), not by walking every bot.
    serving: HashMap<String, usize>,
}

pub struct Fleet {
    engine: Arc<sandbox::Engine>,
    db: Db,
    discord: Arc<discord::Client>,
    artifacts: PathBuf,
    kv_quota: KvQuota,
    live: RwLock<Live>,
    /// Compiled components by content hash, shared by every bot running them.
    components: Mutex<HashMap<String, sandbox::Component>>,
    /// Serializes deploys and removals; lookups never wait on it.
    changes: tokio::sync::Mutex<()>,
    /// Bumped whenever the set of serving bots changes, so the gateway can
    /// start and stop sessions to match.
    generation: tokio::sync::watch::Sender<u64>,
    /// Where bots' gateway commands go.
    gateway: Arc<dyn sandbox::GatewayCommands>,
    /// Where bots' key-value data lives: the store, or the fleet's engine.
    kv: Arc<dyn sandbox::KvBackend>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("artifacts", &self.artifacts)
            .finish_non_exhaustive()
    }
}

/// Bot names: what an operator types in `appliance logs NAME`.
fn validate_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "bot name {name:?} is invalid: use 1 to 64 characters of a-z, 0-9, '-' and '_'"
        )))
    }
}

fn validate_app_id(app_id: &str) -> Result<(), Error> {
    if app_id.is_empty() || app_id.len() > 20 || !app_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Invalid(format!(
            "application id {app_id:?} is invalid: it is the numeric id from Discord's developer portal"
        )));
    }
    Ok(())
}

impl Fleet {
    /// The REST client's view of a token: breaker state and invalid-request counts.
    pub fn token_status(&self, token: &str) -> discord::TokenStatus {
        self.discord.token_status(token)
    }

    /// The REST client's node-wide figures, for `/metrics`.
    pub fn rest_figures(&self) -> discord::stats::RestFigures {
        self.discord.figures()
    }

    /// Where compiled artifacts live: inside the data dir, on its filesystem.
    pub fn artifacts_dir(&self) -> &std::path::Path {
        &self.artifacts
    }

    pub fn new(
        engine: Arc<sandbox::Engine>,
        db: Db,
        artifacts: PathBuf,
        discord: Arc<discord::Client>,
    ) -> Fleet {
        Fleet {
            discord,
            engine,
            artifacts,
            kv_quota: KvQuota::default(),
            live: RwLock::new(Live::default()),
            components: Mutex::new(HashMap::new()),
            changes: tokio::sync::Mutex::new(()),
            generation: tokio::sync::watch::Sender::new(0),
            gateway: Arc::new(sandbox::NoGateway),
            kv: Arc::new(sandbox::LocalKv(db.clone())),
            db,
        }
    }

    /// Sends bots' gateway commands to `gateway` (the node's sessions).
    pub fn with_gateway(mut self, gateway: Arc<dyn sandbox::GatewayCommands>) -> Fleet {
        self.gateway = gateway;
        self
    }

    /// Keeps bots' key-value data in `kv` instead of the node's store (in a
    /// fleet: the engine, so it outlives the node).
    pub fn with_kv(mut self, kv: Arc<dyn sandbox::KvBackend>) -> Fleet {
        self.kv = kv;
        self
    }

    /// Changes whenever a bot is deployed, rolled back or removed.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    fn changed(&self) {
        self.generation.send_modify(|generation| *generation += 1);
    }

    pub fn by_app_id(&self, app_id: &str) -> Option<Arc<Deployed>> {
        sync::read(&self.live).by_app_id.get(app_id).cloned()
    }

    pub fn by_name(&self, name: &str) -> Option<Arc<Deployed>> {
        sync::read(&self.live).by_name.get(name).cloned()
    }

    /// Every serving bot, by name.
    pub fn all(&self) -> Vec<Arc<Deployed>> {
        let live = sync::read(&self.live);
        let mut bots: Vec<_> = live.by_name.values().cloned().collect();
        bots.sort_by(|a, b| a.record.name.cmp(&b.record.name));
        bots
    }

    fn artifact_path(&self, sha256: &str) -> PathBuf {
        self.artifacts.join(format!("{sha256}.cwasm"))
    }

    /// Loads every stored bot at start-up. A bot that cannot load is logged
    /// and skipped, so one bad artifact never keeps the node down.
    pub async fn load_all(&self) -> anyhow::Result<usize> {
        let _guard = self.changes.lock().await;
        let mut loaded = 0;
        // One query for every bot, its active component and token: start-up
        // makes no round trip per bot.
        for stored in self.db.load_plan().await? {
            let record = stored.record.clone();
            match self.load(stored).await {
                Ok(deployed) => {
                    self.install(deployed);
                    loaded += 1;
                }
                Err(err) => {
                    warn!(bot = %record.name, error = %err, "bot could not be loaded; it is not serving")
                }
            }
        }
        Ok(loaded)
    }

    /// Builds the live bot for a stored record: from the cached artifact
    /// when it is there and usable, else by compiling the stored component.
    async fn load(&self, stored: store::StoredBot) -> Result<Deployed, Error> {
        let component = self
            .component_with_hash(&stored.record, &stored.sha256)
            .await?;
        let token = stored.token.map(Secret::new);
        self.prepare(stored.record, &component, stored.sha256, token)
            .await
    }

    /// The compiled component of the record's active version, and its hash.
    async fn component_for(
        &self,
        record: &BotRecord,
    ) -> Result<(sandbox::Component, String), Error> {
        let versions = self.db.versions(record.id).await?;
        let version = versions
            .iter()
            .find(|v| v.version == record.active_version)
            .ok_or_else(|| {
                Error::Internal(format!(
                    "active version {} is missing",
                    record.active_version
                ))
            })?;
        let component = self.component_with_hash(record, &version.sha256).await?;
        Ok((component, version.sha256.clone()))
    }

    /// The compiled component `sha256` of the record's active version: from
    /// memory or its artifact, else compiled from the stored bytes.
    async fn component_with_hash(
        &self,
        record: &BotRecord,
        sha256: &str,
    ) -> Result<sandbox::Component, Error> {
        if let Some(component) = self.cached_component(sha256).await {
            return Ok(component);
        }
        info!(bot = %record.name, "compiling bot from its stored component");
        let wasm = self
            .db
            .version_wasm(record.id, record.active_version)
            .await?;
        Ok(self.compile_and_cache(Arc::new(wasm)).await?.0)
    }

    /// The component with this hash from memory, or from its artifact file
    /// (mmap, no compilation). `None` when neither has it or the artifact is
    /// unusable (for example written by another wasmtime build).
    async fn cached_component(&self, sha256: &str) -> Option<sandbox::Component> {
        if let Some(component) = self.components().get(sha256) {
            return Some(component.clone());
        }
        let path = self.artifact_path(sha256);
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return None;
        }
        let engine = self.engine.clone();
        match tokio::task::spawn_blocking(move || engine.load_artifact(&path)).await {
            Ok(Ok(component)) => {
                self.components()
                    .insert(sha256.to_owned(), component.clone());
                Some(component)
            }
            Ok(Err(err)) => {
                info!(%sha256, reason = %format!("{err:#}"), "cached artifact unusable; compiling again");
                None
            }
            Err(_) => None,
        }
    }

    fn components(&self) -> std::sync::MutexGuard<'_, HashMap<String, sandbox::Component>> {
        lock(&self.components)
    }

    /// Builds the live bot; reads its token from the store, so the token
    /// lives in the host's memory only.
    async fn prepare(
        &self,
        record: BotRecord,
        component: &sandbox::Component,
        sha256: String,
        token: Option<Secret>,
    ) -> Result<Deployed, Error> {
        let public_key = parse_public_key(&record.public_key).map_err(Error::Invalid)?;
        // One removal signal per bot, shared by its versions, so removing
        // it stops events still running on a version it replaced.
        // Its counters are shared the same way, so a redeploy never sends
        // a Prometheus counter back.
        let serving = self
            .by_name(&record.name)
            .filter(|serving| serving.record.id == record.id);
        let retired = serving
            .as_ref()
            .map(|serving| serving.bot.env().retired.clone())
            .unwrap_or_default();
        let counters = serving
            .map(|serving| serving.bot.env().counters.clone())
            .unwrap_or_default();
        let env = BotEnv {
            bot_id: record.id,
            name: record.name.clone(),
            app_id: record.app_id.clone(),
            version: record.active_version,
            limits: record.limits,
            kv_quota: self.kv_quota,
            kv: self.kv.clone(),
            db: self.db.clone(),
            discord: self.discord.clone(),
            token,
            retired,
            counters,
            gateway: self.gateway.clone(),
        };
        let bot = self.engine.prepare(component, env);
        let health = match &record.quarantined {
            Some((_, reason)) => CrashLoop::quarantined(reason.clone()),
            None => CrashLoop::default(),
        };
        Ok(Deployed {
            record,
            public_key,
            bot,
            sha256,
            health: Mutex::new(health),
            log_budget: Mutex::new(LogBudget::new(Instant::now())),
        })
    }

    /// Compiles off the async executor and writes the artifact (content-addressed,
    /// so an existing file is already right).
    async fn compile_and_cache(
        &self,
        wasm: Arc<Vec<u8>>,
    ) -> Result<(sandbox::Component, String), Error> {
        let sha256 = hex::encode(Sha256::digest(wasm.as_slice()));
        // The same bytes were compiled before (another tenant, a redeploy):
        // they are valid and their artifact is ready.
        if let Some(component) = self.cached_component(&sha256).await {
            return Ok((component, sha256));
        }
        let engine = self.engine.clone();
        let path = self.artifact_path(&sha256);
        let component = tokio::task::spawn_blocking(move || -> Result<_, Error> {
            let compiled = engine.compile(&wasm)?;
            if let Err(err) = crate::fsutil::write_private(&path, &compiled.artifact) {
                // The cache is an optimisation: serve anyway, compile again next start.
                warn!(error = %format!("{err:#}"), "failed to cache compiled artifact");
            }
            Ok(compiled.component)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
        self.components().insert(sha256.clone(), component.clone());
        Ok((component, sha256))
    }

    /// The language of the component a deploy names (its bytes, or those
    /// the store holds under its hash); unknown bytes read as Rust.
    async fn language(&self, source: &ComponentSource) -> Result<Language, Error> {
        Ok(match source {
            ComponentSource::Bytes(wasm) => Language::detect(wasm),
            ComponentSource::Known(sha256) => {
                let wasm = self.db.component_wasm(&sha256.to_ascii_lowercase()).await?;
                wasm.map_or(Language::Rust, |wasm| Language::detect(&wasm))
            }
        })
    }

    fn install(&self, deployed: Deployed) {
        let deployed = Arc::new(deployed);
        let mut live = sync::write(&self.live);
        *live.serving.entry(deployed.sha256.clone()).or_default() += 1;
        live.by_app_id
            .insert(deployed.record.app_id.clone(), deployed.clone());
        let previous = live
            .by_name
            .insert(deployed.record.name.clone(), deployed.clone());
        if let Some(previous) = previous {
            if previous.record.app_id != deployed.record.app_id {
                live.by_app_id.remove(&previous.record.app_id);
            }
            self.stop_serving(&mut live, &previous.sha256);
        }
        drop(live);
        self.changed();
    }

    /// Drops a component loaded for a deploy or rollback that then failed,
    /// unless a serving bot runs it.
    fn forget_if_unused(&self, sha256: &str) {
        let live = sync::read(&self.live);
        if !live.serving.contains_key(sha256) {
            self.components().remove(sha256);
        }
    }

    /// One serving bot fewer runs `sha256`; the last one drops the compiled
    /// component, so replaced versions and removed bots do not stay in
    /// memory. Events still running on it hold their own reference; a
    /// rollback maps the artifact file again.
    fn stop_serving(&self, live: &mut Live, sha256: &str) {
        let Some(count) = live.serving.get_mut(sha256) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            live.serving.remove(sha256);
            self.components().remove(sha256);
        }
    }

    /// Validates, compiles, stores and swaps in a new bot or version. On any
    /// error nothing is stored and the serving version is untouched.
    pub async fn deploy(&self, request: DeploySpec) -> Result<Deployment, Error> {
        validate_name(&request.name)?;
        validate_app_id(&request.app_id)?;
        parse_public_key(&request.public_key).map_err(Error::Invalid)?;
        if let Some(token) = &request.token {
            if token.trim().is_empty() || token.contains(char::is_whitespace) {
                return Err(Error::Invalid(
                    "bot token is empty or contains whitespace".into(),
                ));
            }
        }
        let _guard = self.changes.lock().await;
        let current = self.db.bot_by_name(&request.name).await?;
        let base = match &current {
            Some(bot) => bot.limits,
            // A new bot's defaults fit the language it was written in.
            None => Limits::for_language(self.language(&request.wasm).await?),
        };
        let limits = base.with(request.limits);
        limits.validate().map_err(Error::Invalid)?;

        let (component, sha256, wasm) = match request.wasm {
            ComponentSource::Bytes(wasm) => {
                // Shared, not copied: a component is megabytes.
                let wasm = Arc::new(wasm);
                let (component, sha256) = self.compile_and_cache(wasm.clone()).await?;
                let wasm = Arc::try_unwrap(wasm).unwrap_or_else(|shared| (*shared).clone());
                (component, sha256, Some(wasm))
            }
            ComponentSource::Known(sha256) => {
                let sha256 = sha256.to_ascii_lowercase();
                if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Error::Invalid(format!(
                        "wasm_sha256 {sha256:?} is not a SHA-256 in hex (64 digits)"
                    )));
                }
                // The store confirms it has the bytes, inside the deploy's
                // own transaction; the compiled code must be here already.
                match self.cached_component(&sha256).await {
                    Some(component) => (component, sha256, None),
                    None => return Err(Error::UnknownComponent(sha256)),
                }
            }
        };
        let change = match request.gateway {
            GatewayRequest::Keep => GatewayChange::Keep,
            GatewayRequest::Off => GatewayChange::Off,
            GatewayRequest::On { intents, shards } => {
                GatewayChange::Set(GatewaySettings { intents, shards })
            }
            GatewayRequest::Shards(shards) => match current.as_ref().and_then(|bot| bot.gateway) {
                Some(settings) => GatewayChange::Set(GatewaySettings {
                    shards: Some(shards),
                    ..settings
                }),
                None => {
                    return Err(Error::Invalid(
                        "--shards needs --intents: the bot's gateway is off".into(),
                    ))
                }
            },
        };
        if let GatewayChange::Set(GatewaySettings {
            shards: Some(shards),
            ..
        }) = change
        {
            if shards == 0 || shards > MAX_SHARDS {
                return Err(Error::Invalid(format!(
                    "--shards {shards} is out of range: 1 to {MAX_SHARDS}"
                )));
            }
        }
        let gateway = match change {
            GatewayChange::Set(settings) => Some(settings),
            GatewayChange::Off => None,
            GatewayChange::Keep => current.as_ref().and_then(|bot| bot.gateway),
        };
        if gateway.is_some() {
            if !component.handles_events() {
                let fix = if change == GatewayChange::Keep {
                    "deploy with --no-gateway to turn its events off, or build it as world event-bot"
                } else {
                    "build it as world event-bot (appliance_sdk::bot! with an event handler)"
                };
                self.forget_if_unused(&sha256);
                return Err(Error::Invalid(format!(
                    "the bot's gateway is on but this component does not export handle-event: {fix}"
                )));
            }
            let has_token = match (&request.token, &current) {
                (Some(_), _) => true,
                (None, Some(bot)) => self.db.bot_token(bot.id).await?.is_some(),
                (None, None) => false,
            };
            if !has_token {
                self.forget_if_unused(&sha256);
                return Err(Error::Invalid(
                    "the gateway needs the bot's token: deploy with --token-env or --token-file"
                        .into(),
                ));
            }
        }
        if let Some(token) = &request.token {
            // The operator vouches for this token: forget an earlier 401 for it.
            self.discord.reset_token(token);
        }
        // Commands go to Discord before the version goes live, so a refusal
        // leaves the serving version (and its commands) as they were.
        let registered = async {
            let declared = self
                .declared_commands(&component, &request.name, &request.app_id, limits)
                .await?;
            if !request.register_commands {
                return Ok((declared, Registration::ByOrigin));
            }
            let token = match (&request.token, &current) {
                (Some(token), _) => Some(token.clone()),
                (None, Some(bot)) => self.db.bot_token(bot.id).await?,
                (None, None) => None,
            };
            self.register(
                declared.as_ref(),
                token.as_deref(),
                &request.app_id,
                &request.commands_scope,
            )
            .await
            .map(|registration| (declared, registration))
        }
        .await;
        let (declared, registration) = match registered {
            Ok(registered) => registered,
            Err(err) => {
                self.forget_if_unused(&sha256);
                return Err(err);
            }
        };
        let stored = async {
            let outcome = self
                .db
                .deploy(store::Deploy {
                    name: request.name.clone(),
                    app_id: request.app_id,
                    public_key: request.public_key.trim().to_lowercase(),
                    limits,
                    token: request.token,
                    wasm,
                    sha256: sha256.clone(),
                    gateway: change,
                    commands: declared.map(|commands| {
                        (
                            String::from_utf8(commands.to_json()).expect("JSON is UTF-8"),
                            request.commands_scope.guild().map(str::to_owned),
                        )
                    }),
                })
                .await?;
            let token = self.db.bot_token(outcome.bot.id).await?.map(Secret::new);
            let deployed = self
                .prepare(outcome.bot.clone(), &component, sha256.clone(), token)
                .await?;
            Ok::<_, Error>((outcome, deployed))
        }
        .await;
        let (outcome, deployed) = match stored {
            Ok(stored) => stored,
            Err(err) => {
                self.forget_if_unused(&sha256);
                return Err(err);
            }
        };
        self.install(deployed);
        info!(bot = %request.name, version = outcome.version, %sha256, "deployed");
        Ok(Deployment {
            name: request.name,
            version: outcome.version,
            created: outcome.created,
            sha256,
            commands: registration,
        })
    }

    /// Runs the component's `commands` export, if it has one, and checks
    /// the list against Discord's rules. `None`: it declares no commands.
    async fn declared_commands(
        &self,
        component: &sandbox::Component,
        name: &str,
        app_id: &str,
        limits: Limits,
    ) -> Result<Option<Commands>, Error> {
        if !component.declares_commands() {
            return Ok(None);
        }
        // A throwaway environment: the version is not live, and every host
        // service refuses calls made while the list is built.
        let env = BotEnv {
            bot_id: 0,
            name: name.to_owned(),
            app_id: app_id.to_owned(),
            version: 0,
            limits,
            kv_quota: self.kv_quota,
            kv: self.kv.clone(),
            db: self.db.clone(),
            discord: self.discord.clone(),
            token: None,
            retired: Default::default(),
            counters: Default::default(),
            gateway: self.gateway.clone(),
        };
        let bot = self.engine.prepare(component, env);
        let declared = bot.declared_commands().await.result.map_err(|e| {
            Error::InvalidCommands(format!("the component's commands export failed: {e}"))
        })?;
        let Some(json) = declared else {
            return Ok(None);
        };
        Commands::parse(&json)
            .map(Some)
            .map_err(|e| Error::InvalidCommands(e.to_string()))
    }

    /// Registers declared commands with Discord (one bulk overwrite).
    async fn register(
        &self,
        declared: Option<&Commands>,
        token: Option<&str>,
        app_id: &str,
        scope: &registry::Scope,
    ) -> Result<Registration, Error> {
        let Some(commands) = declared else {
            return Ok(Registration::Undeclared);
        };
        let Some(token) = token else {
            return Ok(Registration::NoToken {
                count: commands.len(),
            });
        };
        registry::overwrite(&self.discord, token, app_id, scope, commands).await?;
        info!(%app_id, commands = commands.len(), %scope, "registered the bot's commands");
        Ok(Registration::Registered {
            labels: commands.labels(),
            scope: scope.clone(),
        })
    }

    /// Serves an earlier version again: `version`, or the newest one older
    /// than the active version. Lifts a quarantine.
    pub async fn rollback(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<(i64, Registration), Error> {
        let _guard = self.changes.lock().await;
        let record = self
            .db
            .bot_by_name(name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no bot named {name:?}")))?;
        let versions = self.db.versions(record.id).await?;
        let target = match version {
            Some(version) => version,
            None => versions
                .iter()
                .rev()
                .map(|v| v.version)
                .find(|v| *v < record.active_version)
                .ok_or_else(|| {
                    Error::NotFound(format!(
                        "bot {name:?} has no version older than {}; pass --version",
                        record.active_version
                    ))
                })?,
        };
        if !versions.iter().any(|v| v.version == target) {
            let known: Vec<String> = versions.iter().map(|v| v.version.to_string()).collect();
            return Err(Error::NotFound(format!(
                "bot {name:?} has no version {target} (versions: {})",
                known.join(", ")
            )));
        }
        // Build the live bot before switching the stored pointer, so a
        // failure leaves both the database and the serving version as they were.
        let mut candidate = record.clone();
        candidate.active_version = target;
        let (component, sha256) = self.component_for(&candidate).await?;
        if record.gateway.is_some() && !component.handles_events() {
            self.forget_if_unused(&sha256);
            return Err(Error::Invalid(format!(
                "version {target} does not export handle-event and the bot's gateway is on: \
                 deploy with --no-gateway first"
            )));
        }
        // The target version's commands go back to Discord first: if Discord
        // refuses them, the serving version stays.
        let registered = async {
            let version = versions
                .iter()
                .find(|v| v.version == target)
                .expect("checked above");
            let Some(json) = &version.commands else {
                return Ok(Registration::Undeclared);
            };
            let commands = Commands::parse(json.as_bytes()).map_err(|e| {
                Error::Internal(format!("stored commands of version {target}: {e}"))
            })?;
            let scope =
                registry::Scope::new(version.commands_guild.as_deref()).map_err(Error::Internal)?;
            let token = self.db.bot_token(record.id).await?;
            self.register(Some(&commands), token.as_deref(), &record.app_id, &scope)
                .await
        }
        .await;
        let registration = registered.inspect_err(|_| self.forget_if_unused(&sha256))?;
        let switched = async {
            let record = self.db.set_active_version(record.id, target).await?;
            let token = self.db.bot_token(record.id).await?.map(Secret::new);
            self.prepare(record, &component, sha256.clone(), token)
                .await
        }
        .await;
        let deployed = switched.inspect_err(|_| self.forget_if_unused(&sha256))?;
        self.install(deployed);
        info!(bot = %name, version = target, "rolled back");
        Ok((target, registration))
    }

    /// The bot's declared commands beside Discord's registered ones, in
    /// `guild` (default: where its active version registered them).
    pub async fn commands(&self, name: &str, guild: Option<&str>) -> Result<CommandsState, Error> {
        let (record, declared, scope, token) = self.commands_context(name, guild).await?;
        let registered = registry::fetch(&self.discord, &token, &record.app_id, &scope).await?;
        Ok(CommandsState::new(scope, declared, registered))
    }

    /// Registers the active version's declared commands again (one bulk
    /// overwrite), repairing changes made behind the node's back.
    pub async fn sync_commands(
        &self,
        name: &str,
        guild: Option<&str>,
    ) -> Result<CommandsState, Error> {
        let _guard = self.changes.lock().await;
        let (record, declared, scope, token) = self.commands_context(name, guild).await?;
        let Some(commands) = &declared else {
            return Err(Error::Invalid(format!(
                "version {} of bot {name:?} declares no commands, so there is nothing to sync; \
                 declare them in the bot's code (appliance_sdk Router)",
                record.active_version
            )));
        };
        let registered =
            registry::overwrite(&self.discord, &token, &record.app_id, &scope, commands).await?;
        info!(bot = %name, commands = commands.len(), %scope, "synced the bot's commands");
        Ok(CommandsState::new(scope, declared, registered))
    }

    async fn commands_context(
        &self,
        name: &str,
        guild: Option<&str>,
    ) -> Result<(BotRecord, Option<Commands>, registry::Scope, String), Error> {
        let record = self
            .db
            .bot_by_name(name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no bot named {name:?}")))?;
        let versions = self.db.versions(record.id).await?;
        let active = versions
            .iter()
            .find(|v| v.version == record.active_version)
            .ok_or_else(|| {
                Error::Internal(format!(
                    "active version {} is missing",
                    record.active_version
                ))
            })?;
        let declared = active
            .commands
            .as_deref()
            .map(|json| Commands::parse(json.as_bytes()))
            .transpose()
            .map_err(|e| Error::Internal(format!("stored commands: {e}")))?;
        let scope = registry::Scope::new(guild.or(active.commands_guild.as_deref()))
            .map_err(Error::Invalid)?;
        let token = self.db.bot_token(record.id).await?.ok_or_else(|| {
            Error::Invalid(format!(
                "bot {name:?} has no token, so the node cannot ask Discord for its commands: \
                 deploy it with --token-env or --token-file"
            ))
        })?;
        Ok((record, declared, scope, token))
    }

    /// Drops instances idle for longer than `idle`, so idle bots cost no
    /// memory beyond their artifact. Returns how many were dropped.
    pub fn evict_idle(&self, idle: Duration) -> usize {
        self.all()
            .iter()
            .map(|deployed| deployed.bot.evict_idle(idle))
            .sum()
    }

    /// Stops serving the bot and deletes it with all its data.
    pub async fn remove(&self, name: &str) -> Result<(), Error> {
        let _guard = self.changes.lock().await;
        let record = self.db.remove_bot(name).await?;
        let removed = {
            let mut live = sync::write(&self.live);
            let removed = live.by_name.remove(&record.name);
            live.by_app_id.remove(&record.app_id);
            if let Some(removed) = &removed {
                self.stop_serving(&mut live, &removed.sha256);
            }
            removed
        };
        // Its rows are gone; now stop what still runs: queued and running
        // events of every version end with a notice, and their host calls,
        // logs and late answers go nowhere (ids are never reused either).
        if let Some(removed) = removed {
            removed.bot.retire();
        }
        self.changed();
        info!(bot = %name, "removed");
        Ok(())
    }
}

/// A bot's commands: declared by its active version, and registered with
/// Discord, with their differences.
#[derive(Debug)]
pub struct CommandsState {
    pub scope: registry::Scope,
    /// `None`: the active version declares no commands.
    pub declared: Option<Vec<serde_json::Value>>,
    pub registered: Vec<serde_json::Value>,
    pub differences: Vec<commands::Difference>,
}

impl CommandsState {
    fn new(
        scope: registry::Scope,
        declared: Option<Commands>,
        registered: Vec<serde_json::Value>,
    ) -> CommandsState {
        let differences = declared
            .as_ref()
            .map(|declared| commands::diff(declared.as_slice(), &registered))
            .unwrap_or_default();
        CommandsState {
            scope,
            declared: declared.map(|d| d.as_slice().to_vec()),
            registered,
            differences,
        }
    }
}
