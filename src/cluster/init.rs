//! `appliance fleet init`: the voting servers' nats-server configs. Every
//! write is fsynced before it is acknowledged (`sync_interval: always`; by
//! default JetStream acknowledges before its 2-minute fsync), and
//! `unique_tag: "site:"` puts each replica in a different site, so losing
//! one site keeps the majority.

/// One voting server: its name, the address other servers and the nodes
/// reach it at, and its site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VotingServer {
    pub name: String,
    pub host: String,
    pub site: String,
}

impl std::str::FromStr for VotingServer {
    type Err = String;

    /// `NAME,HOST,SITE`.
    fn from_str(text: &str) -> Result<VotingServer, String> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let [name, host, site] = parts[..] else {
            return Err(format!("{text:?} is not NAME,HOST,SITE"));
        };
        for (what, value) in [("name", name), ("site", site)] {
            if !super::valid_token(value) {
                return Err(format!(
                    "server {what} {value:?} must be letters, digits, '-' or '_'"
                ));
            }
        }
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(format!(
                "server host {host:?} is not a host name or address"
            ));
        }
        Ok(VotingServer {
            name: name.into(),
            host: host.into(),
            site: site.into(),
        })
    }
}

pub const CLIENT_PORT: u16 = 4222;
pub const CLUSTER_PORT: u16 = 6222;
pub const MONITOR_PORT: u16 = 8222;

/// Checks the set: an odd number (3 or 5) of distinct names.
pub fn validate(servers: &[VotingServer]) -> Result<(), String> {
    if ![3, 5].contains(&servers.len()) {
        return Err(format!(
            "a fleet has 3 or 5 voting servers (a majority must survive one loss), not {}",
            servers.len()
        ));
    }
    let mut names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    names.dedup();
    if names.len() != servers.len() {
        return Err("voting server names must differ".into());
    }
    Ok(())
}

/// The nats-server config of `servers[index]`.
pub fn server_config(servers: &[VotingServer], index: usize, store_dir: &str) -> String {
    let me = &servers[index];
    let routes: Vec<String> = servers
        .iter()
        .filter(|other| other.name != me.name)
        .map(|other| format!("nats-route://{}:{CLUSTER_PORT}", other.host))
        .collect();
    format!(
        r#"# nats-server config for voting server {name} (site {site}), written by `appliance fleet init`.
# Add TLS (tls {{ cert_file, key_file, ca_file }}) on the client and cluster
# blocks, and accounts or nkeys, before the servers face any untrusted network.
server_name: {name}
listen: 0.0.0.0:{CLIENT_PORT}
# Monitoring (/healthz) on loopback only.
http: 127.0.0.1:{MONITOR_PORT}
server_tags: ["site:{site}"]
jetstream {{
  store_dir: "{store_dir}"
  # Acknowledge a write only once it is on disk: required, the default
  # fsyncs every 2 minutes and loses acknowledged writes on power loss.
  sync_interval: always
  # One replica per site.
  unique_tag: "site:"
}}
cluster {{
  name: appliance
  listen: 0.0.0.0:{CLUSTER_PORT}
  routes: [
    {routes}
  ]
}}
"#,
        name = me.name,
        site = me.site,
        routes = routes.join("\n    "),
    )
}

/// The `--fleet-servers` value for nodes at `site`: its own site's servers first.
pub fn servers_flag(servers: &[VotingServer], site: &str) -> String {
    let mut ordered: Vec<&VotingServer> = servers.iter().collect();
    ordered.sort_by_key(|server| server.site != site);
    ordered
        .iter()
        .map(|server| format!("nats://{}:{CLIENT_PORT}", server.host))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Vec<VotingServer> {
        ["n1,10.0.0.1,dc-a", "n2,10.0.0.2,dc-b", "n3,10.0.0.3,tie"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect()
    }

    #[test]
    fn each_server_routes_to_the_others_and_fsyncs_always() {
        let servers = three();
        validate(&servers).unwrap();
        let config = server_config(&servers, 1, "/var/lib/nats");
        assert!(config.contains("server_name: n2"));
        assert!(config.contains("sync_interval: always"));
        assert!(config.contains("unique_tag: \"site:\""));
        assert!(config.contains("server_tags: [\"site:dc-b\"]"));
        assert!(config.contains("nats-route://10.0.0.1:6222"));
        assert!(config.contains("nats-route://10.0.0.3:6222"));
        assert!(!config.contains("nats-route://10.0.0.2:6222"));
        assert!(servers_flag(&servers, "tie").starts_with("nats://10.0.0.3:4222,"));
    }

    #[test]
    fn bad_sets_are_refused() {
        assert!(validate(&three()[..2]).is_err());
        let mut servers = three();
        servers[2].name = "n1".into();
        assert!(validate(&servers).is_err());
        assert!("n1,10.0.0.1".parse::<VotingServer>().is_err());
        assert!("n 1,h,s".parse::<VotingServer>().is_err());
    }
}
