//! TLS for the public listener. Three sources of certificates:
//! operator-supplied PEM files, a self-signed pair created in the data dir
//! on first start, or ACME (`--acme-domain`, TLS-ALPN-01 on the listener
//! itself). File certificates are reloaded without a restart on SIGHUP or
//! when the files change; a bad new pair is refused and the old one kept.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use crate::sync::{self, lock};
use anyhow::Context;
use futures_util::StreamExt;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::{LazyConfigAcceptor, TlsAcceptor};
use tracing::{info, warn};

/// HTTP/2 first, HTTP/1.1 for clients that do not speak it.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("failed to read certificate {path}: {reason}")]
    Cert { path: PathBuf, reason: String },
    #[error("failed to read private key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("certificate {cert} and key {key} do not form a usable pair: {reason}")]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("failed to read the ACME CA root {path} (--acme-ca-root): {reason}")]
    AcmeRoot { path: PathBuf, reason: String },
}

/// Which certificate is served, for logs and `appliance status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub cert_path: PathBuf,
    pub sha256_fingerprint: String,
    pub self_signed: bool,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(resolver: Arc<dyn ResolvesServerCert>) -> anyhow::Result<ServerConfig> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// A certificate pair read from files, swapped in place on reload; every
/// handshake after a reload gets the new one, open connections keep theirs.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    self_signed: bool,
    current: RwLock<(Arc<CertifiedKey>, CertInfo)>,
    /// The files' modification times at the last load attempt.
    seen: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

impl ReloadingCert {
    pub fn load(cert_path: &Path, key_path: &Path, self_signed: bool) -> Result<Self, CertError> {
        let seen = modified(cert_path, key_path);
        let (key, info) = read_pair(cert_path, key_path, self_signed)?;
        Ok(ReloadingCert {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            self_signed,
            current: RwLock::new((key, info)),
            seen: Mutex::new(seen),
        })
    }

    pub fn info(&self) -> CertInfo {
        sync::read(&self.current).1.clone()
    }

    /// Whether either file changed since the last load attempt.
    pub fn changed_on_disk(&self) -> bool {
        let now = modified(&self.cert_path, &self.key_path);
        *lock(&self.seen) != now
    }

    /// Reads the files again; on success the new pair serves every new
    /// handshake. On failure the old pair stays.
    pub fn reload(&self) -> Result<CertInfo, CertError> {
        *lock(&self.seen) = modified(&self.cert_path, &self.key_path);
        let (key, info) = read_pair(&self.cert_path, &self.key_path, self.self_signed)?;
        *sync::write(&self.current) = (key, info.clone());
        Ok(info)
    }

    /// Reloads if the files changed (or `forced`, on SIGHUP), logging the outcome.
    pub fn reload_if(&self, forced: bool) {
        if !forced && !self.changed_on_disk() {
            return;
        }
        match self.reload() {
            Ok(info) => info!(
                cert = %info.cert_path.display(),
                sha256 = %info.sha256_fingerprint,
                "TLS certificate reloaded"
            ),
            Err(err) => {
                warn!(error = %err, "TLS certificate not reloaded; still serving the previous one")
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(sync::read(&self.current).0.clone())
    }
}

fn modified(cert: &Path, key: &Path) -> (Option<SystemTime>, Option<SystemTime>) {
    let time = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (time(cert), time(key))
}

fn read_pair(
    cert_path: &Path,
    key_path: &Path,
    self_signed: bool,
) -> Result<(Arc<CertifiedKey>, CertInfo), CertError> {
    let cert_error = |reason: String| CertError::Cert {
        path: cert_path.to_path_buf(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| cert_error(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_error(format!("invalid PEM: {e}")))?;
    let first = certs
        .first()
        .ok_or_else(|| cert_error("no certificate in the file".into()))?;
    let sha256_fingerprint = fingerprint(first);
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| CertError::Key {
        path: key_path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let certified =
        CertifiedKey::from_der(certs, key, &provider()).map_err(|e| CertError::Pair {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok((
        Arc::new(certified),
        CertInfo {
            cert_path: cert_path.to_path_buf(),
            sha256_fingerprint,
            self_signed,
        },
    ))
}

fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Creates `dir/self-signed.crt` and `dir/self-signed.key` unless both exist.
pub fn ensure_self_signed(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cert_path = dir.join("self-signed.crt");
    let key_path = dir.join("self-signed.key");
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let hostname = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !hostname.is_empty() {
        names.push(hostname);
    }
    let certified = rcgen::generate_simple_self_signed(names)
        .context("failed to generate a self-signed certificate")?;
    crate::fsutil::write_private(&key_path, certified.signing_key.serialize_pem().as_bytes())?;
    crate::fsutil::write_atomic(&cert_path, certified.cert.pem().as_bytes())?;
    Ok((cert_path, key_path))
}

/// ACME settings: the domains to certify, and where the account and
/// certificates are kept (`DATA_DIR/acme`).
#[derive(Debug, Clone)]
pub struct AcmeSettings {
    pub domains: Vec<String>,
    pub contact: Option<String>,
    /// The ACME directory URL (Let's Encrypt production by default).
    pub directory: String,
    /// Roots (PEM) the directory's HTTPS certificate must chain to, instead
    /// of the public web roots: a private CA, or pebble in tests.
    pub ca_root: Option<PathBuf>,
    pub cache_dir: PathBuf,
}

/// The TLS client settings for talking to an ACME directory whose
/// certificate chains to the roots in `path` (and to nothing else). Also
/// called before the data dir is made, so a bad file fails a first start early.
pub fn acme_client_config(path: &Path) -> Result<Arc<rustls::ClientConfig>, CertError> {
    let unreadable = |reason: String| CertError::AcmeRoot {
        path: path.to_owned(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|err| unreadable(err.to_string()))? {
        let cert = cert.map_err(|err| unreadable(err.to_string()))?;
        roots
            .add(cert)
            .map_err(|err| unreadable(format!("not a CA certificate: {err}")))?;
    }
    if roots.is_empty() {
        return Err(unreadable("no PEM certificate in it".to_owned()));
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| unreadable(err.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Terminates TLS on accepted connections.
pub enum Terminator {
    /// File or self-signed certificates, reloadable.
    Files {
        acceptor: TlsAcceptor,
        cert: Arc<ReloadingCert>,
    },
    /// Certificates from ACME; TLS-ALPN-01 challenges are answered here.
    Acme {
        default: Arc<ServerConfig>,
        challenge: Arc<ServerConfig>,
    },
}

impl std::fmt::Debug for Terminator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Terminator::Files { cert, .. } => f.debug_struct("Files").field("cert", cert).finish(),
            Terminator::Acme { .. } => f.write_str("Acme"),
        }
    }
}

impl Terminator {
    pub fn files(cert: Arc<ReloadingCert>) -> anyhow::Result<Terminator> {
        let config = server_config(cert.clone())?;
        Ok(Terminator::Files {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            cert,
        })
    }

    /// Starts the ACME client in the background: it loads the cached
    /// certificate (or orders one), renews it before expiry, and logs each
    /// step. Until a certificate is there, handshakes fail.
    pub fn acme(settings: AcmeSettings) -> anyhow::Result<Terminator> {
        std::fs::create_dir_all(&settings.cache_dir).with_context(|| {
            format!(
                "failed to create the ACME cache {}",
                settings.cache_dir.display()
            )
        })?;
        let mut acme = rustls_acme::AcmeConfig::new_with_provider(&settings.domains, provider())
            .contact(settings.contact.iter().map(|c| format!("mailto:{c}")))
            .cache(rustls_acme::caches::DirCache::new(
                settings.cache_dir.clone(),
            ))
            .directory(&settings.directory);
        if let Some(ca_root) = &settings.ca_root {
            acme = acme.client_tls_config(acme_client_config(ca_root)?);
        }
        let mut state = acme.state();
        let default = Arc::new(server_config(state.resolver())?);
        let challenge = state.challenge_rustls_config_with_provider(provider());
        let domains = settings.domains.join(",");
        tokio::spawn(async move {
            while let Some(event) = state.next().await {
                match event {
                    Ok(ok) => info!(%domains, event = ?ok, "ACME"),
                    Err(err) => warn!(%domains, error = %err, "ACME failed; retrying"),
                }
            }
        });
        Ok(Terminator::Acme { default, challenge })
    }

    /// The reloadable certificate, when certificates come from files.
    pub fn reloading(&self) -> Option<&Arc<ReloadingCert>> {
        match self {
            Terminator::Files { cert, .. } => Some(cert),
            Terminator::Acme { .. } => None,
        }
    }

    /// Runs the handshake. `Ok(None)`: the connection was an ACME
    /// validation, answered and done.
    pub async fn accept(&self, stream: TcpStream) -> io::Result<Option<TlsStream<TcpStream>>> {
        match self {
            Terminator::Files { acceptor, .. } => acceptor.accept(stream).await.map(Some),
            Terminator::Acme { default, challenge } => {
                let start =
                    LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream).await?;
                if rustls_acme::is_tls_alpn_challenge(&start.client_hello()) {
                    let mut tls = start.into_stream(challenge.clone()).await?;
                    use tokio::io::AsyncWriteExt;
                    let _ = tls.shutdown().await;
                    Ok(None)
                } else {
                    start.into_stream(default.clone()).await.map(Some)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acme_ca_root_must_hold_a_pem_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = acme_client_config(&missing).unwrap_err().to_string();
        assert!(err.contains("missing.pem (--acme-ca-root)"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not PEM\n").unwrap();
        let err = acme_client_config(&empty).unwrap_err().to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
        let root = dir.path().join("root.pem");
        let ca = rcgen::generate_simple_self_signed(vec!["ca.example.com".to_owned()]).unwrap();
        std::fs::write(&root, ca.cert.pem()).unwrap();
        acme_client_config(&root).unwrap();
    }
}
