//! The bare baseline: a hand-written interactions endpoint with no sandbox.
//! hyper + ed25519-dalek, the same checks in the same order as the node
//! (signature over `timestamp ++ body` with `verify_strict`, then parse),
//! and the same answer as the ping bot. With `--discord-api` it also makes
//! the REST bot's call (`GET /users/@me` with the app's bot token) first.
//!
//! With `--native-bot` it does what the ping bot does inside the sandbox,
//! natively: parse the whole interaction with twilight-model (as the SDK
//! does), read the `private` option, serialize the answer. The gap between
//! that baseline and the node is the cost of the sandbox and the host.
//!
//! It runs as its own process (the bench binary re-executed with
//! `--bare-server`), so its CPU and RSS are measured like the node's.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use ed25519_dalek::{Signature, VerifyingKey};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Deserialize;

/// A baseline server process (this bare one, or the Node.js alternative);
/// killed on drop.
pub struct Bare {
    pub addr: SocketAddr,
    child: Child,
}

impl Bare {
    /// Starts the bare baseline for `apps` (app id, bot token), all signed
    /// with `common::KEY`.
    pub fn start(apps: &[(String, String)], discord_api: Option<&str>) -> Bare {
        Bare::start_with(apps, discord_api, false)
    }

    /// The bare server doing the ping bot's JSON work natively.
    pub fn start_native_bot(apps: &[(String, String)]) -> Bare {
        Bare::start_with(apps, None, true)
    }

    fn start_with(apps: &[(String, String)], discord_api: Option<&str>, native: bool) -> Bare {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.arg("--bare-server");
        if native {
            command.arg("--native-bot");
        }
        if let Some(api) = discord_api {
            command.args(["--discord-api", api]);
        }
        let list: Vec<String> = apps
            .iter()
            .map(|(id, token)| format!("{id}={token}"))
            .collect();
        command.args(["--apps", &list.join(",")]);
        Bare::spawn(command)
    }

    /// The Node.js alternative (`alt/interactions.js`), if `node` is installed.
    pub fn start_node_js() -> Option<Bare> {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/load/alt/interactions.js"
        );
        let mut command = Command::new("node");
        command.args([script, crate::common::KEY]);
        let probe = Command::new("node").arg("--version").output();
        probe.ok().filter(|out| out.status.success())?;
        Some(Bare::spawn(command))
    }

    /// Runs `command`, which prints the address it serves on.
    fn spawn(mut command: Command) -> Bare {
        use std::io::BufRead;
        let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Bare {
            addr: line.trim().parse().expect("the server printed no address"),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct App {
    key: VerifyingKey,
    token: String,
}

struct State {
    apps: HashMap<String, App>,
    native_bot: bool,
    discord: Option<(String, Client<HttpConnector, Full<Bytes>>)>,
}

/// The `--bare-server` process: prints its address, serves until killed.
pub fn serve(args: &[String]) {
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let key = crate::payload::public_key();
    let apps = value("--apps")
        .unwrap_or_default()
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(id, token)| {
            let app = App {
                key,
                token: token.to_owned(),
            };
            (id.to_owned(), app)
        })
        .collect();
    // Like the node's runtime: one worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let discord = value("--discord-api").map(|api| {
            let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
            (api, client)
        });
        let native_bot = args.iter().any(|a| a == "--native-bot");
        let state = Arc::new(State {
            apps,
            native_bot,
            discord,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(&state, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    name: String,
}

fn answer(status: StatusCode, body: &'static [u8]) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body)))
        .unwrap()
}

async fn handle(state: &State, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let unauthorized = || answer(StatusCode::UNAUTHORIZED, br#"{"error":"bad signature"}"#);
    let Some(app) = request
        .uri()
        .path()
        .strip_prefix("/interactions/")
        .and_then(|id| state.apps.get(id))
    else {
        return answer(StatusCode::NOT_FOUND, br#"{"error":"not found"}"#);
    };
    let headers = request.headers();
    let mut signature = [0u8; 64];
    let (Some(hex_signature), Some(timestamp)) = (
        headers.get("x-signature-ed25519"),
        headers.get("x-signature-timestamp"),
    ) else {
        return unauthorized();
    };
    if hex::decode_to_slice(hex_signature.as_bytes(), &mut signature).is_err() {
        return unauthorized();
    }
    let mut message = timestamp.as_bytes().to_vec();
    let body_start = message.len();
    let Ok(body) = request.into_body().collect().await else {
        return answer(StatusCode::BAD_REQUEST, br#"{"error":"body"}"#);
    };
    message.extend_from_slice(&body.to_bytes());
    let signature = Signature::from_bytes(&signature);
    if app.key.verify_strict(&message, &signature).is_err() {
        return unauthorized();
    }
    let body = &message[body_start..];
    if state.native_bot {
        return native_bot(body);
    }
    let Ok(head) = serde_json::from_slice::<Head>(body) else {
        return answer(
            StatusCode::BAD_REQUEST,
            br#"{"error":"not an interaction"}"#,
        );
    };
    match (head.kind, head.data.as_ref().map(|d| d.name.as_str())) {
        (1, _) => answer(StatusCode::OK, br#"{"type":1}"#),
        (2, Some("ping")) => answer(StatusCode::OK, br#"{"type":4,"data":{"content":"pong"}}"#),
        (2, Some("rest")) => rest(state, app).await,
        _ => answer(
            StatusCode::OK,
            br#"{"type":4,"data":{"content":"unknown command","flags":64}}"#,
        ),
    }
}

/// The ping bot's work, natively: the SDK's parse, option lookup and answer.
fn native_bot(body: &[u8]) -> Response<Full<Bytes>> {
    use twilight_model::application::interaction::application_command::CommandOptionValue;
    use twilight_model::application::interaction::{Interaction, InteractionData};
    let Ok(interaction) = serde_json::from_slice::<Interaction>(body) else {
        return answer(
            StatusCode::BAD_REQUEST,
            br#"{"error":"not an interaction"}"#,
        );
    };
    let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
        return answer(StatusCode::OK, br#"{"type":1}"#);
    };
    let private = data.options.iter().any(|option| {
        option.name == "private" && matches!(option.value, CommandOptionValue::Boolean(true))
    });
    let mut reply = serde_json::json!({ "type": 4, "data": { "content": "pong" } });
    if data.name != "ping" {
        reply["data"]["content"] = "unknown command".into();
    }
    if private {
        reply["data"]["flags"] = 64.into();
    }
    Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(&reply).unwrap())))
        .unwrap()
}

/// The REST bot's work: one `GET /users/@me` as the app's bot.
async fn rest(state: &State, app: &App) -> Response<Full<Bytes>> {
    let Some((api, client)) = &state.discord else {
        return answer(StatusCode::OK, br#"{"type":4,"data":{"content":"no api"}}"#);
    };
    let request = Request::get(format!("{api}/users/@me"))
        .header("authorization", format!("Bot {}", app.token))
        .body(Full::new(Bytes::new()))
        .unwrap();
    match client.request(request).await {
        Ok(response) if response.status() == StatusCode::OK => {
            let _ = response.into_body().collect().await;
            answer(
                StatusCode::OK,
                br#"{"type":4,"data":{"content":"status 200"}}"#,
            )
        }
        _ => answer(StatusCode::OK, br#"{"type":4,"data":{"content":"error"}}"#),
    }
}
