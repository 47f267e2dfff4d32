//! ACME for real: a local pebble (Let's Encrypt's test CA, Debian package
//! `pebble`, installed by .ci/run) issues the node's certificate through
//! TLS-ALPN-01 on the node's own public listener, and issues it again when
//! the short-lived certificate nears expiry, while a connection stays open.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use crate::support::{child_command, eventually, Node};

/// The name pebble certifies; its DNS (pebble-challtestsrv) answers
/// 127.0.0.1 for every name, so validation reaches the node on loopback.
const DOMAIN: &str = "bots.appliance.test";
/// Lifetime of pebble's certificates. rustls-acme renews at two thirds of
/// it, so the renewal has a third (4 s; it takes about 1 s) to finish
/// before the first certificate expires.
const VALIDITY_S: u64 = 12;

/// A child process killed by its pid and reaped on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[track_caller]
fn require(program: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    assert!(
        found,
        "{program} is not installed: `apt-get install pebble` (.ci/run installs it). \
         The ACME test needs pebble, Let's Encrypt's test CA, on loopback."
    );
}

/// Pebble with its DNS: a directory on `https://127.0.0.1:{port}/dir`
/// served under a certificate from `ca`, validating TLS-ALPN-01 on
/// `tls_port`, and a management port that hands out its issuing root.
struct Pebble {
    directory: String,
    management: SocketAddr,
    _pebble: Process,
    _dns: Process,
}

impl Pebble {
    fn start(dir: &Path, ca: &TestCa, tls_port: u16) -> Pebble {
        require("pebble");
        require("pebble-challtestsrv");
        let dns_port = free_port();
        let dns = Process(
            child_command("pebble-challtestsrv")
                .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-management", &format!("127.0.0.1:{}", free_port())])
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("pebble-challtestsrv did not start"),
        );
        let (cert, key) = ca.issue(dir, "pebble");
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let management = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let config = serde_json::json!({ "pebble": {
            "listenAddress": listen.to_string(),
            "managementListenAddress": management.to_string(),
            "certificate": cert,
            "privateKey": key,
            // Only TLS-ALPN-01 is answered; HTTP-01 goes to a closed port.
            "httpPort": free_port(),
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "certificateValidityPeriod": VALIDITY_S,
        }});
        let config_path = dir.join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let pebble = Process(
            child_command("pebble")
                .arg("-config")
                .arg(&config_path)
                .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
                // No artificial validation delays, no nonce rejections, and a
                // fresh challenge for every order (the renewal included).
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_WFE_NONCEREJECT", "0")
                .env("PEBBLE_AUTHZREUSE", "0")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join("pebble.log")).unwrap())
                .spawn()
                .expect("pebble did not start"),
        );
        Pebble {
            directory: format!("https://127.0.0.1:{}/dir", listen.port()),
            management,
            _pebble: pebble,
            _dns: dns,
        }
    }

    /// The root that signs the certificates pebble issues (made afresh at
    /// every pebble start).
    async fn issuing_root(&self, ca: &TestCa) -> CertificateDer<'static> {
        let pem = eventually(
            Duration::from_secs(20),
            "pebble's management API answers",
            async || https_get(self.management, "127.0.0.1", &ca.roots(), "/roots/0").await,
        )
        .await;
        CertificateDer::from_pem_slice(pem.as_bytes()).expect("pebble's root is PEM")
    }
}

/// A CA of the test's own, for pebble's HTTPS (what `--acme-ca-root` names).
struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    pem_path: PathBuf,
}

impl TestCa {
    fn new(dir: &Path) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "appliance test CA");
        let issuer =
            rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let pem_path = dir.join("test-ca.pem");
        std::fs::write(&pem_path, issuer.pem()).unwrap();
        TestCa { issuer, pem_path }
    }

    /// A certificate for 127.0.0.1 and localhost: (cert path, key path).
    fn issue(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &*self.issuer).unwrap();
        let (cert_path, key_path) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }

    fn roots(&self) -> Vec<CertificateDer<'static>> {
        vec![self.issuer.der().clone()]
    }
}

/// A TLS connection that verifies the server against `roots` only (expiry
/// included), as `name`; the served leaf certificate and an HTTP/1.1 sender.
async fn connect(
    addr: SocketAddr,
    name: &str,
    roots: &[CertificateDer<'static>],
) -> Result<(Vec<u8>, SendRequest<Full<Bytes>>), String> {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|err| format!("connect {addr}: {err}"))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(name.to_owned()).unwrap(), tcp)
        .await
        .map_err(|err| format!("TLS handshake with {addr} as {name}: {err}"))?;
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|err| err.to_string())?;
    tokio::spawn(connection);
    Ok((leaf, sender))
}

async fn get(
    sender: &mut SendRequest<Full<Bytes>>,
    host: &str,
    path: &str,
) -> Result<(u16, String), String> {
    sender.ready().await.map_err(|err| err.to_string())?;
    let request = hyper::Request::get(path)
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| err.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|err| err.to_string())?;
    Ok((
        status,
        String::from_utf8_lossy(&body.to_bytes()).into_owned(),
    ))
}

async fn https_get(
    addr: SocketAddr,
    name: &str,
    roots: &[CertificateDer<'static>],
    path: &str,
) -> Result<String, String> {
    let (_, mut sender) = connect(addr, name, roots).await?;
    match get(&mut sender, name, path).await? {
        (200, body) => Ok(body),
        (status, body) => Err(format!("{status}: {body}")),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn acme_certificate_from_pebble_is_issued_served_and_renewed_without_dropping_a_connection() {
    let temp = tempfile::tempdir().unwrap();
    let ca = TestCa::new(temp.path());
    let public = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let pebble = Pebble::start(temp.path(), &ca, public.port());
    let root = pebble.issuing_root(&ca).await;
    let roots = [root];

    let node = Node::start_with(&[
        "--listen",
        &public.to_string(),
        "--acme-domain",
        DOMAIN,
        "--acme-directory",
        &pebble.directory,
        "--acme-ca-root",
        ca.pem_path.to_str().unwrap(),
    ])
    .await;
    let pebble_log = || std::fs::read_to_string(temp.path().join("pebble.log")).unwrap_or_default();

    // Issued: the account, the TLS-ALPN-01 challenge on the node's public
    // listener and the order all went through, and a client that trusts
    // pebble's root (and nothing else) accepts what the node serves.
    let (first, mut held) = eventually(
        Duration::from_secs(30),
        "the node serves a certificate from pebble",
        async || connect(public, DOMAIN, &roots).await,
    )
    .await;
    assert_eq!(get(&mut held, DOMAIN, "/healthz").await.unwrap().0, 200);
    assert!(
        node.node_log().contains("ACME"),
        "the node logged no ACME step:\n{}",
        node.node_log()
    );

    // Renewed: new handshakes keep verifying (an expired certificate would
    // fail them) until a different certificate is served, well within the
    // first one's lifetime plus the time a renewal may take.
    let renewed = eventually(
        Duration::from_secs(VALIDITY_S + 20),
        "the node serves a renewed certificate",
        async || match connect(public, DOMAIN, &roots).await {
            Ok((leaf, _)) if leaf != first => Ok(Ok(leaf)),
            Ok(_) => Err("the first certificate, still valid".to_owned()),
            // A failed handshake is the test's failure, not a retry.
            Err(err) => Ok(Err(err)),
        },
    )
    .await;
    let renewed = renewed.unwrap_or_else(|err| {
        panic!(
            "a handshake failed before the renewal: {err}\nnode:\n{}\npebble:\n{}",
            node.node_log(),
            pebble_log()
        )
    });
    assert_ne!(renewed, first);

    // The connection opened under the first certificate was not dropped.
    assert_eq!(
        get(&mut held, DOMAIN, "/healthz").await.unwrap().0,
        200,
        "the connection held across the renewal was dropped"
    );

    // `systemctl reload` (SIGHUP) of an ACME node reloads nothing and stops nothing.
    node.signal("HUP").await;
    eventually(
        Duration::from_secs(10),
        "the node logs the SIGHUP",
        async || {
            node.node_log()
                .contains("SIGHUP: no certificate files to reload")
        },
    )
    .await;
    assert_eq!(get(&mut held, DOMAIN, "/healthz").await.unwrap().0, 200);
}
