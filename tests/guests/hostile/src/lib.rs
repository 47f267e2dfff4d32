//! A bot that misbehaves on command. The integration tests deploy it beside a
//! well-behaved bot and check that each attack is contained: the node stays
//! up, the caller gets the documented answer, the crash is recorded with the
//! right reason, and the neighbour keeps answering.
//!
//! Commands: `ok`, `loop` (burns CPU forever), `alloc` (grows memory until
//! refused), `recurse` (unbounded recursion), `panic`, `huge` (a 100 MiB
//! response), `logflood` (megabytes of log lines and stdout), `kvflood` (writes
//! keys until the quota refuses), `remember` / `recall` (memory that persists
//! between events in one instance).

use appliance_sdk::{kv, log, Bot, Interaction, Response, Result};

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
            "remember" | "recall" => Ok(Response::message(format!("events seen: {seen}"))),
            other => Ok(Response::message(format!("unknown command {other:?}")).ephemeral()),
        }
    }
}

appliance_sdk::bot!(Hostile);
