// The command-bot glue the `commands-*` test guests share (each includes this
// file after defining `COMMANDS` and `ANSWER`): written against the WIT
// alone, so the node's registration is tested apart from the SDK's router.

// wit-bindgen's export glue uses `#[export_name]`, which the workspace's
// `unsafe_code = "deny"` lint would reject.
#[allow(unsafe_code, missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../guest-sdk/wit",
        world: "command-bot",
    });

    struct Bot;

    impl Guest for Bot {
        fn handle_interaction(_interaction: Vec<u8>) -> Result<Vec<u8>, String> {
            Ok(format!(r#"{{"type":4,"data":{{"content":"{}"}}}}"#, super::ANSWER).into_bytes())
        }

        fn commands() -> Result<Option<Vec<u8>>, String> {
            Ok(Some(super::COMMANDS.as_bytes().to_vec()))
        }
    }

    export!(Bot);
}
