//! Answers every interaction with a fixed message, without parsing it, and
//! declares no commands. The sandbox benchmark times this bot's warm call to
//! isolate what the host costs per event (fuel and deadline set-up, the
//! component-model call, copying the interaction in and the answer out,
//! collecting logs) from the guest's own JSON work, which the SDK's `bot!`
//! glue would add. It implements the SDK's world (`command-bot`) by hand.

// The export glue wit-bindgen generates uses `#[export_name]`, which the
// workspace's `unsafe_code = "deny"` lint would reject (as in the SDK's `bot!`).
#[allow(unsafe_code)]
const _: () = {
    struct Noop;

    impl appliance_sdk::wit::Guest for Noop {
        fn handle_interaction(_interaction: Vec<u8>) -> Result<Vec<u8>, String> {
            Ok(br#"{"type":4,"data":{"content":"ok"}}"#.to_vec())
        }

        fn commands() -> Result<Option<Vec<u8>>, String> {
            Ok(None)
        }
    }

    appliance_sdk::wit::__export_bot!(Noop with_types_in appliance_sdk::wit);
};
