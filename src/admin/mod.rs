//! The admin API the CLI talks to: deploy, list, remove, logs, invoke,
//! status under `/v1/`, and Prometheus `GET /metrics`.
//!
//! It listens on loopback by default and every `/v1/` call needs the bearer
//! token from `DATA_DIR/admin.token`. Bot tokens go in (deploy) but never
//! come out.

pub mod api;
pub mod backups;
pub mod client;
pub mod metrics;

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};

use crate::dispatch::{Deferral, Dispatcher};
use crate::fleet::{self, ComponentSource, DeploySpec, Fleet};
use crate::http::{self, Body, BodyError};
use crate::metrics::Metrics;
use crate::protocol::interaction::Head;
use crate::registry;
use crate::store::{self, Db};
use api::*;

/// Largest deploy request: a component of up to ~48 MiB, base64-encoded.
const MAX_DEPLOY_BYTES: usize = 64 * 1024 * 1024;
/// Largest interaction body `invoke` accepts (same as the public listener).
const MAX_INVOKE_BYTES: usize = crate::edge::limits::DEFAULT_MAX_BODY_BYTES;
/// Log lines one `logs` call returns at most.
const MAX_LOG_LINES: i64 = 10_000;

#[derive(Debug)]
pub struct Admin {
    pub fleet: Arc<Fleet>,
    pub db: Db,
    pub dispatcher: Dispatcher,
    pub metrics: Arc<Metrics>,
    /// The node's gateway sessions, for their standing in listings and metrics.
    pub gateway: Option<crate::gateway::Gateway>,
    pub token: String,
    pub started: Instant,
    pub public_addr: String,
    pub admin_addr: String,
    pub tls: bool,
    /// Backups taken while the node serves (`appliance backup`).
    pub backups: backups::Backups,
    /// In a fleet: deploys, rollbacks and removals go to every node.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
}

impl Admin {
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let path = request.uri().path().to_owned();
        if request.method() == Method::GET && path == "/metrics" {
            let sources = metrics::Sources {
                fleet: self.fleet.clone(),
                db: self.db.clone(),
                metrics: self.metrics.clone(),
                gateway: self.gateway.clone(),
            };
            return http::text(
                StatusCode::OK,
                metrics::CONTENT_TYPE,
                metrics::render(sources),
            );
        }
        if !path.starts_with("/v1/") {
            return http::error(StatusCode::NOT_FOUND, "not found");
        }
        if !self.authorized(&request) {
            return http::error(
                StatusCode::UNAUTHORIZED,
                "missing or wrong admin token (see DATA_DIR/admin.token, --admin-token or APPLIANCE_ADMIN_TOKEN)",
            );
        }
        let segments: Vec<&str> = path["/v1/".len()..].split('/').collect();
        let method = request.method().clone();
        match (&method, segments.as_slice()) {
            (&Method::GET, ["status"]) => self.status(),
            (&Method::GET, ["fleet"]) => self.fleet_status().await,
            (&Method::GET, ["bots"]) => self.list().await,
            (&Method::POST, ["bots"]) => self.deploy(request).await,
            (&Method::DELETE, ["bots", name]) => self.remove(name).await,
            (&Method::GET, ["bots", name, "logs"]) => self.logs(name, request.uri().query()).await,
            (&Method::POST, ["bots", name, "rollback"]) => {
                let name = name.to_string();
                self.rollback(&name, request).await
            }
            (&Method::GET, ["bots", name, "commands"]) => {
                self.commands(name, request.uri().query(), false).await
            }
            (&Method::POST, ["bots", name, "commands", "sync"]) => {
                self.commands(name, request.uri().query(), true).await
            }
            (&Method::POST, ["bots", name, "invoke"]) => {
                let name = name.to_string();
                self.invoke(&name, request).await
            }
            (&Method::POST, ["backups"]) => self.start_backup().await,
            (&Method::GET, ["backups", id]) => self.read_backup(id, request.uri().query()).await,
            (&Method::DELETE, ["backups", id]) => backup_answer(
                self.backups
                    .finish(id)
                    .await
                    .map(|()| http::json(StatusCode::OK, &serde_json::json!({ "finished": id }))),
            ),
            _ => http::error(StatusCode::NOT_FOUND, "no such admin route"),
        }
    }

    fn authorized(&self, request: &Request<Incoming>) -> bool {
        let presented = request
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        constant_time_eq(presented.as_bytes(), self.token.as_bytes())
    }

    fn status(&self) -> Response<Body> {
        http::json(
            StatusCode::OK,
            &StatusResponse {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                uptime_secs: self.started.elapsed().as_secs(),
                bots: self.fleet.all().len(),
                public_addr: self.public_addr.clone(),
                admin_addr: self.admin_addr.clone(),
                tls: self.tls,
                disk: self
                    .db
                    .disk_reserve()
                    .and_then(|reserve| reserve.standing())
                    .map(|standing| DiskStatus {
                        available_bytes: standing.available_bytes,
                        total_bytes: standing.total_bytes,
                        reserve_bytes: standing.reserve_bytes,
                        kv_writes_refused: standing.low,
                    }),
                gateway: self.gateway.as_ref().map(|gateway| gateway.totals()),
            },
        )
    }

    async fn start_backup(&self) -> Response<Body> {
        let started = Instant::now();
        let prepared = self.backups.prepare(&self.db).await;
        if let Ok(info) = &prepared {
            tracing::info!(
                backup = %info.id,
                bytes = info.size,
                took_ms = started.elapsed().as_millis() as u64,
                "backup prepared"
            );
        }
        backup_answer(prepared.map(|info| http::json(StatusCode::CREATED, &info)))
    }

    async fn read_backup(&self, id: &str, query: Option<&str>) -> Response<Body> {
        let offset = match query.unwrap_or("").strip_prefix("offset=") {
            Some(offset) => offset.parse::<u64>().ok(),
            None => query.is_none().then_some(0),
        };
        let Some(offset) = offset else {
            return http::error(
                StatusCode::BAD_REQUEST,
                "the only query parameter is offset=BYTES",
            );
        };
        backup_answer(
            self.backups
                .read(id, offset)
                .await
                .map(|chunk| http::text(StatusCode::OK, "application/octet-stream", chunk)),
        )
    }

    async fn list(&self) -> Response<Body> {
        // One query for every bot's crashes; tokens are already in memory
        // (the listing never reads secrets from the store).
        let mut summaries = match self.db.crash_summaries().await {
            Ok(summaries) => summaries,
            Err(err) => return internal(err),
        };
        let mut standings = self
            .gateway
            .as_ref()
            .map(|gateway| gateway.standings())
            .unwrap_or_default();
        let mut bots = Vec::new();
        for deployed in self.fleet.all() {
            let record = &deployed.record;
            let (crashes, last_crash) = summaries.remove(&record.id).unwrap_or_default();
            let token = deployed.bot.env().token.as_ref();
            let has_token = token.is_some();
            let discord = token.map(|token| {
                let status = self.fleet.token_status(token.expose());
                let state = if status.revoked {
                    "revoked"
                } else if status.paused_for.is_some() {
                    "paused"
                } else {
                    "ok"
                };
                api::RestStanding {
                    state: state.into(),
                    paused_for_s: status.paused_for.map(|d| d.as_secs().max(1)),
                    forbidden_60s: status.forbidden_60s,
                    invalid_requests_10min: status.invalid_requests_10min,
                    requests: status.requests,
                    rate_limited: status.rate_limited,
                }
            });
            bots.push(BotSummary {
                name: record.name.clone(),
                app_id: record.app_id.clone(),
                version: record.active_version,
                state: deployed.health().state(Instant::now()).to_owned(),
                limits: record.limits,
                has_token,
                idle_instances: deployed.bot.idle_instances(),
                crashes,
                last_crash,
                updated_at_ms: record.updated_at_ms,
                discord,
                gateway: record.gateway.map(|settings| {
                    match (standings.remove(&record.id), &record.gateway_stopped) {
                        (Some(standing), _) => standing,
                        (None, Some(reason)) => crate::gateway::stopped_standing(&settings, reason),
                        (None, None) => crate::gateway::starting_standing(&settings),
                    }
                }),
            });
        }
        http::json(StatusCode::OK, &bots)
    }

    async fn deploy(&self, request: Request<Incoming>) -> Response<Body> {
        let body = match http::read_body(request, MAX_DEPLOY_BYTES).await {
            Ok(body) => body,
            Err(err) => return body_error(err),
        };
        let request: api::DeployRequest = match serde_json::from_slice(&body) {
            Ok(request) => request,
            Err(err) => {
                return http::error(
                    StatusCode::BAD_REQUEST,
                    &format!("invalid deploy request: {err}"),
                )
            }
        };
        let wasm = match (&request.wasm_base64, request.wasm_sha256) {
            (Some(encoded), expected) => {
                let wasm = match base64::engine::general_purpose::STANDARD.decode(encoded) {
                    Ok(wasm) => wasm,
                    Err(err) => {
                        return http::error(
                            StatusCode::BAD_REQUEST,
                            &format!("wasm_base64 is not base64: {err}"),
                        )
                    }
                };
                if let Some(expected) = expected {
                    let actual = hex::encode(Sha256::digest(&wasm));
                    if !actual.eq_ignore_ascii_case(expected.trim()) {
                        return http::error(
                            StatusCode::BAD_REQUEST,
                            &format!("the component's sha256 is {actual}, not {expected}"),
                        );
                    }
                }
                ComponentSource::Bytes(wasm)
            }
            (None, Some(sha256)) => ComponentSource::Known(sha256),
            (None, None) => {
                return http::error(
                    StatusCode::BAD_REQUEST,
                    "invalid deploy request: give wasm_base64, or wasm_sha256 of a component the node has",
                )
            }
        };
        let gateway = match request.gateway.request() {
            Ok(gateway) => gateway,
            Err(err) => return http::error(StatusCode::BAD_REQUEST, &err),
        };
        let mut warnings = request.gateway.warnings();
        let commands_scope = match registry::Scope::new(request.guild.as_deref()) {
            Ok(scope) => scope,
            Err(err) => return http::error(StatusCode::BAD_REQUEST, &err),
        };
        if let Err(refused) = self.engine_reachable() {
            return refused;
        }
        // What the fleet needs after the local deploy.
        let for_fleet = self.cluster.as_ref().map(|_| {
            let bytes = match &wasm {
                ComponentSource::Bytes(bytes) => Some(bytes.clone()),
                ComponentSource::Known(_) => None,
            };
            (bytes, request.token.clone(), request.guild.clone())
        });
        let outcome = self
            .fleet
            .deploy(DeploySpec {
                name: request.name,
                app_id: request.app_id,
                public_key: request.public_key,
                token: request.token,
                limits: request.limits,
                wasm,
                gateway,
                commands_scope,
                register_commands: true,
            })
            .await;
        match outcome {
            Ok(deployment) => {
                let (commands, warning) =
                    api::RegisteredCommands::from_registration(&deployment.commands);
                warnings.extend(warning);
                if let Some((bytes, token, guild)) = for_fleet {
                    if let Err(err) = self
                        .publish(&deployment.name, bytes, token.as_deref(), guild)
                        .await
                    {
                        return http::error(
                            StatusCode::SERVICE_UNAVAILABLE,
                            &format!("deployed on this node, but not to the fleet: {err}"),
                        );
                    }
                }
                http::json(
                    if deployment.created {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    },
                    &DeployResponse {
                        name: deployment.name,
                        version: deployment.version,
                        created: deployment.created,
                        sha256: deployment.sha256,
                        warnings,
                        commands,
                    },
                )
            }
            Err(err) => fleet_error(err),
        }
    }

    async fn rollback(&self, name: &str, request: Request<Incoming>) -> Response<Body> {
        let body = match http::read_body(request, 4096).await {
            Ok(body) => body,
            Err(err) => return body_error(err),
        };
        let request: RollbackRequest = if body.is_empty() {
            RollbackRequest { version: None }
        } else {
            match serde_json::from_slice(&body) {
                Ok(request) => request,
                Err(err) => {
                    return http::error(
                        StatusCode::BAD_REQUEST,
                        &format!("invalid rollback request: {err}"),
                    )
                }
            }
        };
        if let Err(refused) = self.engine_reachable() {
            return refused;
        }
        match self.fleet.rollback(name, request.version).await {
            Ok((version, registration)) => {
                if self.cluster.is_some() {
                    if let Err(err) = self.publish(name, None, None, None).await {
                        return http::error(
                            StatusCode::SERVICE_UNAVAILABLE,
                            &format!("rolled back on this node, but not in the fleet: {err}"),
                        );
                    }
                }
                let (commands, warning) = api::RegisteredCommands::from_registration(&registration);
                http::json(
                    StatusCode::OK,
                    &RollbackResponse {
                        name: name.to_owned(),
                        version,
                        commands,
                        warnings: warning.into_iter().collect(),
                    },
                )
            }
            Err(err) => fleet_error(err),
        }
    }

    /// The bot's declared and registered commands; with `sync`, after
    /// registering the declared ones again.
    async fn commands(&self, name: &str, query: Option<&str>, sync: bool) -> Response<Body> {
        let mut guild = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("guild", value)) => guild = Some(value.to_owned()),
                _ => {
                    return http::error(
                        StatusCode::BAD_REQUEST,
                        &format!("unknown query parameter {pair:?}; only guild=ID is known"),
                    )
                }
            }
        }
        let state = if sync {
            self.fleet.sync_commands(name, guild.as_deref()).await
        } else {
            self.fleet.commands(name, guild.as_deref()).await
        };
        match state {
            Ok(state) => http::json(
                StatusCode::OK,
                &api::CommandsResponse {
                    name: name.to_owned(),
                    guild: state.scope.guild().map(str::to_owned),
                    declared: state.declared,
                    registered: state.registered,
                    differences: state.differences,
                },
            ),
            Err(err) => fleet_error(err),
        }
    }

    async fn remove(&self, name: &str) -> Response<Body> {
        if let Err(refused) = self.engine_reachable() {
            return refused;
        }
        let removed = self.fleet.remove(name).await;
        if let Some(cluster) = &self.cluster {
            // The fleet may serve a bot this node lost track of.
            let known =
                matches!(removed, Ok(())) || matches!(cluster.record(name).await, Ok(Some(_)));
            if known {
                if let Err(err) = cluster.publish_remove(name).await {
                    return http::error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &format!("not removed from the fleet: {err}"),
                    );
                }
                return http::json(StatusCode::OK, &serde_json::json!({ "removed": name }));
            }
        }
        match removed {
            Ok(()) => http::json(StatusCode::OK, &serde_json::json!({ "removed": name })),
            Err(err) => fleet_error(err),
        }
    }

    /// In a fleet, a node cut off from the engine changes no bot: it could
    /// not publish the change, and the fleet would never learn of it.
    #[allow(clippy::result_large_err)]
    fn engine_reachable(&self) -> Result<(), Response<Body>> {
        match &self.cluster {
            Some(cluster) => cluster
                .health
                .check()
                .map_err(|why| http::error(StatusCode::SERVICE_UNAVAILABLE, &why)),
            None => Ok(()),
        }
    }

    /// Publishes the version this node now serves as `name` to the fleet.
    /// `wasm`: the component's bytes if the caller has them at hand.
    async fn publish(
        &self,
        name: &str,
        wasm: Option<Vec<u8>>,
        token: Option<&str>,
        guild: Option<String>,
    ) -> Result<(), String> {
        let Some(cluster) = &self.cluster else {
            return Ok(());
        };
        let deployed = self
            .fleet
            .by_name(name)
            .ok_or_else(|| format!("{name} is not serving here"))?;
        let wasm = match wasm {
            Some(wasm) => wasm,
            None => self
                .db
                .version_wasm(deployed.record.id, deployed.record.active_version)
                .await
                .map_err(|err| err.to_string())?,
        };
        // A rollback keeps the guild the last deploy registered in.
        let guild = match guild {
            Some(guild) => Some(guild),
            None => cluster
                .record(name)
                .await
                .ok()
                .flatten()
                .and_then(|spec| spec.guild),
        };
        let spec = crate::cluster::deploy::BotSpec {
            name: name.to_owned(),
            app_id: deployed.record.app_id.clone(),
            public_key: deployed.record.public_key.clone(),
            sha256: deployed.sha256.clone(),
            limits: deployed.record.limits,
            gateway: deployed.record.gateway.map(|g| (g.intents, g.shards)),
            guild,
            origin: String::new(),
            history: Vec::new(),
            kv_space: String::new(),
        };
        cluster
            .publish_deploy(spec, &wasm, token)
            .await
            .map(|_| ())
            .map_err(|err| err.to_string())
    }

    /// `GET /v1/fleet`: the members, this node's standing with the engine,
    /// and which node runs which component of each bot.
    async fn fleet_status(&self) -> Response<Body> {
        let Some(cluster) = &self.cluster else {
            return http::error(
                StatusCode::NOT_FOUND,
                "this node is not in a fleet (serve --fleet-servers)",
            );
        };
        let members = match cluster.members().await {
            Ok(members) => members,
            Err(err) => return http::error(StatusCode::SERVICE_UNAVAILABLE, &err.to_string()),
        };
        let owners: Vec<serde_json::Value> = cluster
            .owners()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(app_id, lease)| {
                serde_json::json!({ "app_id": app_id, "bot": lease.bot, "node": lease.node })
            })
            .collect();
        // Every bot of the fleet's records, even one this node failed to
        // apply, and bots only this node serves (deployed before it joined).
        let mut names = match cluster.record_names().await {
            Ok(names) => names,
            Err(err) => return http::error(StatusCode::SERVICE_UNAVAILABLE, &err.to_string()),
        };
        for deployed in self.fleet.all() {
            if !names.contains(&deployed.record.name) {
                names.push(deployed.record.name.clone());
            }
        }
        let mut bots = Vec::new();
        for name in names {
            let record = cluster.record(&name).await.ok().flatten();
            let nodes = cluster.statuses(&name).await.unwrap_or_default();
            bots.push(serde_json::json!({
                "name": name,
                "sha256": record.as_ref().map(|r| r.sha256.clone()),
                "origin": record.as_ref().map(|r| r.origin.clone()),
                // Where its key-value data is (to find that stream's leader).
                "kv_bucket": record.as_ref().map(|r| {
                    crate::cluster::botkv::partition_name(crate::cluster::botkv::partition_of(
                        r.space(),
                    ))
                }),
                "nodes": nodes,
                // Whether this node serves it now.
                "here": self.fleet.by_name(&name).is_some(),
            }));
        }
        http::json(
            StatusCode::OK,
            &serde_json::json!({
                "node": cluster.settings.node,
                "site": cluster.settings.site,
                "engine": {
                    "healthy": cluster.health.check().is_ok(),
                    "reason": cluster.health.check().err(),
                    "last_ack_ms_ago": cluster.health.ack_age_ms(),
                },
                "members": members,
                "bots": bots,
                "owners": owners,
            }),
        )
    }

    async fn logs(&self, name: &str, query: Option<&str>) -> Response<Body> {
        let query = match LogQuery::parse(query.unwrap_or("")) {
            Ok(query) => query,
            Err(reason) => return http::error(StatusCode::BAD_REQUEST, &reason),
        };
        let mut logs = match self.local_logs(name, &query).await {
            Ok(logs) => logs,
            Err(response) => return response,
        };
        if let (true, Some(cluster)) = (query.all_nodes, &self.cluster) {
            let local = LogQuery {
                all_nodes: false,
                ..query.clone()
            };
            match cluster
                .gather_logs(name, &local.to_query(), GATHER_WITHIN)
                .await
            {
                Ok(parts) => merge_logs(&mut logs, parts, &query),
                Err(err) => tracing::warn!(error = %err, "cannot gather other nodes' logs"),
            }
        }
        http::json(StatusCode::OK, &logs)
    }

    /// This node's part of a bot's logs, as JSON, for another fleet node.
    pub async fn logs_for_fleet(&self, name: &str, query: &str) -> Option<Vec<u8>> {
        let query = LogQuery::parse(query).ok()?;
        let logs = self.local_logs(name, &query).await.ok()?;
        serde_json::to_vec(&logs).ok()
    }

    /// The lines and crash records this node stored for bot `name`.
    async fn local_logs(
        &self,
        name: &str,
        query: &LogQuery,
    ) -> Result<LogsResponse, Response<Body>> {
        let Some(deployed) = self.fleet.by_name(name) else {
            return Err(http::error(
                StatusCode::NOT_FOUND,
                &format!("no bot named {name:?}"),
            ));
        };
        let bot_id = deployed.record.id;
        let filter = store::LogFilter {
            since_ms: query.since_ms.unwrap_or(i64::MIN),
            min_level: query.level.unwrap_or(store::Level::Trace),
        };
        let lines = query.lines.clamp(1, MAX_LOG_LINES);
        let log_lines = if query.crashes_only {
            Vec::new()
        } else {
            self.db
                .filtered_logs(bot_id, query.after.max(0), lines, filter)
                .await
                .map_err(internal)?
        };
        // Beside lines, the recent crashes; asked for alone, as many as lines.
        let crash_limit = if query.crashes_only { lines } else { 20 };
        let crashes = self
            .db
            .recent_crashes(bot_id, filter.since_ms, crash_limit)
            .await
            .map_err(internal)?;
        let node = self.cluster.as_ref().map(|c| c.settings.node.clone());
        Ok(LogsResponse {
            node: node.clone(),
            lines: log_lines
                .into_iter()
                .map(|l| LogEntry {
                    id: l.id,
                    node: node.clone(),
                    at_ms: l.at_ms,
                    level: l.level,
                    interaction_id: l.interaction_id,
                    message: l.message,
                })
                .collect(),
            crashes: crashes
                .into_iter()
                .map(|c| CrashEntry {
                    node: node.clone(),
                    at_ms: c.at_ms,
                    version: c.version,
                    reason: c.reason,
                    detail: c.detail,
                })
                .collect(),
        })
    }

    /// Runs an interaction through the bot exactly as ingress would, minus the signature.
    async fn invoke(&self, name: &str, request: Request<Incoming>) -> Response<Body> {
        let Some(deployed) = self.fleet.by_name(name) else {
            return http::error(StatusCode::NOT_FOUND, &format!("no bot named {name:?}"));
        };
        let body = match http::read_body(request, MAX_INVOKE_BYTES).await {
            Ok(body) => body,
            Err(err) => return body_error(err),
        };
        // Nobody waits on a deadline here, and a deferral would send the late
        // answer to Discord with a made-up token: wait for the bot instead.
        let head = match Head::parse(&body) {
            Ok(head) => head,
            Err(err) => return http::error(StatusCode::BAD_REQUEST, &err.to_string()),
        };
        let answer = self
            .dispatcher
            .dispatch(deployed, head, body, Deferral::Never)
            .await;
        http::json_bytes(StatusCode::OK, answer)
    }
}

/// How long a node waits for the others' parts of a bot's logs.
const GATHER_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Other nodes' parts merged into `logs`: lines by time, the newest
/// `query.lines`; crash records by time.
fn merge_logs(logs: &mut LogsResponse, parts: Vec<Vec<u8>>, query: &LogQuery) {
    for part in parts {
        match serde_json::from_slice::<LogsResponse>(&part) {
            Ok(part) => {
                logs.lines.extend(part.lines);
                logs.crashes.extend(part.crashes);
            }
            Err(err) => tracing::warn!(error = %err, "unreadable logs from another node"),
        }
    }
    logs.lines.sort_by_key(|line| line.at_ms);
    let keep = query.lines.clamp(1, MAX_LOG_LINES) as usize;
    let excess = logs.lines.len().saturating_sub(keep);
    logs.lines.drain(..excess);
    logs.crashes.sort_by_key(|crash| crash.at_ms);
}

fn backup_answer(answer: Result<Response<Body>, backups::Error>) -> Response<Body> {
    match answer {
        Ok(response) => response,
        Err(err @ backups::Error::Unknown(_)) => {
            http::error(StatusCode::NOT_FOUND, &err.to_string())
        }
        Err(err @ backups::Error::Offset { .. }) => {
            http::error(StatusCode::RANGE_NOT_SATISFIABLE, &err.to_string())
        }
        Err(backups::Error::Internal(why)) => {
            tracing::error!(error = %why, "backup failed");
            http::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the node could not take the backup; its log says why (is the data dir's disk full?)",
            )
        }
    }
}

fn body_error(err: BodyError) -> Response<Body> {
    match err {
        BodyError::TooLarge(_) => http::error(StatusCode::PAYLOAD_TOO_LARGE, &err.to_string()),
        BodyError::Read(_) => http::error(StatusCode::BAD_REQUEST, &err.to_string()),
        BodyError::TimedOut(_) => http::error(StatusCode::REQUEST_TIMEOUT, &err.to_string()),
    }
}

fn fleet_error(err: fleet::Error) -> Response<Body> {
    let status = match &err {
        fleet::Error::Invalid(_) => StatusCode::BAD_REQUEST,
        fleet::Error::Compile(_) => StatusCode::UNPROCESSABLE_ENTITY,
        fleet::Error::Conflict(_) => StatusCode::CONFLICT,
        fleet::Error::NotFound(_) => StatusCode::NOT_FOUND,
        fleet::Error::UnknownComponent(_) => StatusCode::PRECONDITION_FAILED,
        fleet::Error::InvalidCommands(_) => StatusCode::UNPROCESSABLE_ENTITY,
        fleet::Error::Registration(registry::Error::Refused(_)) => StatusCode::UNPROCESSABLE_ENTITY,
        fleet::Error::Registration(registry::Error::Failed(_)) => StatusCode::BAD_GATEWAY,
        // The node's own failure: its details are for the node's log.
        fleet::Error::Internal(_) => return internal(err),
    };
    http::error(status, &err.to_string())
}

fn internal(err: impl std::fmt::Display) -> Response<Body> {
    tracing::error!(error = %err, "admin request failed");
    http::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the node's log",
    )
}

/// Compares without an early exit, so timing does not reveal a token prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
