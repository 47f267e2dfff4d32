//! Small pieces both HTTP servers (ingress and admin) share: response
//! builders, a size-limited body reader, the accept loop and TLS
//! termination (`tls`).

pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio_util::either::Either;
use tracing::{debug, warn};

use crate::edge::activity::{Activity, Tracked};
use crate::edge::{ConnGuard, EdgeLimits};
use crate::metrics::{Handshake, Metrics};
use tls::Terminator;

pub type Body = Full<Bytes>;

pub fn json_bytes(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A response with no body (e.g. 204).
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// A plain-text body, with `content_type` (e.g. Prometheus' exposition format).
pub fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => json_bytes(status, bytes),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

/// `{"error": message}` with `status`: the shape of every error body we send.
pub fn error(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": message }).to_string();
    json_bytes(status, body)
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("failed to read request body: {0}")]
    Read(String),
    #[error("the request body did not arrive within {0:?}")]
    TimedOut(Duration),
}

/// [`read_body`] that gives up after `within` (a body sent a byte at a
/// time would otherwise hold its connection for as long as it likes).
pub async fn read_body_within(
    request: Request<Incoming>,
    limit: usize,
    within: Duration,
) -> Result<Bytes, BodyError> {
    tokio::time::timeout(within, read_body(request, limit))
        .await
        .unwrap_or(Err(BodyError::TimedOut(within)))
}

/// Reads the whole body, refusing more than `limit` bytes; a declared
/// `Content-Length` over the limit is refused before reading anything.
pub async fn read_body(request: Request<Incoming>, limit: usize) -> Result<Bytes, BodyError> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge(limit)),
        Err(err) => Err(BodyError::Read(err.to_string())),
    }
}

/// How a listener accepts and serves its connections.
#[derive(Clone)]
pub struct ListenerOptions {
    /// TLS termination; `None` serves plain HTTP.
    pub tls: Option<Arc<Terminator>>,
    pub limits: Arc<EdgeLimits>,
    /// Connection caps (the public listener); `None` for the loopback admin API.
    pub conns: Option<Arc<ConnGuard>>,
    /// Close connections that stay silent (the public listener).
    pub idle_watchdog: bool,
    /// Where connections and TLS handshakes are counted (the public listener).
    pub metrics: Option<Arc<Metrics>>,
}

/// Accepts connections until `shutdown` fires, serving each with `handler`
/// over HTTP/1.1 or HTTP/2, behind TLS when `options.tls` is given. After
/// `shutdown` it stops accepting, asks every open connection to close once
/// its in-flight requests are answered, and returns when they all have.
pub async fn serve<H, F>(
    listener: TcpListener,
    options: ListenerOptions,
    handler: Arc<H>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = Arc::new(connection_builder(&options.limits));
    loop {
        // Back-pressure: with every slot taken, stop accepting; new
        // connections wait in the kernel's backlog.
        let slot = match &options.conns {
            Some(conns) => tokio::select! {
                slot = conns.free_slot() => Some(slot),
                _ = shutdown.changed() => break,
            },
            None => None,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Usually EMFILE: back off briefly instead of spinning.
                    warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let held = match (&options.conns, slot) {
            (Some(conns), Some(slot)) => match conns.admit(peer.ip(), slot) {
                Some(held) => Some(held),
                None => {
                    debug!(%peer, "connection refused: this address holds its share of connections");
                    if let Some(metrics) = &options.metrics {
                        metrics.listener.refused();
                    }
                    continue;
                }
            },
            _ => None,
        };
        let _ = stream.set_nodelay(true);
        let open = options.metrics.as_ref().map(Metrics::connection_opened);
        let handler = handler.clone();
        let options = options.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _held = held;
            let _open = open;
            let handshake_done = |result| {
                if let Some(metrics) = &options.metrics {
                    metrics.listener.handshake(result);
                }
            };
            let activity = Activity::new();
            let service = hyper::service::service_fn(move |request| {
                let response = handler(request, peer);
                async move { Ok::<_, Infallible>(response.await) }
            });
            let limits = &options.limits;
            let connection = match &options.tls {
                Some(terminator) => {
                    let handshake = terminator.accept(stream);
                    match tokio::time::timeout(limits.tls_handshake_timeout(), handshake).await {
                        Ok(Ok(Some(tls_stream))) => {
                            handshake_done(Handshake::Completed);
                            let io = TokioIo::new(Tracked::new(
                                Either::Left(tls_stream),
                                activity.clone(),
                            ));
                            watcher.watch(builder.serve_connection(io, service))
                        }
                        // An ACME challenge, answered during the handshake.
                        Ok(Ok(None)) => return,
                        Ok(Err(err)) => {
                            handshake_done(Handshake::Failed);
                            debug!(%peer, error = %err, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            handshake_done(Handshake::TimedOut);
                            debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    }
                }
                None => {
                    let io = TokioIo::new(Tracked::new(Either::Right(stream), activity.clone()));
                    watcher.watch(builder.serve_connection(io, service))
                }
            };
            let result = if options.idle_watchdog {
                tokio::select! {
                    result = connection => result,
                    _ = activity.silent_for(limits.header_read_timeout(), limits.idle_timeout()) => {
                        debug!(%peer, "closed a silent connection");
                        return;
                    }
                }
            } else {
                connection.await
            };
            if let Err(err) = result {
                debug!(%peer, error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// HTTP/1.1 and HTTP/2 settings from the limits.
fn connection_builder(limits: &EdgeLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout())
        .max_headers(limits.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_pending_accept_reset_streams(limits.h2_max_pending_reset_streams)
        .max_local_error_reset_streams(limits.h2_max_local_error_reset_streams)
        .max_header_list_size(limits.h2_max_header_list_bytes);
    builder
}
