//! Counts interactions in the instance's memory and, when asked, in the
//! bot's key-value data. Deployed with `--instances 1`, memory counts 1, 2,
//! 3 across requests sent to every node of a fleet show that one node (the
//! bot's owner) ran them all; stored counts that go on after the owner died
//! show the data outlived it. Implements `command-bot` by hand.
//!
//! - `/store`: memory `n` += 1, then `k<total + 1>` is written and the new
//!   `total` stored (and logged); answers `"<n> <total>"`, or `"<n> error: <why>"` when
//!   the data could not be written (then it was not acknowledged);
//! - `/forget`: deletes the key of the stored total (`k<total>`), keeps
//!   `total`; answers `"forgot <total>"`;
//! - `/audit`: answers `"<keys starting with k> <total> <missing>"` (the
//!   numbers up to `total` with no key, or `-`) and writes nothing;
//! - any other command: memory `n` += 1; answers `"<n>"`.

use std::sync::atomic::{AtomicU64, Ordering};

use appliance_sdk::{kv, log};

static ANSWERED: AtomicU64 = AtomicU64::new(0);

fn content(text: &str) -> Vec<u8> {
    format!(r#"{{"type":4,"data":{{"content":"{text}"}}}}"#).into_bytes()
}

fn stored_total() -> Result<u64, String> {
    Ok(kv::get("total")
        .map_err(|e| e.to_string())?
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// Writes `k<total>` then `total`; the new total once both are acknowledged.
fn store_one() -> Result<u64, String> {
    let total = stored_total()? + 1;
    kv::set(&format!("k{total:06}"), b"1").map_err(|e| e.to_string())?;
    kv::set("total", total.to_string().as_bytes()).map_err(|e| e.to_string())?;
    log::info(format!("stored {total}"));
    Ok(total)
}

/// `"<keys> <total> <missing>"`: `missing` lists the numbers up to `total`
/// without a key (`-` when none is missing).
fn audit() -> Result<String, String> {
    let keys = kv::list_keys("k").map_err(|e| e.to_string())?;
    let total = stored_total()?;
    let missing: Vec<String> = (1..=total)
        .filter(|n| keys.binary_search(&format!("k{n:06}")).is_err())
        .map(|n| n.to_string())
        .collect();
    let missing = if missing.is_empty() {
        "-".to_owned()
    } else {
        missing.join(",")
    };
    Ok(format!("{} {total} {missing}", keys.len()))
}

// The export glue wit-bindgen generates uses `#[export_name]`, which the
// workspace's `unsafe_code = "deny"` lint would reject (as in the SDK's `bot!`).
#[allow(unsafe_code)]
const _: () = {
    struct Tally;

    impl appliance_sdk::wit::Guest for Tally {
        fn handle_interaction(interaction: Vec<u8>) -> Result<Vec<u8>, String> {
            // Enough of the payload to tell the commands apart.
            if String::from_utf8_lossy(&interaction).contains(r#""name":"forget""#) {
                let text = stored_total()
                    .and_then(|total| {
                        kv::delete(&format!("k{total:06}")).map_err(|e| e.to_string())?;
                        Ok(format!("forgot {total}"))
                    })
                    .unwrap_or_else(|why| format!("error: {why}"));
                return Ok(content(&text));
            }
            if String::from_utf8_lossy(&interaction).contains(r#""name":"audit""#) {
                let text = audit().unwrap_or_else(|why| format!("error: {why}"));
                return Ok(content(&text));
            }
            let n = ANSWERED.fetch_add(1, Ordering::Relaxed) + 1;
            if !String::from_utf8_lossy(&interaction).contains(r#""name":"store""#) {
                return Ok(content(&n.to_string()));
            }
            let text = match store_one() {
                Ok(total) => format!("{n} {total}"),
                Err(why) => format!("{n} error: {}", why.replace('"', "'")),
            };
            Ok(content(&text))
        }

        fn commands() -> Result<Option<Vec<u8>>, String> {
            Ok(None)
        }
    }

    appliance_sdk::wit::__export_bot!(Tally with_types_in appliance_sdk::wit);
};
