//! TLS for the public listener: operator-supplied PEM files, or a
//! self-signed certificate created on first start and kept in the data dir.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use sha2::{Digest, Sha256};

/// Where the certificate came from and how to recognise it.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub cert_path: PathBuf,
    pub sha256_fingerprint: String,
    pub self_signed: bool,
}

/// Builds the server config from `cert`/`key`, or from the data dir's
/// self-signed pair (created if missing).
pub fn server_config(
    data_dir: &Path,
    cert_and_key: Option<(&Path, &Path)>,
) -> anyhow::Result<(Arc<ServerConfig>, CertInfo)> {
    let (cert_path, key_path, self_signed) = match cert_and_key {
        Some((cert, key)) => (cert.to_path_buf(), key.to_path_buf(), false),
        None => {
            let (cert, key) = ensure_self_signed(&data_dir.join("tls"))?;
            (cert, key, true)
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .with_context(|| format!("failed to read certificate {}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("invalid PEM in certificate {}", cert_path.display()))?;
    let first = certs
        .first()
        .with_context(|| format!("no certificate found in {}", cert_path.display()))?;
    let fingerprint = fingerprint(first);
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("failed to read private key {}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and private key do not form a usable pair")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((
        Arc::new(config),
        CertInfo {
            cert_path,
            sha256_fingerprint: fingerprint,
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
fn ensure_self_signed(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
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
