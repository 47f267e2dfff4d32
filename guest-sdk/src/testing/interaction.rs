//! [`TestInteraction`]: interactions shaped the way Discord sends them.

use serde_json::{json, Map, Value};
use twilight_model::id::marker::{ChannelMarker, GenericMarker, RoleMarker, UserMarker};
use twilight_model::id::Id;

use super::{APPLICATION_ID, TOKEN};

/// The user an interaction comes from unless [`TestInteraction::user`]
/// says otherwise.
pub const USER_ID: u64 = 10;
/// That user's name.
pub const USER_NAME: &str = "tester";
/// The channel an interaction happens in unless
/// [`TestInteraction::channel`] says otherwise.
pub const CHANNEL_ID: u64 = 20;
/// The interaction's own ID unless [`TestInteraction::id`] says otherwise.
pub const INTERACTION_ID: u64 = 30;

/// An interaction for [`TestBot::run`](super::TestBot::run), built the way
/// Discord would send it: a slash command with options, a user or message
/// command, an autocomplete request, a button press, a select menu choice
/// or a modal submission.
///
/// By default it comes from user [`USER_ID`] ([`USER_NAME`]) in a direct
/// message (channel [`CHANNEL_ID`]), locale `en-US`; [`guild`](Self::guild)
/// moves it to a server (Discord then sends the user as `member.user`).
///
/// ```
/// use appliance_sdk::model::id::{marker::UserMarker, Id};
/// use appliance_sdk::testing::TestInteraction;
///
/// let remind = TestInteraction::command("remind")
///     .option("seconds", 5)
///     .option("text", "tea")
///     .option("private", true)
///     .user(42, "alice")
///     .guild(7);
/// let body = remind.json();
/// assert_eq!(body["type"], 2);
/// assert_eq!(body["data"]["options"][0]["value"], 5);
/// assert_eq!(body["member"]["user"]["username"], "alice");
///
/// // `/modlog words add word:Bad`, a group, a subcommand and an option:
/// let add = TestInteraction::command("modlog").subcommand("words").subcommand("add").option("word", "Bad");
/// assert_eq!(add.json()["data"]["options"][0]["options"][0]["options"][0]["value"], "Bad");
///
/// // A user option: its user is in `resolved` too.
/// let who = TestInteraction::command("hug").option("who", Id::<UserMarker>::new(5));
/// assert_eq!(who.json()["data"]["resolved"]["users"]["5"]["id"], "5");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use = "an interaction does nothing until a TestBot runs it"]
pub struct TestInteraction {
    kind: Kind,
    subcommands: Vec<String>,
    options: Vec<CommandOption>,
    user: (u64, String),
    guild: Option<u64>,
    channel: u64,
    locale: String,
    id: u64,
}

/// What kind of interaction, with what only that kind has.
#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Command(String),
    UserCommand(String, u64),
    MessageCommand(String, u64),
    Autocomplete(String),
    Button(String),
    Select(String, Vec<String>),
    Modal(String, Vec<(String, String)>),
    Raw(Value),
}

#[derive(Clone, Debug, PartialEq)]
struct CommandOption {
    name: String,
    value: OptionValue,
    focused: bool,
}

/// The value of a command option in a [`TestInteraction`]; its type picks
/// the option type Discord sends. Made with `into()` from `&str` and
/// `String` (string), `i64`, `i32` and `u32` (integer), `f64` (number),
/// `bool` (boolean), and `Id<UserMarker>`, `Id<ChannelMarker>`,
/// `Id<RoleMarker>` and `Id<GenericMarker>` (user, channel, role and
/// mentionable).
#[derive(Clone, Debug, PartialEq)]
pub struct OptionValue(Typed);

#[derive(Clone, Debug, PartialEq)]
enum Typed {
    String(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
    User(u64),
    Channel(u64),
    Role(u64),
    Mentionable(u64),
}

impl From<&str> for OptionValue {
    fn from(text: &str) -> Self {
        Self(Typed::String(text.to_owned()))
    }
}

impl From<String> for OptionValue {
    fn from(text: String) -> Self {
        Self(Typed::String(text))
    }
}

impl From<i64> for OptionValue {
    fn from(n: i64) -> Self {
        Self(Typed::Integer(n))
    }
}

impl From<i32> for OptionValue {
    fn from(n: i32) -> Self {
        Self(Typed::Integer(n.into()))
    }
}

impl From<u32> for OptionValue {
    fn from(n: u32) -> Self {
        Self(Typed::Integer(n.into()))
    }
}

impl From<f64> for OptionValue {
    fn from(n: f64) -> Self {
        Self(Typed::Number(n))
    }
}

impl From<bool> for OptionValue {
    fn from(b: bool) -> Self {
        Self(Typed::Boolean(b))
    }
}

impl From<Id<UserMarker>> for OptionValue {
    fn from(id: Id<UserMarker>) -> Self {
        Self(Typed::User(id.get()))
    }
}

impl From<Id<ChannelMarker>> for OptionValue {
    fn from(id: Id<ChannelMarker>) -> Self {
        Self(Typed::Channel(id.get()))
    }
}

impl From<Id<RoleMarker>> for OptionValue {
    fn from(id: Id<RoleMarker>) -> Self {
        Self(Typed::Role(id.get()))
    }
}

impl From<Id<GenericMarker>> for OptionValue {
    fn from(id: Id<GenericMarker>) -> Self {
        Self(Typed::Mentionable(id.get()))
    }
}

impl TestInteraction {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            subcommands: Vec::new(),
            options: Vec::new(),
            user: (USER_ID, USER_NAME.to_owned()),
            guild: None,
            channel: CHANNEL_ID,
            locale: "en-US".to_owned(),
            id: INTERACTION_ID,
        }
    }

    /// A slash command: `/name`. Add its options with
    /// [`option`](Self::option) and its subcommand with
    /// [`subcommand`](Self::subcommand).
    pub fn command(name: impl Into<String>) -> Self {
        Self::new(Kind::Command(name.into()))
    }

    /// A user command (right click on a user, Apps) called `name`, used on
    /// the user `target`.
    pub fn user_command(name: impl Into<String>, target: u64) -> Self {
        Self::new(Kind::UserCommand(name.into(), target))
    }

    /// A message command (right click on a message, Apps) called `name`,
    /// used on the message `target` (in the interaction's channel).
    pub fn message_command(name: impl Into<String>, target: u64) -> Self {
        Self::new(Kind::MessageCommand(name.into(), target))
    }

    /// An autocomplete request while the user types `partial` into `option`
    /// of `/command` (a string option). Options filled in already are
    /// added with [`option`](Self::option).
    pub fn autocomplete(
        command: impl Into<String>,
        option: impl Into<String>,
        partial: impl Into<String>,
    ) -> Self {
        let mut interaction = Self::new(Kind::Autocomplete(command.into()));
        interaction.options.push(CommandOption {
            name: option.into(),
            value: OptionValue(Typed::String(partial.into())),
            focused: true,
        });
        interaction
    }

    /// A press of the button with this `custom_id`.
    pub fn button(custom_id: impl Into<String>) -> Self {
        Self::new(Kind::Button(custom_id.into()))
    }

    /// A choice in the (string) select menu with this `custom_id`.
    pub fn select<V: Into<String>>(
        custom_id: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Self::new(Kind::Select(
            custom_id.into(),
            values.into_iter().map(Into::into).collect(),
        ))
    }

    /// The submission of the modal with this `custom_id`; add what was
    /// typed with [`field`](Self::field).
    pub fn modal(custom_id: impl Into<String>) -> Self {
        Self::new(Kind::Modal(custom_id.into(), Vec::new()))
    }

    /// Any interaction JSON, sent as it is (the builder's other settings
    /// are ignored): for shapes the builders do not make.
    pub fn raw(json: Value) -> Self {
        Self::new(Kind::Raw(json))
    }

    /// Adds a command option the user filled in. The value's Rust type
    /// picks the option type (see [`OptionValue`]).
    pub fn option(mut self, name: impl Into<String>, value: impl Into<OptionValue>) -> Self {
        self.options.push(CommandOption {
            name: name.into(),
            value: value.into(),
            focused: false,
        });
        self
    }

    /// Chooses a subcommand; called twice, the first is the subcommand
    /// group and the second the subcommand in it. Options go to the
    /// innermost one.
    pub fn subcommand(mut self, name: impl Into<String>) -> Self {
        self.subcommands.push(name.into());
        self
    }

    /// For a modal submission: the text typed into the text input with
    /// this `custom_id`.
    pub fn field(mut self, custom_id: impl Into<String>, value: impl Into<String>) -> Self {
        if let Kind::Modal(_, fields) = &mut self.kind {
            fields.push((custom_id.into(), value.into()));
        }
        self
    }

    /// The user who triggers the interaction.
    pub fn user(mut self, id: u64, name: impl Into<String>) -> Self {
        self.user = (id, name.into());
        self
    }

    /// Makes it happen in this server rather than in a direct message.
    pub fn guild(mut self, id: u64) -> Self {
        self.guild = Some(id);
        self
    }

    /// The channel it happens in.
    pub fn channel(mut self, id: u64) -> Self {
        self.channel = id;
        self
    }

    /// The user's language (`"en-US"` unless set).
    pub fn locale(mut self, locale: impl Into<String>) -> Self {
        self.locale = locale.into();
        self
    }

    /// The interaction's own ID.
    pub fn id(mut self, id: u64) -> Self {
        self.id = id;
        self
    }

    /// The interaction's JSON, as Discord would send it.
    pub fn json(&self) -> Value {
        let (kind, data) = match &self.kind {
            Kind::Raw(json) => return json.clone(),
            Kind::Command(name) => (2, self.command_data(name)),
            Kind::UserCommand(name, target) => (2, self.menu_data(name, 2, *target)),
            Kind::MessageCommand(name, target) => (2, self.menu_data(name, 3, *target)),
            Kind::Autocomplete(name) => (4, self.command_data(name)),
            Kind::Button(custom_id) => (
                3,
                json!({ "custom_id": custom_id, "component_type": 2, "values": [] }),
            ),
            Kind::Select(custom_id, values) => (
                3,
                json!({ "custom_id": custom_id, "component_type": 3, "values": values }),
            ),
            Kind::Modal(custom_id, fields) => (5, modal_data(custom_id, fields)),
        };
        let user = user_json(self.user.0, &self.user.1);
        let mut body = json!({
            "type": kind,
            "id": self.id.to_string(),
            "application_id": APPLICATION_ID.to_string(),
            "token": TOKEN,
            "version": 1,
            "data": data,
            "channel_id": self.channel.to_string(),
            "locale": self.locale,
            "entitlements": [],
            "attachment_size_limit": 10_485_760,
        });
        let object = body.as_object_mut().expect("built as an object");
        match self.guild {
            Some(guild) => {
                object.insert("guild_id".into(), json!(guild.to_string()));
                object.insert("guild_locale".into(), json!("en-US"));
                object.insert("context".into(), json!(0));
                object.insert(
                    "authorizing_integration_owners".into(),
                    json!({ "0": guild.to_string() }),
                );
                object.insert(
                    "channel".into(),
                    json!({ "id": self.channel.to_string(), "type": 0, "guild_id": guild.to_string(), "name": "general" }),
                );
                let mut member = member_json();
                member.insert("user".into(), user);
                object.insert("member".into(), Value::Object(member));
            }
            None => {
                object.insert("context".into(), json!(1));
                object.insert(
                    "authorizing_integration_owners".into(),
                    json!({ "1": self.user.0.to_string() }),
                );
                object.insert(
                    "channel".into(),
                    json!({ "id": self.channel.to_string(), "type": 1 }),
                );
                object.insert("user".into(), user);
            }
        }
        body
    }

    /// `data` of a command or autocomplete request: the options nested
    /// under any subcommands, and `resolved` for user, channel and role
    /// options.
    fn command_data(&self, name: &str) -> Value {
        let mut options: Vec<Value> = self.options.iter().map(option_json).collect();
        for (depth, sub) in self.subcommands.iter().enumerate().rev() {
            // The innermost is a subcommand (1), the one around it a group (2).
            let kind = if depth + 1 == self.subcommands.len() {
                1
            } else {
                2
            };
            options = vec![json!({ "name": sub, "type": kind, "options": options })];
        }
        let mut data = json!({
            "id": "40",
            "name": name,
            "type": 1,
            "options": options,
        });
        if let Some(resolved) = self.resolved() {
            data["resolved"] = resolved;
        }
        data
    }

    /// `data` of a user (2) or message (3) command used on `target`, with
    /// the target resolved.
    fn menu_data(&self, name: &str, kind: u8, target: u64) -> Value {
        let id = target.to_string();
        let resolved = if kind == 2 {
            json!({ "users": { id.clone(): user_json(target, &format!("user{target}")) } })
        } else {
            json!({ "messages": { id.clone(): message_json(target, self.channel, self.guild) } })
        };
        json!({ "id": "40", "name": name, "type": kind, "target_id": id, "resolved": resolved })
    }

    /// The users, channels and roles the options name, as Discord resolves
    /// them.
    fn resolved(&self) -> Option<Value> {
        let mut users = Map::new();
        let mut members = Map::new();
        let mut channels = Map::new();
        let mut roles = Map::new();
        for option in &self.options {
            match option.value.0 {
                Typed::User(id) | Typed::Mentionable(id) => {
                    users.insert(id.to_string(), user_json(id, &format!("user{id}")));
                    if self.guild.is_some() {
                        members.insert(id.to_string(), Value::Object(member_json()));
                    }
                }
                Typed::Channel(id) => {
                    channels.insert(
                        id.to_string(),
                        json!({ "id": id.to_string(), "name": format!("channel-{id}"), "type": 0, "permissions": "0" }),
                    );
                }
                Typed::Role(id) => {
                    roles.insert(
                        id.to_string(),
                        json!({
                            "id": id.to_string(), "name": format!("role-{id}"), "color": 0,
                            "colors": { "primary_color": 0 }, "hoist": false, "managed": false,
                            "mentionable": false, "permissions": "0", "position": 1, "flags": 0,
                        }),
                    );
                }
                _ => {}
            }
        }
        let mut resolved = Map::new();
        for (key, map) in [
            ("users", users),
            ("members", members),
            ("channels", channels),
            ("roles", roles),
        ] {
            if !map.is_empty() {
                resolved.insert(key.into(), Value::Object(map));
            }
        }
        (!resolved.is_empty()).then_some(Value::Object(resolved))
    }
}

/// One option as Discord sends it: name, type and value.
fn option_json(option: &CommandOption) -> Value {
    let (kind, value) = match &option.value.0 {
        Typed::String(text) => (3, json!(text)),
        Typed::Integer(n) => (4, json!(n)),
        Typed::Boolean(b) => (5, json!(b)),
        Typed::User(id) => (6, json!(id.to_string())),
        Typed::Channel(id) => (7, json!(id.to_string())),
        Typed::Role(id) => (8, json!(id.to_string())),
        Typed::Mentionable(id) => (9, json!(id.to_string())),
        Typed::Number(n) => (10, json!(n)),
    };
    let mut json = json!({ "name": option.name, "type": kind, "value": value });
    if option.focused {
        json["focused"] = json!(true);
    }
    json
}

/// A modal submission's `data`: each field a text input in a label, the
/// current layout.
fn modal_data(custom_id: &str, fields: &[(String, String)]) -> Value {
    let components: Vec<Value> = (1..)
        .step_by(2)
        .zip(fields)
        .map(|(id, (field, value))| {
            json!({
                "type": 18, "id": id,
                "component": { "type": 4, "id": id + 1, "custom_id": field, "value": value },
            })
        })
        .collect();
    json!({ "custom_id": custom_id, "components": components })
}

/// A message by user 99 saying "hello", as a message command resolves it.
fn message_json(id: u64, channel: u64, guild: Option<u64>) -> Value {
    let mut message = json!({
        "id": id.to_string(), "channel_id": channel.to_string(),
        "author": user_json(99, "user99"), "content": "hello",
        "timestamp": "2024-01-01T00:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false, "type": 0,
    });
    if let Some(guild) = guild {
        message["guild_id"] = json!(guild.to_string());
    }
    message
}

fn user_json(id: u64, name: &str) -> Value {
    json!({
        "id": id.to_string(),
        "username": name,
        "global_name": null,
        "discriminator": "0",
        "avatar": null,
        "public_flags": 0,
    })
}

/// A guild member's fields besides `user`.
fn member_json() -> Map<String, Value> {
    let member = json!({
        "roles": [],
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "nick": null,
        "avatar": null,
        "permissions": "2248473465835073",
    });
    match member {
        Value::Object(map) => map,
        _ => unreachable!("built as an object"),
    }
}

#[cfg(test)]
mod tests {
    use twilight_model::application::command::CommandType;
    use twilight_model::application::interaction::application_command::CommandOptionValue;
    use twilight_model::application::interaction::modal::ModalInteractionComponent;
    use twilight_model::application::interaction::{Interaction, InteractionData, InteractionType};

    use super::*;

    /// Parses the builder's JSON with twilight, as strictly as it reads
    /// Discord's own payloads (no defaults filled in).
    fn parse(interaction: &TestInteraction) -> Interaction {
        let json = interaction.json();
        serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{e}: {json:#}"))
    }

    fn command_data(
        interaction: &Interaction,
    ) -> &twilight_model::application::interaction::application_command::CommandData {
        match &interaction.data {
            Some(InteractionData::ApplicationCommand(data)) => data,
            other => panic!("not a command: {other:?}"),
        }
    }

    #[test]
    fn commands_in_a_dm_and_in_a_guild() {
        let dm = parse(&TestInteraction::command("ping").user(42, "alice"));
        assert_eq!(dm.kind, InteractionType::ApplicationCommand);
        assert_eq!(dm.author_id().map(Id::get), Some(42));
        assert!(dm.member.is_none() && dm.guild_id.is_none());
        assert_eq!(dm.application_id.get(), APPLICATION_ID);
        assert_eq!(dm.token, TOKEN);

        let guild = parse(
            &TestInteraction::command("ping")
                .guild(7)
                .channel(8)
                .locale("fr"),
        );
        assert_eq!(guild.guild_id.map(Id::get), Some(7));
        assert_eq!(
            guild.member.as_ref().unwrap().user.as_ref().unwrap().name,
            USER_NAME
        );
        assert!(guild.user.is_none());
        #[allow(deprecated)]
        let channel = guild.channel_id;
        assert_eq!(channel.map(Id::get), Some(8));
        assert_eq!(guild.locale.as_deref(), Some("fr"));
    }

    #[test]
    fn options_of_every_type_with_resolved_data() {
        let interaction = parse(
            &TestInteraction::command("all")
                .guild(1)
                .option("s", "text")
                .option("i", 5)
                .option("n", 1.5)
                .option("b", true)
                .option("u", Id::<UserMarker>::new(11))
                .option("c", Id::<ChannelMarker>::new(12))
                .option("r", Id::<RoleMarker>::new(13))
                .option("m", Id::<GenericMarker>::new(14)),
        );
        let data = command_data(&interaction);
        let values: Vec<_> = data.options.iter().map(|o| o.value.clone()).collect();
        assert_eq!(
            values,
            [
                CommandOptionValue::String("text".into()),
                CommandOptionValue::Integer(5),
                CommandOptionValue::Number(1.5),
                CommandOptionValue::Boolean(true),
                CommandOptionValue::User(Id::new(11)),
                CommandOptionValue::Channel(Id::new(12)),
                CommandOptionValue::Role(Id::new(13)),
                CommandOptionValue::Mentionable(Id::new(14)),
            ]
        );
        let resolved = data.resolved.as_ref().unwrap();
        assert!(resolved.users.contains_key(&Id::new(11)));
        assert!(resolved.members.contains_key(&Id::new(11)));
        assert!(resolved.channels.contains_key(&Id::new(12)));
        assert!(resolved.roles.contains_key(&Id::new(13)));
    }

    #[test]
    fn subcommands_nest_the_options() {
        let interaction = parse(
            &TestInteraction::command("modlog")
                .subcommand("words")
                .subcommand("add")
                .option("word", "bad"),
        );
        let data = command_data(&interaction);
        let CommandOptionValue::SubCommandGroup(group) = &data.options[0].value else {
            panic!("{:?}", data.options)
        };
        assert_eq!(data.options[0].name, "words");
        let CommandOptionValue::SubCommand(sub) = &group[0].value else {
            panic!("{group:?}")
        };
        assert_eq!(group[0].name, "add");
        assert_eq!(sub[0].value, CommandOptionValue::String("bad".into()));

        let single = parse(&TestInteraction::command("modlog").subcommand("channel"));
        assert!(matches!(
            command_data(&single).options[0].value,
            CommandOptionValue::SubCommand(_)
        ));
    }

    #[test]
    fn user_and_message_commands_resolve_their_target() {
        let user = parse(&TestInteraction::user_command("Hug", 5));
        let data = command_data(&user);
        assert_eq!(data.kind, CommandType::User);
        assert_eq!(data.target_id.map(Id::get), Some(5));
        assert!(data
            .resolved
            .as_ref()
            .unwrap()
            .users
            .contains_key(&Id::new(5)));

        let message = parse(&TestInteraction::message_command("Report", 6).guild(1));
        let data = command_data(&message);
        assert_eq!(data.kind, CommandType::Message);
        assert_eq!(data.target_id.map(Id::get), Some(6));
        let resolved = data.resolved.as_ref().unwrap();
        assert_eq!(resolved.messages[&Id::new(6)].content, "hello");
    }

    #[test]
    fn autocomplete_has_a_focused_option() {
        let interaction =
            parse(&TestInteraction::autocomplete("remind", "text", "te").option("seconds", 3));
        assert_eq!(
            interaction.kind,
            InteractionType::ApplicationCommandAutocomplete
        );
        let data = command_data(&interaction);
        assert!(matches!(
            &data.options[0].value,
            CommandOptionValue::Focused(text, _) if text == "te"
        ));
        assert_eq!(data.options[1].value, CommandOptionValue::Integer(3));
    }

    #[test]
    fn components_and_modals() {
        let button = parse(&TestInteraction::button("vote:yes"));
        let Some(InteractionData::MessageComponent(data)) = &button.data else {
            panic!("{button:?}")
        };
        assert_eq!(data.custom_id, "vote:yes");
        assert!(data.values.is_empty());

        let select = parse(&TestInteraction::select("menu", ["a", "b"]));
        let Some(InteractionData::MessageComponent(data)) = &select.data else {
            panic!("{select:?}")
        };
        assert_eq!(data.values, ["a", "b"]);

        let modal = parse(
            &TestInteraction::modal("feedback")
                .field("topic", "bugs")
                .field("body", "many"),
        );
        let Some(InteractionData::ModalSubmit(data)) = &modal.data else {
            panic!("{modal:?}")
        };
        assert_eq!(data.custom_id, "feedback");
        let texts: Vec<_> = data
            .components
            .iter()
            .map(|component| match component {
                ModalInteractionComponent::Label(label) => match &*label.component {
                    ModalInteractionComponent::TextInput(input) => {
                        (input.custom_id.as_str(), input.value.as_str())
                    }
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(texts, [("topic", "bugs"), ("body", "many")]);
    }
}
