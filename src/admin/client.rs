//! The CLI's client for the admin API (plain HTTP to a loopback listener,
//! or to whatever `--node` names).

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::admin::api::*;

/// Deploys compile the component on the node, which can take seconds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid node URL {0:?}: use http://HOST:PORT (the admin listener speaks plain HTTP)")]
    BadUrl(String),
    #[error("node at {node} is unreachable ({reason}); is `appliance serve` running there?")]
    Unreachable { node: String, reason: String },
    #[error("node at {node} did not answer within {secs} s", secs = REQUEST_TIMEOUT.as_secs())]
    Timeout { node: String },
    #[error("{message}")]
    Api { status: StatusCode, message: String },
    #[error("unexpected answer from node: {0}")]
    Decode(String),
}

#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: String,
    http: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
}

impl Client {
    pub fn new(node: &str, token: String) -> Result<Client, Error> {
        let base = node.trim_end_matches('/').to_owned();
        let uri: Uri = base.parse().map_err(|_| Error::BadUrl(node.to_owned()))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(Error::BadUrl(node.to_owned()));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let http =
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
        Ok(Client { base, token, http })
    }

    async fn call(&self, method: Method, path: &str, body: Option<Bytes>) -> Result<Bytes, Error> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(
                hyper::header::AUTHORIZATION,
                format!("Bearer {}", self.token),
            );
        if body.is_some() {
            builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|_| Error::BadUrl(self.base.clone()))?;
        let response = match tokio::time::timeout(REQUEST_TIMEOUT, self.http.request(request)).await
        {
            Err(_) => {
                return Err(Error::Timeout {
                    node: self.base.clone(),
                })
            }
            Ok(Err(err)) => {
                let mut reason = err.to_string();
                let mut source = std::error::Error::source(&err);
                while let Some(inner) = source {
                    reason = inner.to_string();
                    source = inner.source();
                }
                return Err(Error::Unreachable {
                    node: self.base.clone(),
                    reason,
                });
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Error::Unreachable {
                node: self.base.clone(),
                reason: e.to_string(),
            })?
            .to_bytes();
        if status.is_success() {
            return Ok(bytes);
        }
        let message = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|body| body.error)
            .unwrap_or_else(|_| format!("node answered {status}"));
        Err(Error::Api { status, message })
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<T, Error> {
        let bytes = self.call(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    /// `GET /v1/fleet`: members, engine health, each bot's versions per node.
    pub async fn fleet(&self) -> Result<serde_json::Value, Error> {
        self.call_json(Method::GET, "/v1/fleet", None).await
    }

    pub async fn deploy(&self, request: &DeployRequest) -> Result<DeployResponse, Error> {
        let body = serde_json::to_vec(request).map_err(|e| Error::Decode(e.to_string()))?;
        self.call_json(Method::POST, "/v1/bots", Some(body.into()))
            .await
    }

    /// Deploys `wasm`, naming it by hash first: a node that has the
    /// component (a redeploy, or one component behind many bots) takes the
    /// deploy without the upload; one that has not says so (412), and the
    /// bytes follow. `request`'s own `wasm_*` fields are replaced.
    pub async fn deploy_wasm(
        &self,
        mut request: DeployRequest,
        wasm: &[u8],
    ) -> Result<DeployResponse, Error> {
        request.wasm_sha256 = Some(hex::encode(Sha256::digest(wasm)));
        request.wasm_base64 = None;
        match self.deploy(&request).await {
            Err(Error::Api { status, .. }) if status == StatusCode::PRECONDITION_FAILED => {
                request.wasm_base64 = Some(base64::engine::general_purpose::STANDARD.encode(wasm));
                self.deploy(&request).await
            }
            answered => answered,
        }
    }

    pub async fn list(&self) -> Result<Vec<BotSummary>, Error> {
        self.call_json(Method::GET, "/v1/bots", None).await
    }

    pub async fn remove(&self, name: &str) -> Result<(), Error> {
        self.call(Method::DELETE, &format!("/v1/bots/{}", segment(name)), None)
            .await
            .map(drop)
    }

    pub async fn logs(&self, name: &str, query: &LogQuery) -> Result<LogsResponse, Error> {
        self.call_json(
            Method::GET,
            &format!("/v1/bots/{}/logs?{}", segment(name), query.to_query()),
            None,
        )
        .await
    }

    /// Sends an interaction body; returns the response JSON as the bot (or host) answered it.
    pub async fn invoke(&self, name: &str, interaction: Bytes) -> Result<Bytes, Error> {
        self.call(
            Method::POST,
            &format!("/v1/bots/{}/invoke", segment(name)),
            Some(interaction),
        )
        .await
    }

    pub async fn rollback(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<RollbackResponse, Error> {
        let body = serde_json::to_vec(&RollbackRequest { version })
            .map_err(|e| Error::Decode(e.to_string()))?;
        self.call_json(
            Method::POST,
            &format!("/v1/bots/{}/rollback", segment(name)),
            Some(body.into()),
        )
        .await
    }

    /// The bot's declared and registered commands (`sync`: after
    /// registering the declared ones again); `guild` picks a server.
    pub async fn commands(
        &self,
        name: &str,
        guild: Option<&str>,
        sync: bool,
    ) -> Result<CommandsResponse, Error> {
        let mut path = format!("/v1/bots/{}/commands", segment(name));
        if sync {
            path.push_str("/sync");
        }
        if let Some(guild) = guild {
            path.push_str(&format!("?guild={}", segment(guild)));
        }
        let method = if sync { Method::POST } else { Method::GET };
        self.call_json(method, &path, None).await
    }

    pub async fn status(&self) -> Result<StatusResponse, Error> {
        self.call_json(Method::GET, "/v1/status", None).await
    }

    /// Has the node take a backup; read it with [`Client::read_backup`].
    pub async fn start_backup(&self) -> Result<BackupInfo, Error> {
        self.call_json(Method::POST, "/v1/backups", None).await
    }

    /// Up to 8 MiB of backup `id` from `offset`.
    pub async fn read_backup(&self, id: &str, offset: u64) -> Result<Bytes, Error> {
        self.call(
            Method::GET,
            &format!("/v1/backups/{}?offset={offset}", segment(id)),
            None,
        )
        .await
    }

    /// Deletes backup `id` from the node.
    pub async fn finish_backup(&self, id: &str) -> Result<(), Error> {
        self.call(
            Method::DELETE,
            &format!("/v1/backups/{}", segment(id)),
            None,
        )
        .await
        .map(drop)
    }
}

/// Percent-encodes a path segment, so any name the user types makes a valid
/// request and the node can answer "no bot named ...".
fn segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
