//! [`Router`]: which handler answers which interaction, and the command list
//! the node registers with Discord.

use std::collections::HashMap;

use twilight_interactions::command::{ApplicationCommandData, CommandModel, CreateCommand};
use twilight_model::application::command::{Command, CommandType};
use twilight_model::application::interaction::{InteractionContextType, InteractionType};
use twilight_model::guild::Permissions;
use twilight_model::id::marker::{MessageMarker, UserMarker};
use twilight_model::id::Id;
use twilight_model::oauth::ApplicationIntegrationType;

use crate::{Error, Interaction, Response, Result};

/// A handler after its arguments were taken from the interaction.
type Handler<B> = Box<dyn Fn(&mut B, &Interaction) -> Result<Response>>;

/// A component or modal handler: it gets the rest of the `custom_id`.
type PrefixHandler<B> = Box<dyn Fn(&mut B, &Interaction, &str) -> Result<Response>>;

/// Routes each interaction to the bot's handler for it, and declares the
/// bot's application commands.
///
/// A bot builds one in [`Bot::router`](crate::Bot::router):
///
/// - [`command`](Self::command): a slash command, by its typed model (see
///   [`command`](crate::command)); the handler gets the options already read
///   into the model;
/// - [`autocomplete`](Self::autocomplete): a command's autocomplete requests;
/// - [`user_command`](Self::user_command) and
///   [`message_command`](Self::message_command): context-menu commands (right
///   click on a user or a message), by name;
/// - [`component`](Self::component) and [`modal`](Self::modal): buttons and
///   select menus, and modal submissions, by `custom_id` prefix;
/// - [`fallback`](Self::fallback): everything else.
///
/// Handlers are functions (or closures) that take the bot's instance state
/// (`&mut B`), the [`Interaction`] and what the route read from it, and
/// return a [`Response`]. An `Err` is shown to the user as an ephemeral
/// notice and written to the bot's log.
///
/// ```
/// use appliance_sdk::prelude::*;
///
/// #[derive(CommandModel, CreateCommand)]
/// #[command(name = "poll", desc = "Ask the channel a question")]
/// struct Poll {
///     /// The question
///     question: String,
/// }
///
/// #[derive(Default)]
/// struct Polls {
///     votes: u32,
/// }
///
/// impl Bot for Polls {
///     fn router() -> Router<Self> {
///         Router::new()
///             .command(Self::poll)
///             .component("vote:", Self::vote)
///             .user_command("Invite to poll", Self::invite)
///     }
/// }
///
/// impl Polls {
///     fn poll(&mut self, _: &Interaction, poll: Poll) -> Result<Response> {
///         Ok(Response::message(poll.question).row([Button::primary("vote:yes", "Yes")]))
///     }
///
///     fn vote(&mut self, _: &Interaction, choice: &str) -> Result<Response> {
///         self.votes += 1;
///         Ok(Response::message(format!("you voted {choice}")).ephemeral())
///     }
///
///     fn invite(&mut self, _: &Interaction, user: Id<UserMarker>) -> Result<Response> {
///         Ok(Response::message(format!("<@{user}>, there is a poll here")))
///     }
/// }
///
/// let commands = Polls::router().commands_json().unwrap().unwrap();
/// let commands: serde_json::Value = serde_json::from_slice(&commands).unwrap();
/// assert_eq!(commands[0]["name"], "poll");
/// assert_eq!(commands[1]["type"], 2);
/// ```
///
/// PING interactions are answered with PONG before any route is looked at.
pub struct Router<B> {
    commands: Vec<CommandRoute<B>>,
    autocompletes: Vec<(String, Handler<B>)>,
    components: Vec<(String, PrefixHandler<B>)>,
    modals: Vec<(String, PrefixHandler<B>)>,
    fallback: Option<Handler<B>>,
}

struct CommandRoute<B> {
    kind: CommandType,
    name: String,
    registration: Registration,
    handler: Handler<B>,
}

/// What a route registers with Discord. Slash commands build theirs only
/// when asked ([`Router::commands_json`], once per deploy), not every time an
/// instance builds its router.
enum Registration {
    Slash(fn() -> ApplicationCommandData),
    Menu(ContextMenu),
}

/// The text of what the default fallback answers.
pub(crate) mod fallback_text {
    pub(crate) const COMMAND: &str = "unknown command";
    pub(crate) const COMPONENT: &str = "this button is no longer handled";
    pub(crate) const MODAL: &str = "this form is no longer handled";
}

impl<B: 'static> Router<B> {
    /// A router with no routes: every interaction goes to the fallback.
    pub fn new() -> Self {
        Self {
            commands: Vec::new(),
            autocompletes: Vec::new(),
            components: Vec::new(),
            modals: Vec::new(),
            fallback: None,
        }
    }

    /// Routes the slash command `C` to `handler`, which receives the
    /// options read into a `C`, and registers `C` with Discord.
    ///
    /// `C` is a type deriving [`CommandModel`] and [`CreateCommand`]
    /// (see [`command`](crate::command)); for a command with subcommands it
    /// is the top-level enum. If the options do not fit `C` (the command
    /// registered with Discord is older than the model, say), the handler is
    /// not called and the user sees why.
    pub fn command<C, F>(mut self, handler: F) -> Self
    where
        C: CommandModel + CreateCommand + 'static,
        F: Fn(&mut B, &Interaction, C) -> Result<Response> + 'static,
    {
        self.commands.push(CommandRoute {
            kind: CommandType::ChatInput,
            name: C::NAME.to_owned(),
            registration: Registration::Slash(C::create_command),
            handler: Box::new(move |bot, interaction| {
                let command = interaction.command_model::<C>()?;
                handler(bot, interaction, command)
            }),
        });
        self
    }

    /// Routes the autocomplete requests of the slash command `C` to
    /// `handler`, which receives the option being typed into ([`Focused`])
    /// and answers with [`Response::autocomplete`].
    ///
    /// Mark the option with `#[command(autocomplete = true)]` in `C`. The
    /// other options, as typed so far, are in
    /// [`Interaction::option`](Interaction::option) and friends, or in a
    /// partial model (`#[command(autocomplete = true)]` on a second type
    /// whose fields are all `Option` or `AutocompleteValue`) read with
    /// [`Interaction::command_model`].
    ///
    /// ```
    /// use appliance_sdk::prelude::*;
    ///
    /// #[derive(CommandModel, CreateCommand)]
    /// #[command(name = "color", desc = "Pick a color")]
    /// struct Color {
    ///     /// The color's name
    ///     #[command(autocomplete = true)]
    ///     name: String,
    /// }
    ///
    /// #[derive(Default)]
    /// struct Colors;
    ///
    /// impl Bot for Colors {
    ///     fn router() -> Router<Self> {
    ///         Router::new()
    ///             .command(|_: &mut Self, _: &Interaction, c: Color| Ok(Response::message(c.name)))
    ///             .autocomplete::<Color>(|_, _, typed| {
    ///                 let names = ["red", "green", "blue"].into_iter();
    ///                 let matching = names.filter(|n| n.starts_with(typed.value.as_str()));
    ///                 Ok(Response::autocomplete(matching.map(|n| (n, n))))
    ///             })
    ///     }
    /// }
    /// ```
    pub fn autocomplete<C: CreateCommand>(
        mut self,
        handler: impl Fn(&mut B, &Interaction, Focused) -> Result<Response> + 'static,
    ) -> Self {
        self.autocompletes.push((
            C::NAME.to_owned(),
            Box::new(move |bot, interaction| {
                let focused = Focused::of(interaction)?;
                handler(bot, interaction, focused)
            }),
        ));
        self
    }

    /// Routes the user command (right click on a user, Apps) called `menu`
    /// to `handler`, which receives the ID of the user it was used on, and
    /// registers it. `menu` is the name, or a [`ContextMenu`] with more
    /// settings. The user's full object is in
    /// [`Interaction::command`]'s `resolved` data.
    pub fn user_command<F>(mut self, menu: impl Into<ContextMenu>, handler: F) -> Self
    where
        F: Fn(&mut B, &Interaction, Id<UserMarker>) -> Result<Response> + 'static,
    {
        let menu = menu.into();
        self.commands.push(CommandRoute {
            kind: CommandType::User,
            name: menu.name.clone(),
            registration: Registration::Menu(menu),
            handler: Box::new(move |bot, interaction| {
                let target = menu_target(interaction)?;
                handler(bot, interaction, target.cast())
            }),
        });
        self
    }

    /// Routes the message command (right click on a message, Apps) called
    /// `menu` to `handler`, which receives the ID of the message it was
    /// used on, and registers it. `menu` is the name, or a [`ContextMenu`]
    /// with more settings. The message itself is in
    /// [`Interaction::command`]'s `resolved` data.
    pub fn message_command<F>(mut self, menu: impl Into<ContextMenu>, handler: F) -> Self
    where
        F: Fn(&mut B, &Interaction, Id<MessageMarker>) -> Result<Response> + 'static,
    {
        let menu = menu.into();
        self.commands.push(CommandRoute {
            kind: CommandType::Message,
            name: menu.name.clone(),
            registration: Registration::Menu(menu),
            handler: Box::new(move |bot, interaction| {
                let target = menu_target(interaction)?;
                handler(bot, interaction, target.cast())
            }),
        });
        self
    }

    /// Routes buttons and select menus whose `custom_id` starts with
    /// `prefix` to `handler`, which receives the rest of the `custom_id`
    /// (`"yes"` for `vote:yes` routed by `"vote:"`). The longest matching
    /// prefix wins; of equal ones, the first routed. An empty prefix takes
    /// every component no other route takes.
    ///
    /// The chosen values of a select menu are in [`Interaction::values`].
    pub fn component<F>(mut self, prefix: impl Into<String>, handler: F) -> Self
    where
        F: Fn(&mut B, &Interaction, &str) -> Result<Response> + 'static,
    {
        self.components.push((prefix.into(), Box::new(handler)));
        self
    }

    /// Routes modal submissions whose `custom_id` starts with `prefix` to
    /// `handler`, which receives the rest of the `custom_id`, as
    /// [`component`](Self::component) does. The fields are in
    /// [`Interaction::modal_value`].
    pub fn modal<F>(mut self, prefix: impl Into<String>, handler: F) -> Self
    where
        F: Fn(&mut B, &Interaction, &str) -> Result<Response> + 'static,
    {
        self.modals.push((prefix.into(), Box::new(handler)));
        self
    }

    /// Answers every interaction no route takes. Without one, the router
    /// answers an unknown command with an ephemeral "unknown command", an
    /// unrouted button or select menu with an ephemeral "this button is no
    /// longer handled" (a message posted by an earlier version of the bot,
    /// say), an unrouted modal with "this form is no longer handled", and an
    /// unrouted autocomplete request with no suggestions.
    pub fn fallback<F>(mut self, handler: F) -> Self
    where
        F: Fn(&mut B, &Interaction) -> Result<Response> + 'static,
    {
        self.fallback = Some(Box::new(handler));
        self
    }

    /// Answers `interaction` with the handler routed for it: what the
    /// `handle-interaction` export does, after reading the interaction.
    pub fn dispatch(&self, bot: &mut B, interaction: &Interaction) -> Result<Response> {
        let handler = match interaction.kind() {
            InteractionType::Ping => return Ok(Response::pong()),
            InteractionType::ApplicationCommand => self.command_route(interaction),
            InteractionType::ApplicationCommandAutocomplete => {
                let name = interaction.command_name();
                self.autocompletes
                    .iter()
                    .find(|(routed, _)| Some(routed.as_str()) == name)
                    .map(|(_, handler)| handler)
            }
            InteractionType::MessageComponent => {
                return self.by_prefix(&self.components, bot, interaction);
            }
            InteractionType::ModalSubmit => return self.by_prefix(&self.modals, bot, interaction),
            _ => None,
        };
        match handler {
            Some(handler) => handler(bot, interaction),
            None => self.fall_back(bot, interaction),
        }
    }

    /// The route of a command, by kind and name (a user command and a slash
    /// command may share a name).
    fn command_route(&self, interaction: &Interaction) -> Option<&Handler<B>> {
        let (kind, name) = (interaction.command_kind()?, interaction.command_name()?);
        self.commands
            .iter()
            .find(|route| route.kind == kind && route.name == name)
            .map(|route| &route.handler)
    }

    /// Runs the route with the longest prefix of the `custom_id`.
    fn by_prefix(
        &self,
        routes: &[(String, PrefixHandler<B>)],
        bot: &mut B,
        interaction: &Interaction,
    ) -> Result<Response> {
        let custom_id = interaction.custom_id().unwrap_or("");
        let mut best: Option<&(String, PrefixHandler<B>)> = None;
        for route in routes {
            let longer = best.is_none_or(|(prefix, _)| route.0.len() > prefix.len());
            if custom_id.starts_with(route.0.as_str()) && longer {
                best = Some(route);
            }
        }
        match best {
            Some((prefix, handler)) => handler(bot, interaction, &custom_id[prefix.len()..]),
            None => self.fall_back(bot, interaction),
        }
    }

    fn fall_back(&self, bot: &mut B, interaction: &Interaction) -> Result<Response> {
        if let Some(fallback) = &self.fallback {
            return fallback(bot, interaction);
        }
        let text = match interaction.kind() {
            InteractionType::ApplicationCommandAutocomplete => {
                return Ok(Response::autocomplete_choices([]));
            }
            InteractionType::MessageComponent => fallback_text::COMPONENT,
            InteractionType::ModalSubmit => fallback_text::MODAL,
            _ => fallback_text::COMMAND,
        };
        Ok(Response::message(text).ephemeral())
    }

    /// The JSON array Discord's bulk overwrite takes: one application
    /// command object per routed command (slash commands from their
    /// [`CreateCommand`] data, context-menu commands from their
    /// [`ContextMenu`]), in routing order, without the fields Discord
    /// assigns (`id`, `application_id`, `guild_id`, `version`). `None` when
    /// nothing is routed as a command: then the node leaves the bot's
    /// registered commands alone.
    ///
    /// It is what the `commands` export returns; the node calls it at
    /// deploy, checks the list against Discord's rules and registers it.
    /// `Err` if two routes register the same command (same kind and name).
    pub fn commands_json(&self) -> std::result::Result<Option<Vec<u8>>, String> {
        if self.commands.is_empty() {
            return Ok(None);
        }
        let mut list = Vec::with_capacity(self.commands.len());
        for (i, route) in self.commands.iter().enumerate() {
            if self.commands[..i]
                .iter()
                .any(|earlier| earlier.kind == route.kind && earlier.name == route.name)
            {
                return Err(format!(
                    "the {} command {:?} is routed twice; give each command one route",
                    kind_name(route.kind),
                    route.name
                ));
            }
            list.push(registration_json(route.kind, &route.registration)?);
        }
        serde_json::to_vec(&list)
            .map(Some)
            .map_err(|e| format!("the command list could not be written: {e}"))
    }
}

impl<B: 'static> Default for Router<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B> std::fmt::Debug for Router<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |routes: &[(String, PrefixHandler<B>)]| {
            routes.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>()
        };
        f.debug_struct("Router")
            .field(
                "commands",
                &self
                    .commands
                    .iter()
                    .map(|route| (kind_name(route.kind), route.name.as_str()))
                    .collect::<Vec<_>>(),
            )
            .field(
                "autocompletes",
                &self
                    .autocompletes
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("components", &names(&self.components))
            .field("modals", &names(&self.modals))
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

fn kind_name(kind: CommandType) -> &'static str {
    match kind {
        CommandType::ChatInput => "slash",
        CommandType::User => "user",
        CommandType::Message => "message",
        _ => "other",
    }
}

/// The target of a user or message command.
fn menu_target(interaction: &Interaction) -> Result<Id<twilight_model::id::marker::GenericMarker>> {
    interaction.target_id().ok_or_else(|| {
        Error::new(format!(
            "the command {:?} came without the user or message it was used on",
            interaction.command_name().unwrap_or("?")
        ))
    })
}

/// One command's registration as JSON, without what Discord assigns.
fn registration_json(
    kind: CommandType,
    registration: &Registration,
) -> std::result::Result<serde_json::Value, String> {
    let command: Command = match registration {
        Registration::Slash(create) => create().into(),
        Registration::Menu(menu) => menu.to_command(kind),
    };
    let name = command.name.clone();
    let mut value = serde_json::to_value(command)
        .map_err(|e| format!("the command {name:?} could not be written: {e}"))?;
    if let Some(object) = value.as_object_mut() {
        for assigned in ["id", "application_id", "guild_id", "version"] {
            object.remove(assigned);
        }
        if matches!(registration, Registration::Menu(_)) {
            // Context-menu commands take no options.
            object.remove("options");
        }
    }
    Ok(value)
}

/// The option being typed into, in an autocomplete request: what a
/// [`Router::autocomplete`] handler receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Focused {
    /// The option's name.
    pub name: String,
    /// What the user has typed into it so far (for a number option, the
    /// digits as text).
    pub value: String,
}

impl Focused {
    fn of(interaction: &Interaction) -> Result<Self> {
        let (name, value) = interaction
            .focused()
            .ok_or_else(|| Error::new("the autocomplete request has no focused option"))?;
        Ok(Self {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    }
}

/// A context-menu command (a user or message command) with its settings:
/// the first argument of [`Router::user_command`] and
/// [`Router::message_command`], where a plain name (`"Report"`) also does.
///
/// Slash commands take these settings as attributes of their model
/// (`#[command(default_permissions = "...", contexts = "...")]`);
/// context-menu commands have no model, so they take them here.
///
/// ```
/// use appliance_sdk::model::application::interaction::InteractionContextType;
/// use appliance_sdk::model::guild::Permissions;
/// use appliance_sdk::ContextMenu;
///
/// let menu = ContextMenu::new("Report message")
///     .default_permissions(Permissions::MANAGE_MESSAGES)
///     .contexts([InteractionContextType::Guild])
///     .name_localizations([("fr", "Signaler le message")]);
/// # let _ = menu;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ContextMenu {
    name: String,
    name_localizations: Option<HashMap<String, String>>,
    default_member_permissions: Option<Permissions>,
    contexts: Option<Vec<InteractionContextType>>,
    integration_types: Option<Vec<ApplicationIntegrationType>>,
    nsfw: Option<bool>,
}

impl ContextMenu {
    /// A context-menu command called `name` (1 to 32 characters; spaces
    /// and capitals are allowed, unlike slash commands).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            name_localizations: None,
            default_member_permissions: None,
            contexts: None,
            integration_types: None,
            nsfw: None,
        }
    }

    /// The name in other languages: pairs of a Discord locale (`"fr"`,
    /// `"de"`, `"pt-BR"`, ...) and the name in it.
    pub fn name_localizations(
        mut self,
        localizations: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> Self {
        let map = localizations
            .into_iter()
            .map(|(locale, name)| (locale.into(), name.into()))
            .collect();
        self.name_localizations = Some(map);
        self
    }

    /// The permissions a member needs to see the command by default (server
    /// admins can change it); `Permissions::empty()` hides it from everyone
    /// but admins.
    pub fn default_permissions(mut self, permissions: Permissions) -> Self {
        self.default_member_permissions = Some(permissions);
        self
    }

    /// Where the command can be used: servers, the bot's DMs, other DMs.
    pub fn contexts(mut self, contexts: impl IntoIterator<Item = InteractionContextType>) -> Self {
        self.contexts = Some(contexts.into_iter().collect());
        self
    }

    /// Which installs make the command available: installed to a server,
    /// installed by a user.
    pub fn integration_types(
        mut self,
        types: impl IntoIterator<Item = ApplicationIntegrationType>,
    ) -> Self {
        self.integration_types = Some(types.into_iter().collect());
        self
    }

    /// Whether the command is age-restricted.
    pub fn nsfw(mut self, nsfw: bool) -> Self {
        self.nsfw = Some(nsfw);
        self
    }

    /// The command object, as Discord describes it, of `kind` (user or
    /// message).
    fn to_command(&self, kind: CommandType) -> Command {
        #[allow(deprecated)]
        Command {
            application_id: None,
            contexts: self.contexts.clone(),
            default_member_permissions: self.default_member_permissions,
            // Context-menu commands must have an empty description.
            description: String::new(),
            description_localizations: None,
            dm_permission: None,
            guild_id: None,
            id: None,
            integration_types: self.integration_types.clone(),
            kind,
            name: self.name.clone(),
            name_localizations: self.name_localizations.clone(),
            nsfw: self.nsfw,
            options: Vec::new(),
            version: Id::new(1),
        }
    }
}

impl From<&str> for ContextMenu {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

impl From<String> for ContextMenu {
    fn from(name: String) -> Self {
        Self::new(name)
    }
}

#[cfg(test)]
mod tests;
