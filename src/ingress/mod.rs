//! The public endpoint Discord calls: `POST /interactions/{app_id}`,
//! `GET /healthz` (liveness) and `GET /readyz` (readiness, `ready`), over
//! TLS (rustls) or plain HTTP behind a proxy.
//!
//! Invariant: nothing reaches a bot, and no body is parsed, unless the
//! request's Ed25519 signature verified with that bot's key and its
//! timestamp is current. Rejections are short JSON errors with the statuses
//! of DESIGN.md; every signature-class failure (bad, stale, replayed) is the
//! same 401, so a prober learns nothing. Details go to the log and metrics.

pub mod ready;
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
use crate::metrics::Metrics;
use crate::protocol::event::WebhookEvent;
use crate::protocol::interaction::Head;
use crate::protocol::signature::SignatureHeaders;
use crate::sandbox;
use ready::Readiness;
use replay::{ReplayGuard, ReplayMemory};

/// State shared by every public request.
#[derive(Debug)]
pub struct Ingress {
    fleet: Arc<Fleet>,
    dispatcher: Dispatcher,
    limits: Arc<EdgeLimits>,
    replay: ReplayGuard,
    rejections: Rejections,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    /// In a fleet: interactions go to their bot's owner node.
    forward: Option<Forwarding>,
}

/// Where a fleet member sends the interactions of bots another node owns.
#[derive(Debug)]
struct Forwarding {
    cluster: Arc<crate::cluster::Cluster>,
    /// The node's deferral point: the owner must answer before it.
    defer_after: std::time::Duration,
}

/// How long past the deferral point a forwarding node waits for the
/// owner's answer (a deferral, at the latest) before serving the bot itself.
const FORWARD_MARGIN: std::time::Duration = std::time::Duration::from_millis(300);

/// Why a request was turned away, for metrics and the per-client budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
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
    /// Signed, but not a webhook event (same reasoning).
    NotAnEvent(String),
}

/// Where a public request goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Healthz,
    Readyz,
    Interaction {
        app_id: &'a str,
    },
    /// Discord's webhook events for the application.
    Events {
        app_id: &'a str,
    },
    WrongMethod(&'static str),
    NotFound,
}

pub fn route<'a>(method: &Method, path: &'a str) -> Target<'a> {
    match path {
        "/healthz" if method == Method::GET => Target::Healthz,
        "/healthz" | "/readyz" if method != Method::GET => Target::WrongMethod("use GET"),
        "/readyz" => Target::Readyz,
        _ => {
            if let Some(app_id) = path.strip_prefix("/interactions/") {
                if method == Method::POST {
                    Target::Interaction { app_id }
                } else {
                    Target::WrongMethod("use POST")
                }
            } else if let Some(app_id) = path.strip_prefix("/events/") {
                if method == Method::POST {
                    Target::Events { app_id }
                } else {
                    Target::WrongMethod("use POST")
                }
            } else {
                Target::NotFound
            }
        }
    }
}

/// The checks before the body is read: header shape and a current timestamp.
pub fn screen_headers(
    replay: &ReplayGuard,
    signature: Option<&[u8]>,
    timestamp: Option<&[u8]>,
    now: i64,
) -> Result<(SignatureHeaders, i64), Rejection> {
    let signature =
        SignatureHeaders::parse(signature, timestamp).map_err(|_| Rejection::Signature)?;
    let timestamp = signature.timestamp_secs().ok_or(Rejection::Signature)?;
    replay
        .check_time(timestamp, now)
        .map_err(|_| Rejection::Stale)?;
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
) -> Result<Head, Rejection> {
    signature
        .verify(key, body)
        .map_err(|_| Rejection::Signature)?;
    let head = Head::parse(body).map_err(|e| Rejection::NotAnInteraction(e.to_string()))?;
    if let Some(id) = head.id() {
        remember(replay, &id, timestamp, now)?;
    }
    Ok(head)
}

/// Remembers a signed request's `key` for the timestamp window.
fn remember(replay: &ReplayGuard, key: &str, timestamp: i64, now: i64) -> Result<(), Rejection> {
    replay
        .remember(key, timestamp, now)
        .map_err(|refusal| match refusal {
            replay::Refusal::Stale => Rejection::Stale,
            replay::Refusal::Replayed => Rejection::Replayed,
        })
}

/// The checks for a webhook event once its body is in: signature, shape,
/// replay (keyed by the signature: the body has no id). `None` for a PING.
pub fn screen_event(
    replay: &ReplayGuard,
    key: &ed25519_dalek::VerifyingKey,
    signature: &SignatureHeaders,
    timestamp: i64,
    body: &[u8],
    now: i64,
) -> Result<Option<sandbox::Event>, Rejection> {
    signature
        .verify(key, body)
        .map_err(|_| Rejection::Signature)?;
    let parsed = WebhookEvent::parse(body).map_err(|e| Rejection::NotAnEvent(e.to_string()))?;
    remember(
        replay,
        &format!("event:{}", signature.hex()),
        timestamp,
        now,
    )?;
    Ok(parsed.event.map(|event| sandbox::Event {
        name: event.name,
        data: event.data.to_string().into_bytes(),
        shard: 0,
        sequence: 0,
    }))
}

/// Which signed endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Interactions,
    Events,
}

impl Rejection {
    fn label(&self) -> &'static str {
        match self {
            Rejection::UnknownApp => "unknown_app",
            Rejection::Signature => "bad_signature",
            Rejection::Stale => "stale_timestamp",
            Rejection::Replayed => "replayed",
            Rejection::BodyTooLarge => "body_too_large",
            Rejection::BodyTimedOut => "body_timed_out",
            Rejection::BodyUnreadable => "body_unreadable",
            Rejection::NotAnInteraction(_) => "not_an_interaction",
            Rejection::NotAnEvent(_) => "not_an_event",
        }
    }
}

impl Ingress {
    /// `replay`: the memory of the process this one took over from, if any;
    /// without it, timestamps from before now are refused.
    pub fn new(
        fleet: Arc<Fleet>,
        dispatcher: Dispatcher,
        limits: Arc<EdgeLimits>,
        metrics: Arc<Metrics>,
        readiness: Arc<Readiness>,
        replay: Option<ReplayMemory>,
    ) -> Ingress {
        let (max_age, capacity) = (limits.signature_max_age(), limits.replay_cache_entries);
        Ingress {
            fleet,
            dispatcher,
            replay: match replay {
                Some(memory) => ReplayGuard::resume(max_age, capacity, memory),
                None => ReplayGuard::new(max_age, capacity, crate::clock::unix_secs()),
            },
            rejections: Rejections::new(limits.max_rejections_per_ip, limits.rejection_block()),
            limits,
            metrics,
            readiness,
            forward: None,
        }
    }

    /// A fleet member: a verified interaction goes to its bot's owner.
    pub fn with_cluster(
        mut self,
        cluster: Arc<crate::cluster::Cluster>,
        defer_after: std::time::Duration,
    ) -> Ingress {
        self.forward = Some(Forwarding {
            cluster,
            defer_after,
        });
        self
    }

    /// The replay memory, for a handover to another process.
    pub fn replay(&self) -> &ReplayGuard {
        &self.replay
    }

    pub async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Body> {
        let path = request.uri().path().to_owned();
        match route(request.method(), &path) {
            Target::Healthz => {
                http::json_bytes(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
            }
            Target::Readyz => match self.readiness.check().await {
                Ok(()) => {
                    http::json_bytes(StatusCode::OK, Bytes::from_static(br#"{"status":"ready"}"#))
                }
                Err(why) => http::error(StatusCode::SERVICE_UNAVAILABLE, &why.to_string()),
            },
            Target::WrongMethod(hint) => http::error(StatusCode::METHOD_NOT_ALLOWED, hint),
            Target::Interaction { app_id } => {
                self.signed(Endpoint::Interactions, app_id, request, peer)
                    .await
            }
            Target::Events { app_id } => self.signed(Endpoint::Events, app_id, request, peer).await,
            Target::NotFound => http::error(StatusCode::NOT_FOUND, "not found"),
        }
    }

    /// A signed request from Discord: an interaction, or a webhook event.
    async fn signed(
        &self,
        endpoint: Endpoint,
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
        let reject = |why: Rejection| {
            self.metrics.rejected(why.label());
            // A signed body is Discord's doing: it does not count against the sender.
            let counted = !matches!(
                why,
                Rejection::NotAnInteraction(_) | Rejection::NotAnEvent(_)
            );
            if counted
                && self
                    .rejections
                    .reject(peer.ip(), budget_key, Instant::now())
            {
                tracing::warn!(%peer, app_id = budget_key, "client blocked after too many rejected requests");
            }
            debug!(%peer, reason = why.label(), "request rejected");
            match why {
                Rejection::UnknownApp => http::error(
                    StatusCode::NOT_FOUND,
                    "no bot is deployed for this application id",
                ),
                Rejection::BodyTooLarge => http::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!(
                        "request body is larger than {} bytes",
                        self.limits.max_body_bytes
                    ),
                ),
                Rejection::BodyTimedOut => http::error(
                    StatusCode::REQUEST_TIMEOUT,
                    "the request body did not arrive in time",
                ),
                Rejection::BodyUnreadable => {
                    http::error(StatusCode::BAD_REQUEST, "could not read request body")
                }
                // The reason says what the body is not.
                Rejection::NotAnInteraction(reason) | Rejection::NotAnEvent(reason) => {
                    http::error(StatusCode::BAD_REQUEST, &reason)
                }
                Rejection::Signature | Rejection::Stale | Rejection::Replayed => {
                    http::error(StatusCode::UNAUTHORIZED, "invalid request signature")
                }
            }
        };
        let Some(deployed) = deployed else {
            return reject(Rejection::UnknownApp);
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
            Err(BodyError::TooLarge(_)) => return reject(Rejection::BodyTooLarge),
            Err(BodyError::TimedOut(_)) => return reject(Rejection::BodyTimedOut),
            Err(err @ BodyError::Read(_)) => {
                debug!(error = %err, "failed to read interaction body");
                return reject(Rejection::BodyUnreadable);
            }
        };
        if endpoint == Endpoint::Events {
            return match screen_event(
                &self.replay,
                &deployed.public_key,
                &signature,
                timestamp,
                &body,
                crate::clock::unix_secs(),
            ) {
                Ok(event) => {
                    if let Some(event) = event {
                        self.dispatcher.deliver_event(deployed, event);
                    }
                    http::empty(StatusCode::NO_CONTENT)
                }
                Err(why) => reject(why),
            };
        }
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
        if let Some(forward) = &self.forward {
            if !forward.cluster.owns(app_id) {
                // The owner answers before the deferral point too (it counts
                // from this node's `arrived`); the margin is the answer's trip back.
                let elapsed = arrived.elapsed();
                let within = forward.defer_after.saturating_sub(elapsed) + FORWARD_MARGIN;
                if let crate::cluster::owner::Forwarded::Answer(answer) = forward
                    .cluster
                    .forward(app_id, body.clone(), elapsed, within)
                    .await
                {
                    return http::json_bytes(StatusCode::OK, answer);
                }
            }
        }
        let answer = self
            .dispatcher
            .dispatch(deployed, head, body, Deferral::CountingFrom(arrived))
            .await;
        http::json_bytes(StatusCode::OK, answer)
    }
}
