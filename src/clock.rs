//! Wall-clock time as the node stores and compares it: Unix time in
//! milliseconds (stored timestamps) or seconds (Discord's signature window).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, the unit of every stored timestamp.
pub fn unix_ms() -> i64 {
    since_epoch().as_millis() as i64
}

/// Seconds since the Unix epoch, the unit of `X-Signature-Timestamp`.
pub fn unix_secs() -> i64 {
    since_epoch().as_secs() as i64
}

/// A clock set before 1970 reads as the epoch rather than failing: every
/// caller compares times, and a wrong clock must not crash the node.
fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
