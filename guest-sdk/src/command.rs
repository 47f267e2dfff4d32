//! Typed application commands, from [`twilight_interactions`].
//!
//! A slash command is a type of the bot's own: its fields are the command's
//! options, its doc comments their descriptions. Two derives make it a
//! command: [`CreateCommand`] builds the registration Discord needs (what
//! [`Router::commands_json`](crate::Router::commands_json) sends at deploy),
//! and [`CommandModel`] reads an invocation's options back into the type,
//! which is what a [`Router::command`](crate::Router::command) handler
//! receives. The command is declared once, in code.
//!
//! ```
//! use appliance_sdk::command::{CommandModel, CommandOption, CreateCommand, CreateOption};
//!
//! /// A choice: Discord shows the names, the bot gets the variant.
//! #[derive(CommandOption, CreateOption, Clone, Copy, Debug, PartialEq)]
//! enum Unit {
//!     #[option(name = "seconds", value = 1)]
//!     Seconds,
//!     #[option(name = "minutes", value = 60)]
//!     Minutes,
//! }
//!
//! #[derive(CommandModel, CreateCommand)]
//! #[command(name = "remind", desc = "Remind me later", contexts = "guild private_channel")]
//! struct Remind {
//!     /// How long to wait
//!     #[command(min_value = 1, max_value = 900)]
//!     delay: i64,
//!     /// What to remind you of
//!     #[command(max_length = 200)]
//!     text: String,
//!     /// In what unit (optional options come after required ones)
//!     unit: Option<Unit>,
//! }
//!
//! let registration = Remind::create_command();
//! assert_eq!(registration.name, "remind");
//! assert_eq!(registration.options.len(), 3);
//! assert_eq!(Unit::Minutes.value(), 60);
//! ```
//!
//! The derives expand to code that names `::twilight_interactions` and
//! `::twilight_model`, so a bot crate lists both beside `appliance-sdk`:
//!
//! ```toml
//! [dependencies]
//! appliance-sdk = { path = "..." }
//! twilight-interactions = "0.18"
//! twilight-model = "0.18"
//! ```
//!
//! What the attributes cover (see [`CreateCommand`] and [`CommandModel`] for
//! the full tables):
//!
//! - **Subcommands and groups**: derive both traits on an `enum` whose
//!   variants (`#[command(name = "add")] Add(AddCommand)`) hold the
//!   subcommands' types, or further enums for groups.
//! - **Choices**: derive [`CommandOption`] and [`CreateOption`] on an enum
//!   whose variants carry `#[option(name = "...", value = ...)]`.
//! - **Limits**: `min_value`/`max_value` (numbers), `min_length`/`max_length`
//!   (strings), `channel_types = "guild_text guild_voice"`, `file_types`.
//! - **Autocomplete**: `#[command(autocomplete = true)]` on a field; route its
//!   requests with [`Router::autocomplete`](crate::Router::autocomplete).
//! - **Localization**: `name_localizations = "fn_name"` and
//!   `desc_localizations = "fn_name"`, functions returning
//!   [`NameLocalizations`] and [`DescLocalizations`].
//! - **Who may use it**: `default_permissions = "fn_name"` (a function
//!   returning [`Permissions`](twilight_model::guild::Permissions)),
//!   `contexts = "guild bot_dm private_channel"`, `integration_types =
//!   "guild_install user_install"`, `nsfw = true`.
//!
//! Option types: `String`, `i64`, `f64`, `bool`, [`ResolvedUser`] (or a
//! user's `Id`), [`ResolvedMentionable`], channels, roles and attachments
//! (resolved or by `Id`); `Option<T>` makes an option optional.

pub use twilight_interactions::command::{
    AutocompleteValue, CommandInputData, CommandModel, CommandOption, CreateCommand, CreateOption,
    DescLocalizations, NameLocalizations, ResolvedMentionable, ResolvedUser,
};

/// Why a command's options did not fit its model (from
/// [`twilight_interactions`]).
pub use twilight_interactions::error::ParseError;
