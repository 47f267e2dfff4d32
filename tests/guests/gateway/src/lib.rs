//! A test bot of world `event-bot`, written with the SDK.
//!
//! - Every event but `FLOOD` and `READY` is appended to KV `seen` as
//!   `NAME:shard:seq` (tests keep those events in one channel, so in order).
//! - `READY` is kept in KV `ready` (it must arrive without its session id).
//! - `FLOOD` sleeps `data.sleep_ms` and counts, in instance state.
//! - `APPLIANCE_EVENTS_DROPPED` is kept in KV `dropped`.
//! - `PRESENCE` sends `data.times` presence updates and keeps how they went
//!   in KV `presence` (`ok=N limited=N other=N`).
//! - `/seen`, `/dropped`, `/presence`, `/flood`, `/ready` answer with what was kept.

use appliance_sdk::gateway::GatewayError;
use appliance_sdk::model::gateway::presence::Status;
use appliance_sdk::prelude::*;

#[derive(Default)]
struct GatewayBot {
    /// `FLOOD` events this instance handled.
    flooded: u64,
}

fn text(key: &str) -> String {
    kv::get(key)
        .ok()
        .flatten()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default()
}

impl Bot for GatewayBot {
    fn router() -> Router<Self> {
        // Commands by name, in the fallback: this bot registers none.
        Router::new().fallback(Self::command)
    }
}

impl GatewayBot {
    fn command(&mut self, interaction: &Interaction) -> Result<Response> {
        let content = match interaction.command_name() {
            Some("seen") => text("seen"),
            Some("dropped") => text("dropped"),
            Some("presence") => text("presence"),
            Some("ready") => text("ready"),
            Some("flood") => self.flooded.to_string(),
            _ => "unknown command".into(),
        };
        Ok(Response::message(if content.is_empty() {
            "-".into()
        } else {
            content
        }))
    }
}

impl EventBot for GatewayBot {
    fn on_event(&mut self, event: Event) -> Result<()> {
        match event.name() {
            "FLOOD" => {
                let data: serde_json::Value = event.json()?;
                let sleep = data["sleep_ms"].as_u64().unwrap_or(0);
                std::thread::sleep(std::time::Duration::from_millis(sleep));
                self.flooded += 1;
                return Ok(());
            }
            "APPLIANCE_EVENTS_DROPPED" => {
                let dropped = event.dropped().expect("the host's drop notice parses");
                let previous = text("dropped");
                let total: u64 = previous.parse().unwrap_or(0) + dropped.count;
                kv::set("dropped", total.to_string().as_bytes())?;
            }
            "READY" => {
                // What the bot may see of READY: never the session. Kept
                // apart from `seen`: READY has no channel, so it may run
                // beside a channel's events, and `seen` is read-modify-write.
                kv::set("ready", event.data())?;
                return Ok(());
            }
            "PRESENCE" => {
                let data: serde_json::Value = event.json()?;
                let (mut ok, mut limited, mut other) = (0, 0, 0);
                for _ in 0..data["times"].as_u64().unwrap_or(1) {
                    match gateway::set_presence(Status::Idle, None) {
                        Ok(()) => ok += 1,
                        Err(GatewayError::RateLimited(_)) => limited += 1,
                        Err(_) => other += 1,
                    }
                }
                kv::set(
                    "presence",
                    format!("ok={ok} limited={limited} other={other}").as_bytes(),
                )?;
            }
            _ => {}
        }
        let mut seen = text("seen");
        if !seen.is_empty() {
            seen.push(',');
        }
        seen.push_str(&format!(
            "{}:{}:{}",
            event.name(),
            event.shard(),
            event.sequence()
        ));
        kv::set("seen", seen.as_bytes())?;
        Ok(())
    }
}

appliance_sdk::bot!(GatewayBot, events);
