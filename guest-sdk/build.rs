//! Writes `$OUT_DIR/event_bot_bindings.rs`: the macro through which
//! `bot!(MyBot, events)` generates world `command-event-bot`'s bindings in the bot's
//! own crate. `wit_bindgen::generate!` wants the WIT path as a literal, and a
//! relative one would be taken from the bot's crate, so the literal is this
//! crate's absolute `wit/` path, known only here.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let wit = manifest_dir.join("wit");
    let wit = wit
        .to_str()
        .expect("the SDK's path must be UTF-8 to generate bindings from it");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("event_bot_bindings.rs");
    let source = format!(
        r#"/// Generates world `command-event-bot`'s bindings where it is invoked; used by
/// `bot!(MyBot, events)`. The interfaces world `bot` shares, and `gateway`,
/// are the SDK's own (`with`), so only `events` and the export glue are new.
#[doc(hidden)]
#[macro_export]
macro_rules! __event_bot_bindings {{
    () => {{
        ::appliance_sdk::__wit_bindgen::generate!({{
            path: {wit:?},
            world: "appliance:bot/command-event-bot@0.1.0",
            runtime_path: "::appliance_sdk::__wit_bindgen::rt",
            with: {{
                "appliance:bot/kv@0.1.0": ::appliance_sdk::wit::appliance::bot::kv,
                "appliance:bot/log@0.1.0": ::appliance_sdk::wit::appliance::bot::log,
                "appliance:bot/discord@0.1.0": ::appliance_sdk::wit::appliance::bot::discord,
                "appliance:bot/interaction@0.1.0": ::appliance_sdk::wit::appliance::bot::interaction,
                "appliance:bot/gateway@0.1.0": ::appliance_sdk::wit_gateway::appliance::bot::gateway,
            }},
        }});
    }};
}}
"#
    );
    std::fs::write(&out, source).unwrap();
    println!("cargo::rerun-if-changed=build.rs");
}
