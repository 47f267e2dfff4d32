//! [`Embed`]: a builder for Discord's rich cards.

use twilight_model::channel::message::embed::{
    Embed as TwilightEmbed, EmbedAuthor, EmbedField, EmbedFooter, EmbedImage, EmbedThumbnail,
};
use twilight_model::util::Timestamp;

/// A rich embed (a card under the message text) for
/// [`Response::embed`](crate::Response::embed), built field by field.
///
/// Discord's limits (checked by Discord, not here): title 256 characters,
/// description 4096, 25 fields (name 256, value 1024), footer 2048, author
/// name 256, 6000 characters in all the embeds of a message together, and
/// 10 embeds a message.
///
/// ```
/// use appliance_sdk::{Embed, Response};
/// use appliance_sdk::model::util::Timestamp;
///
/// let card = Embed::new()
///     .title("Server stats")
///     .url("https://example.com/stats")
///     .description("How the server is doing")
///     .color(0x5865F2)
///     .field("Members", "1,204")
///     .inline_field("Online", "87")
///     .inline_field("In voice", "12")
///     .author("Stats bot")
///     .author_icon("https://example.com/bot.png")
///     .footer("Updated hourly")
///     .thumbnail("https://example.com/icon.png")
///     .image("https://example.com/chart.png")
///     .timestamp(Timestamp::from_secs(1_700_000_000).unwrap());
/// let reply = Response::message("").embed(card);
/// assert_eq!(reply.embeds()[0].fields.len(), 3);
/// assert!(reply.embeds()[0].fields[1].inline);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "an embed does nothing until it is added to a response"]
pub struct Embed {
    inner: TwilightEmbed,
}

impl Default for Embed {
    fn default() -> Self {
        Self::new()
    }
}

impl Embed {
    /// An empty embed (Discord needs at least one of title, description,
    /// fields, image, thumbnail, author or footer).
    pub fn new() -> Self {
        Self {
            inner: TwilightEmbed {
                author: None,
                color: None,
                description: None,
                fields: Vec::new(),
                flags: None,
                footer: None,
                image: None,
                kind: "rich".to_owned(),
                provider: None,
                thumbnail: None,
                timestamp: None,
                title: None,
                url: None,
                video: None,
            },
        }
    }

    /// The title, in bold at the top.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.inner.title = Some(title.into());
        self
    }

    /// Makes the title a link to `url`.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.inner.url = Some(url.into());
        self
    }

    /// The text under the title (Markdown).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.inner.description = Some(description.into());
        self
    }

    /// The colour of the strip on the left, as `0xRRGGBB`.
    pub fn color(mut self, rgb: u32) -> Self {
        self.inner.color = Some(rgb & 0x00FF_FFFF);
        self
    }

    /// Adds a field on its own line: a bold `name` above its `value`.
    pub fn field(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.push_field(name.into(), value.into(), false)
    }

    /// Adds a field that sits beside its inline neighbours (up to three a
    /// line).
    pub fn inline_field(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.push_field(name.into(), value.into(), true)
    }

    fn push_field(mut self, name: String, value: String, inline: bool) -> Self {
        self.inner.fields.push(EmbedField {
            inline,
            name,
            value,
        });
        self
    }

    /// The author line above the title.
    pub fn author(mut self, name: impl Into<String>) -> Self {
        self.author_mut().name = name.into();
        self
    }

    /// Makes the author's name a link.
    pub fn author_url(mut self, url: impl Into<String>) -> Self {
        self.author_mut().url = Some(url.into());
        self
    }

    /// A small picture before the author's name.
    pub fn author_icon(mut self, url: impl Into<String>) -> Self {
        self.author_mut().icon_url = Some(url.into());
        self
    }

    fn author_mut(&mut self) -> &mut EmbedAuthor {
        self.inner.author.get_or_insert_with(|| EmbedAuthor {
            icon_url: None,
            name: String::new(),
            proxy_icon_url: None,
            url: None,
        })
    }

    /// The small text at the bottom.
    pub fn footer(mut self, text: impl Into<String>) -> Self {
        self.footer_mut().text = text.into();
        self
    }

    /// A small picture before the footer's text.
    pub fn footer_icon(mut self, url: impl Into<String>) -> Self {
        self.footer_mut().icon_url = Some(url.into());
        self
    }

    fn footer_mut(&mut self) -> &mut EmbedFooter {
        self.inner.footer.get_or_insert_with(|| EmbedFooter {
            icon_url: None,
            proxy_icon_url: None,
            text: String::new(),
        })
    }

    /// A large picture at the bottom (an `https://` URL, or
    /// `attachment://name.png`).
    pub fn image(mut self, url: impl Into<String>) -> Self {
        self.inner.image = Some(EmbedImage {
            content_type: None,
            flags: None,
            height: None,
            placeholder: None,
            placeholder_version: None,
            proxy_url: None,
            url: url.into(),
            width: None,
        });
        self
    }

    /// A small picture at the top right.
    pub fn thumbnail(mut self, url: impl Into<String>) -> Self {
        self.inner.thumbnail = Some(EmbedThumbnail {
            height: None,
            proxy_url: None,
            url: url.into(),
            width: None,
        });
        self
    }

    /// The time shown beside the footer, in each reader's own time zone.
    /// Make one with [`Timestamp::from_secs`] (Unix seconds) or
    /// [`Timestamp::parse`] (ISO 8601).
    pub fn timestamp(mut self, timestamp: Timestamp) -> Self {
        self.inner.timestamp = Some(timestamp);
        self
    }

    /// The twilight model this builds, for fields without a method here.
    pub fn build(self) -> TwilightEmbed {
        self.inner
    }
}

impl From<Embed> for TwilightEmbed {
    fn from(embed: Embed) -> Self {
        embed.inner
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, to_value};

    use super::*;

    #[test]
    fn every_part_lands_in_discords_field() {
        let embed = Embed::new()
            .title("T")
            .url("https://t")
            .description("D")
            .color(0xFF11_2233)
            .field("a", "1")
            .inline_field("b", "2")
            .author("A")
            .author_url("https://a")
            .author_icon("https://a.png")
            .footer("F")
            .footer_icon("https://f.png")
            .image("https://i.png")
            .thumbnail("https://th.png")
            .timestamp(Timestamp::from_secs(0).unwrap());
        assert_eq!(
            to_value(embed.build()).unwrap(),
            json!({
                "author": {"icon_url": "https://a.png", "name": "A", "url": "https://a"},
                "color": 0x11_2233,
                "description": "D",
                "fields": [
                    {"inline": false, "name": "a", "value": "1"},
                    {"inline": true, "name": "b", "value": "2"}
                ],
                "footer": {"icon_url": "https://f.png", "text": "F"},
                "image": {"url": "https://i.png"},
                "thumbnail": {"url": "https://th.png"},
                "timestamp": "1970-01-01T00:00:00.000000+00:00",
                "title": "T",
                "type": "rich",
                "url": "https://t"
            })
        );
    }

    #[test]
    fn unset_parts_are_left_out() {
        assert_eq!(
            to_value(Embed::new().description("only").build()).unwrap(),
            json!({"description": "only", "type": "rich"})
        );
    }
}
