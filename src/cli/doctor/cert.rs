//! The certificate check: an expired certificate on the public listener
//! fails every TLS handshake Discord makes, so every interaction fails.

use std::path::Path;
use std::time::Duration;

use crate::cli::doctor::Check;
use crate::config::{Config, Tls};

const NAME: &str = "certificate";
/// Renew well before: a certificate renewed by hand needs a person.
const WARN_LEFT: Duration = Duration::from_secs(30 * 86_400);
/// Less than this is an outage waiting to happen.
const FAIL_LEFT: Duration = Duration::from_secs(7 * 86_400);

pub(crate) fn check(config: &Config) -> Check {
    match &config.tls {
        Tls::Plain => Check::ok(NAME, "plain HTTP: TLS ends at the proxy in front"),
        Tls::Acme { domains, .. } => Check::ok(
            NAME,
            format!("from ACME for {}, renewed by the node", domains.join(", ")),
        ),
        Tls::SelfSigned => Check::warn(
            NAME,
            "self-signed, which Discord refuses: use --tls-cert/--tls-key, --acme-domain, \
             or --plain-http behind a TLS proxy",
        ),
        Tls::Files { cert, .. } => match expiry(cert) {
            Ok(left) => judge(cert, left),
            Err(reason) => Check::fail(NAME, reason),
        },
    }
}

/// How long until the chain's first certificate to expire does; an error
/// says why the file cannot tell.
fn expiry(path: &Path) -> Result<Left, String> {
    let bytes =
        std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let now = crate::clock::unix_secs();
    let mut earliest: Option<(i64, i64)> = None;
    for pem in x509_parser::pem::Pem::iter_from_buffer(&bytes) {
        let pem = pem.map_err(|err| format!("{} is not PEM: {err}", path.display()))?;
        if pem.label != "CERTIFICATE" {
            continue;
        }
        let cert = pem
            .parse_x509()
            .map_err(|err| format!("{} holds an unreadable certificate: {err}", path.display()))?;
        let validity = cert.validity();
        let (not_before, not_after) = (
            validity.not_before.timestamp(),
            validity.not_after.timestamp(),
        );
        if earliest.is_none_or(|(_, after)| not_after < after) {
            earliest = Some((not_before, not_after));
        }
    }
    let (not_before, not_after) =
        earliest.ok_or_else(|| format!("{} holds no certificate", path.display()))?;
    Ok(if now < not_before {
        Left::NotYet(Duration::from_secs((not_before - now) as u64))
    } else if now >= not_after {
        Left::Expired(Duration::from_secs((now - not_after) as u64))
    } else {
        Left::Valid(Duration::from_secs((not_after - now) as u64))
    })
}

enum Left {
    NotYet(Duration),
    Valid(Duration),
    Expired(Duration),
}

fn judge(path: &Path, left: Left) -> Check {
    let path = path.display();
    let renew = "renew it and replace the file (the node reloads it by itself, or on SIGHUP)";
    match left {
        Left::Expired(ago) => {
            Check::fail(NAME, format!("{path} expired {} ago; {renew}", days(ago)))
        }
        Left::NotYet(until) => Check::fail(
            NAME,
            format!(
                "{path} is valid only in {}: is the clock right?",
                days(until)
            ),
        ),
        Left::Valid(left) if left < FAIL_LEFT => {
            Check::fail(NAME, format!("{path} expires in {}; {renew}", days(left)))
        }
        Left::Valid(left) if left < WARN_LEFT => {
            Check::warn(NAME, format!("{path} expires in {}; {renew}", days(left)))
        }
        Left::Valid(left) => Check::ok(NAME, format!("{path} valid for {}", days(left))),
    }
}

fn days(duration: Duration) -> String {
    let hours = duration.as_secs() / 3600;
    if hours < 48 {
        format!("{hours} h")
    } else {
        format!("{} days", hours / 24)
    }
}
