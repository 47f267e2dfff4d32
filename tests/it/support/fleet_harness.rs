//! A fleet on loopback: three nats-servers (JetStream, `sync_interval:
//! always`) whose cluster routes all pass through per-pair TCP proxies in
//! this process, so a test can cut one server off from the others without
//! root, and real `appliance serve` nodes, each joined to the fleet with
//! its own server first. Every process is killed by its pid on drop; every
//! wait is bounded.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::{child_command, eventually, nats, Node};

/// A nats-server process, SIGKILLed by pid on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Server {
    pub name: String,
    pub client_port: u16,
    pub http_port: u16,
    conf: PathBuf,
    log: PathBuf,
    process: Option<Process>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.0.id())
    }
}

/// Forwards one server's route connections to another; `cut` drops every
/// connection and refuses new ones until healed.
struct Proxy {
    from: usize,
    to: usize,
    cut: Arc<AtomicBool>,
    tasks: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(from: usize, to: usize, target: u16) -> (Proxy, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let tasks: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (cut2, tasks2) = (cut.clone(), tasks.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                if cut2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    // As nats-server's own sockets: without it, small route
                    // messages wait on delayed ACKs (40 ms stalls).
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (mut a, mut b) = (inbound, outbound);
                    let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                });
                let mut tasks = tasks2.lock().unwrap();
                tasks.retain(|t| !t.is_finished());
                tasks.push(task.abort_handle());
            }
        });
        tasks.lock().unwrap().push(accept.abort_handle());
        (
            Proxy {
                from,
                to,
                cut,
                tasks,
            },
            port,
        )
    }

    fn sever(&self) {
        self.cut.store(true, Ordering::SeqCst);
        let mut tasks = self.tasks.lock().unwrap();
        // The first task is the accept loop; the rest are connections.
        for task in tasks.drain(1..) {
            task.abort();
        }
    }

    fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// Three voting nats-servers on loopback.
pub struct Engine {
    pub servers: Vec<Server>,
    proxies: Vec<Proxy>,
    pub dir: tempfile::TempDir,
    /// The fleet key every node is given.
    pub key_file: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Engine {
    /// Three servers, healthy. A port chosen free may be taken by another
    /// test before its server binds it: then the whole engine starts again
    /// on new ports (at most three times).
    pub async fn start() -> Engine {
        let binary = tokio::task::spawn_blocking(nats::server_binary)
            .await
            .unwrap();
        let mut failures = Vec::new();
        for _ in 0..3 {
            let mut engine = Engine::configure().await;
            for i in 0..engine.servers.len() {
                engine.spawn(i, &binary);
            }
            let mut lost_port = None;
            for i in 0..engine.servers.len() {
                if let Err(log) = engine.healthy_unless_port_taken(i).await {
                    lost_port = Some(log);
                    break;
                }
            }
            match lost_port {
                None => return engine,
                // Dropping the engine stops its servers (by pid).
                Some(log) => failures.push(log),
            }
        }
        panic!(
            "nats-servers lost their ports three times:\n{}",
            failures.join("\n---\n")
        );
    }

    /// Waits until server `i` answers `/healthz` (at most 30 s, then a
    /// panic with its log); its log instead when it could not bind a port.
    async fn healthy_unless_port_taken(&self, i: usize) -> Result<(), String> {
        let port = self.servers[i].http_port;
        let log = self.servers[i].log.clone();
        eventually(
            Duration::from_secs(30),
            &format!("nats-server {} is healthy", self.servers[i].name),
            async || {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains("address already in use") {
                    return Ok(Err(text));
                }
                super::holds(
                    http_get(SocketAddr::from(([127, 0, 0, 1], port)), "/healthz").await,
                    |got| got.0 == 200,
                )
                .map(|_| Ok(()))
                .map_err(|got| format!("{got:?}; log: {text}"))
            },
        )
        .await
    }

    /// Ports, proxies and configs for three servers, none started.
    async fn configure() -> Engine {
        let dir = tempfile::tempdir().unwrap();
        const N: usize = 3;
        let route_ports: Vec<u16> = (0..N).map(|_| free_port()).collect();
        let mut proxies = Vec::new();
        let mut proxy_ports = vec![vec![0u16; N]; N];
        for (from, ports) in proxy_ports.iter_mut().enumerate() {
            for (to, &route_port) in route_ports.iter().enumerate() {
                if from != to {
                    let (proxy, port) = Proxy::start(from, to, route_port).await;
                    ports[to] = port;
                    proxies.push(proxy);
                }
            }
        }
        let mut servers = Vec::new();
        for i in 0..N {
            let name = format!("n{}", i + 1);
            let (client_port, http_port) = (free_port(), free_port());
            let routes: Vec<String> = (0..N)
                .filter(|&to| to != i)
                .map(|to| format!("nats-route://127.0.0.1:{}", proxy_ports[i][to]))
                .collect();
            let store = dir.path().join(format!("{name}-js"));
            let conf = dir.path().join(format!("{name}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "server_name: {name}\nlisten: 127.0.0.1:{client_port}\nhttp: 127.0.0.1:{http_port}\n\
                     jetstream {{ store_dir: \"{}\", sync_interval: always }}\n\
                     cluster {{\n  name: itest\n  listen: 127.0.0.1:{}\n  advertise: \"127.0.0.1:1\"\n  no_advertise: true\n  pool_size: -1\n  routes: [ {} ]\n}}\n",
                    store.display(),
                    route_ports[i],
                    routes.join(", ")
                ),
            )
            .unwrap();
            servers.push(Server {
                log: dir.path().join(format!("{name}.log")),
                name,
                client_port,
                http_port,
                conf,
                process: None,
            });
        }
        let key_file = dir.path().join("fleet.key");
        std::fs::write(&key_file, "11".repeat(32)).unwrap();
        Engine {
            servers,
            proxies,
            dir,
            key_file,
        }
    }

    fn spawn(&mut self, i: usize, binary: &std::path::Path) {
        let server = &mut self.servers[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&server.log)
            .unwrap();
        let child = child_command(binary)
            .arg("-c")
            .arg(&server.conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        server.process = Some(Process(child));
    }

    /// `kill -9` of server `i` (by its pid).
    pub fn kill(&mut self, i: usize) {
        self.servers[i].process = None;
    }

    /// Starts servers `which` again on their stores, all before waiting:
    /// a restarted server is healthy only once a majority is back.
    pub async fn restart(&mut self, which: &[usize]) {
        let binary = nats::server_binary();
        for &i in which {
            self.spawn(i, &binary);
        }
        for &i in which {
            self.wait_healthy(i).await;
        }
    }

    /// Waits until server `i` is healthy (at most 30 s); panics with its
    /// log if it is not, or could not bind a port.
    pub async fn wait_healthy(&self, i: usize) {
        if let Err(log) = self.healthy_unless_port_taken(i).await {
            panic!(
                "nats-server {} lost a port; log: {log}",
                self.servers[i].name
            );
        }
    }

    /// The running server that leads stream `stream`, as the servers'
    /// monitoring (`/jsz`) reports it.
    pub async fn stream_leader(&self, stream: &str) -> Option<usize> {
        for server in self.servers.iter().filter(|s| s.process.is_some()) {
            let addr = SocketAddr::from(([127, 0, 0, 1], server.http_port));
            let (status, body) = http_get(addr, "/jsz?accounts=true&streams=true").await;
            if status != 200 {
                continue;
            }
            let Ok(jsz) = serde_json::from_str::<serde_json::Value>(&body) else {
                continue;
            };
            let leader = jsz["account_details"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|account| account["stream_detail"].as_array())
                .flatten()
                .find(|detail| detail["name"] == stream)
                .and_then(|detail| detail["cluster"]["leader"].as_str());
            if let Some(leader) = leader {
                return self.servers.iter().position(|s| s.name == leader);
            }
        }
        None
    }

    /// Cuts server `i`'s routes to and from every other server.
    /// Cuts server `i` off from the others and waits until it reports no
    /// route left. (Each server advertises an unreachable cluster address,
    /// so no server learns another's real one by gossip and opens a route
    /// around the proxies, which a cut would not sever.)
    pub async fn isolate(&self, i: usize) {
        for proxy in &self.proxies {
            if proxy.from == i || proxy.to == i {
                proxy.sever();
            }
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], self.servers[i].http_port));
        eventually(
            Duration::from_secs(15),
            &format!("server {} has no route left", self.servers[i].name),
            async || {
                let (status, body) = http_get(addr, "/routez").await;
                let routes = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|routez| routez["num_routes"].as_u64());
                (status == 200 && routes == Some(0))
                    .then_some(())
                    .ok_or(format!("{status} {body}"))
            },
        )
        .await;
    }

    pub fn heal(&self) {
        for proxy in &self.proxies {
            proxy.heal();
        }
    }

    /// `--fleet-servers` for a node beside server `i`: its own first.
    pub fn servers_for(&self, i: usize) -> String {
        let mut urls = vec![self.servers[i].url()];
        urls.extend(
            (0..self.servers.len())
                .filter(|&j| j != i)
                .map(|j| self.servers[j].url()),
        );
        urls.join(",")
    }

    /// A library client's settings, as node `node` beside server `i` (its
    /// own first, the others as fallbacks), for tests and benches that drive
    /// `appliance::cluster` directly.
    pub fn client_settings(&self, i: usize, node: &str) -> appliance::cluster::Settings {
        appliance::cluster::Settings {
            servers: self.servers_for(i).split(',').map(str::to_owned).collect(),
            node: node.into(),
            site: "s1".into(),
            creds: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            key_file: self.key_file.clone(),
            replicas: 3,
        }
    }

    /// The `serve` flags of node `name` beside server `i`.
    pub fn node_flags(&self, i: usize, name: &str) -> Vec<String> {
        [
            "--plain-http",
            "--fleet-servers",
            &self.servers_for(i),
            "--fleet-node",
            name,
            "--fleet-site",
            &format!("site{}", i + 1),
            "--fleet-key-file",
            self.key_file.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// A real node beside server `i`.
    pub async fn node(&self, i: usize, name: &str) -> Node {
        let flags = self.node_flags(i, name);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        Node::start_with(&flags).await
    }

    /// Node `name` given server `i` only: cutting that server off cuts the
    /// node off, however slowly the server took its connection (a node with
    /// fallbacks may have connected to another one under load).
    pub async fn node_alone(&self, i: usize, name: &str) -> Node {
        let mut flags = self.node_flags(i, name);
        flags[2] = self.servers[i].url();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        Node::start_with(&flags).await
    }
}

/// A GET with a fresh connection: status and body. Status 0 if it cannot connect.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(Ok(mut stream)) =
        tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
    else {
        return (0, String::new());
    };
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response));
    if !matches!(read.await, Ok(Ok(_))) {
        return (0, String::new());
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
