//! A bot of world `event-bot`, written against the raw bindings: it keeps
//! the last event it got (name, payload, shard, sequence) in KV and counts
//! them, fails on an event named `FAIL`, tries `interaction.respond` on one
//! named `RESPOND`, and answers `/last` and `/count` with what it kept.

// The export glue wit-bindgen generates uses `#[export_name]`, which the
// workspace's `unsafe_code = "deny"` lint would reject.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    path: "../../../guest-sdk/wit",
    world: "event-bot",
});

use appliance::bot::{interaction, kv, log};

struct EventsBot;

impl Guest for EventsBot {
    fn handle_interaction(body: Vec<u8>) -> Result<Vec<u8>, String> {
        let body = String::from_utf8_lossy(&body);
        let content = if body.contains(r#""name":"last""#) {
            let last = kv::get("last").map_err(|e| format!("{e:?}"))?;
            String::from_utf8_lossy(&last.unwrap_or_default()).into_owned()
        } else if body.contains(r#""name":"respond""#) {
            let refused = kv::get("respond").map_err(|e| format!("{e:?}"))?;
            String::from_utf8_lossy(&refused.unwrap_or_default()).into_owned()
        } else if body.contains(r#""name":"count""#) {
            count().to_string()
        } else {
            "unknown command".to_owned()
        };
        Ok(format!(
            r#"{{"type":4,"data":{{"content":{}}}}}"#,
            json_string(&content)
        )
        .into_bytes())
    }

    fn handle_event(event: Event) -> Result<(), String> {
        match event.name.as_str() {
            "FAIL" => Err("this event always fails".into()),
            "RESPOND" => {
                // There is no interaction to answer: the host says so.
                let refused = interaction::respond(br#"{"type":4,"data":{"content":"x"}}"#)
                    .err()
                    .unwrap_or_else(|| "respond was accepted".into());
                kv::set("respond", refused.as_bytes()).map_err(|e| format!("{e:?}"))?;
                record(&event)
            }
            _ => record(&event),
        }
    }
}

fn count() -> u64 {
    kv::get("count")
        .ok()
        .flatten()
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn record(event: &Event) -> Result<(), String> {
    let last = format!(
        "{} {} shard={} seq={}",
        event.name,
        String::from_utf8_lossy(&event.data),
        event.shard,
        event.sequence
    );
    kv::set("last", last.as_bytes()).map_err(|e| format!("{e:?}"))?;
    kv::set("count", (count() + 1).to_string().as_bytes()).map_err(|e| format!("{e:?}"))?;
    log::log(log::Level::Info, &format!("event {}", event.name));
    Ok(())
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

export!(EventsBot);
