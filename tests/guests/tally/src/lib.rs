//! Answers every interaction with how many it has answered, counted in the
//! instance's memory: deployed with `--instances 1`, answers that count up
//! 1, 2, 3 across requests sent to every node of a fleet show that one
//! node (the bot's owner) ran them all. Implements `command-bot` by hand.

use std::sync::atomic::{AtomicU64, Ordering};

static ANSWERED: AtomicU64 = AtomicU64::new(0);

// The export glue wit-bindgen generates uses `#[export_name]`, which the
// workspace's `unsafe_code = "deny"` lint would reject (as in the SDK's `bot!`).
#[allow(unsafe_code)]
const _: () = {
    struct Tally;

    impl appliance_sdk::wit::Guest for Tally {
        fn handle_interaction(_interaction: Vec<u8>) -> Result<Vec<u8>, String> {
            let n = ANSWERED.fetch_add(1, Ordering::Relaxed) + 1;
            Ok(format!(r#"{{"type":4,"data":{{"content":"{n}"}}}}"#).into_bytes())
        }

        fn commands() -> Result<Option<Vec<u8>>, String> {
            Ok(None)
        }
    }

    appliance_sdk::wit::__export_bot!(Tally with_types_in appliance_sdk::wit);
};
