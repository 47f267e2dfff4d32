//! Builders for the interaction response a handler returns.

use twilight_model::application::command::{CommandOptionChoice, CommandOptionChoiceValue};
use twilight_model::channel::message::component::{
    ActionRow, Button, ButtonStyle, Label, TextInput, TextInputStyle,
};
use twilight_model::channel::message::{Component, Embed, MessageFlags};
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};

use crate::Result;

/// The answer to an interaction, serialized to the JSON Discord expects.
///
/// Start from a constructor that picks the response type, then refine it:
///
/// | constructor | Discord type | when |
/// |---|---|---|
/// | [`message`](Self::message) | 4 | reply with a new message |
/// | [`defer`](Self::defer) | 5 | "thinking...", reply later |
/// | [`defer_update`](Self::defer_update) | 6 | components: acknowledge, edit later |
/// | [`update_message`](Self::update_message) | 7 | components: edit the message the button is on |
/// | [`autocomplete`](Self::autocomplete) | 8 | suggestions for an autocomplete request |
/// | [`modal`](Self::modal) | 9 | open a form |
/// | [`pong`](Self::pong) | 1 | answer a ping (the host already does) |
///
/// ```
/// use appliance_sdk::Response;
///
/// let reply = Response::message("pong").ephemeral();
/// assert_eq!(
///     String::from_utf8(reply.to_json().unwrap()).unwrap(),
///     r#"{"type":4,"data":{"content":"pong","flags":64}}"#,
/// );
/// ```
///
/// Fields that are not set are left out of the JSON, never sent as `null`.
/// For anything the builders do not cover (allowed mentions, attachments,
/// polls, ...) use [`data_mut`](Self::data_mut) or build twilight's
/// [`InteractionResponse`] yourself and convert it with `Response::from`.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    inner: InteractionResponse,
}

impl Response {
    fn new(kind: InteractionResponseType, data: Option<InteractionResponseData>) -> Self {
        Self {
            inner: InteractionResponse { kind, data },
        }
    }

    /// Answers a ping (type 1). The host answers Discord's pings itself, so
    /// bots rarely need this.
    pub fn pong() -> Self {
        Self::new(InteractionResponseType::Pong, None)
    }

    /// Replies with a new message (type 4): `{"type":4,"data":{"content":..}}`.
    pub fn message(content: impl Into<String>) -> Self {
        Self::new(
            InteractionResponseType::ChannelMessageWithSource,
            Some(InteractionResponseData {
                content: Some(content.into()),
                ..Default::default()
            }),
        )
    }

    /// Shows "thinking..." and replies later (type 5). Add
    /// [`ephemeral`](Self::ephemeral) if the later reply should be ephemeral.
    ///
    /// Send it with [`Interaction::respond`](crate::Interaction::respond)
    /// and keep working: the [`message`](Self::message) the handler returns
    /// then replaces "thinking...". Returned from the handler instead, it
    /// ends the event with nothing more to come, so the user would be left
    /// with "thinking...". A bot that is merely slow can also just take its
    /// time: the host defers on its behalf at its deadline (public, since it
    /// cannot know better) and delivers the eventual answer the same way.
    pub fn defer() -> Self {
        Self::new(
            InteractionResponseType::DeferredChannelMessageWithSource,
            None,
        )
    }

    /// For components: acknowledges the press without changing anything yet
    /// (type 6).
    pub fn defer_update() -> Self {
        Self::new(InteractionResponseType::DeferredUpdateMessage, None)
    }

    /// For components: replaces the content of the message the component is
    /// on (type 7).
    pub fn update_message(content: impl Into<String>) -> Self {
        Self::new(
            InteractionResponseType::UpdateMessage,
            Some(InteractionResponseData {
                content: Some(content.into()),
                ..Default::default()
            }),
        )
    }

    /// Answers an autocomplete request with up to 25 `(name, value)` string
    /// choices (type 8). `name` is shown; `value` is what the option gets.
    ///
    /// For integer or number options use
    /// [`autocomplete_choices`](Self::autocomplete_choices).
    pub fn autocomplete<I, N, V>(choices: I) -> Self
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        Self::autocomplete_choices(
            choices
                .into_iter()
                .map(|(name, value)| CommandOptionChoice {
                    name: name.into(),
                    name_localizations: None,
                    value: CommandOptionChoiceValue::String(value.into()),
                }),
        )
    }

    /// Answers an autocomplete request with twilight choices of any value
    /// type (type 8).
    pub fn autocomplete_choices(choices: impl IntoIterator<Item = CommandOptionChoice>) -> Self {
        Self::new(
            InteractionResponseType::ApplicationCommandAutocompleteResult,
            Some(InteractionResponseData {
                choices: Some(choices.into_iter().collect()),
                ..Default::default()
            }),
        )
    }

    /// Opens a form (type 9). Its submission arrives as a modal-submit
    /// interaction with this `custom_id`; read the inputs with
    /// [`Interaction::modal_value`](crate::Interaction::modal_value).
    ///
    /// ```
    /// use appliance_sdk::{paragraph_input, text_input, Response};
    ///
    /// let form = Response::modal(
    ///     "feedback",
    ///     "Send feedback",
    ///     [text_input("topic", "Topic"), paragraph_input("body", "Your feedback")],
    /// );
    /// # let _ = form;
    /// ```
    pub fn modal(
        custom_id: impl Into<String>,
        title: impl Into<String>,
        components: impl IntoIterator<Item = Component>,
    ) -> Self {
        Self::new(
            InteractionResponseType::Modal,
            Some(InteractionResponseData {
                custom_id: Some(custom_id.into()),
                title: Some(title.into()),
                components: Some(components.into_iter().collect()),
                ..Default::default()
            }),
        )
    }

    /// Makes the message visible only to the user who triggered the
    /// interaction (`"flags":64`). Meaningful for [`message`](Self::message)
    /// and [`defer`](Self::defer).
    pub fn ephemeral(mut self) -> Self {
        let data = self.data_mut();
        data.flags = Some(data.flags.unwrap_or(MessageFlags::empty()) | MessageFlags::EPHEMERAL);
        self
    }

    /// Sets or replaces the message text.
    pub fn content(mut self, content: impl Into<String>) -> Self {
        self.data_mut().content = Some(content.into());
        self
    }

    /// Adds an embed (up to 10 per message); see [`embed`] for a starting
    /// point.
    pub fn embed(mut self, embed: Embed) -> Self {
        self.data_mut()
            .embeds
            .get_or_insert_with(Vec::new)
            .push(embed);
        self
    }

    /// Adds components (rows of buttons or select menus, see [`row`] and
    /// [`button`]) to the message.
    pub fn components(mut self, components: impl IntoIterator<Item = Component>) -> Self {
        self.data_mut()
            .components
            .get_or_insert_with(Vec::new)
            .extend(components);
        self
    }

    /// The response type.
    pub fn kind(&self) -> InteractionResponseType {
        self.inner.kind
    }

    /// The response's data, if it has any (types 5 and 6 usually do not).
    pub fn data(&self) -> Option<&InteractionResponseData> {
        self.inner.data.as_ref()
    }

    /// The response's data for arbitrary changes, created empty if missing.
    pub fn data_mut(&mut self) -> &mut InteractionResponseData {
        self.inner.data.get_or_insert_with(Default::default)
    }

    /// The underlying twilight model.
    pub fn twilight(&self) -> &InteractionResponse {
        &self.inner
    }

    /// Unwraps the underlying twilight model.
    pub fn into_twilight(self) -> InteractionResponse {
        self.inner
    }

    /// The JSON body Discord expects, e.g. `{"type":4,"data":{"content":"pong"}}`.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(&self.inner)?)
    }
}

impl From<InteractionResponse> for Response {
    fn from(inner: InteractionResponse) -> Self {
        Self { inner }
    }
}

/// A basic embed (a card with a title and a description) for
/// [`Response::embed`]. Set more fields on the returned value as needed.
pub fn embed(title: impl Into<String>, description: impl Into<String>) -> Embed {
    Embed {
        author: None,
        color: None,
        description: Some(description.into()),
        fields: Vec::new(),
        flags: None,
        footer: None,
        image: None,
        kind: "rich".to_owned(),
        provider: None,
        thumbnail: None,
        timestamp: None,
        title: Some(title.into()),
        url: None,
        video: None,
    }
}

/// A primary (blurple) button. Pressing it sends a component interaction with
/// this `custom_id`. Buttons must sit in a [`row`].
pub fn button(custom_id: impl Into<String>, label: impl Into<String>) -> Component {
    Component::Button(Button {
        custom_id: Some(custom_id.into()),
        disabled: false,
        emoji: None,
        id: None,
        label: Some(label.into()),
        sku_id: None,
        style: ButtonStyle::Primary,
        url: None,
    })
}

/// An action row: up to 5 buttons or one select menu, side by side.
pub fn row(components: impl IntoIterator<Item = Component>) -> Component {
    Component::ActionRow(ActionRow {
        components: components.into_iter().collect(),
        id: None,
    })
}

/// A one-line text field for a [`Response::modal`], with a label above it.
pub fn text_input(custom_id: impl Into<String>, label: impl Into<String>) -> Component {
    labeled_input(custom_id.into(), label.into(), TextInputStyle::Short)
}

/// A multi-line text field for a [`Response::modal`], with a label above it.
pub fn paragraph_input(custom_id: impl Into<String>, label: impl Into<String>) -> Component {
    labeled_input(custom_id.into(), label.into(), TextInputStyle::Paragraph)
}

/// Discord's current modal layout: a label component holding the input.
fn labeled_input(custom_id: String, label: String, style: TextInputStyle) -> Component {
    // `TextInput::label` is deprecated in favour of the `Label` wrapper.
    #[allow(deprecated)]
    let input = TextInput {
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
    Component::Label(Label {
        component: Box::new(Component::TextInput(input)),
        description: None,
        id: None,
        label,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serializes a response to a JSON string for exact comparison.
    fn json(response: &Response) -> String {
        String::from_utf8(response.to_json().unwrap()).unwrap()
    }

    #[test]
    fn message_types_serialize_like_discord_expects() {
        let cases = [
            (Response::pong(), r#"{"type":1}"#),
            (
                Response::message("pong"),
                r#"{"type":4,"data":{"content":"pong"}}"#,
            ),
            (
                Response::message("pong").ephemeral(),
                r#"{"type":4,"data":{"content":"pong","flags":64}}"#,
            ),
            (Response::defer(), r#"{"type":5}"#),
            (
                Response::defer().ephemeral(),
                r#"{"type":5,"data":{"flags":64}}"#,
            ),
            (Response::defer_update(), r#"{"type":6}"#),
            (
                Response::update_message("done"),
                r#"{"type":7,"data":{"content":"done"}}"#,
            ),
            (
                Response::message("a").content("b").ephemeral().ephemeral(),
                r#"{"type":4,"data":{"content":"b","flags":64}}"#,
            ),
        ];
        for (response, expected) in cases {
            assert_eq!(json(&response), expected);
        }
    }

    #[test]
    fn autocomplete_lists_string_choices() {
        let response = Response::autocomplete([("Red", "red"), ("Blue", "blue")]);
        assert_eq!(
            json(&response),
            r#"{"type":8,"data":{"choices":[{"name":"Red","value":"red"},{"name":"Blue","value":"blue"}]}}"#
        );
        let empty = Response::autocomplete(Vec::<(String, String)>::new());
        assert_eq!(json(&empty), r#"{"type":8,"data":{"choices":[]}}"#);
    }

    #[test]
    fn modal_uses_labels_around_text_inputs() {
        let response = Response::modal("feedback", "Send feedback", [text_input("topic", "Topic")]);
        assert_eq!(
            json(&response),
            r#"{"type":9,"data":{"components":[{"type":18,"label":"Topic","component":{"type":4,"custom_id":"topic","style":1}}],"custom_id":"feedback","title":"Send feedback"}}"#
        );
    }

    #[test]
    fn embeds_and_buttons_omit_unset_fields() {
        let response = Response::message("hi")
            .embed(embed("Title", "Body"))
            .components([row([button("again", "Again")])]);
        assert_eq!(
            json(&response),
            r#"{"type":4,"data":{"components":[{"type":1,"components":[{"type":2,"custom_id":"again","label":"Again","style":1}]}],"content":"hi","embeds":[{"description":"Body","type":"rich","title":"Title"}]}}"#
        );
    }
}
