//! The [`bot!`](crate::bot!) export macro.

/// Exports a [`Bot`](crate::Bot) as this component's `handle-interaction`.
///
/// Invoke it once, at the top level of the bot crate (a `cdylib`):
///
/// ```ignore
/// struct MyBot;
/// impl appliance_sdk::Bot for MyBot { /* ... */ }
/// appliance_sdk::bot!(MyBot);
/// ```
///
/// The generated glue parses the interaction JSON the host passes in, calls
/// `MyBot::handle`, and serializes the [`Response`](crate::Response) back to
/// JSON. A parse failure or an `Err` from the handler becomes the export's
/// `err(string)`, which the host shows to the user as an ephemeral notice.
#[macro_export]
macro_rules! bot {
    ($bot:ty) => {
        // An anonymous constant keeps the glue type out of the bot's namespace.
        // The export macro from wit-bindgen emits `#[export_name]` functions,
        // which the workspace's `unsafe_code = "deny"` lint would reject.
        #[allow(unsafe_code)]
        const _: () = {
            struct __ApplianceBot;

            impl $crate::wit::Guest for __ApplianceBot {
                fn handle_interaction(
                    interaction: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                    $crate::handle_json::<$bot>(&interaction)
                }
            }

    $crate::wit::__export_bot!(__ApplianceBot with_types_in $crate::wit);
        };
    };
}
