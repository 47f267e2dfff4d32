//! A bot that misbehaves on command. The integration tests deploy it beside a
//! well-behaved bot and check that each attack is contained: the node stays
//! up, the caller gets the documented answer, the crash is recorded with the
//! right reason, and the neighbour keeps answering.
//!
//! Commands: `ok`, `loop` (burns CPU forever), `alloc` (grows memory until
//! refused), `recurse` (unbounded recursion), `panic`, `huge` (a 100 MiB
//! response), `logflood` (megabytes of log lines and stdout), `kvflood` (writes
//! keys until the quota refuses), `remember` / `recall` (memory that persists
//! between events in one instance), `sleep` (waits in a host call for a
//! minute), `webhook-flood` (webhook calls with a made-up interaction token),
//! `escape` (tries files, environment, sockets and DNS; reports what it got).
//!
//! Early and late answers, for the deadline tests: `early` (answers at once
//! with `interaction.respond`, then edits it), `respond-twice`, `respond-late`
//! (tries to respond after the host's deferral), `private-defer` (defers
//! ephemerally itself, then answers), `late-private` (an ephemeral answer after
//! the host's public deferral). Buttons (custom ids): `slow-new` answers a
//! press with a new message after the deferral point, `slow-update` with an
//! update of the button's message.

use appliance_sdk::{discord, kv, log, Bot, Interaction, Response, Result};

struct Hostile;

/// Survives between events while the instance lives.
static EVENTS_SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    // Unreachable in practice; it keeps the function from recursing unconditionally.
    if depth == u64::MAX {
        return 0;
    }
    // `black_box` keeps the compiler from turning this into a loop.
    std::hint::black_box(recurse(std::hint::black_box(depth + 1)) + 1)
}

impl Bot for Hostile {
    fn handle(interaction: Interaction) -> Result<Response> {
        let seen = EVENTS_SEEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        match interaction.custom_id() {
            Some("slow-new") => {
                std::thread::sleep(std::time::Duration::from_millis(2500));
                return Ok(Response::message("a new message after the press"));
            }
            Some("slow-update") => {
                std::thread::sleep(std::time::Duration::from_millis(2500));
                return Ok(Response::update_message("the button's message, updated"));
            }
            _ => {}
        }
        match interaction.command_name().unwrap_or("") {
            "ok" => Ok(Response::message("ok")),
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    // Touch every page so the memory is really used.
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "recurse" => Ok(Response::message(format!("{}", recurse(0)))),
            "panic" => panic!("hostile bot panicked on purpose"),
            "huge" => Ok(Response::message("x".repeat(100 << 20))),
            "logflood" => {
                let line = "y".repeat(1024);
                for i in 0..3_000 {
                    log::info(format!("{i} {line}"));
                    println!("{i} {line}");
                }
                Ok(Response::message("flooded"))
            }
            "kvflood" => {
                let value = vec![7u8; 200 * 1024];
                for i in 0.. {
                    if let Err(err) = kv::set(&format!("flood:{i}"), &value) {
                        return Ok(Response::message(format!(
                            "kv refused after {i} keys: {err}"
                        )));
                    }
                }
                unreachable!()
            }
            "slowpanic" => {
                std::thread::sleep(std::time::Duration::from_millis(2500));
                panic!("hostile bot panicked after the deferral point")
            }
            "token-hunt" => {
                // The test passes the bot token reversed, so the token itself
                // never enters this instance unless the host leaks it.
                let reversed = interaction
                    .option_str("reversed")
                    .unwrap_or("")
                    .as_bytes()
                    .to_vec();
                let mut answers = Vec::new();
                for (method, path) in [("GET", "/users/@me"), ("POST", "/channels/1/messages")] {
                    match discord::request(method, path, Some(br#"{"content":"hi"}"#)) {
                        Ok(response) => answers.push(response.body),
                        Err(err) => answers.push(err.to_string().into_bytes()),
                    }
                }
                let in_answers = answers
                    .iter()
                    .any(|body| contains_reversed(body, &reversed));
                let in_memory = memory_contains_reversed(&reversed);
                Ok(Response::message(format!(
                    "token in answers: {in_answers}, token in memory: {in_memory}, statuses checked: {}",
                    answers.len()
                )))
            }
            "rest" => match discord::request("GET", "/users/@me", None) {
                Ok(response) => Ok(Response::message(format!("status {}", response.status))),
                Err(err) => Ok(Response::message(format!("error: {err}"))),
            },
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(60));
                Ok(Response::message("woke up after a minute"))
            }
            "webhook-flood" => {
                let path = format!("/webhooks/{}/made-up-token", interaction.application_id());
                let mut statuses = Vec::new();
                for _ in 0..12 {
                    match discord::request("POST", &path, Some(br#"{"content":"x"}"#)) {
                        Ok(response) => statuses.push(response.status.to_string()),
                        Err(err) => statuses.push(format!("error ({err})")),
                    }
                }
                Ok(Response::message(statuses.join(", ")))
            }
            "escape" => {
                let files = std::fs::read_dir("/")
                    .map(|entries| format!("listed {} entries", entries.count()))
                    .unwrap_or_else(|err| format!("refused ({err})"));
                let file = std::fs::read("/etc/passwd")
                    .map(|bytes| format!("read {} bytes", bytes.len()))
                    .unwrap_or_else(|err| format!("refused ({err})"));
                let env = std::env::vars().count();
                let args = std::env::args().count();
                let tcp = std::net::TcpStream::connect("127.0.0.1:22")
                    .map(|_| "connected".to_owned())
                    .unwrap_or_else(|err| format!("refused ({err})"));
                let dns = std::net::ToSocketAddrs::to_socket_addrs("localhost:80")
                    .map(|addrs| format!("resolved {}", addrs.count()))
                    .unwrap_or_else(|err| format!("refused ({err})"));
                let udp = std::net::UdpSocket::bind("127.0.0.1:0")
                    .map(|_| "bound".to_owned())
                    .unwrap_or_else(|err| format!("refused ({err})"));
                Ok(Response::message(format!(
                    "dir: {files}; file: {file}; env vars: {env}; args: {args}; tcp: {tcp}; dns: {dns}; udp: {udp}"
                )))
            }
            "early" => {
                interaction.respond(&Response::message("first"))?;
                std::thread::sleep(std::time::Duration::from_millis(200));
                Ok(Response::message("second"))
            }
            "respond-twice" => {
                interaction.respond(&Response::message("first"))?;
                match interaction.respond(&Response::message("again")) {
                    Ok(()) => Ok(Response::message("second respond was accepted")),
                    Err(err) => Ok(Response::message(format!("refused: {err}"))),
                }
            }
            "respond-late" => {
                std::thread::sleep(std::time::Duration::from_millis(2500));
                match interaction.respond(&Response::message("too late")) {
                    Ok(()) => Ok(Response::message("late respond was accepted")),
                    Err(err) => Ok(Response::message(format!("refused: {err}"))),
                }
            }
            "private-defer" => {
                interaction.respond(&Response::defer().ephemeral())?;
                Ok(Response::message("for your eyes only").ephemeral())
            }
            "late-private" => {
                std::thread::sleep(std::time::Duration::from_millis(2500));
                Ok(Response::message("for your eyes only").ephemeral())
            }
            "remember" | "recall" => Ok(Response::message(format!("events seen: {seen}"))),
            other => Ok(Response::message(format!("unknown command {other:?}")).ephemeral()),
        }
    }
}

/// Whether `haystack` contains the reverse of `reversed`, compared in place.
fn contains_reversed(haystack: &[u8], reversed: &[u8]) -> bool {
    let n = reversed.len();
    n > 0
        && haystack.len() >= n
        && (0..=haystack.len() - n).any(|i| (0..n).all(|k| haystack[i + k] == reversed[n - 1 - k]))
}

/// Scans this instance's whole linear memory for the un-reversed needle.
fn memory_contains_reversed(reversed: &[u8]) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        let size = core::arch::wasm32::memory_size(0) * 65536;
        let n = reversed.len();
        if n == 0 {
            return false;
        }
        // Reads every byte of linear memory (address 0 is valid memory in
        // wasm, but Rust forbids null reads, so start at 1).
        #[allow(unsafe_code)]
        let byte = |address: usize| unsafe { core::ptr::read_volatile(address as *const u8) };
        (1..size.saturating_sub(n)).any(|i| (0..n).all(|k| byte(i + k) == reversed[n - 1 - k]))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = reversed;
        false
    }
}

appliance_sdk::bot!(Hostile);
