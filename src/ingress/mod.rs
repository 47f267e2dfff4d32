//! The public endpoint Discord calls: `POST /interactions/{app_id}` and
//! `GET /healthz`, over TLS (rustls) or plain HTTP behind a proxy.
//!
//! Invariant: nothing reaches a bot, and no body is parsed, unless the
//! request's Ed25519 signature verified with that bot's key and its
//! timestamp is current. Rejections are short JSON errors with the statuses
//! of DESIGN.md; every signature-class failure (bad, stale, replayed) is the
//! same 401, so a prober learns nothing. Details go to the log and metrics.

pub mod replay;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use tracing::debug;

use crate::dispatch::{Deferral, Dispatcher};
use crate::edge::{EdgeLimits, Rejections};
use crate::fleet::Fleet;
use crate::http::{self, Body, BodyError};
use crate::protocol::interaction::Head;
use crate::protocol::signature::SignatureHeaders;
use crate::telemetry::Metrics;
use replay::ReplayGuard;

/// State shared by every public request.
#[derive(Debug)]
pub struct Ingress {
    fleet: Arc<Fleet>,
    dispatcher: Dispatcher,
    limits: Arc<EdgeLimits>,
    replay: ReplayGuard,
    rejections: Rejections,
    metrics: Arc<Metrics>,
}

/// Why a request was turned away, for metrics and the per-client budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    UnknownApp,
    Signature,
    Stale,
    Replayed,
    BodyTooLarge,
    BodyTimedOut,
    BodyUnreadable,
    /// Signed, but not an interaction: Discord's bug, not an attack, so it
    /// is answered 400 and not counted against the sender.
    NotAnInteraction(String),
}

/// Where a public request goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    Healthz,
    Interaction { app_id: &'a str },
    WrongMethod(&'static str),
    NotFound,
}

pub fn route<'a>(method: &Method, path: &'a str) -> Route<'a> {
    match path {
        "/healthz" if method == Method::GET => Route::Healthz,
        "/healthz" => Route::WrongMethod("use GET"),
        _ => match path.strip_prefix("/interactions/") {
            Some(app_id) if method == Method::POST => Route::Interaction { app_id },
            Some(_) => Route::WrongMethod("use POST"),
            None => Route::NotFound,
        },
    }
}

/// The checks before the body is read: header shape and a current timestamp.
pub fn screen_headers(
    replay: &ReplayGuard,
    signature: Option<&[u8]>,
    timestamp: Option<&[u8]>,
    now: i64,
) -> Result<(SignatureHeaders, i64), Rejected> {
    let signature =
        SignatureHeaders::parse(signature, timestamp).map_err(|_| Rejected::Signature)?;
    let timestamp = signature.timestamp_secs().ok_or(Rejected::Signature)?;
    replay
        .check_time(timestamp, now)
        .map_err(|_| Rejected::Stale)?;
    Ok((signature, timestamp))
}

/// The checks once the body is in: signature, interaction shape, replay.
pub fn screen_body(
    replay: &ReplayGuard,
    key: &ed25519_dalek::VerifyingKey,
    signature: &SignatureHeaders,
    timestamp: i64,
    body: &[u8],
    now: i64,
) -> Result<Head, Rejected> {
    signature
        .verify(key, body)
        .map_err(|_| Rejected::Signature)?;
    let head = Head::parse(body).map_err(|e| Rejected::NotAnInteraction(e.to_string()))?;
    if let Some(id) = head.id() {
        replay
            .remember(&id, timestamp, now)
            .map_err(|refusal| match refusal {
                replay::Refusal::Stale => Rejected::Stale,
                replay::Refusal::Replayed => Rejected::Replayed,
            })?;
    }
    Ok(head)
}

impl Rejected {
    fn label(&self) -> &'static str {
        match self {
            Rejected::UnknownApp => "unknown_app",
            Rejected::Signature => "bad_signature",
            Rejected::Stale => "stale_timestamp",
            Rejected::Replayed => "replayed",
            Rejected::BodyTooLarge => "body_too_large",
            Rejected::BodyTimedOut => "body_timed_out",
            Rejected::BodyUnreadable => "body_unreadable",
            Rejected::NotAnInteraction(_) => "not_an_interaction",
        }
    }
}

impl Ingress {
    pub fn new(
        fleet: Arc<Fleet>,
        dispatcher: Dispatcher,
        limits: Arc<EdgeLimits>,
        metrics: Arc<Metrics>,
    ) -> Ingress {
        Ingress {
            fleet,
            dispatcher,
            replay: ReplayGuard::new(
                limits.signature_max_age(),
                limits.replay_cache_entries,
                crate::clock::unix_secs(),
            ),
            rejections: Rejections::new(limits.max_rejections_per_ip, limits.rejection_block()),
            limits,
            metrics,
        }
    }

    pub async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Body> {
        let path = request.uri().path().to_owned();
        match route(request.method(), &path) {
            Route::Healthz => {
                http::json_bytes(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
            }
            Route::WrongMethod(hint) => http::error(StatusCode::METHOD_NOT_ALLOWED, hint),
            Route::Interaction { app_id } => self.interaction(app_id, request, peer).await,
            Route::NotFound => http::error(StatusCode::NOT_FOUND, "not found"),
        }
    }

    async fn interaction(
        &self,
        app_id: &str,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Body> {
        // Discord's 3 s count from here (headers read); the deferral point too,
        // so a slow body upload cannot push the deferred answer past them.
        let arrived = Instant::now();
        let deployed = self.fleet.by_app_id(app_id);
        // Unknown ids share one budget per client: scanning them costs it too.
        let budget_key = if deployed.is_some() { app_id } else { "" };
        if let Err(retry_after) = self.rejections.check(peer.ip(), budget_key, arrived) {
            self.metrics.rejected("client_blocked");
            let mut response = http::error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many rejected requests from this address; slow down",
            );
            let secs = retry_after.as_secs().max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&secs) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            return response;
        }
        let reject = |why: Rejected| {
            self.metrics.rejected(why.label());
            // A signed body is Discord's doing: it does not count against the sender.
            let counted = !matches!(why, Rejected::NotAnInteraction(_));
            if counted
                && self
                    .rejections
                    .reject(peer.ip(), budget_key, Instant::now())
            {
                tracing::warn!(%peer, app_id = budget_key, "client blocked after too many rejected requests");
            }
            debug!(%peer, reason = why.label(), "request rejected");
            match why {
                Rejected::UnknownApp => http::error(
                    StatusCode::NOT_FOUND,
                    "no bot is deployed for this application id",
                ),
                Rejected::BodyTooLarge => http::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!(
                        "request body is larger than {} bytes",
                        self.limits.max_body_bytes
                    ),
                ),
                Rejected::BodyTimedOut => http::error(
                    StatusCode::REQUEST_TIMEOUT,
                    "the request body did not arrive in time",
                ),
                Rejected::BodyUnreadable => {
                    http::error(StatusCode::BAD_REQUEST, "could not read request body")
                }
                Rejected::NotAnInteraction(reason) => http::error(
                    StatusCode::BAD_REQUEST,
                    &format!("request body is not an interaction: {reason}"),
                ),
                Rejected::Signature | Rejected::Stale | Rejected::Replayed => {
                    http::error(StatusCode::UNAUTHORIZED, "invalid request signature")
                }
            }
        };
        let Some(deployed) = deployed else {
            return reject(Rejected::UnknownApp);
        };
        // Header shape and timestamp are checked before the body is read at all.
        let headers = request.headers();
        let screened = screen_headers(
            &self.replay,
            headers.get("x-signature-ed25519").map(|v| v.as_bytes()),
            headers.get("x-signature-timestamp").map(|v| v.as_bytes()),
            crate::clock::unix_secs(),
        );
        let (signature, timestamp) = match screened {
            Ok(screened) => screened,
            Err(why) => return reject(why),
        };
        let body = match http::read_body_within(
            request,
            self.limits.max_body_bytes,
            self.limits.body_read_timeout(),
        )
        .await
        {
            Ok(body) => body,
            Err(BodyError::TooLarge(_)) => return reject(Rejected::BodyTooLarge),
            Err(BodyError::TimedOut(_)) => return reject(Rejected::BodyTimedOut),
            Err(err @ BodyError::Read(_)) => {
                debug!(error = %err, "failed to read interaction body");
                return reject(Rejected::BodyUnreadable);
            }
        };
        let screened = screen_body(
            &self.replay,
            &deployed.public_key,
            &signature,
            timestamp,
            &body,
            crate::clock::unix_secs(),
        );
        let head = match screened {
            Ok(head) => head,
            Err(why) => return reject(why),
        };
        let answer = self
            .dispatcher
            .dispatch(deployed, head, body, Deferral::CountingFrom(arrived))
            .await;
        http::json_bytes(StatusCode::OK, answer)
    }
}
