//! `appliance serve` configuration: flags > `APPLIANCE_*` env > config file
//! (TOML) > embedded defaults.
//!
//! clap handles flags over env; the file slots in below both because no
//! file-settable flag has a clap default. [`Config::resolve`] is pure.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::edge::EdgeLimits;
use crate::telemetry::LogFormat;

pub mod defaults {
    use std::net::SocketAddr;

    pub const DATA_DIR: &str = "./appliance-data";
    pub const LISTEN: &str = "0.0.0.0:8443";
    pub const ADMIN_LISTEN: &str = "127.0.0.1:8444";
    pub const ADMIN_URL: &str = "http://127.0.0.1:8444";
    pub const DISCORD_API: &str = "https://discord.com/api/v10";
    pub const DEFER_AFTER_MS: u64 = 2_000;
    pub const ACME_DIRECTORY: &str = "https://acme-v02.api.letsencrypt.org/directory";

    pub fn listen() -> SocketAddr {
        LISTEN.parse().expect("valid default")
    }
    pub fn admin_listen() -> SocketAddr {
        ADMIN_LISTEN.parse().expect("valid default")
    }
}

/// Flags of `appliance serve`.
#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML config file (keys as in packaging/config.example.toml)
    #[arg(long, env = "APPLIANCE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory: database, admin token, certificates, compiled bots [default: ./appliance-data]
    #[arg(long, env = "APPLIANCE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Public listener for Discord's requests [default: 0.0.0.0:8443]
    #[arg(long, env = "APPLIANCE_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Admin API listener; keep it on loopback [default: 127.0.0.1:8444]
    #[arg(long, env = "APPLIANCE_ADMIN_LISTEN", value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    /// TLS certificate chain (PEM); without it a self-signed certificate is created
    #[arg(
        long,
        env = "APPLIANCE_TLS_CERT",
        value_name = "PEM",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for --tls-cert
    #[arg(
        long,
        env = "APPLIANCE_TLS_KEY",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP, for use behind a TLS-terminating proxy
    #[arg(long, env = "APPLIANCE_PLAIN_HTTP", conflicts_with = "tls_cert")]
    pub plain_http: bool,
    /// Get certificates for this domain by ACME (Let's Encrypt; TLS-ALPN-01 on the public listener, which must be reachable on port 443); repeat for more names
    #[arg(long, value_name = "DOMAIN", conflicts_with_all = ["tls_cert", "plain_http"])]
    pub acme_domain: Vec<String>,
    /// ACME directory URL of another CA (a private one, or pebble in tests) [default: Let's Encrypt production]
    #[arg(long, env = "APPLIANCE_ACME_DIRECTORY", value_name = "URL")]
    pub acme_directory: Option<String>,
    /// PEM file of the root certificate(s) the ACME directory's HTTPS certificate must chain to, for a CA the public web roots do not cover; only these are trusted then [default: the public web roots]
    #[arg(long, env = "APPLIANCE_ACME_CA_ROOT", value_name = "PEM")]
    pub acme_ca_root: Option<PathBuf>,
    /// Discord API base URL [default: https://discord.com/api/v10]
    #[arg(long, env = "APPLIANCE_DISCORD_API", value_name = "URL")]
    pub discord_api: Option<String>,
    /// Answer with a deferred response when a bot has not answered after this many ms [default: 2000]
    #[arg(long, env = "APPLIANCE_DEFER_AFTER_MS", value_name = "N")]
    pub defer_after_ms: Option<u64>,
    /// The node's own log lines: text, or one JSON object per line [default: text]
    #[arg(long, env = "APPLIANCE_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Free space (MiB) on the data dir's disk that bots' KV writes may not take, kept for deploys, logs and the database's own work; 0 turns it off [default: 256, at most 5% of the disk]
    #[arg(long, env = "APPLIANCE_DISK_RESERVE_MIB", value_name = "MIB")]
    pub disk_reserve_mib: Option<u64>,
    /// Where compiled machine code is kept per function, so a deploy skips what was compiled before (another JavaScript or Python bot carries the same engine); several nodes on one machine may share it [default: DATA_DIR/compile-cache]
    #[arg(long, env = "APPLIANCE_COMPILE_CACHE", value_name = "DIR")]
    pub compile_cache: Option<PathBuf>,
    /// Take over from the node serving this data dir (an upgrade or restart): load every bot, then take its listeners; no connection is refused
    #[arg(long)]
    pub takeover: bool,
    /// Join a fleet: NATS servers of the fleet engine, comma-separated, this node's own site's first (nats://host:port); without it the node is on its own
    #[arg(
        long,
        env = "APPLIANCE_FLEET_SERVERS",
        value_name = "URLS",
        value_delimiter = ','
    )]
    pub fleet_servers: Vec<String>,
    /// This node's name in the fleet, unique (letters, digits, '-', '_') [default: the host name]
    #[arg(long, env = "APPLIANCE_FLEET_NODE", value_name = "NAME")]
    pub fleet_node: Option<String>,
    /// The site (datacenter) this node is in [default: default]
    #[arg(long, env = "APPLIANCE_FLEET_SITE", value_name = "SITE")]
    pub fleet_site: Option<String>,
    /// NATS credentials file (.creds) for the fleet engine
    #[arg(long, env = "APPLIANCE_FLEET_CREDS", value_name = "FILE")]
    pub fleet_creds: Option<PathBuf>,
    /// CA certificate(s) (PEM) of the fleet engine's TLS; turns TLS on
    #[arg(long, env = "APPLIANCE_FLEET_TLS_CA", value_name = "PEM")]
    pub fleet_tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for the fleet engine, with --fleet-tls-key
    #[arg(long, env = "APPLIANCE_FLEET_TLS_CERT", value_name = "PEM")]
    pub fleet_tls_cert: Option<PathBuf>,
    /// Client key (PEM) for --fleet-tls-cert
    #[arg(long, env = "APPLIANCE_FLEET_TLS_KEY", value_name = "PEM")]
    pub fleet_tls_key: Option<PathBuf>,
    /// The fleet's shared key (64 hex digits; `appliance fleet init` writes one) that seals bot tokens before they reach the engine [default: DATA_DIR/fleet.key]
    #[arg(long, env = "APPLIANCE_FLEET_KEY_FILE", value_name = "FILE")]
    pub fleet_key_file: Option<PathBuf>,
    /// Copies the engine keeps of each bucket: 3 for three voting servers [default: 3]
    #[arg(long, env = "APPLIANCE_FLEET_REPLICAS", value_name = "N")]
    pub fleet_replicas: Option<usize>,
}

/// The config file's keys; unknown keys are an error, not silently ignored.
/// Serialized, it is what `config show` prints: a config file.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub admin_listen: Option<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub plain_http: Option<bool>,
    pub acme_domains: Option<Vec<String>>,
    pub acme_contact: Option<String>,
    pub acme_directory: Option<String>,
    pub acme_ca_root: Option<PathBuf>,
    pub discord_api: Option<String>,
    pub defer_after_ms: Option<u64>,
    pub max_instances: Option<u32>,
    pub log_filter: Option<String>,
    pub log_format: Option<LogFormat>,
    pub disk_reserve_mib: Option<u64>,
    pub compile_cache: Option<PathBuf>,
    /// The public listener's limits (`[limits]`).
    #[serde(default)]
    pub limits: EdgeLimits,
    /// Fleet membership (`[fleet]`); absent: a single node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetFile>,
}

/// `[fleet]` in the config file: the `--fleet-*` flags.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FleetFile {
    #[serde(default)]
    pub servers: Vec<String>,
    pub node: Option<String>,
    pub site: Option<String>,
    pub creds: Option<PathBuf>,
    pub tls_ca: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub replicas: Option<usize>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read config file {}", path.display()))?;
        toml::from_str(&text).map_err(|err| {
            // toml's own message draws the offending line over several lines;
            // the CLI promises one line, so name the line number instead.
            let line = err
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let at = line.map(|l| format!(" line {l}:")).unwrap_or_default();
            anyhow::anyhow!(
                "invalid config file {}:{at} {}",
                path.display(),
                err.message().trim()
            )
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// A self-signed certificate in the data dir, created on first start.
    SelfSigned,
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    Plain,
    /// Certificates by ACME, cached in `DATA_DIR/acme`.
    Acme {
        domains: Vec<String>,
        contact: Option<String>,
        directory: String,
        /// Roots trusted for the directory's HTTPS instead of the public ones.
        ca_root: Option<PathBuf>,
    },
}

/// Fully resolved settings of a node.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub tls: Tls,
    pub discord_api: String,
    pub defer_after: Duration,
    pub limits: EdgeLimits,
    /// Live instances the node holds at once, over all bots (the instance pool's size).
    pub max_instances: u32,
    pub log_filter: Option<String>,
    pub log_format: LogFormat,
    /// Free space KV writes leave on the data dir's disk; `None`: 256 MiB,
    /// at most 5% of the disk (`store::DiskReserve`).
    pub disk_reserve_mib: Option<u64>,
    /// Cranelift's per-function cache; `None`: `DATA_DIR/compile-cache`.
    pub compile_cache: Option<PathBuf>,
    /// Take the listeners from the node serving the data dir.
    pub takeover: bool,
    /// Fleet membership; `None`: a single node, no engine.
    pub fleet: Option<crate::cluster::Settings>,
}

impl Config {
    pub fn resolve(args: &ServeArgs, file: FileConfig) -> anyhow::Result<Config> {
        let plain_http =
            args.plain_http || (args.tls_cert.is_none() && file.plain_http.unwrap_or(false));
        let cert = args.tls_cert.clone().or(file.tls_cert);
        let key = args.tls_key.clone().or(file.tls_key);
        let acme_domains = if args.acme_domain.is_empty() {
            file.acme_domains.unwrap_or_default()
        } else {
            args.acme_domain.clone()
        };
        let acme_directory = args.acme_directory.clone().or(file.acme_directory);
        let acme_ca_root = args.acme_ca_root.clone().or(file.acme_ca_root);
        anyhow::ensure!(
            !acme_domains.is_empty() || (acme_directory.is_none() && acme_ca_root.is_none()),
            "acme_directory and acme_ca_root need acme_domains (--acme-domain): without a domain the node does not use ACME"
        );
        let tls = match (plain_http, cert, key) {
            (plain, cert, key) if !acme_domains.is_empty() => {
                anyhow::ensure!(
                    !plain && cert.is_none() && key.is_none(),
                    "acme_domains cannot be combined with plain_http or tls_cert/tls_key"
                );
                for domain in &acme_domains {
                    anyhow::ensure!(
                        is_domain_name(domain),
                        "acme domain {domain:?} is not a DNS name (ACME certifies names, not addresses)"
                    );
                }
                Tls::Acme {
                    domains: acme_domains,
                    contact: file.acme_contact,
                    directory: acme_directory
                        .unwrap_or_else(|| defaults::ACME_DIRECTORY.to_owned()),
                    ca_root: acme_ca_root,
                }
            }
            (true, None, None) => Tls::Plain,
            (true, _, _) => anyhow::bail!("plain_http cannot be combined with tls_cert/tls_key"),
            (false, Some(cert), Some(key)) => Tls::Files { cert, key },
            (false, None, None) => Tls::SelfSigned,
            (false, _, _) => anyhow::bail!("tls_cert and tls_key must be given together"),
        };
        let discord_api = args
            .discord_api
            .clone()
            .or(file.discord_api)
            .unwrap_or_else(|| defaults::DISCORD_API.to_owned());
        let discord_uri: hyper::Uri = discord_api
            .parse()
            .with_context(|| format!("discord_api {discord_api:?} is not a URL"))?;
        anyhow::ensure!(
            matches!(discord_uri.scheme_str(), Some("http" | "https"))
                && discord_uri.host().is_some(),
            "discord_api {discord_api:?} must be an http(s) URL"
        );
        let defer_after_ms = args
            .defer_after_ms
            .or(file.defer_after_ms)
            .unwrap_or(defaults::DEFER_AFTER_MS);
        anyhow::ensure!(
            (1..3_000).contains(&defer_after_ms),
            "defer_after_ms must be between 1 and 2999: Discord fails interactions unanswered after 3 s"
        );
        file.limits
            .validate()
            .map_err(|reason| anyhow::anyhow!("[limits] {reason}"))?;
        let max_instances = file.max_instances.unwrap_or(1000);
        anyhow::ensure!(
            (1..=100_000).contains(&max_instances),
            "max_instances must be between 1 and 100000"
        );
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(defaults::DATA_DIR));
        let fleet = resolve_fleet(args, file.fleet, &data_dir)?;
        Ok(Config {
            fleet,
            data_dir,
            listen: args.listen.or(file.listen).unwrap_or_else(defaults::listen),
            admin_listen: args
                .admin_listen
                .or(file.admin_listen)
                .unwrap_or_else(defaults::admin_listen),
            tls,
            discord_api: discord_api.trim_end_matches('/').to_owned(),
            defer_after: Duration::from_millis(defer_after_ms),
            limits: file.limits,
            max_instances,
            log_filter: file.log_filter,
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            disk_reserve_mib: args.disk_reserve_mib.or(file.disk_reserve_mib),
            compile_cache: args.compile_cache.clone().or(file.compile_cache),
            takeover: args.takeover,
        })
    }
}

impl Config {
    /// The config file that resolves to this configuration on its own: the
    /// effective settings as `config show` prints them. Every field is
    /// named, so a new setting cannot be left out of it.
    pub fn as_file(&self) -> FileConfig {
        let Config {
            data_dir,
            listen,
            admin_listen,
            tls,
            discord_api,
            defer_after,
            limits,
            max_instances,
            log_filter,
            log_format,
            disk_reserve_mib,
            compile_cache,
            takeover: _,
            fleet,
        } = self.clone();
        let mut file = FileConfig {
            data_dir: Some(data_dir),
            listen: Some(listen),
            admin_listen: Some(admin_listen),
            tls_cert: None,
            tls_key: None,
            plain_http: Some(tls == Tls::Plain),
            acme_domains: None,
            acme_contact: None,
            acme_directory: None,
            acme_ca_root: None,
            discord_api: Some(discord_api),
            defer_after_ms: Some(defer_after.as_millis() as u64),
            max_instances: Some(max_instances),
            log_filter,
            log_format: Some(log_format),
            disk_reserve_mib,
            compile_cache,
            limits,
            fleet: fleet.map(|fleet| FleetFile {
                servers: fleet.servers,
                node: Some(fleet.node),
                site: Some(fleet.site),
                creds: fleet.creds,
                tls_ca: fleet.tls_ca,
                tls_cert: fleet.tls_cert,
                tls_key: fleet.tls_key,
                key_file: Some(fleet.key_file),
                replicas: Some(fleet.replicas),
            }),
        };
        match tls {
            Tls::SelfSigned | Tls::Plain => {}
            Tls::Files { cert, key } => {
                file.tls_cert = Some(cert);
                file.tls_key = Some(key);
            }
            Tls::Acme {
                domains,
                contact,
                directory,
                ca_root,
            } => {
                file.acme_domains = Some(domains);
                file.acme_contact = contact;
                file.acme_directory = Some(directory);
                file.acme_ca_root = ca_root;
            }
        }
        file
    }
}

/// Fleet settings: flags over `[fleet]`; none when no server is named.
fn resolve_fleet(
    args: &ServeArgs,
    file: Option<FleetFile>,
    data_dir: &Path,
) -> anyhow::Result<Option<crate::cluster::Settings>> {
    let file = file.unwrap_or_default();
    let servers = if args.fleet_servers.is_empty() {
        file.servers
    } else {
        args.fleet_servers.clone()
    };
    let servers: Vec<String> = servers
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if servers.is_empty() {
        anyhow::ensure!(
            args.fleet_node.is_none() && args.fleet_site.is_none() && file.node.is_none(),
            "--fleet-node and --fleet-site need --fleet-servers"
        );
        return Ok(None);
    }
    let node = match args.fleet_node.clone().or(file.node) {
        Some(node) => node,
        None => std::fs::read_to_string("/etc/hostname")
            .map(|name| name.trim().replace('.', "-"))
            .unwrap_or_default(),
    };
    let settings = crate::cluster::Settings {
        servers,
        node,
        site: args
            .fleet_site
            .clone()
            .or(file.site)
            .unwrap_or_else(|| "default".into()),
        creds: args.fleet_creds.clone().or(file.creds),
        tls_ca: args.fleet_tls_ca.clone().or(file.tls_ca),
        tls_cert: args.fleet_tls_cert.clone().or(file.tls_cert),
        tls_key: args.fleet_tls_key.clone().or(file.tls_key),
        key_file: args
            .fleet_key_file
            .clone()
            .or(file.key_file)
            .unwrap_or_else(|| data_dir.join("fleet.key")),
        replicas: args.fleet_replicas.or(file.replicas).unwrap_or(3),
    };
    settings.validate().map_err(anyhow::Error::msg)?;
    Ok(Some(settings))
}

/// Letters, digits, hyphens and dots, with at least one dot: a name ACME can validate.
fn is_domain_name(name: &str) -> bool {
    name.len() <= 253
        && name.contains('.')
        && name.parse::<std::net::IpAddr>().is_err()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = Config::resolve(&ServeArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(config.listen, defaults::listen());
        assert_eq!(config.admin_listen, defaults::admin_listen());
        assert_eq!(config.tls, Tls::SelfSigned);
        assert_eq!(config.data_dir, PathBuf::from("./appliance-data"));
        assert_eq!(config.defer_after, Duration::from_millis(2000));
    }

    #[test]
    fn flags_beat_the_file() {
        let file: FileConfig = toml::from_str(
            "listen = \"127.0.0.1:1\"\nadmin_listen = \"127.0.0.1:2\"\nplain_http = true\ndefer_after_ms = 1500",
        )
        .unwrap();
        let args = ServeArgs {
            listen: Some("127.0.0.1:9".parse().unwrap()),
            ..ServeArgs::default()
        };
        let config = Config::resolve(&args, file).unwrap();
        assert_eq!(config.listen.port(), 9);
        assert_eq!(config.admin_listen.port(), 2);
        assert_eq!(config.tls, Tls::Plain);
        assert_eq!(config.defer_after, Duration::from_millis(1500));
    }

    #[test]
    fn config_file_errors_are_one_line_with_the_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\n\nlisen = 1\n").unwrap();
        let err = format!("{:#}", FileConfig::load(&path).unwrap_err());
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("line 3:") && err.contains("lisen"), "{err}");
    }

    #[test]
    fn limits_come_from_the_limits_table_and_are_checked() {
        let file: FileConfig = toml::from_str("[limits]\nmax_connections_per_ip = 10\n").unwrap();
        let config = Config::resolve(&ServeArgs::default(), file).unwrap();
        assert_eq!(config.limits.max_connections_per_ip, 10);
        assert_eq!(
            config.limits,
            EdgeLimits {
                max_connections_per_ip: 10,
                ..EdgeLimits::default()
            }
        );
        let file: FileConfig = toml::from_str("[limits]\nheader_read_timeout_ms = 0\n").unwrap();
        let err = Config::resolve(&ServeArgs::default(), file).unwrap_err();
        assert!(
            err.to_string().contains("[limits] header_read_timeout_ms"),
            "{err}"
        );
        assert!(toml::from_str::<FileConfig>("[limits]\nmax_conections = 1\n").is_err());
    }

    #[test]
    fn acme_takes_domain_names_and_defaults_to_lets_encrypt() {
        let args = ServeArgs {
            acme_domain: vec!["bots.example.com".into()],
            ..ServeArgs::default()
        };
        let config = Config::resolve(&args, FileConfig::default()).unwrap();
        assert_eq!(
            config.tls,
            Tls::Acme {
                domains: vec!["bots.example.com".into()],
                contact: None,
                directory: defaults::ACME_DIRECTORY.into(),
                ca_root: None,
            }
        );
        // Another CA: the flags win over the file; alone they are an error.
        let args = ServeArgs {
            acme_domain: vec!["bots.example.com".into()],
            acme_directory: Some("https://127.0.0.1:14000/dir".into()),
            acme_ca_root: Some("pebble.pem".into()),
            ..ServeArgs::default()
        };
        let file: FileConfig =
            toml::from_str("acme_directory = \"https://ca.example.com/dir\"").unwrap();
        let Tls::Acme {
            directory, ca_root, ..
        } = Config::resolve(&args, file).unwrap().tls
        else {
            panic!("not ACME")
        };
        assert_eq!(directory, "https://127.0.0.1:14000/dir");
        assert_eq!(ca_root, Some(PathBuf::from("pebble.pem")));
        let args = ServeArgs {
            acme_ca_root: Some("pebble.pem".into()),
            ..ServeArgs::default()
        };
        let err = Config::resolve(&args, FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("need acme_domains"), "{err}");
        for bad in ["localhost", "10.0.0.1", "-x.example.com", "a..b"] {
            let args = ServeArgs {
                acme_domain: vec![bad.into()],
                ..ServeArgs::default()
            };
            assert!(
                Config::resolve(&args, FileConfig::default()).is_err(),
                "{bad}"
            );
        }
        let file: FileConfig =
            toml::from_str("acme_domains = [\"a.example.com\"]\ntls_cert = \"c\"\ntls_key = \"k\"")
                .unwrap();
        assert!(Config::resolve(&ServeArgs::default(), file).is_err());
    }

    #[test]
    fn the_effective_file_resolves_to_the_same_config() {
        let file: FileConfig = toml::from_str(
            "acme_domains = [\"a.example.com\"]\nacme_contact = \"mailto:x@example.com\"\n\
             log_format = \"json\"\n[limits]\nmax_connections = 10\n",
        )
        .unwrap();
        for config in [
            Config::resolve(&ServeArgs::default(), FileConfig::default()).unwrap(),
            Config::resolve(&ServeArgs::default(), file).unwrap(),
        ] {
            let text = toml::to_string(&config.as_file()).unwrap();
            let again: FileConfig = toml::from_str(&text).unwrap();
            let again = Config::resolve(&ServeArgs::default(), again).unwrap();
            assert_eq!(format!("{again:?}"), format!("{config:?}"), "{text}");
        }
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err());
        let file: FileConfig = toml::from_str("tls_cert = \"a.pem\"").unwrap();
        let err = Config::resolve(&ServeArgs::default(), file).unwrap_err();
        assert!(err.to_string().contains("together"), "{err}");
        let args = ServeArgs {
            defer_after_ms: Some(3000),
            ..ServeArgs::default()
        };
        assert!(Config::resolve(&args, FileConfig::default()).is_err());
    }
}
