//! A typed view of the interaction Discord sent.

use serde_json::{json, Map, Value};
use twilight_model::application::interaction::application_command::{
    CommandData, CommandDataOption, CommandOptionValue,
};
use twilight_model::application::interaction::modal::ModalInteractionComponent;
use twilight_model::application::interaction::{
    Interaction as TwilightInteraction, InteractionData, InteractionType,
};
use twilight_model::user::User;

use crate::{Error, Response, Result};

/// One Discord interaction: a slash command, an autocomplete request, a
/// button or select-menu press, or a modal submission.
///
/// It wraps twilight's [`Interaction`](TwilightInteraction) and adds the
/// shortcuts a handler needs most: which command or component fired, who
/// fired it, and the options they typed. Everything else is reachable through
/// [`twilight`](Self::twilight).
///
/// IDs are returned as plain `u64`s (Discord's snowflakes), which format as
/// the decimal text Discord uses, so they make good key-value keys.
#[derive(Clone, Debug)]
pub struct Interaction {
    inner: TwilightInteraction,
}

impl Interaction {
    /// Parses an interaction from the JSON Discord sent.
    ///
    /// Discord always sends a few fields that hand-written bodies (tests,
    /// `appliance invoke`) tend to leave out, and that twilight nevertheless
    /// requires. When they are missing, this fills them with neutral values
    /// before parsing:
    ///
    /// | field | default |
    /// |---|---|
    /// | `attachment_size_limit` | `0` |
    /// | `authorizing_integration_owners` | `{}` |
    /// | `member.deaf`, `member.mute` | `false` |
    /// | `member.flags` | `0` |
    /// | `member.roles` | `[]` |
    /// | `discriminator` of `user` and `member.user` | `"0"` |
    /// | `data.type` of a command or autocomplete (types 2, 4) | `1` (chat input) |
    /// | `data.component_type` of a component (type 3) | `2` (button) |
    /// | `id` of each modal component (type 5) | `0` |
    ///
    /// The rest must be present: `type`, `id`, `application_id`, `token`,
    /// and for types 2 to 5 a `data` object with `id` and `name` (commands)
    /// or `custom_id` (components and modals).
    pub fn from_json(json: &[u8]) -> Result<Self> {
        // Discord's own payloads carry every field twilight requires: read
        // them straight into the model. Building a `Value` tree first and
        // converting it costs about as much again, so only bodies that need
        // defaults filled in take that path.
        if let Ok(inner) = serde_json::from_slice::<TwilightInteraction>(json) {
            return Ok(Self { inner });
        }
        let mut value: Value = serde_json::from_slice(json)
            .map_err(|e| Error::new(format!("the interaction is not valid JSON: {e}")))?;
        fill_defaults(&mut value);
        let inner = serde_json::from_value(value)
            .map_err(|e| Error::new(format!("the interaction could not be read: {e}")))?;
        Ok(Self { inner })
    }

    /// The underlying twilight model, for everything without a shortcut here
    /// (resolved users and roles, the message a button was on, entitlements,
    /// ...).
    pub fn twilight(&self) -> &TwilightInteraction {
        &self.inner
    }

    /// Unwraps the underlying twilight model.
    pub fn into_twilight(self) -> TwilightInteraction {
        self.inner
    }

    /// What kind of interaction this is: command, autocomplete, component,
    /// modal submission (or ping, which the host answers itself).
    pub fn kind(&self) -> InteractionType {
        self.inner.kind
    }

    /// The interaction's own ID.
    pub fn id(&self) -> u64 {
        self.inner.id.get()
    }

    /// The ID of the application (bot) the interaction is for.
    pub fn application_id(&self) -> u64 {
        self.inner.application_id.get()
    }

    /// Sends `response` as this interaction's initial response now, and
    /// keeps running: the way to answer at once and then work longer.
    ///
    /// - `interaction.respond(&Response::defer())` shows "thinking..." (add
    ///   [`ephemeral`](Response::ephemeral) for a private answer); the
    ///   [`Response`] the handler returns later replaces it.
    /// - `interaction.respond(&Response::message("on it"))` shows a message at
    ///   once; the handler's return value edits that message, and
    ///   [`discord::follow_up`](crate::discord::follow_up) adds more.
    ///
    /// After `respond`, returning [`Response::defer`] (or
    /// [`defer_update`](Response::defer_update)) leaves the first answer as
    /// it is. The host defers on its own at its deadline (2 s by default) if
    /// a bot has not answered, so a slow bot does not need this to stay in
    /// time; it needs it to choose *how* it is deferred (ephemeral or not) or
    /// to say something first.
    ///
    /// Fails if the interaction already has its initial response: an earlier
    /// `respond`, or the host's deferral at its deadline (then the handler's
    /// return value still edits that deferral).
    pub fn respond(&self, response: &Response) -> Result<()> {
        let json = response.to_json()?;
        crate::wit::appliance::bot::interaction::respond(&json)
            .map_err(|why| Error::new(format!("could not send the initial response: {why}")))
    }

    /// The interaction token, which authorizes follow-up messages for 15
    /// minutes.
    pub fn token(&self) -> &str {
        &self.inner.token
    }

    /// The server the interaction happened in; `None` in direct messages.
    pub fn guild_id(&self) -> Option<u64> {
        self.inner.guild_id.map(|id| id.get())
    }

    /// The channel the interaction happened in.
    pub fn channel_id(&self) -> Option<u64> {
        // Discord sends both the older `channel_id` and a partial `channel`.
        #[allow(deprecated)]
        let id = self.inner.channel_id;
        id.or_else(|| self.inner.channel.as_ref().map(|c| c.id))
            .map(|id| id.get())
    }

    /// The user's chosen language (`"en-US"`, ...), if Discord sent it.
    pub fn locale(&self) -> Option<&str> {
        self.inner.locale.as_deref()
    }

    /// Whether the interaction came from a direct message rather than a
    /// server.
    pub fn is_dm(&self) -> bool {
        self.inner.member.is_none()
    }

    // --- who ------------------------------------------------------------

    /// The user who triggered the interaction: `member.user` in a server,
    /// `user` in a direct message.
    pub fn user(&self) -> Option<&User> {
        self.inner.author()
    }

    /// The ID of the user who triggered the interaction.
    pub fn user_id(&self) -> Option<u64> {
        self.user().map(|user| user.id.get())
    }

    /// The user's unique account name (`username`).
    pub fn user_name(&self) -> Option<&str> {
        self.user().map(|user| user.name.as_str())
    }

    /// The name Discord shows for the user here: their server nickname, else
    /// their global display name, else their username.
    pub fn display_name(&self) -> Option<&str> {
        let nick = self.inner.member.as_ref().and_then(|m| m.nick.as_deref());
        let user = self.user();
        nick.or_else(|| user.and_then(|u| u.global_name.as_deref()))
            .or_else(|| user.map(|u| u.name.as_str()))
    }

    // --- commands and autocomplete ----------------------------------------

    /// The command's data, for slash, user and message commands and for
    /// autocomplete requests.
    pub fn command(&self) -> Option<&CommandData> {
        match &self.inner.data {
            Some(InteractionData::ApplicationCommand(data)) => Some(data),
            _ => None,
        }
    }

    /// The command's name (`"ping"` for `/ping`), for commands and
    /// autocomplete requests.
    pub fn command_name(&self) -> Option<&str> {
        self.command().map(|data| data.name.as_str())
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

    /// The options the user filled in, below any subcommand.
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

    /// The value of the option called `name`, if the user filled it in.
    pub fn option(&self, name: &str) -> Option<&CommandOptionValue> {
        self.options()
            .iter()
            .find(|option| option.name == name)
            .map(|option| &option.value)
    }

    /// A string option's value. For autocomplete it is also the text typed so
    /// far into the focused option.
    pub fn option_str(&self, name: &str) -> Option<&str> {
        match self.option(name)? {
            CommandOptionValue::String(text) | CommandOptionValue::Focused(text, _) => Some(text),
            _ => None,
        }
    }

    /// An integer option's value.
    pub fn option_i64(&self, name: &str) -> Option<i64> {
        match self.option(name)? {
            CommandOptionValue::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// A number option's value (integer options are converted).
    pub fn option_f64(&self, name: &str) -> Option<f64> {
        match self.option(name)? {
            CommandOptionValue::Number(n) => Some(*n),
            #[allow(clippy::cast_precision_loss)]
            CommandOptionValue::Integer(n) => Some(*n as f64),
            _ => None,
        }
    }

    /// A boolean option's value.
    pub fn option_bool(&self, name: &str) -> Option<bool> {
        match self.option(name)? {
            CommandOptionValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The ID chosen in a user, channel, role, mentionable or attachment
    /// option. The full objects are in the command's `resolved` data.
    pub fn option_id(&self, name: &str) -> Option<u64> {
        match self.option(name)? {
            CommandOptionValue::User(id) => Some(id.get()),
            CommandOptionValue::Channel(id) => Some(id.get()),
            CommandOptionValue::Role(id) => Some(id.get()),
            CommandOptionValue::Mentionable(id) => Some(id.get()),
            CommandOptionValue::Attachment(id) => Some(id.get()),
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
        match &self.inner.data {
            Some(InteractionData::MessageComponent(data)) => Some(&data.custom_id),
            Some(InteractionData::ModalSubmit(data)) => Some(&data.custom_id),
            _ => None,
        }
    }

    /// The values chosen in a select menu (empty for buttons and everything
    /// else).
    pub fn values(&self) -> &[String] {
        match &self.inner.data {
            Some(InteractionData::MessageComponent(data)) => &data.values,
            _ => &[],
        }
    }

    /// For a modal submission: the text typed into the text input with this
    /// `custom_id`.
    pub fn modal_value(&self, custom_id: &str) -> Option<&str> {
        match &self.inner.data {
            Some(InteractionData::ModalSubmit(data)) => data
                .components
                .iter()
                .find_map(|component| find_text_input(component, custom_id)),
            _ => None,
        }
    }
}

impl From<TwilightInteraction> for Interaction {
    fn from(inner: TwilightInteraction) -> Self {
        Self { inner }
    }
}

/// Finds a text input's value in a modal component tree (text inputs sit in
/// a label or, in older modals, in an action row).
fn find_text_input<'a>(component: &'a ModalInteractionComponent, id: &str) -> Option<&'a str> {
    match component {
        ModalInteractionComponent::TextInput(input) if input.custom_id == id => Some(&input.value),
        ModalInteractionComponent::Label(label) => find_text_input(&label.component, id),
        ModalInteractionComponent::ActionRow(row) => row
            .components
            .iter()
            .find_map(|component| find_text_input(component, id)),
        _ => None,
    }
}

/// Fills the fields listed in [`Interaction::from_json`] when they are
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
    if let Some(data) = top.get_mut("data").and_then(Value::as_object_mut) {
        match kind {
            Some(2 | 4) => fill(data, "type", json!(1)),
            Some(3) => fill(data, "component_type", json!(2)),
            Some(5) => {
                if let Some(components) = data.get_mut("components") {
                    fill_component_ids(components);
                }
            }
            _ => {}
        }
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
mod tests {
    use super::*;

    /// Parses a test body, failing the test with the SDK's message.
    fn parse(json: &str) -> Interaction {
        Interaction::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}: {json}"))
    }

    /// The guild slash command the host's tests send.
    const GUILD_COMMAND: &str = r#"{"type":2,"id":"1234","application_id":"5678","token":"tok","version":1,"data":{"id":"1","name":"ping","type":1},"member":{"user":{"id":"42","username":"alice","discriminator":"0","avatar":null},"roles":[],"joined_at":"2021-01-01T00:00:00.000000+00:00","deaf":false,"mute":false,"flags":0},"guild_id":"99","channel_id":"77","locale":"en-US","app_permissions":"0"}"#;

    #[test]
    fn guild_command() {
        let i = parse(GUILD_COMMAND);
        assert_eq!(i.kind(), InteractionType::ApplicationCommand);
        assert_eq!(i.id(), 1234);
        assert_eq!(i.application_id(), 5678);
        assert_eq!(i.token(), "tok");
        assert_eq!(i.command_name(), Some("ping"));
        assert_eq!(i.custom_id(), None);
        assert_eq!(i.user_id(), Some(42));
        assert_eq!(i.user_name(), Some("alice"));
        assert_eq!(i.display_name(), Some("alice"));
        assert_eq!(i.guild_id(), Some(99));
        assert_eq!(i.channel_id(), Some(77));
        assert_eq!(i.locale(), Some("en-US"));
        assert!(!i.is_dm());
        assert_eq!(i.option_bool("private"), None);
        assert!(i.options().is_empty());
    }

    #[test]
    fn minimal_command_in_a_dm() {
        let i = parse(
            r#"{"type":2,"id":"1","application_id":"2","token":"t","data":{"id":"3","name":"count"},"user":{"id":"42","username":"alice"}}"#,
        );
        assert_eq!(i.command_name(), Some("count"));
        assert_eq!(i.user_id(), Some(42));
        assert_eq!(i.display_name(), Some("alice"));
        assert_eq!(i.guild_id(), None);
        assert!(i.is_dm());
    }

    #[test]
    fn minimal_guild_member_needs_only_a_user() {
        let i = parse(
            r#"{"type":2,"id":"1","application_id":"2","token":"t","data":{"id":"3","name":"count"},"guild_id":"9","member":{"user":{"id":"42","username":"alice","global_name":"Alice"},"nick":null}}"#,
        );
        assert_eq!(i.user_id(), Some(42));
        assert_eq!(i.display_name(), Some("Alice"));
    }

    #[test]
    fn options_and_subcommands() {
        let i = parse(
            r#"{"type":2,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"data":{"id":"3","name":"todo","type":1,"options":[{"name":"add","type":1,"options":[{"name":"text","type":3,"value":"milk"},{"name":"n","type":4,"value":2},{"name":"urgent","type":5,"value":true},{"name":"who","type":6,"value":"42"},{"name":"x","type":10,"value":1.5}]}]}}"#,
        );
        assert_eq!(i.subcommand(), Some("add"));
        assert_eq!(i.option_str("text"), Some("milk"));
        assert_eq!(i.option_i64("n"), Some(2));
        assert_eq!(i.option_f64("n"), Some(2.0));
        assert_eq!(i.option_f64("x"), Some(1.5));
        assert_eq!(i.option_bool("urgent"), Some(true));
        assert_eq!(i.option_id("who"), Some(42));
        assert_eq!(i.option_str("n"), None);
        assert_eq!(i.option_str("missing"), None);
    }

    #[test]
    fn ping_private_option() {
        let i = parse(
            r#"{"type":2,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"data":{"id":"3","name":"ping","type":1,"options":[{"name":"private","type":5,"value":true}]}}"#,
        );
        assert_eq!(i.subcommand(), None);
        assert_eq!(i.option_bool("private"), Some(true));
    }

    #[test]
    fn autocomplete_focused_option() {
        let i = parse(
            r#"{"type":4,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"data":{"id":"3","name":"color","type":1,"options":[{"name":"name","type":3,"value":"re","focused":true}]}}"#,
        );
        assert_eq!(i.kind(), InteractionType::ApplicationCommandAutocomplete);
        assert_eq!(i.command_name(), Some("color"));
        assert_eq!(i.focused(), Some(("name", "re")));
        assert_eq!(i.option_str("name"), Some("re"));
    }

    #[test]
    fn minimal_component() {
        let i = parse(
            r#"{"type":3,"id":"1","application_id":"2","token":"t","channel_id":"77","user":{"id":"42","username":"a"},"data":{"custom_id":"again","component_type":2}}"#,
        );
        assert_eq!(i.kind(), InteractionType::MessageComponent);
        assert_eq!(i.custom_id(), Some("again"));
        assert_eq!(i.command_name(), None);
        assert!(i.values().is_empty());

        // A select menu, and a button without `component_type`.
        let select = parse(
            r#"{"type":3,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"data":{"custom_id":"pick","component_type":3,"values":["a","b"]}}"#,
        );
        assert_eq!(select.values(), ["a", "b"]);
        let bare = parse(
            r#"{"type":3,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"data":{"custom_id":"again"}}"#,
        );
        assert_eq!(bare.custom_id(), Some("again"));
    }

    #[test]
    fn modal_submissions_old_and_new_layout() {
        // Current layout: a label (type 18) around each text input (type 4).
        let labels = parse(
            r#"{"type":5,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"data":{"custom_id":"feedback","components":[{"type":18,"id":1,"component":{"type":4,"id":2,"custom_id":"topic","value":"bugs"}}]}}"#,
        );
        assert_eq!(labels.kind(), InteractionType::ModalSubmit);
        assert_eq!(labels.custom_id(), Some("feedback"));
        assert_eq!(labels.modal_value("topic"), Some("bugs"));
        assert_eq!(labels.modal_value("other"), None);

        // Older layout, without component ids: action rows (type 1).
        let rows = parse(
            r#"{"type":5,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"data":{"custom_id":"feedback","components":[{"type":1,"components":[{"type":4,"custom_id":"topic","value":"bugs"}]}]}}"#,
        );
        assert_eq!(rows.modal_value("topic"), Some("bugs"));
    }

    #[test]
    fn realistic_discord_payload() {
        // Shaped like what Discord sends today, including fields that twilight
        // does not model (they are ignored).
        let i = parse(
            r#"{
              "app_permissions": "562949953601536",
              "application_id": "1090000000000000000",
              "attachment_size_limit": 10485760,
              "authorizing_integration_owners": {"0": "1100000000000000000"},
              "channel": {"flags": 0, "guild_id": "1100000000000000000", "id": "1100000000000000001",
                          "last_message_id": "1200000000000000000", "name": "general", "nsfw": false,
                          "parent_id": "1100000000000000002", "permissions": "2251799813685247",
                          "position": 0, "rate_limit_per_user": 0, "topic": null, "type": 0},
              "channel_id": "1100000000000000001",
              "context": 0,
              "data": {"id": "1090000000000000001", "name": "ping", "type": 1,
                       "options": [{"name": "private", "type": 5, "value": true}]},
              "entitlement_sku_ids": [],
              "entitlements": [],
              "guild": {"features": ["COMMUNITY"], "id": "1100000000000000000", "locale": "en-US"},
              "guild_id": "1100000000000000000",
              "guild_locale": "en-US",
              "id": "1200000000000000001",
              "locale": "en-GB",
              "member": {"avatar": null, "banner": null, "communication_disabled_until": null,
                         "deaf": false, "flags": 0, "joined_at": "2023-01-01T00:00:00.000000+00:00",
                         "mute": false, "nick": "Ali", "pending": false,
                         "permissions": "2251799813685247", "premium_since": null,
                         "roles": ["1100000000000000003"], "unusual_dm_activity_until": null,
                         "user": {"avatar": "a_0123456789abcdef0123456789abcdef",
                                  "avatar_decoration_data": null, "clan": null, "collectibles": null,
                                  "discriminator": "0", "global_name": "Alice", "id": "42",
                                  "primary_guild": null, "public_flags": 0, "username": "alice"}},
              "token": "aW50ZXJhY3Rpb246MTIwMDAwMDAwMDAwMDAwMDAwMTp0b2tlbg",
              "type": 2,
              "version": 1
            }"#,
        );
        assert_eq!(i.command_name(), Some("ping"));
        assert_eq!(i.display_name(), Some("Ali"));
        assert_eq!(i.user_name(), Some("alice"));
        assert_eq!(i.channel_id(), Some(1_100_000_000_000_000_001));
        assert_eq!(i.option_bool("private"), Some(true));
        assert_eq!(i.twilight().attachment_size_limit, 10_485_760);
    }

    /// The smallest bodies the SDK accepts, one per interaction type; the
    /// host's tests and `appliance invoke` users can start from these.
    #[test]
    fn documented_minimal_bodies() {
        let bodies = [
            (
                r#"{"type":2,"id":"1","application_id":"2","token":"t","guild_id":"9","channel_id":"8","data":{"id":"3","name":"ping"},"member":{"user":{"id":"42","username":"alice"}}}"#,
                InteractionType::ApplicationCommand,
            ),
            (
                r#"{"type":2,"id":"1","application_id":"2","token":"t","data":{"id":"3","name":"ping"},"user":{"id":"42","username":"alice"}}"#,
                InteractionType::ApplicationCommand,
            ),
            (
                r#"{"type":4,"id":"1","application_id":"2","token":"t","data":{"id":"3","name":"ping","options":[{"name":"q","type":3,"value":"ab","focused":true}]},"user":{"id":"42","username":"alice"}}"#,
                InteractionType::ApplicationCommandAutocomplete,
            ),
            (
                r#"{"type":3,"id":"1","application_id":"2","token":"t","data":{"custom_id":"again","component_type":2},"user":{"id":"42","username":"alice"}}"#,
                InteractionType::MessageComponent,
            ),
            (
                r#"{"type":5,"id":"1","application_id":"2","token":"t","data":{"custom_id":"form","components":[{"type":18,"component":{"type":4,"custom_id":"topic","value":"bugs"}}]},"user":{"id":"42","username":"alice"}}"#,
                InteractionType::ModalSubmit,
            ),
        ];
        for (body, kind) in bodies {
            let i = parse(body);
            assert_eq!(i.kind(), kind, "{body}");
            assert_eq!(i.user_id(), Some(42), "{body}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let not_json = Interaction::from_json(b"{").unwrap_err();
        assert!(not_json.message().contains("not valid JSON"), "{not_json}");
        let no_token = Interaction::from_json(
            br#"{"type":2,"id":"1","application_id":"2","data":{"id":"3","name":"x"}}"#,
        )
        .unwrap_err();
        assert!(no_token.message().contains("token"), "{no_token}");
    }
}
