//! A bot that misbehaves on command. The integration tests deploy it beside a
//! well-behaved bot and check that each attack is contained: the node stays
//! up, the caller gets the documented answer, the crash is recorded with the
//! right reason, and the neighbour keeps answering.
//!
//! Commands: `ok`, `loop` (burns CPU forever), `alloc` (grows memory until
//! refused), `recurse` (unbounded recursion), `panic`, `huge` (a 100 MiB
//! response), `logflood` (megabytes of log lines and stdout), `kvflood` (writes
//! keys until the quota refuses), `remember` / `recall` (instance state that
//! persists between events in one instance), `sleep` (waits in a host call for a
//! minute), `webhook-flood` (webhook calls with a made-up interaction token),
//! `escape` (tries files, environment, sockets and DNS; reports what it got).
//!
//! Early and late answers, for the deadline tests: `early` (answers at once
//! with `Interaction::reply`, then edits it), `respond-twice`, `respond-late`
//! (tries to respond after the host's deferral), `private-defer` (defers
//! ephemerally itself, then answers), `late-private` (an ephemeral answer after
//! the host's public deferral). Buttons (custom ids): `slow-new` answers a
//! press with a new message after the deferral point, `slow-update` with an
//! update of the button's message.
//!
//! Tenant isolation (issue 10): `kv-put` (options `key`, `value`), `kv-list`,
//! `spy` (sleeps `ms`, then lists, reads `secret` and writes `planted`: run it,
//! remove the bot, deploy another, and see whose data it reaches), `kv-churn`
//! (overwrites and deletes a Cyrillic and a NUL key `cycles` times),
//! `forge` (terminal escapes and forged log lines in logs, stdout and its
//! error text), `forge-panic` (the same in a panic message), `big-rest` (a
//! `mib` MiB body to Discord), `handles` (holds WASI pollables, never dropped), `slow-crash`
//! (marks `marked` in kv, sleeps `ms`, panics).

use appliance_sdk::prelude::*;

/// Instance state: survives between events while the instance lives.
#[derive(Default)]
struct Hostile {
    /// Interactions this instance has handled, this one included.
    seen: u64,
}

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
    fn router() -> Router<Self> {
        // Every command goes to the fallback by name: the hostile bot
        // declares no commands, so deploying it registers nothing.
        Router::new()
            .component("slow-new", Self::slow_new)
            .component("slow-update", Self::slow_update)
            .fallback(Self::command)
    }
}

impl Hostile {
    fn slow_new(&mut self, _: &Interaction, _: &str) -> Result<Response> {
        self.seen += 1;
        std::thread::sleep(std::time::Duration::from_millis(2500));
        Ok(Response::message("a new message after the press"))
    }

    fn slow_update(&mut self, _: &Interaction, _: &str) -> Result<Response> {
        self.seen += 1;
        std::thread::sleep(std::time::Duration::from_millis(2500));
        Ok(Response::update_message("the button's message, updated"))
    }

    fn command(&mut self, interaction: &Interaction) -> Result<Response> {
        self.seen += 1;
        let seen = self.seen;
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
                interaction.reply("first")?;
                std::thread::sleep(std::time::Duration::from_millis(200));
                Ok(Response::message("second"))
            }
            "respond-twice" => {
                interaction.reply("first")?;
                match interaction.reply("again") {
                    Ok(()) => Ok(Response::message("second respond was accepted")),
                    Err(err) => Ok(Response::message(format!("refused: {err}"))),
                }
            }
            "respond-late" => {
                std::thread::sleep(std::time::Duration::from_millis(2500));
                match interaction.reply("too late") {
                    Ok(()) => Ok(Response::message("late respond was accepted")),
                    Err(err) => Ok(Response::message(format!("refused: {err}"))),
                }
            }
            "private-defer" => {
                interaction.defer_ephemeral()?;
                Ok(Response::message("for your eyes only").ephemeral())
            }
            "late-private" => {
                std::thread::sleep(std::time::Duration::from_millis(2500));
                Ok(Response::message("for your eyes only").ephemeral())
            }
            "remember" | "recall" => Ok(Response::message(format!("events seen: {seen}"))),
            "kv-put" => {
                let key = interaction.option_str("key").unwrap_or("k");
                let value = interaction.option_str("value").unwrap_or("");
                kv::set(key, value.as_bytes())?;
                Ok(Response::message("stored"))
            }
            "kv-list" => {
                let keys = kv::list_keys("")?;
                Ok(Response::message(json_text(&keys)))
            }
            "spy" => {
                // Tells the test the event is running (it reads the database).
                kv::set("spy-started", b"1")?;
                let ms = interaction.option_i64("ms").unwrap_or(3000).max(0) as u64;
                std::thread::sleep(std::time::Duration::from_millis(ms));
                let listed = match kv::list_keys("") {
                    Ok(keys) => json_text(&keys),
                    Err(err) => format!("error: {err}"),
                };
                let secret = match kv::get("secret") {
                    Ok(Some(value)) => String::from_utf8_lossy(&value).into_owned(),
                    Ok(None) => "none".to_owned(),
                    Err(err) => format!("error: {err}"),
                };
                let planted = match kv::set("planted", b"by a removed bot") {
                    Ok(()) => "ok".to_owned(),
                    Err(err) => format!("error: {err}"),
                };
                log::warn("written by an event of a bot that was removed meanwhile");
                Ok(Response::message(format!(
                    "listed: {listed}; secret: {secret}; planted: {planted}"
                )))
            }
            "kv-churn" => {
                let cycles = interaction.option_i64("cycles").unwrap_or(100);
                let cyrillic = "Владимир".repeat(32);
                let nul = format!("a\0{}", "b".repeat(510));
                for key in [&cyrillic, &nul] {
                    for i in 0..cycles {
                        kv::set(key, &[1; 10])?;
                        kv::set(key, &[2; 20])?;
                        if i % 2 == 0 {
                            kv::delete(key)?;
                        }
                    }
                    kv::delete(key)?;
                }
                Ok(Response::message(format!("churned {cycles} cycles")))
            }
            "forge" => {
                let escapes =
                    "\x1b]0;pwned-title\x07\x1b[2J\x1b[31mred text\u{9b}31m\u{202e}desrever";
                let forged =
                    "2030-01-01T00:00:00.000Z ERROR [1] forged: the node leaked its admin token";
                log::info(format!("{escapes}\n{forged}"));
                println!("stdout {escapes}\r{forged}");
                eprintln!("stderr {escapes}");
                Err(appliance_sdk::Error::new(format!("{escapes}\n{forged}")))
            }
            "slow-crash" => {
                kv::set("marked", b"started")?;
                let ms = interaction.option_i64("ms").unwrap_or(2500).max(0) as u64;
                std::thread::sleep(std::time::Duration::from_millis(ms));
                panic!("hostile bot crashed after {ms} ms on purpose")
            }
            "forge-panic" => {
                panic!("\x1b[2J\x1b[31mpanic\n2030-01-01T00:00:00.000Z ERROR [1] forged in a panic")
            }
            "big-rest" => {
                let mib = interaction.option_i64("mib").unwrap_or(50).max(0) as usize;
                let mut body = Vec::with_capacity(mib << 20);
                body.extend_from_slice(br#"{"content":""#);
                body.resize((mib << 20) - 2, b'x');
                body.extend_from_slice(br#""}"#);
                match discord::request("POST", "/channels/1/messages", Some(&body)) {
                    Ok(response) => Ok(Response::message(format!(
                        "sent: status {}",
                        response.status
                    ))),
                    Err(err) => Ok(Response::message(format!("refused: {err}"))),
                }
            }
            "handles" => {
                let count = interaction.option_i64("count").unwrap_or(100_000).max(0);
                for _ in 0..count {
                    let pollable =
                        wasip2::clocks::monotonic_clock::subscribe_duration(1_000_000_000);
                    std::mem::forget(pollable);
                }
                Ok(Response::message(format!("holding {count} pollables")))
            }
            other => Ok(Response::message(format!("unknown command {other:?}")).ephemeral()),
        }
    }
}

/// A list of strings as JSON text.
fn json_text(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("{item:?}")).collect();
    format!("[{}]", quoted.join(","))
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
