//! The interaction response a handler returns, and the builders for what
//! goes in it: [`Embed`], [`Button`], [`SelectMenu`], [`TextInput`] and
//! [`row`].

mod components;
mod embed;

pub use components::{row, Button, SelectMenu, SelectOption, TextInput};
pub use embed::Embed;

use twilight_model::application::command::{CommandOptionChoice, CommandOptionChoiceValue};
use twilight_model::channel::message::{
    AllowedMentions, Component, Embed as TwilightEmbed, MessageFlags,
};
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
    /// Send it with [`Interaction::defer`](crate::Interaction::defer) (which
    /// is `reply(Response::defer())`) and keep working: the [`message`](Self::message) the handler returns
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

    /// Opens a form (type 9) with up to five [`TextInput`]s. Its
    /// submission arrives as a modal-submit interaction with this
    /// `custom_id`; read the inputs with
    /// [`Interaction::modal_value`](crate::Interaction::modal_value).
    ///
    /// ```
    /// use appliance_sdk::{Response, TextInput};
    ///
    /// let form = Response::modal(
    ///     "feedback",
    ///     "Send feedback",
    ///     [TextInput::short("topic", "Topic"), TextInput::paragraph("body", "Your feedback")],
    /// );
    /// assert_eq!(form.custom_id(), Some("feedback"));
    /// ```
    pub fn modal<C: Into<Component>>(
        custom_id: impl Into<String>,
        title: impl Into<String>,
        components: impl IntoIterator<Item = C>,
    ) -> Self {
        Self::new(
            InteractionResponseType::Modal,
            Some(InteractionResponseData {
                custom_id: Some(custom_id.into()),
                title: Some(title.into()),
                components: Some(components.into_iter().map(Into::into).collect()),
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
    pub fn with_content(mut self, content: impl Into<String>) -> Self {
        self.data_mut().content = Some(content.into());
        self
    }

    /// Adds an embed (up to 10 a message): an [`Embed`], or twilight's
    /// model of one.
    pub fn embed(mut self, embed: impl Into<TwilightEmbed>) -> Self {
        self.data_mut()
            .embeds
            .get_or_insert_with(Vec::new)
            .push(embed.into());
        self
    }

    /// Who the message may ping. Without this, Discord pings everyone the
    /// text mentions; `AllowedMentions::default()` pings nobody, and
    /// `parse: vec![MentionType::Users]` only the users it mentions.
    ///
    /// ```
    /// use appliance_sdk::model::channel::message::{AllowedMentions, MentionType};
    /// use appliance_sdk::Response;
    ///
    /// let quiet = Response::message("<@42> was warned").allowed_mentions(AllowedMentions::default());
    /// assert_eq!(
    ///     String::from_utf8(quiet.to_json().unwrap()).unwrap(),
    ///     r#"{"type":4,"data":{"allowed_mentions":{"parse":[]},"content":"<@42> was warned"}}"#,
    /// );
    /// let greeting = Response::message("Welcome, <@42>!").allowed_mentions(AllowedMentions {
    ///     parse: vec![MentionType::Users],
    ///     ..AllowedMentions::default()
    /// });
    /// # let _ = greeting;
    /// ```
    pub fn allowed_mentions(mut self, allowed: AllowedMentions) -> Self {
        self.data_mut().allowed_mentions = Some(allowed);
        self
    }

    /// Adds one action row (up to five a message) holding these buttons,
    /// or one select menu: `.row([Button::primary("again", "Again")])`.
    pub fn row<C: Into<Component>>(self, components: impl IntoIterator<Item = C>) -> Self {
        self.with_components([row(components)])
    }

    /// Adds top-level components: [`row`]s of buttons or select menus, or
    /// any twilight [`Component`].
    pub fn with_components<C: Into<Component>>(
        mut self,
        components: impl IntoIterator<Item = C>,
    ) -> Self {
        self.data_mut()
            .components
            .get_or_insert_with(Vec::new)
            .extend(components.into_iter().map(Into::into));
        self
    }

    // --- reading it back (for tests) ------------------------------------

    /// The response type.
    pub fn kind(&self) -> InteractionResponseType {
        self.inner.kind
    }

    /// The message text, if it has one.
    pub fn content(&self) -> Option<&str> {
        self.data()?.content.as_deref()
    }

    /// The message's embeds (empty if none).
    pub fn embeds(&self) -> &[TwilightEmbed] {
        self.data()
            .and_then(|data| data.embeds.as_deref())
            .unwrap_or_default()
    }

    /// The message's or modal's top-level components (empty if none).
    pub fn components(&self) -> &[Component] {
        self.data()
            .and_then(|data| data.components.as_deref())
            .unwrap_or_default()
    }

    /// Whether only the user who triggered the interaction sees it.
    pub fn is_ephemeral(&self) -> bool {
        self.data()
            .and_then(|data| data.flags)
            .is_some_and(|flags| flags.contains(MessageFlags::EPHEMERAL))
    }

    /// The choices of an autocomplete answer (empty for other types).
    pub fn choices(&self) -> &[CommandOptionChoice] {
        self.data()
            .and_then(|data| data.choices.as_deref())
            .unwrap_or_default()
    }

    /// A modal's `custom_id`.
    pub fn custom_id(&self) -> Option<&str> {
        self.data()?.custom_id.as_deref()
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
        if let Some(json) = self.plain_message_json() {
            return Ok(json);
        }
        Ok(serde_json::to_vec(&self.inner)?)
    }

    /// The JSON of a response that is only a type, a text and flags (most
    /// answers), written directly: the same bytes serde writes from
    /// twilight's model, for a fraction of the cost in wasm. `None` for
    /// anything else.
    fn plain_message_json(&self) -> Option<Vec<u8>> {
        // Every field is named, so a field twilight adds is not forgotten.
        let Some(InteractionResponseData {
            allowed_mentions: None,
            attachments: None,
            choices: None,
            components: None,
            content: Some(content),
            custom_id: None,
            embeds: None,
            flags,
            title: None,
            tts: None,
            poll: None,
        }) = &self.inner.data
        else {
            return None;
        };
        let mut json = Vec::with_capacity(content.len() + 48);
        json.extend_from_slice(br#"{"type":"#);
        write_u64(&mut json, u64::from(self.inner.kind as u8));
        json.extend_from_slice(br#","data":{"content":"#);
        serde_json::to_writer(&mut json, content).ok()?;
        if let Some(flags) = flags {
            json.extend_from_slice(br#","flags":"#);
            write_u64(&mut json, flags.bits());
        }
        json.extend_from_slice(b"}}");
        Some(json)
    }
}

/// Writes `n` in decimal (with 32-bit arithmetic when it fits: a `u64`
/// division is a library call in wasm32).
fn write_u64(out: &mut Vec<u8>, n: u64) {
    let Ok(mut n) = u32::try_from(n) else {
        out.extend_from_slice(n.to_string().as_bytes());
        return;
    };
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

impl From<InteractionResponse> for Response {
    fn from(inner: InteractionResponse) -> Self {
        Self { inner }
    }
}

/// A message with this text: `follow_up("done")` is
/// `follow_up(Response::message("done"))`.
impl From<&str> for Response {
    fn from(content: &str) -> Self {
        Self::message(content)
    }
}

/// A message with this text.
impl From<String> for Response {
    fn from(content: String) -> Self {
        Self::message(content)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_messages_are_written_as_serde_writes_them() {
        use twilight_model::channel::message::MessageFlags;
        let flags = MessageFlags::from_bits_retain(u64::MAX);
        let mut large = Response::message("x");
        large.data_mut().flags = Some(flags);
        let cases = [
            Response::message("pong"),
            Response::message("pong").ephemeral(),
            Response::message("quote \" backslash \\ newline \n tab \t nul \u{0} é 😀 </script>"),
            Response::message(""),
            Response::update_message("edited").ephemeral(),
            Response::defer().ephemeral().with_content("c"),
            large,
        ];
        for response in cases {
            let fast = response.plain_message_json().expect("a plain message");
            let serde = serde_json::to_vec(&response.inner).unwrap();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(serde).unwrap()
            );
        }
        for other in [
            Response::defer(),
            Response::pong(),
            Response::message("x").embed(Embed::new().title("t")),
            Response::autocomplete([("a", "b")]),
        ] {
            assert!(other.plain_message_json().is_none());
        }
    }

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
                Response::message("a")
                    .with_content("b")
                    .ephemeral()
                    .ephemeral(),
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
        let response = Response::modal(
            "feedback",
            "Send feedback",
            [TextInput::short("topic", "Topic")],
        );
        assert_eq!(
            json(&response),
            r#"{"type":9,"data":{"components":[{"type":18,"label":"Topic","component":{"type":4,"custom_id":"topic","style":1}}],"custom_id":"feedback","title":"Send feedback"}}"#
        );
    }

    #[test]
    fn embeds_and_buttons_omit_unset_fields() {
        let response = Response::message("hi")
            .embed(Embed::new().title("Title").description("Body"))
            .row([Button::primary("again", "Again")]);
        assert_eq!(
            json(&response),
            r#"{"type":4,"data":{"components":[{"type":1,"components":[{"type":2,"custom_id":"again","label":"Again","style":1}]}],"content":"hi","embeds":[{"description":"Body","type":"rich","title":"Title"}]}}"#
        );
    }

    #[test]
    fn readers_see_what_the_builders_set() {
        let reply = Response::from("hi")
            .embed(Embed::new().title("T"))
            .row([Button::primary("a", "A")])
            .ephemeral();
        assert_eq!(
            reply.kind(),
            InteractionResponseType::ChannelMessageWithSource
        );
        assert_eq!(reply.content(), Some("hi"));
        assert_eq!(reply.embeds()[0].title.as_deref(), Some("T"));
        assert_eq!(reply.components().len(), 1);
        assert!(reply.is_ephemeral());

        let deferred = Response::defer();
        assert_eq!(deferred.content(), None);
        assert!(deferred.embeds().is_empty() && deferred.components().is_empty());
        assert!(!deferred.is_ephemeral());
        assert!(Response::defer().ephemeral().is_ephemeral());

        assert_eq!(Response::from(String::from("x")), Response::message("x"));
        let choices = Response::autocomplete([("Red", "red")]);
        assert_eq!(choices.choices()[0].name, "Red");
    }
}
