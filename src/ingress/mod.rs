//! The public endpoint Discord calls: `POST /interactions/{app_id}` and
//! `GET /healthz`, over TLS (rustls) or plain HTTP behind a proxy.
//!
//! Invariant: nothing reaches a bot, and no body is parsed, unless the
//! request's Ed25519 signature verified with that bot's key. Rejections are
//! short JSON errors with the statuses of DESIGN.md; details go to the log.

pub mod tls;
pub mod verify;

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tracing::debug;

use crate::dispatch::{Deferral, Dispatcher};
use crate::fleet::Fleet;
use crate::http::{self, Body, BodyError};
use verify::SignatureHeaders;

/// Largest interaction body accepted. Discord's biggest payloads (message
/// context commands carrying a resolved message with embeds) stay well
/// under 64 KiB; 256 KiB leaves room without inviting memory floods.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// State shared by every public request.
#[derive(Debug)]
pub struct Ingress {
    pub fleet: Arc<Fleet>,
    pub dispatcher: Dispatcher,
    pub max_body_bytes: usize,
}

impl Ingress {
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let path = request.uri().path().to_owned();
        match (request.method(), path.as_str()) {
            (&Method::GET, "/healthz") => {
                http::json_bytes(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
            }
            (_, "/healthz") => http::error(StatusCode::METHOD_NOT_ALLOWED, "use GET"),
            (method, path) if path.starts_with("/interactions/") => {
                if method != Method::POST {
                    return http::error(StatusCode::METHOD_NOT_ALLOWED, "use POST");
                }
                let app_id = &path["/interactions/".len()..];
                self.interaction(app_id, request).await
            }
            _ => http::error(StatusCode::NOT_FOUND, "not found"),
        }
    }

    async fn interaction(&self, app_id: &str, request: Request<Incoming>) -> Response<Body> {
        let Some(deployed) = self.fleet.by_app_id(app_id) else {
            return http::error(
                StatusCode::NOT_FOUND,
                "no bot is deployed for this application id",
            );
        };
        // Header shape is checked before the body is read at all.
        let headers = request.headers();
        let signature = SignatureHeaders::parse(
            headers.get("x-signature-ed25519").map(|v| v.as_bytes()),
            headers.get("x-signature-timestamp").map(|v| v.as_bytes()),
        );
        let Ok(signature) = signature else {
            return unauthorized();
        };
        let body = match http::read_body(request, self.max_body_bytes).await {
            Ok(body) => body,
            Err(BodyError::TooLarge(limit)) => {
                return http::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("request body is larger than {limit} bytes"),
                )
            }
            Err(BodyError::Read(reason)) => {
                debug!(%reason, "failed to read interaction body");
                return http::error(StatusCode::BAD_REQUEST, "could not read request body");
            }
        };
        if signature.verify(&deployed.public_key, &body).is_err() {
            return unauthorized();
        }
        match self
            .dispatcher
            .dispatch(deployed, body, Deferral::Allowed)
            .await
        {
            Ok(answer) => http::json_bytes(StatusCode::OK, answer),
            Err(err) => http::error(StatusCode::BAD_REQUEST, &err.to_string()),
        }
    }
}

/// Every signature failure looks the same, so a prober learns nothing.
fn unauthorized() -> Response<Body> {
    http::error(StatusCode::UNAUTHORIZED, "invalid request signature")
}
