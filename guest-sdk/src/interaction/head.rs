//! The part of an interaction read up front, without copying: which
//! interaction it is, and where in the JSON the rest sits.
//!
//! Reading an interaction is most of what a quick handler costs in wasm, so
//! the head allocates only for what it cannot borrow: its strings and
//! objects are [`Span`]s of the JSON the [`Interaction`](super::Interaction)
//! keeps, and only a string with escapes in it is copied, unescaped
//! ([`Text::Owned`]). It is read with the SDK's own JSON reader
//! (`super::scan`) in one pass over the JSON, which also checks the
//! parts it skips; the `data` object is read in the same pass, and where its
//! `options` and `resolved` are is noted, so a command model reads only
//! those (and nothing for a command without options).

use serde::Deserialize;
use twilight_model::id::marker::{
    ApplicationMarker, ChannelMarker, GenericMarker, GuildMarker, InteractionMarker, UserMarker,
};
use twilight_model::id::Id;

use super::scan::{self, Reader, ScanError};

/// Where a part of the JSON is, as a byte range of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// Where a value the reader read is.
    fn of(value: scan::Value) -> Self {
        Self {
            start: value.start,
            end: value.end,
        }
    }

    /// The part of `whole` this span covers.
    pub(super) fn get<'a>(&self, whole: &'a str) -> &'a str {
        &whole[self.start..self.end]
    }
}

/// A JSON string's value: a span of the JSON when it had no escapes, else
/// its unescaped copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Text {
    Span(Span),
    Owned(String),
}

impl Text {
    /// A string value the reader read: the bytes between its quotes, or
    /// its unescaped copy.
    fn of(reader: &Reader<'_>, string: scan::Value) -> Result<Self, ScanError> {
        if string.escaped {
            Ok(Self::Owned(reader.unescape(string)?))
        } else {
            Ok(Self::Span(Span {
                start: string.start + 1,
                end: string.end - 1,
            }))
        }
    }

    /// The string or `null` at the reader's position, for the field `field`.
    fn or_null(reader: &mut Reader<'_>, field: &str) -> Result<Option<Self>, ScanError> {
        match reader.string_or_null(field)? {
            Some(value) => Ok(Some(Self::of(reader, value)?)),
            None => Ok(None),
        }
    }

    /// The string's value, given the JSON it was read from.
    pub(super) fn get<'a>(&'a self, whole: &'a str) -> &'a str {
        match self {
            Self::Span(span) => span.get(whole),
            Self::Owned(text) => text,
        }
    }
}

/// What the head holds; the spans are into the interaction's JSON.
#[derive(Clone, Debug)]
pub(super) struct Head {
    pub(super) kind: u8,
    pub(super) id: Id<InteractionMarker>,
    pub(super) application_id: Id<ApplicationMarker>,
    pub(super) token: Text,
    pub(super) guild_id: Option<Id<GuildMarker>>,
    pub(super) channel_id: Option<Id<ChannelMarker>>,
    /// The partial `channel` object, read only if `channel_id` is missing.
    pub(super) channel: Option<Span>,
    /// `user` and `member` objects, read when someone asks who it was.
    pub(super) user: Option<Span>,
    pub(super) member: Option<Span>,
    pub(super) locale: Option<Text>,
    /// The `data` object, read further for options or modal fields.
    pub(super) data: Option<Span>,
    /// `data.name`: the command's name.
    pub(super) name: Option<Text>,
    /// `data.type`: the command's type.
    pub(super) command_kind: Option<u8>,
    pub(super) target_id: Option<Id<GenericMarker>>,
    pub(super) custom_id: Option<Text>,
    pub(super) values: Vec<String>,
    /// `data.options` and `data.resolved`, what a command model is read
    /// from.
    pub(super) options: Option<Span>,
    pub(super) resolved: Option<Span>,
}

/// The fields of the head that must be there.
const REQUIRED: [&str; 4] = ["type", "id", "application_id", "token"];

impl Head {
    /// Reads the head of the interaction `json`, checking that all of it is
    /// JSON (the parts the head skips too), in one pass.
    pub(super) fn read(json: &str) -> Result<Self, ScanError> {
        let mut reader = Reader::new(json);
        let mut seen = Seen::default();
        let (mut kind, mut id, mut application_id, mut token) = (None, None, None, None);
        let mut head = Head {
            kind: 0,
            id: Id::new(1),
            application_id: Id::new(1),
            token: Text::Span(Span { start: 0, end: 0 }),
            guild_id: None,
            channel_id: None,
            channel: None,
            user: None,
            member: None,
            locale: None,
            data: None,
            name: None,
            command_kind: None,
            target_id: None,
            custom_id: None,
            values: Vec::new(),
            options: None,
            resolved: None,
        };
        reader.object("an interaction object", |key, r| {
            match key {
                b"type" => {
                    seen.first(0, "type")?;
                    kind = Some(required("type", r.u8_or_null("type")?)?);
                }
                b"id" => {
                    seen.first(1, "id")?;
                    id = Some(required("id", r.id_or_null("id")?)?);
                }
                b"application_id" => {
                    seen.first(2, "application_id")?;
                    application_id =
                        Some(required("application_id", r.id_or_null("application_id")?)?);
                }
                b"token" => {
                    seen.first(3, "token")?;
                    let value = required("token", r.string_or_null("token")?)?;
                    token = Some(Text::of(r, value)?);
                }
                b"guild_id" => {
                    seen.first(4, "guild_id")?;
                    head.guild_id = r.id_or_null("guild_id")?.map(Id::new);
                }
                b"channel_id" => {
                    seen.first(5, "channel_id")?;
                    head.channel_id = r.id_or_null("channel_id")?.map(Id::new);
                }
                b"channel" => {
                    seen.first(6, "channel")?;
                    head.channel = r.raw_or_null()?.map(Span::of);
                }
                b"user" => {
                    seen.first(7, "user")?;
                    head.user = r.raw_or_null()?.map(Span::of);
                }
                b"member" => {
                    seen.first(8, "member")?;
                    head.member = r.raw_or_null()?.map(Span::of);
                }
                b"locale" => {
                    seen.first(9, "locale")?;
                    head.locale = Text::or_null(r, "locale")?;
                }
                b"data" => {
                    seen.first(10, "data")?;
                    head.read_data(r)?;
                }
                _ => {
                    r.value()?;
                }
            }
            Ok(())
        })?;
        reader.end()?;
        for (i, field) in REQUIRED.iter().enumerate() {
            if !seen.has(i) {
                return Err(ScanError::data(format!("missing field `{field}`")));
            }
        }
        // Present and not null, as `required` checked.
        let (Some(kind), Some(id), Some(application_id), Some(token)) =
            (kind, id, application_id, token)
        else {
            return Err(ScanError::data("missing field"));
        };
        head.kind = kind;
        head.id = Id::new(id);
        head.application_id = Id::new(application_id);
        head.token = token;
        Ok(head)
    }

    /// Reads the `data` object (or `null`) at the reader's position.
    fn read_data(&mut self, reader: &mut Reader<'_>) -> Result<(), ScanError> {
        if reader.null()? {
            return Ok(());
        }
        let mut seen = Seen::default();
        let (start, end) = reader.object("the interaction's data object", |key, r| {
            match key {
                b"name" => {
                    seen.first(0, "name")?;
                    self.name = Text::or_null(r, "name")?;
                }
                b"type" => {
                    seen.first(1, "type")?;
                    self.command_kind = r.u8_or_null("type")?;
                }
                b"target_id" => {
                    seen.first(2, "target_id")?;
                    self.target_id = r.id_or_null("target_id")?.map(Id::new);
                }
                b"custom_id" => {
                    seen.first(3, "custom_id")?;
                    self.custom_id = Text::or_null(r, "custom_id")?;
                }
                b"values" => {
                    seen.first(4, "values")?;
                    let value = r.value()?;
                    self.values = serde_json::from_str(r.slice(value))
                        .map_err(|e| ScanError::data(format!("`values`: {e}")))?;
                }
                b"options" => {
                    seen.first(5, "options")?;
                    self.options = Some(Span::of(r.value()?));
                }
                b"resolved" => {
                    seen.first(6, "resolved")?;
                    self.resolved = r.raw_or_null()?.map(Span::of);
                }
                _ => {
                    r.value()?;
                }
            }
            Ok(())
        })?;
        self.data = Some(Span { start, end });
        Ok(())
    }
}

/// Which of an object's known fields were read, to refuse duplicates as
/// serde does.
#[derive(Default)]
struct Seen(u32);

impl Seen {
    fn first(&mut self, field: usize, name: &str) -> Result<(), ScanError> {
        if self.has(field) {
            return Err(ScanError::data(format!("duplicate field `{name}`")));
        }
        self.0 |= 1 << field;
        Ok(())
    }

    fn has(&self, field: usize) -> bool {
        self.0 & (1 << field) != 0
    }
}

/// A field that may not be `null`.
fn required<T>(field: &str, value: Option<T>) -> Result<T, ScanError> {
    value.ok_or_else(|| ScanError::data(format!("invalid type for `{field}`: null")))
}

/// Who sent the interaction, read from `member` (in a server) or `user`
/// (elsewhere) when first asked.
#[derive(Clone, Debug)]
pub(super) struct Who {
    pub(super) id: Id<UserMarker>,
    pub(super) username: String,
    pub(super) global_name: Option<String>,
    pub(super) nick: Option<String>,
}

#[derive(Deserialize)]
struct UserHead {
    id: Id<UserMarker>,
    username: String,
    global_name: Option<String>,
}

#[derive(Deserialize)]
struct MemberHead {
    user: Option<UserHead>,
    nick: Option<String>,
}

#[derive(Deserialize)]
struct ChannelHead {
    id: Id<ChannelMarker>,
}

impl Head {
    /// Who sent the interaction: `member.user` (with the server nickname)
    /// in a server, `user` elsewhere. `None` if neither is there or
    /// readable.
    pub(super) fn who(&self, json: &str) -> Option<Who> {
        let member = self
            .member
            .and_then(|span| serde_json::from_str::<MemberHead>(span.get(json)).ok());
        let (user, nick) = match member {
            Some(MemberHead {
                user: Some(user),
                nick,
            }) => (user, nick),
            _ => (
                serde_json::from_str::<UserHead>(self.user?.get(json)).ok()?,
                None,
            ),
        };
        Some(Who {
            id: user.id,
            username: user.username,
            global_name: user.global_name,
            nick,
        })
    }

    /// `channel.id`, for an interaction without `channel_id`.
    pub(super) fn channel_object_id(&self, json: &str) -> Option<Id<ChannelMarker>> {
        let channel = serde_json::from_str::<ChannelHead>(self.channel?.get(json));
        channel.ok().map(|channel| channel.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_without_escapes_are_spans_and_with_them_copies() {
        let json = r#"{"type":2,"id":"1","application_id":"2","token":"abc","locale":"en\u002dUS","data":{"name":"ping"}}"#;
        let head = Head::read(json).unwrap();
        assert!(matches!(head.token, Text::Span(_)));
        assert_eq!(head.token.get(json), "abc");
        assert_eq!(head.locale, Some(Text::Owned("en-US".into())));
        assert_eq!(head.name.as_ref().unwrap().get(json), "ping");
        assert_eq!(head.data.unwrap().get(json), r#"{"name":"ping"}"#);
    }

    #[test]
    fn null_objects_are_absent() {
        let json = r#"{"type":3,"id":"1","application_id":"2","token":"t","member":null,"user":{"id":"4","username":"a"},"data":{"custom_id":"x"}}"#;
        let head = Head::read(json).unwrap();
        assert_eq!(head.member, None);
        let who = head.who(json).unwrap();
        assert_eq!((who.id.get(), who.username.as_str()), (4, "a"));
    }
}
