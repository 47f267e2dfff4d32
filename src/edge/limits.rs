//! Every limit the public listener enforces, with its default. The config
//! file's `[limits]` table sets them (keys as the field names).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Largest interaction body accepted by default. Discord's biggest payloads
/// (message context commands carrying a resolved message with embeds) stay
/// well under 64 KiB; 256 KiB leaves room without inviting memory floods.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// Limits of the public edge. Defaults are sized for Discord's traffic:
/// small signed POSTs from a few addresses, answered within 3 s.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeLimits {
    /// Largest interaction body accepted ([`DEFAULT_MAX_BODY_BYTES`]).
    pub max_body_bytes: usize,
    /// Time a client has to send its request headers (slowloris guard).
    pub header_read_timeout_ms: u64,
    /// Time a client has to send the whole body once headers are in.
    pub body_read_timeout_ms: u64,
    /// Time a TLS handshake may take.
    pub tls_handshake_timeout_ms: u64,
    /// A connection on which nothing was read or written for this long is
    /// closed (keep-alive connections left open, HTTP/2 connections with no
    /// traffic, clients that connect and never speak).
    pub idle_timeout_ms: u64,
    /// Request headers allowed on an HTTP/1.1 request (431 beyond).
    pub max_headers: usize,
    /// Open public connections; past it the node stops accepting (new
    /// connections wait in the kernel's backlog) until one closes.
    pub max_connections: usize,
    /// Open connections from one IP address; more are closed on accept.
    pub max_connections_per_ip: usize,
    /// Rejected requests (bad signature, replay, oversized or unreadable
    /// body, unknown application) one IP address may cause per minute for
    /// one application before its requests to that application are refused
    /// with 429 without further work.
    pub max_rejections_per_ip: u32,
    /// How long such a refusal lasts.
    pub rejection_block_ms: u64,
    /// Concurrent HTTP/2 streams per connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2 streams a client may open and reset before the server has
    /// accepted them (CVE-2023-44487, "rapid reset"); past it the
    /// connection is closed with GOAWAY.
    pub h2_max_pending_reset_streams: usize,
    /// HTTP/2 streams the server may reset because of client protocol
    /// errors before it closes the connection.
    pub h2_max_local_error_reset_streams: usize,
    /// Total size of one HTTP/2 request's header list.
    pub h2_max_header_list_bytes: u32,
    /// How far `X-Signature-Timestamp` may be from the node's clock, in
    /// seconds. Discord documents no window; a request outside it is refused
    /// like a bad signature.
    pub signature_max_age_s: u64,
    /// Interaction ids remembered to refuse replays.
    pub replay_cache_entries: usize,
}

impl Default for EdgeLimits {
    fn default() -> EdgeLimits {
        EdgeLimits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 10_000,
            tls_handshake_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_headers: 64,
            max_connections: 8_192,
            max_connections_per_ip: 256,
            max_rejections_per_ip: 1_000,
            rejection_block_ms: 60_000,
            h2_max_concurrent_streams: 100,
            h2_max_pending_reset_streams: 20,
            h2_max_local_error_reset_streams: 256,
            h2_max_header_list_bytes: 16 * 1024,
            signature_max_age_s: 300,
            replay_cache_entries: 200_000,
        }
    }
}

impl EdgeLimits {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_millis(self.body_read_timeout_ms)
    }
    pub fn tls_handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.tls_handshake_timeout_ms)
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
    pub fn rejection_block(&self) -> Duration {
        Duration::from_millis(self.rejection_block_ms)
    }
    pub fn signature_max_age(&self) -> Duration {
        Duration::from_secs(self.signature_max_age_s)
    }

    /// Refuses settings that would switch a guard off or break Discord's traffic.
    pub fn validate(&self) -> Result<(), String> {
        let checks: [(bool, &str); 12] = [
            (
                self.max_body_bytes >= 1024,
                "max_body_bytes must be at least 1024",
            ),
            (
                (100..=60_000).contains(&self.header_read_timeout_ms),
                "header_read_timeout_ms must be between 100 and 60000",
            ),
            (
                (100..=60_000).contains(&self.body_read_timeout_ms),
                "body_read_timeout_ms must be between 100 and 60000",
            ),
            (
                (100..=60_000).contains(&self.tls_handshake_timeout_ms),
                "tls_handshake_timeout_ms must be between 100 and 60000",
            ),
            (
                (1_000..=3_600_000).contains(&self.idle_timeout_ms),
                "idle_timeout_ms must be between 1000 and 3600000",
            ),
            (
                (16..=1_000).contains(&self.max_headers),
                "max_headers must be between 16 and 1000",
            ),
            (
                self.max_connections >= 1 && self.max_connections_per_ip >= 1,
                "max_connections and max_connections_per_ip must be at least 1",
            ),
            (
                self.max_rejections_per_ip >= 1,
                "max_rejections_per_ip must be at least 1",
            ),
            (
                (1..=1_000).contains(&self.h2_max_concurrent_streams),
                "h2_max_concurrent_streams must be between 1 and 1000",
            ),
            (
                self.h2_max_pending_reset_streams >= 1
                    && self.h2_max_local_error_reset_streams >= 1,
                "h2_max_pending_reset_streams and h2_max_local_error_reset_streams must be at least 1",
            ),
            (
                (5..=3_600).contains(&self.signature_max_age_s),
                "signature_max_age_s must be between 5 and 3600",
            ),
            (
                self.replay_cache_entries >= 1_000 && self.h2_max_header_list_bytes >= 1024,
                "replay_cache_entries must be at least 1000 and h2_max_header_list_bytes at least 1024",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, message)) => Err((*message).to_owned()),
            None => Ok(()),
        }
    }
}
