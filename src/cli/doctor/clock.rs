//! The clock check: Discord signs every interaction with a timestamp, and
//! the node refuses one outside its window (300 s by default) as stale, so
//! a node whose clock is off refuses everything, or takes replays.
//!
//! The reference is a server's HTTP `Date` header (Discord's API by
//! default): one second of resolution, plenty for a window of minutes, and
//! it needs no NTP port. The request carries no token and reads no body.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::{Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::cli::doctor::{Check, NETWORK_TIMEOUT};

const NAME: &str = "clock";
/// A synchronised clock is well within this (the `Date` header itself is
/// only good to a second).
const WARN_OFFSET: Duration = Duration::from_secs(2);
/// A clock this far off is not being synchronised at all, and drifts on
/// towards the signature window, past which every interaction is refused.
const FAIL_OFFSET: Duration = Duration::from_secs(60);

pub(crate) async fn check(url: &str, window_secs: u64) -> Check {
    let offset = match offset_from(url).await {
        Ok(offset) => offset,
        Err(reason) => {
            return Check::warn(
                NAME,
                format!("not checked: {reason} (point --time-url at a reachable HTTPS server)"),
            )
        }
    };
    let (ahead, by) = match offset {
        Offset::Ahead(by) => ("ahead of", by),
        Offset::Behind(by) => ("behind", by),
    };
    let found = format!("{:.1} s {ahead} {url}", by.as_secs_f64());
    let fix = "synchronise it (systemctl enable --now systemd-timesyncd, or chrony)";
    if by >= FAIL_OFFSET || by.as_secs() >= window_secs {
        Check::fail(
            NAME,
            format!("{found}: interactions are signed with Discord's time and refused outside {window_secs} s; {fix}"),
        )
    } else if by >= WARN_OFFSET {
        Check::warn(NAME, format!("{found}: {fix}"))
    } else {
        Check::ok(NAME, found)
    }
}

enum Offset {
    Ahead(Duration),
    Behind(Duration),
}

/// How far this machine's clock is from the server's `Date`.
async fn offset_from(url: &str) -> Result<Offset, String> {
    let uri: Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    let mut connector = HttpConnector::new();
    connector.enforce_http(false);
    connector.set_connect_timeout(Some(NETWORK_TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|err| format!("TLS setup failed: {err}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build::<_, Empty<Bytes>>(https);
    let request = Request::get(uri)
        .header(hyper::header::USER_AGENT, "appliance-doctor")
        .body(Empty::new())
        .map_err(|err| err.to_string())?;
    let sent = SystemTime::now();
    let response = tokio::time::timeout(NETWORK_TIMEOUT, client.request(request))
        .await
        .map_err(|_| {
            format!(
                "{url} did not answer within {} s",
                NETWORK_TIMEOUT.as_secs()
            )
        })?
        .map_err(|err| format!("{url} is unreachable ({err})"))?;
    let received = SystemTime::now();
    let date = response
        .headers()
        .get(hyper::header::DATE)
        .ok_or_else(|| format!("{url} sent no Date header"))?;
    let server = date
        .to_str()
        .ok()
        .and_then(|text| httpdate::parse_http_date(text).ok())
        .ok_or_else(|| format!("{url} sent an unreadable Date header"))?;
    // The server wrote its date somewhere within the round trip, truncated
    // to the second: compare its middle with the round trip's middle.
    let round_trip = received.duration_since(sent).unwrap_or_default();
    let local = sent + round_trip / 2;
    let server = server + Duration::from_millis(500);
    Ok(match local.duration_since(server) {
        Ok(ahead) => Offset::Ahead(ahead),
        Err(behind) => Offset::Behind(behind.duration()),
    })
}
