//! Message and modal components: [`Button`], [`SelectMenu`], [`TextInput`]
//! and the [`row`] that holds them.
//!
//! Each builder turns into twilight's
//! [`Component`](twilight_model::channel::message::Component) with `into()`,
//! so anything built by hand with [`model`](crate::model) mixes with them.

use twilight_model::channel::message::component::{
    ActionRow, Button as TwilightButton, ButtonStyle, Label, SelectDefaultValue,
    SelectMenu as TwilightSelectMenu, SelectMenuOption, SelectMenuType,
    TextInput as TwilightTextInput, TextInputStyle,
};
use twilight_model::channel::message::{Component, EmojiReactionType};
use twilight_model::channel::ChannelType;
use twilight_model::id::marker::{EmojiMarker, SkuMarker};
use twilight_model::id::Id;

/// An action row: up to five buttons, or one select menu, side by side.
/// A message has up to five rows.
///
/// ```
/// use appliance_sdk::{row, Button, Response};
///
/// let buttons = row([Button::success("go:yes", "Yes"), Button::danger("go:no", "No")]);
/// let reply = Response::message("Ready?").with_components([buttons]);
/// // The same, in one step:
/// let same = Response::message("Ready?")
///     .row([Button::success("go:yes", "Yes"), Button::danger("go:no", "No")]);
/// assert_eq!(reply, same);
/// ```
pub fn row<C: Into<Component>>(components: impl IntoIterator<Item = C>) -> Component {
    Component::ActionRow(ActionRow {
        components: components.into_iter().map(Into::into).collect(),
        id: None,
    })
}

/// A button. Pressing one with a `custom_id` sends the bot a component
/// interaction with it (route it with a custom_id prefix); a link button
/// opens its URL and sends nothing.
///
/// ```
/// use appliance_sdk::Button;
///
/// let vote = Button::primary("vote:yes", "Yes").emoji("👍");
/// let off = Button::secondary("vote:closed", "Closed").disabled(true);
/// let docs = Button::link("https://discord.com/developers/docs", "Docs");
/// # let _ = (vote, off, docs);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a button does nothing until it is put in a row"]
pub struct Button {
    inner: TwilightButton,
}

impl Button {
    fn new(style: ButtonStyle, label: String) -> Self {
        Self {
            inner: TwilightButton {
                custom_id: None,
                disabled: false,
                emoji: None,
                id: None,
                label: (!label.is_empty()).then_some(label),
                sku_id: None,
                style,
                url: None,
            },
        }
    }

    fn with_id(style: ButtonStyle, custom_id: String, label: String) -> Self {
        let mut button = Self::new(style, label);
        button.inner.custom_id = Some(custom_id);
        button
    }

    /// A blurple button, for the main action. An empty `label` leaves the
    /// label out (for an emoji-only button).
    pub fn primary(custom_id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::with_id(ButtonStyle::Primary, custom_id.into(), label.into())
    }

    /// A grey button.
    pub fn secondary(custom_id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::with_id(ButtonStyle::Secondary, custom_id.into(), label.into())
    }

    /// A green button.
    pub fn success(custom_id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::with_id(ButtonStyle::Success, custom_id.into(), label.into())
    }

    /// A red button, for destructive actions.
    pub fn danger(custom_id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::with_id(ButtonStyle::Danger, custom_id.into(), label.into())
    }

    /// A grey button that opens `url`; pressing it sends the bot nothing.
    pub fn link(url: impl Into<String>, label: impl Into<String>) -> Self {
        let mut button = Self::new(ButtonStyle::Link, label.into());
        button.inner.url = Some(url.into());
        button
    }

    /// A button that offers the app's SKU for purchase; Discord draws it
    /// (no label, no emoji).
    pub fn premium(sku_id: Id<SkuMarker>) -> Self {
        let mut button = Self::new(ButtonStyle::Premium, String::new());
        button.inner.sku_id = Some(sku_id);
        button
    }

    /// A Unicode emoji before the label (`"👍"`, not `":thumbsup:"`).
    pub fn emoji(mut self, emoji: impl Into<String>) -> Self {
        self.inner.emoji = Some(EmojiReactionType::Unicode { name: emoji.into() });
        self
    }

    /// One of a server's custom emoji before the label.
    pub fn custom_emoji(mut self, id: Id<EmojiMarker>, name: impl Into<String>) -> Self {
        self.inner.emoji = Some(EmojiReactionType::Custom {
            animated: false,
            id,
            name: Some(name.into()),
        });
        self
    }

    /// Greys the button out so it cannot be pressed.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.inner.disabled = disabled;
        self
    }

    /// The twilight model this builds.
    pub fn build(self) -> TwilightButton {
        self.inner
    }
}

impl From<Button> for Component {
    fn from(button: Button) -> Self {
        Component::Button(button.inner)
    }
}

/// A select menu (dropdown): a list of strings the bot offers, or Discord's
/// own pickers of users, roles, mentionables or channels. The choice
/// arrives as a component interaction whose
/// [`values`](crate::Interaction::values) are the chosen option values (or
/// IDs). A select menu fills a [`row`] on its own.
///
/// ```
/// use appliance_sdk::{Response, SelectMenu, SelectOption};
/// use appliance_sdk::model::channel::ChannelType;
///
/// let colour = SelectMenu::string("colour")
///     .placeholder("Pick a colour")
///     .option("Red", "red")
///     .option_with(SelectOption::new("Blue", "blue").description("The sea").emoji("🌊").default(true))
///     .max_values(2);
/// let where_to = SelectMenu::channel("log-channel").channel_types([ChannelType::GuildText]);
/// let who = SelectMenu::user("invite").min_values(1).max_values(5);
/// let reply = Response::message("Settings").row([colour]).row([where_to]).row([who]);
/// assert_eq!(reply.components().len(), 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a select menu does nothing until it is put in a row"]
pub struct SelectMenu {
    inner: TwilightSelectMenu,
}

impl SelectMenu {
    fn new(kind: SelectMenuType, custom_id: String) -> Self {
        Self {
            inner: TwilightSelectMenu {
                channel_types: None,
                custom_id,
                default_values: None,
                disabled: false,
                id: None,
                kind,
                max_values: None,
                min_values: None,
                options: None,
                placeholder: None,
                required: None,
            },
        }
    }

    /// A menu of the bot's own options (add them with
    /// [`option`](Self::option); 1 to 25).
    pub fn string(custom_id: impl Into<String>) -> Self {
        let mut menu = Self::new(SelectMenuType::Text, custom_id.into());
        menu.inner.options = Some(Vec::new());
        menu
    }

    /// A picker of the server's members (or the DM's users).
    pub fn user(custom_id: impl Into<String>) -> Self {
        Self::new(SelectMenuType::User, custom_id.into())
    }

    /// A picker of the server's roles.
    pub fn role(custom_id: impl Into<String>) -> Self {
        Self::new(SelectMenuType::Role, custom_id.into())
    }

    /// A picker of users and roles together.
    pub fn mentionable(custom_id: impl Into<String>) -> Self {
        Self::new(SelectMenuType::Mentionable, custom_id.into())
    }

    /// A picker of the server's channels; narrow it with
    /// [`channel_types`](Self::channel_types).
    pub fn channel(custom_id: impl Into<String>) -> Self {
        Self::new(SelectMenuType::Channel, custom_id.into())
    }

    /// Adds an option to a [`string`](Self::string) menu: `label` is shown,
    /// `value` is what the bot receives.
    pub fn option(self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.option_with(SelectOption::new(label, value))
    }

    /// Adds an option with a description, emoji or pre-selection.
    pub fn option_with(mut self, option: SelectOption) -> Self {
        self.inner
            .options
            .get_or_insert_with(Vec::new)
            .push(option.inner);
        self
    }

    /// Which kinds of channel a [`channel`](Self::channel) menu offers.
    pub fn channel_types(mut self, types: impl IntoIterator<Item = ChannelType>) -> Self {
        self.inner.channel_types = Some(types.into_iter().collect());
        self
    }

    /// Users, roles or channels chosen before the user opens a picker
    /// (not for [`string`](Self::string) menus: use
    /// [`SelectOption::default`] there).
    pub fn default_values(mut self, values: impl IntoIterator<Item = SelectDefaultValue>) -> Self {
        self.inner.default_values = Some(values.into_iter().collect());
        self
    }

    /// The fewest choices the user must make (0 to 25; Discord's default 1).
    pub fn min_values(mut self, min: u8) -> Self {
        self.inner.min_values = Some(min);
        self
    }

    /// The most choices the user may make (1 to 25; Discord's default 1).
    pub fn max_values(mut self, max: u8) -> Self {
        self.inner.max_values = Some(max);
        self
    }

    /// The grey text shown while nothing is chosen.
    pub fn placeholder(mut self, text: impl Into<String>) -> Self {
        self.inner.placeholder = Some(text.into());
        self
    }

    /// Greys the menu out.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.inner.disabled = disabled;
        self
    }

    /// The twilight model this builds.
    pub fn build(self) -> TwilightSelectMenu {
        self.inner
    }
}

impl From<SelectMenu> for Component {
    fn from(menu: SelectMenu) -> Self {
        Component::SelectMenu(menu.inner)
    }
}

/// One option of a [`SelectMenu::string`] menu.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "an option does nothing until it is added to a select menu"]
pub struct SelectOption {
    inner: SelectMenuOption,
}

impl SelectOption {
    /// An option showing `label` whose choice sends `value`.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            inner: SelectMenuOption {
                default: false,
                description: None,
                emoji: None,
                label: label.into(),
                value: value.into(),
            },
        }
    }

    /// A second, smaller line under the label.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.inner.description = Some(text.into());
        self
    }

    /// A Unicode emoji before the label.
    pub fn emoji(mut self, emoji: impl Into<String>) -> Self {
        self.inner.emoji = Some(EmojiReactionType::Unicode { name: emoji.into() });
        self
    }

    /// Whether the option is chosen before the user opens the menu.
    pub fn default(mut self, selected: bool) -> Self {
        self.inner.default = selected;
        self
    }
}

/// A text field in a [`Response::modal`](crate::Response::modal), with its
/// label above it. The submitted text is read with
/// [`Interaction::modal_value`](crate::Interaction::modal_value) and the
/// field's `custom_id`.
///
/// ```
/// use appliance_sdk::{Response, TextInput};
///
/// let form = Response::modal("feedback", "Send feedback", [
///     TextInput::short("topic", "Topic").placeholder("What is it about?").max_length(80),
///     TextInput::paragraph("body", "Your feedback").min_length(10).required(true),
///     TextInput::short("email", "Email (optional)").required(false).value("me@example.com"),
/// ]);
/// assert_eq!(form.components().len(), 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a text input does nothing until it is added to a modal"]
pub struct TextInput {
    input: TwilightTextInput,
    label: String,
    description: Option<String>,
}

impl TextInput {
    fn new(style: TextInputStyle, custom_id: String, label: String) -> Self {
        // `TextInput::label` is deprecated in favour of the `Label` wrapper,
        // which `From<TextInput> for Component` builds.
        #[allow(deprecated)]
        let input = TwilightTextInput {
            custom_id,
            id: None,
            label: None,
            max_length: None,
            min_length: None,
            placeholder: None,
            required: None,
            style,
            value: None,
        };
        Self {
            input,
            label,
            description: None,
        }
    }

    /// A one-line field.
    pub fn short(custom_id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::new(TextInputStyle::Short, custom_id.into(), label.into())
    }

    /// A multi-line field.
    pub fn paragraph(custom_id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::new(TextInputStyle::Paragraph, custom_id.into(), label.into())
    }

    /// Whether the form can be sent with the field empty (Discord's default:
    /// required).
    pub fn required(mut self, required: bool) -> Self {
        self.input.required = Some(required);
        self
    }

    /// The fewest characters accepted (0 to 4000).
    pub fn min_length(mut self, min: u16) -> Self {
        self.input.min_length = Some(min);
        self
    }

    /// The most characters accepted (1 to 4000).
    pub fn max_length(mut self, max: u16) -> Self {
        self.input.max_length = Some(max);
        self
    }

    /// Text already in the field when the form opens.
    pub fn value(mut self, text: impl Into<String>) -> Self {
        self.input.value = Some(text.into());
        self
    }

    /// Grey text shown while the field is empty.
    pub fn placeholder(mut self, text: impl Into<String>) -> Self {
        self.input.placeholder = Some(text.into());
        self
    }

    /// A smaller line under the label.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }
}

/// Discord's current modal layout: a label component around the input.
impl From<TextInput> for Component {
    fn from(input: TextInput) -> Self {
        Component::Label(Label {
            component: Box::new(Component::TextInput(input.input)),
            description: input.description,
            id: None,
            label: input.label,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, to_value, Value};

    use super::*;

    fn value(component: impl Into<Component>) -> Value {
        to_value(component.into()).unwrap()
    }

    #[test]
    fn buttons_of_every_style() {
        assert_eq!(
            value(row([
                Button::primary("a", "A"),
                Button::secondary("b", "B"),
                Button::success("c", "C"),
                Button::danger("d", "").emoji("🗑️").disabled(true),
            ])),
            json!({"type": 1, "components": [
                {"type": 2, "custom_id": "a", "label": "A", "style": 1},
                {"type": 2, "custom_id": "b", "label": "B", "style": 2},
                {"type": 2, "custom_id": "c", "label": "C", "style": 3},
                {"type": 2, "custom_id": "d", "disabled": true, "emoji": {"name": "🗑️"}, "style": 4},
            ]})
        );
        assert_eq!(
            value(Button::link("https://x", "X")),
            json!({"type": 2, "label": "X", "style": 5, "url": "https://x"})
        );
        assert_eq!(
            value(Button::premium(Id::new(7))),
            json!({"type": 2, "sku_id": "7", "style": 6})
        );
        assert_eq!(
            value(Button::primary("e", "E").custom_emoji(Id::new(9), "party")),
            json!({"type": 2, "custom_id": "e", "emoji": {"animated": false, "id": "9", "name": "party"}, "label": "E", "style": 1})
        );
    }

    #[test]
    fn select_menus_of_every_kind() {
        assert_eq!(
            value(
                SelectMenu::string("s")
                    .option("A", "a")
                    .option_with(
                        SelectOption::new("B", "b")
                            .description("bee")
                            .emoji("🐝")
                            .default(true)
                    )
                    .placeholder("pick")
                    .min_values(0)
                    .max_values(2)
            ),
            json!({"type": 3, "custom_id": "s", "disabled": false, "max_values": 2, "min_values": 0, "placeholder": "pick",
            "options": [
                {"default": false, "label": "A", "value": "a"},
                {"default": true, "description": "bee", "emoji": {"name": "🐝"}, "label": "B", "value": "b"}
            ]})
        );
        assert_eq!(
            value(
                SelectMenu::channel("c")
                    .channel_types([ChannelType::GuildText, ChannelType::GuildVoice])
            ),
            json!({"type": 8, "custom_id": "c", "disabled": false, "channel_types": [0, 2]})
        );
        assert_eq!(
            value(SelectMenu::user("u").default_values([SelectDefaultValue::User(Id::new(42))])),
            json!({"type": 5, "custom_id": "u", "disabled": false, "default_values": [{"type": "user", "id": "42"}]})
        );
        assert_eq!(
            value(SelectMenu::role("r").disabled(true)),
            json!({"type": 6, "custom_id": "r", "disabled": true})
        );
        assert_eq!(
            value(SelectMenu::mentionable("m")),
            json!({"type": 7, "custom_id": "m", "disabled": false})
        );
    }

    #[test]
    fn text_inputs_sit_in_labels() {
        assert_eq!(
            value(
                TextInput::paragraph("body", "Body")
                    .description("Be kind")
                    .required(false)
                    .min_length(1)
                    .max_length(500)
                    .value("hi")
                    .placeholder("...")
            ),
            json!({"type": 18, "label": "Body", "description": "Be kind", "component": {
                "type": 4, "custom_id": "body", "style": 2, "required": false, "min_length": 1,
                "max_length": 500, "value": "hi", "placeholder": "..."
            }})
        );
        assert_eq!(
            value(TextInput::short("t", "T")),
            json!({"type": 18, "label": "T", "component": {"type": 4, "custom_id": "t", "style": 1}})
        );
    }
}
