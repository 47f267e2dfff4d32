//! The part of an interaction read up front, without copying: which
//! interaction it is, and where in the JSON the rest sits.
//!
//! Reading an interaction is most of what a quick handler costs in wasm, so
//! the head allocates only for what it cannot borrow: its strings and
//! objects are [`Span`]s of the JSON the [`Interaction`](super::Interaction)
//! keeps, and only a string with escapes in it is copied, unescaped
//! ([`Text::Owned`]).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use twilight_model::id::marker::{
    ApplicationMarker, ChannelMarker, GenericMarker, GuildMarker, InteractionMarker, UserMarker,
};
use twilight_model::id::Id;

/// Where a part of the JSON is, as a byte range of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// The span of `part`, which must be borrowed from `whole`.
    fn of(part: &str, whole: &str) -> Self {
        // Both are slices of one allocation, so the addresses give the
        // offset; no unsafe code is needed to compare them.
        let start = part.as_ptr() as usize - whole.as_ptr() as usize;
        debug_assert!(start + part.len() <= whole.len());
        Self {
            start,
            end: start + part.len(),
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
    fn of(text: Str<'_>, whole: &str) -> Self {
        match text.0 {
            Cow::Borrowed(part) => Self::Span(Span::of(part, whole)),
            Cow::Owned(copy) => Self::Owned(copy),
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
}

impl Head {
    /// Reads the head of the interaction `json`.
    pub(super) fn read(json: &str) -> Result<Self, serde_json::Error> {
        let top: Top<'_> = serde_json::from_str(json)?;
        let data: Data<'_> = match top.data {
            Some(data) => serde_json::from_str(data.get())?,
            None => Data::default(),
        };
        let span = |raw: Option<&RawValue>| raw.map(|raw| Span::of(raw.get(), json));
        Ok(Self {
            kind: top.kind,
            id: top.id,
            application_id: top.application_id,
            token: Text::of(top.token, json),
            guild_id: top.guild_id,
            channel_id: top.channel_id,
            channel: span(top.channel),
            user: span(top.user),
            member: span(top.member),
            locale: top.locale.map(|locale| Text::of(locale, json)),
            data: span(top.data),
            name: data.name.map(|name| Text::of(name, json)),
            command_kind: data.kind,
            target_id: data.target_id,
            custom_id: data.custom_id.map(|id| Text::of(id, json)),
            values: data.values,
        })
    }
}

/// The interaction's top level, borrowed from the JSON. Objects the head
/// does not read now are kept as raw JSON (skipped, not parsed).
#[derive(Deserialize)]
struct Top<'a> {
    #[serde(rename = "type")]
    kind: u8,
    id: Id<InteractionMarker>,
    application_id: Id<ApplicationMarker>,
    #[serde(borrow)]
    token: Str<'a>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    guild_id: Option<Id<GuildMarker>>,
    channel_id: Option<Id<ChannelMarker>>,
    #[serde(borrow)]
    channel: Option<&'a RawValue>,
    #[serde(borrow)]
    user: Option<&'a RawValue>,
    #[serde(borrow)]
    member: Option<&'a RawValue>,
    #[serde(borrow)]
    locale: Option<Str<'a>>,
}

/// The head of `data`: which command or component this is.
#[derive(Default, Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(rename = "type")]
    kind: Option<u8>,
    target_id: Option<Id<GenericMarker>>,
    #[serde(borrow)]
    custom_id: Option<Str<'a>>,
    #[serde(default)]
    values: Vec<String>,
}

/// A string borrowed from the JSON when it has no escapes. (serde borrows
/// a bare `Cow<str>` field, but not one inside an `Option`.)
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;

        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(text)))
            }
        }

        deserializer.deserialize_str(StrVisitor)
    }
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
