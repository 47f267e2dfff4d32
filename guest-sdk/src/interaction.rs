//! The interaction a handler is answering: what it is, who sent it, and the
//! ways to answer it.

use std::borrow::Cow;
use std::cell::OnceCell;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use twilight_interactions::command::{CommandInputData, CommandModel};
use twilight_model::application::command::CommandType;
use twilight_model::application::interaction::application_command::{
    CommandData, CommandDataOption, CommandOptionValue,
};
use twilight_model::application::interaction::{
    Interaction as TwilightInteraction, InteractionType,
};
use twilight_model::id::marker::{
    ApplicationMarker, ChannelMarker, GenericMarker, GuildMarker, InteractionMarker, MessageMarker,
    UserMarker,
};
use twilight_model::id::Id;

use crate::{Error, Response, Result};

mod head;
mod scan;

use head::{Head, Who};

/// One Discord interaction: a slash, user or message command, an
/// autocomplete request, a button or select-menu press, or a modal
/// submission.
///
/// It is read lazily, because most handlers look at a handful of fields:
/// building it reads only a small head (type, ids, token, the command's name
/// or the component's `custom_id`, where, the locale) and keeps the JSON,
/// borrowing from it rather than copying. Who sent it is read the first
/// time someone asks, the command's options the first time something needs
/// them ([`command_model`](Self::command_model), the `option_*` readers),
/// and twilight's full [`Interaction`](TwilightInteraction) only on
/// [`twilight`](Self::twilight).
///
/// Besides reading, an `Interaction` answers:
///
/// - [`reply`](Self::reply), [`defer`](Self::defer),
///   [`defer_ephemeral`](Self::defer_ephemeral) and
///   [`defer_update`](Self::defer_update) send the initial response *now*,
///   while the handler keeps working; what the handler returns afterwards
///   edits that answer;
/// - [`follow_up`](Self::follow_up), [`edit_reply`](Self::edit_reply) and
///   [`delete_reply`](Self::delete_reply) send more messages, or change the
///   answer, for up to 15 minutes (Discord's REST API, through the host).
///
/// ```no_run
/// use appliance_sdk::prelude::*;
///
/// fn export(i: &Interaction) -> Result<Response> {
///     i.defer_ephemeral()?; // "thinking...", visible to the caller only
///     let id = i.follow_up("the export is half done")?;
///     appliance_sdk::log::info(format!("progress message {id}"));
///     Ok(Response::message("done").ephemeral()) // replaces "thinking..."
/// }
/// ```
#[derive(Clone)]
pub struct Interaction {
    /// The whole interaction, as sent; [`Head`]'s spans point into it.
    raw: String,
    head: Head,
    who: OnceCell<Option<Who>>,
    command: OnceCell<CommandData>,
    data_value: OnceCell<Value>,
    full: OnceCell<TwilightInteraction>,
}

/// The interaction's identity, without its token or its JSON (a `{:?}` in
/// a log line should not carry a credential).
impl std::fmt::Debug for Interaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interaction")
            .field("kind", &self.kind())
            .field("id", &self.id())
            .field("command_name", &self.command_name())
            .field("custom_id", &self.custom_id())
            .field("guild_id", &self.guild_id())
            .finish_non_exhaustive()
    }
}

impl Interaction {
    /// Reads an interaction from the JSON Discord sent.
    ///
    /// Only `type` (1 to 5), `id`, `application_id` and `token` must be
    /// present, and for a command the `data` object's `name`; everything
    /// else is optional here. When a part is read later (the options, the
    /// full model), fields Discord always sends but hand-written bodies
    /// (tests, `appliance invoke`) tend to leave out are filled with neutral
    /// values: see [`twilight`](Self::twilight).
    ///
    /// ```
    /// use appliance_sdk::Interaction;
    ///
    /// let i = Interaction::from_json(
    ///     br#"{"type":2,"id":"1","application_id":"2","token":"t","data":{"name":"ping"},"user":{"id":"42","username":"alice"}}"#,
    /// )?;
    /// assert_eq!(i.command_name(), Some("ping"));
    /// assert_eq!(i.user_id().map(|id| id.get()), Some(42));
    /// # Ok::<(), appliance_sdk::Error>(())
    /// ```
    pub fn from_json(json: &[u8]) -> Result<Self> {
        Self::from_vec(json.to_vec())
    }

    /// [`from_json`](Self::from_json) for JSON the caller owns, which the
    /// interaction keeps without copying it.
    pub fn from_vec(json: Vec<u8>) -> Result<Self> {
        let raw = String::from_utf8(json).map_err(|e| {
            Error::new(format!(
                "the interaction is not valid JSON: {}",
                e.utf8_error()
            ))
        })?;
        let head = Head::read(&raw).map_err(|e| {
            if e.is_syntax() {
                Error::new(format!("the interaction is not valid JSON: {e}"))
            } else {
                Error::new(format!("the interaction could not be read: {e}"))
            }
        })?;
        if !(1..=5).contains(&head.kind) {
            return Err(Error::new(format!(
                "interaction type {} is not one this SDK knows (1 to 5)",
                head.kind
            )));
        }
        Ok(Self {
            raw,
            head,
            who: OnceCell::new(),
            command: OnceCell::new(),
            data_value: OnceCell::new(),
            full: OnceCell::new(),
        })
    }

    /// The interaction's JSON, exactly as Discord sent it.
    pub fn json(&self) -> &[u8] {
        self.raw.as_bytes()
    }

    /// twilight's full model of the interaction, read (once) on the first
    /// call: for everything without a reader here (resolved users and roles,
    /// the message a button was on, the member's roles and permissions,
    /// entitlements, ...).
    ///
    /// Discord always sends a few fields that hand-written bodies tend to
    /// leave out, and that twilight nevertheless requires. When they are
    /// missing, they are filled with neutral values before reading:
    ///
    /// | field | default |
    /// |---|---|
    /// | `attachment_size_limit` | `0` |
    /// | `authorizing_integration_owners` | `{}` |
    /// | `member.deaf`, `member.mute` | `false` |
    /// | `member.flags` | `0` |
    /// | `member.roles` | `[]` |
    /// | `discriminator` of `user` and `member.user` | `"0"` |
    /// | `data.id` of a command or autocomplete (types 2, 4) | `"1"` |
    /// | `data.type` of a command or autocomplete | `1` (chat input) |
    /// | `data.component_type` of a component (type 3) | `2` (button) |
    /// | `id` of each modal component (type 5) | `0` |
    pub fn twilight(&self) -> Result<&TwilightInteraction> {
        if let Some(full) = self.full.get() {
            return Ok(full);
        }
        let full = read_filled(self.raw.as_bytes(), fill_defaults)
            .map_err(|e| Error::new(format!("the interaction could not be read: {e}")))?;
        Ok(self.full.get_or_init(|| full))
    }

    /// What kind of interaction this is: command, autocomplete, component,
    /// modal submission (or ping, which the host answers itself).
    pub fn kind(&self) -> InteractionType {
        match self.head.kind {
            1 => InteractionType::Ping,
            2 => InteractionType::ApplicationCommand,
            3 => InteractionType::MessageComponent,
            4 => InteractionType::ApplicationCommandAutocomplete,
            // `from_json` let nothing else through.
            _ => InteractionType::ModalSubmit,
        }
    }

    /// The interaction's own ID.
    pub fn id(&self) -> Id<InteractionMarker> {
        self.head.id
    }

    /// The ID of the application (bot) the interaction is for.
    pub fn application_id(&self) -> Id<ApplicationMarker> {
        self.head.application_id
    }

    /// The interaction token, which authorizes follow-up messages for 15
    /// minutes.
    pub fn token(&self) -> &str {
        self.head.token.get(&self.raw)
    }

    /// The server the interaction happened in; `None` in direct messages.
    pub fn guild_id(&self) -> Option<Id<GuildMarker>> {
        self.head.guild_id
    }

    /// The channel the interaction happened in.
    pub fn channel_id(&self) -> Option<Id<ChannelMarker>> {
        // Discord sends both the older `channel_id` and a partial `channel`.
        self.head
            .channel_id
            .or_else(|| self.head.channel_object_id(&self.raw))
    }

    /// The user's chosen language (`"en-US"`, ...), if Discord sent it.
    pub fn locale(&self) -> Option<&str> {
        Some(self.head.locale.as_ref()?.get(&self.raw))
    }

    /// Whether the interaction came from a direct message rather than a
    /// server (there is no `member`).
    pub fn is_dm(&self) -> bool {
        self.head.member.is_none()
    }

    // --- who ------------------------------------------------------------

    /// `member.user` in a server, `user` in a direct message; read on
    /// first use.
    fn who(&self) -> Option<&Who> {
        self.who.get_or_init(|| self.head.who(&self.raw)).as_ref()
    }

    /// The ID of the user who triggered the interaction.
    pub fn user_id(&self) -> Option<Id<UserMarker>> {
        self.who().map(|who| who.id)
    }

    /// The user's unique account name (`username`).
    pub fn user_name(&self) -> Option<&str> {
        self.who().map(|who| who.username.as_str())
    }

    /// The name Discord shows for the user here: their server nickname, else
    /// their global display name, else their username.
    pub fn display_name(&self) -> Option<&str> {
        let who = self.who()?;
        let name = who.nick.as_deref().or(who.global_name.as_deref());
        Some(name.unwrap_or(&who.username))
    }

    // --- commands and autocomplete ----------------------------------------

    /// Whether this is a command or an autocomplete request (types 2, 4).
    fn is_command(&self) -> bool {
        matches!(self.head.kind, 2 | 4)
    }

    /// The command's name (`"ping"` for `/ping`, `"Report"` for a user
    /// command called Report), for commands and autocomplete requests.
    pub fn command_name(&self) -> Option<&str> {
        let name = self.head.name.as_ref().filter(|_| self.is_command())?;
        Some(name.get(&self.raw))
    }

    /// The kind of command: slash (chat input), user or message. `None`
    /// for anything but a command or autocomplete request.
    pub fn command_kind(&self) -> Option<CommandType> {
        self.is_command()
            .then(|| CommandType::from(self.head.command_kind.unwrap_or(1)))
    }

    /// For a user or message command: the ID of the user or message it was
    /// used on. Its full object is in the command's `resolved` data
    /// ([`command`](Self::command)).
    pub fn target_id(&self) -> Option<Id<GenericMarker>> {
        self.head.target_id.filter(|_| self.is_command())
    }

    /// Reads the command's options into its typed model: what a
    /// [`Router::command`](crate::Router::command) handler receives, for a
    /// handler that wants it some other way.
    ///
    /// An `Err` says which option did not fit, which usually means the
    /// command registered with Discord is older than the bot's model:
    /// deploying again registers the current one.
    pub fn command_model<C: CommandModel>(&self) -> Result<C> {
        let name = self.command_name().unwrap_or("?");
        let input = match self.command.get() {
            Some(data) => CommandInputData {
                options: data.options.clone(),
                resolved: data.resolved.as_ref().map(Cow::Borrowed),
            },
            // A model needs only the options and what they resolve to, and
            // takes the options by value: read just those, once (the head
            // knows where they are; a command without options reads nothing).
            None => {
                if self.head.data.is_none() || !self.is_command() {
                    return Err(Error::new("this interaction is not a command"));
                }
                let unreadable = |e: serde_json::Error| {
                    Error::new(format!("the command's data could not be read: {e}"))
                };
                let options = match self.head.options {
                    Some(options) => {
                        serde_json::from_str(options.get(&self.raw)).map_err(unreadable)?
                    }
                    None => Vec::new(),
                };
                let resolved = match self.head.resolved {
                    Some(resolved) => Some(Cow::Owned(
                        serde_json::from_str(resolved.get(&self.raw)).map_err(unreadable)?,
                    )),
                    None => None,
                };
                CommandInputData { options, resolved }
            }
        };
        C::from_interaction(input).map_err(|e| {
            Error::new(format!(
                "could not read the options of /{name}: {e} \
                 (if the command changed, deploy again to register the new version)"
            ))
        })
    }

    /// The command's data, read on first use: options, resolved users,
    /// roles, channels, messages and attachments, the target of a user or
    /// message command. `None` for anything but a command or autocomplete
    /// request, or if the data could not be read.
    pub fn command(&self) -> Option<&CommandData> {
        self.command_data().ok()
    }

    /// The command's data, or why there is none.
    fn command_data(&self) -> Result<&CommandData> {
        if let Some(data) = self.command.get() {
            return Ok(data);
        }
        let raw = match self.head.data {
            Some(data) if self.is_command() => data.get(&self.raw),
            _ => return Err(Error::new("this interaction is not a command")),
        };
        let data = read_filled(raw.as_bytes(), fill_command_defaults)
            .map_err(|e| Error::new(format!("the command's data could not be read: {e}")))?;
        Ok(self.command.get_or_init(|| data))
    }

    /// The innermost subcommand, if the command has subcommands: `"add"` for
    /// `/todo add` and for `/settings todo add`.
    pub fn subcommand(&self) -> Option<&str> {
        let mut options = self.command().map_or(&[][..], |c| &c.options[..]);
        let mut name = None;
        while let [CommandDataOption {
            name: sub,
            value:
                CommandOptionValue::SubCommand(inner) | CommandOptionValue::SubCommandGroup(inner),
        }] = options
        {
            name = Some(sub.as_str());
            options = inner;
        }
        name
    }

    /// The options the user filled in, below any subcommand: the untyped
    /// escape hatch (prefer a typed model, [`command_model`](Self::command_model)).
    pub fn options(&self) -> &[CommandDataOption] {
        let mut options = self.command().map_or(&[][..], |c| &c.options[..]);
        while let [CommandDataOption {
            value:
                CommandOptionValue::SubCommand(inner) | CommandOptionValue::SubCommandGroup(inner),
            ..
        }] = options
        {
            options = inner;
        }
        options
    }

    /// The value of the option called `name`, if the user filled it in
    /// (untyped; prefer a typed model).
    pub fn option(&self, name: &str) -> Option<&CommandOptionValue> {
        self.options()
            .iter()
            .find(|option| option.name == name)
            .map(|option| &option.value)
    }

    /// A string option's value (untyped; prefer a typed model). For
    /// autocomplete it is also the text typed so far into the focused
    /// option.
    pub fn option_str(&self, name: &str) -> Option<&str> {
        match self.option(name)? {
            CommandOptionValue::String(text) | CommandOptionValue::Focused(text, _) => Some(text),
            _ => None,
        }
    }

    /// An integer option's value (untyped; prefer a typed model).
    pub fn option_i64(&self, name: &str) -> Option<i64> {
        match self.option(name)? {
            CommandOptionValue::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// A number option's value, integer options converted (untyped; prefer
    /// a typed model).
    pub fn option_f64(&self, name: &str) -> Option<f64> {
        match self.option(name)? {
            CommandOptionValue::Number(n) => Some(*n),
            #[allow(clippy::cast_precision_loss)]
            CommandOptionValue::Integer(n) => Some(*n as f64),
            _ => None,
        }
    }

    /// A boolean option's value (untyped; prefer a typed model).
    pub fn option_bool(&self, name: &str) -> Option<bool> {
        match self.option(name)? {
            CommandOptionValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The ID chosen in a user, channel, role, mentionable or attachment
    /// option (untyped; a typed model gets the resolved object, or a typed
    /// ID, directly).
    pub fn option_id(&self, name: &str) -> Option<Id<GenericMarker>> {
        match self.option(name)? {
            CommandOptionValue::User(id) => Some(id.cast()),
            CommandOptionValue::Channel(id) => Some(id.cast()),
            CommandOptionValue::Role(id) => Some(id.cast()),
            CommandOptionValue::Mentionable(id) => Some(*id),
            CommandOptionValue::Attachment(id) => Some(id.cast()),
            _ => None,
        }
    }

    /// For an autocomplete request: the focused option's name and the text
    /// typed into it so far.
    pub fn focused(&self) -> Option<(&str, &str)> {
        self.options()
            .iter()
            .find_map(|option| match &option.value {
                CommandOptionValue::Focused(text, _) => Some((option.name.as_str(), text.as_str())),
                _ => None,
            })
    }

    // --- components and modals --------------------------------------------

    /// The `custom_id` of the button or select menu that was used, or of the
    /// modal that was submitted.
    pub fn custom_id(&self) -> Option<&str> {
        let custom_id = self.head.custom_id.as_ref();
        Some(
            custom_id
                .filter(|_| matches!(self.head.kind, 3 | 5))?
                .get(&self.raw),
        )
    }

    /// The values chosen in a select menu (empty for buttons and everything
    /// else).
    pub fn values(&self) -> &[String] {
        if self.head.kind == 3 {
            &self.head.values
        } else {
            &[]
        }
    }

    /// For a modal submission: the text typed into the text input with this
    /// `custom_id` (wherever it sits: in a label, or in an older modal's
    /// action row).
    pub fn modal_value(&self, custom_id: &str) -> Option<&str> {
        if self.head.kind != 5 {
            return None;
        }
        let data = self.data_value.get_or_init(|| {
            self.head
                .data
                .and_then(|data| serde_json::from_str(data.get(&self.raw)).ok())
                .unwrap_or(Value::Null)
        });
        find_text_input(data.get("components")?, custom_id)
    }

    // --- answering ----------------------------------------------------------

    /// Sends `response` as this interaction's initial response now, and
    /// keeps running: the way to answer at once and then work longer.
    ///
    /// What the handler returns afterwards edits this answer; returning
    /// [`Response::defer`] (or [`defer_update`](Response::defer_update))
    /// leaves it as it is. The host defers on its own at its deadline (2 s
    /// by default) if a bot has not answered, so a slow bot does not need
    /// this to stay in time; it needs it to choose *how* it is deferred
    /// (ephemeral or not) or to say something first.
    ///
    /// Fails if the interaction already has its initial response: an earlier
    /// `reply`, or the host's deferral at its deadline (then the handler's
    /// return value still edits that deferral).
    ///
    /// ```no_run
    /// # use appliance_sdk::prelude::*;
    /// # fn f(i: &Interaction) -> Result<Response> {
    /// i.reply("working on it")?;
    /// // ... a long job ...
    /// Ok(Response::message("done")) // replaces "working on it"
    /// # }
    /// ```
    pub fn reply(&self, response: impl Into<Response>) -> Result<()> {
        let json = response.into().to_json()?;
        crate::host::respond(&json)
            .map_err(|why| Error::new(format!("could not send the initial response: {why}")))
    }

    /// Shows "thinking..." to everyone now; the handler's return value
    /// replaces it.
    pub fn defer(&self) -> Result<()> {
        self.reply(Response::defer())
    }

    /// Shows "thinking..." to the caller only; the handler's return value
    /// replaces it, privately.
    pub fn defer_ephemeral(&self) -> Result<()> {
        self.reply(Response::defer().ephemeral())
    }

    /// For a button or select menu: acknowledges the press now without a
    /// visible answer; the handler's return value (an
    /// [`update_message`](Response::update_message), say) then edits the
    /// message the component is on.
    pub fn defer_update(&self) -> Result<()> {
        self.reply(Response::defer_update())
    }

    /// Sends one more message about this interaction (up to 15 minutes
    /// after it) and returns its ID. An ephemeral response gives an
    /// ephemeral message. The interaction needs its initial response first:
    /// send one with [`reply`](Self::reply) or a deferral (or wait for the
    /// host's). Edit or delete it later with
    /// [`discord::edit_follow_up`](crate::discord::edit_follow_up) and
    /// [`discord::delete_follow_up`](crate::discord::delete_follow_up).
    pub fn follow_up(&self, message: impl Into<Response>) -> Result<Id<MessageMarker>> {
        #[derive(Deserialize)]
        struct Created {
            id: Id<MessageMarker>,
        }
        let body = crate::discord::message_body(&message.into())?;
        let path = format!("/webhooks/{}/{}", self.head.application_id, self.token());
        let answer = crate::discord::call("POST", &path, Some(&body))?;
        let created: Created = serde_json::from_slice(&answer.body).map_err(|e| {
            Error::new(format!(
                "Discord's answer to the follow-up has no message id: {e}"
            ))
        })?;
        Ok(created.id)
    }

    /// Replaces the initial response (a message, or the "thinking..." of a
    /// deferral) with `message`.
    pub fn edit_reply(&self, message: impl Into<Response>) -> Result<()> {
        let body = crate::discord::message_body(&message.into())?;
        crate::discord::call("PATCH", &self.original_path(), Some(&body))?;
        Ok(())
    }

    /// Deletes the initial response.
    pub fn delete_reply(&self) -> Result<()> {
        crate::discord::call::<()>("DELETE", &self.original_path(), None)?;
        Ok(())
    }

    fn original_path(&self) -> String {
        format!(
            "/webhooks/{}/{}/messages/@original",
            self.head.application_id,
            self.token()
        )
    }
}

/// Finds a text input's value in a modal component tree (text inputs sit in
/// a label's `component` or, in older modals, in an action row's
/// `components`).
fn find_text_input<'a>(component: &'a Value, id: &str) -> Option<&'a str> {
    match component {
        Value::Array(list) => list.iter().find_map(|c| find_text_input(c, id)),
        Value::Object(object) => {
            if object.get("custom_id").and_then(Value::as_str) == Some(id) {
                if let Some(value) = object.get("value").and_then(Value::as_str) {
                    return Some(value);
                }
            }
            ["component", "components"]
                .iter()
                .filter_map(|key| object.get(*key))
                .find_map(|child| find_text_input(child, id))
        }
        _ => None,
    }
}

/// Reads `json` as a `T`; if that fails, fills in defaults with `fill` and
/// tries again. Discord's own payloads take the first, fast path; building a
/// `Value` tree and converting it costs about as much again, so only bodies
/// that need defaults take the second.
fn read_filled<T: serde::de::DeserializeOwned>(
    json: &[u8],
    fill: fn(&mut Value),
) -> std::result::Result<T, serde_json::Error> {
    if let Ok(value) = serde_json::from_slice(json) {
        return Ok(value);
    }
    let mut value: Value = serde_json::from_slice(json)?;
    fill(&mut value);
    serde_json::from_value(value)
}

/// Fills the fields listed in [`Interaction::twilight`] when they are
/// missing or `null`. Present values are never changed.
fn fill_defaults(interaction: &mut Value) {
    let Some(top) = interaction.as_object_mut() else {
        return;
    };
    fill(top, "attachment_size_limit", json!(0));
    fill(top, "authorizing_integration_owners", json!({}));

    if let Some(user) = top.get_mut("user").and_then(Value::as_object_mut) {
        fill(user, "discriminator", json!("0"));
    }
    if let Some(member) = top.get_mut("member").and_then(Value::as_object_mut) {
        fill(member, "deaf", json!(false));
        fill(member, "mute", json!(false));
        fill(member, "flags", json!(0));
        fill(member, "roles", json!([]));
        if let Some(user) = member.get_mut("user").and_then(Value::as_object_mut) {
            fill(user, "discriminator", json!("0"));
        }
    }

    let kind = top.get("type").and_then(Value::as_u64);
    if let Some(data) = top.get_mut("data") {
        match kind {
            Some(2 | 4) => fill_command_defaults(data),
            Some(3) => {
                if let Some(data) = data.as_object_mut() {
                    fill(data, "component_type", json!(2));
                }
            }
            Some(5) => {
                if let Some(components) = data.get_mut("components") {
                    fill_component_ids(components);
                }
            }
            _ => {}
        }
    }
}

/// Fills a command's `data.id` and `data.type` when missing.
fn fill_command_defaults(data: &mut Value) {
    if let Some(data) = data.as_object_mut() {
        fill(data, "id", json!("1"));
        fill(data, "type", json!(1));
    }
}

/// Gives every modal component without an `id` the id 0, walking into
/// action rows (`components`) and labels (`component`).
fn fill_component_ids(component: &mut Value) {
    match component {
        Value::Array(list) => list.iter_mut().for_each(fill_component_ids),
        Value::Object(object) => {
            fill(object, "id", json!(0));
            for key in ["components", "component"] {
                if let Some(child) = object.get_mut(key) {
                    fill_component_ids(child);
                }
            }
        }
        _ => {}
    }
}

/// Sets `object[key]` to `default` if the key is missing or `null`.
fn fill(object: &mut Map<String, Value>, key: &str, default: Value) {
    let slot = object.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = default;
    }
}

#[cfg(test)]
mod tests;
