//! Discord events, as an [`EventBot`](crate::EventBot) receives them.

use std::borrow::Cow;
use std::cell::Cell;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use twilight_model::gateway::event::{DispatchEvent, DispatchEventWithTypeDeserializer, EventType};
use twilight_model::gateway::payload::incoming::{
    GuildCreate, MemberAdd, MemberRemove, MessageCreate, MessageDelete, MessageUpdate, ReactionAdd,
    Ready,
};
use twilight_model::id::marker::GuildMarker;
use twilight_model::id::Id;

use crate::{Error, Result};

/// One Discord event: a gateway dispatch (`MESSAGE_CREATE`,
/// `GUILD_MEMBER_ADD`, ...), a webhook event (`APPLICATION_AUTHORIZED`,
/// `ENTITLEMENT_CREATE`, ...), or the host's own `APPLIANCE_EVENTS_DROPPED`
/// (see [`dropped`](Self::dropped)).
///
/// The payload is kept as the JSON Discord sent (a dispatch's `d`, a webhook
/// event's `data`) and read on demand, so a bot pays only for what it looks
/// at:
///
/// - [`parse`](Self::parse) reads any event twilight-model knows into a
///   [`DispatchEvent`], to `match` on;
/// - [`message_create`](Self::message_create),
///   [`member_add`](Self::member_add) and friends read one kind, and are
///   `Ok(None)` for any other;
/// - [`json`](Self::json) reads the payload into a type of the bot's own,
///   for events twilight-model does not know.
///
/// ```
/// use appliance_sdk::Event;
///
/// let event = Event::new(
///     "MESSAGE_DELETE",
///     r#"{"id":"3","channel_id":"2","guild_id":"1"}"#,
///     0,
///     42,
/// );
/// let deleted = event.message_delete().unwrap().unwrap();
/// assert_eq!(deleted.id.get(), 3);
/// assert_eq!(event.guild_id().map(|id| id.get()), Some(1));
/// assert!(event.member_add().unwrap().is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    name: String,
    data: Vec<u8>,
    shard: u32,
    sequence: u64,
}

impl Event {
    /// An event called `name` with the JSON payload `data`, from gateway
    /// shard `shard` at sequence number `sequence` (both 0 for a webhook
    /// event). The host builds these; tests may too.
    pub fn new(
        name: impl Into<String>,
        data: impl Into<Vec<u8>>,
        shard: u32,
        sequence: u64,
    ) -> Self {
        Self {
            name: name.into(),
            data: data.into(),
            shard,
            sequence,
        }
    }

    /// Discord's name for the event, such as `MESSAGE_CREATE`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The payload: JSON, exactly as Discord sent it.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The gateway shard the event came from (0 for a webhook event).
    pub fn shard(&self) -> u32 {
        self.shard
    }

    /// The event's sequence number in its shard's gateway session (0 for a
    /// webhook event). A redelivered dispatch has the same shard and
    /// sequence; a new session starts counting again, so for a lasting
    /// record of what was handled prefer the payload's own IDs.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// twilight-model's name for the event, if it knows it.
    pub fn kind(&self) -> Option<EventType> {
        EventType::try_from(self.name.as_str()).ok()
    }

    /// Reads the payload into `T`, for events without a typed accessor here
    /// (webhook events, new Discord events) or to read only a few fields.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.data).map_err(|e| self.unreadable(e))
    }

    /// Reads the event into twilight-model's [`DispatchEvent`], to `match`
    /// on.
    ///
    /// `Ok(None)` for an event twilight-model has no type for: webhook events
    /// such as `APPLICATION_AUTHORIZED`, the host's
    /// `APPLIANCE_EVENTS_DROPPED`, and events Discord added since. Discord
    /// adds events without notice, so a bot should ignore what it does not
    /// know rather than fail. `Err` means an event of a known kind whose
    /// payload twilight-model could not read.
    ///
    /// `READY` comes without `session_id` and `resume_gateway_url` (the host
    /// keeps the session to itself); they read as empty strings.
    pub fn parse(&self) -> Result<Option<DispatchEvent>> {
        if !twilight_knows(&self.name) {
            return Ok(None);
        }
        let data = self.filled_data()?;
        let mut deserializer = serde_json::Deserializer::from_slice(&data);
        let event = DispatchEventWithTypeDeserializer::new(&self.name)
            .deserialize(&mut deserializer)
            .and_then(|event| deserializer.end().map(|()| event))
            .map_err(|e| self.unreadable(e))?;
        Ok(Some(event))
    }

    /// The `guild_id` in the payload, if it has one: the server the event
    /// happened in, for keeping settings per server. It does not depend on
    /// the event's kind.
    pub fn guild_id(&self) -> Option<Id<GuildMarker>> {
        #[derive(Deserialize)]
        struct GuildOf {
            guild_id: Option<Id<GuildMarker>>,
        }
        serde_json::from_slice::<GuildOf>(&self.data).ok()?.guild_id
    }

    /// For the host's `APPLIANCE_EVENTS_DROPPED` event: how many events the
    /// bot missed. `None` for every other event.
    pub fn dropped(&self) -> Option<Dropped> {
        if self.name == Dropped::EVENT_NAME {
            serde_json::from_slice(&self.data).ok()
        } else {
            None
        }
    }

    /// `READY`: the shard's session began (or resumed from scratch). Its
    /// `session_id` and `resume_gateway_url` are empty (see
    /// [`parse`](Self::parse)).
    pub fn ready(&self) -> Result<Option<Ready>> {
        if self.name != "READY" {
            return Ok(None);
        }
        let data = self.filled_data()?;
        serde_json::from_slice(&data)
            .map(Some)
            .map_err(|e| self.unreadable(e))
    }

    /// `GUILD_CREATE`: a server became available to the bot (at start, or
    /// when the bot joins one). Needs the `GUILDS` intent.
    pub fn guild_create(&self) -> Result<Option<GuildCreate>> {
        self.typed("GUILD_CREATE")
    }

    /// `GUILD_MEMBER_ADD`: someone joined a server. Needs the privileged
    /// `GUILD_MEMBERS` intent.
    pub fn member_add(&self) -> Result<Option<MemberAdd>> {
        self.typed("GUILD_MEMBER_ADD")
    }

    /// `GUILD_MEMBER_REMOVE`: someone left a server, or was kicked or banned.
    /// Needs the privileged `GUILD_MEMBERS` intent.
    pub fn member_remove(&self) -> Result<Option<MemberRemove>> {
        self.typed("GUILD_MEMBER_REMOVE")
    }

    /// `MESSAGE_CREATE`: a message was posted. Needs `GUILD_MESSAGES` (or
    /// `DIRECT_MESSAGES`); its `content` is empty unless the bot also has the
    /// privileged `MESSAGE_CONTENT` intent (or is mentioned).
    pub fn message_create(&self) -> Result<Option<MessageCreate>> {
        self.typed("MESSAGE_CREATE")
    }

    /// `MESSAGE_UPDATE`: a message was edited.
    pub fn message_update(&self) -> Result<Option<MessageUpdate>> {
        self.typed("MESSAGE_UPDATE")
    }

    /// `MESSAGE_DELETE`: a message was deleted (only its IDs remain).
    pub fn message_delete(&self) -> Result<Option<MessageDelete>> {
        self.typed("MESSAGE_DELETE")
    }

    /// `MESSAGE_REACTION_ADD`: someone reacted to a message. Needs
    /// `GUILD_MESSAGE_REACTIONS` (or `DIRECT_MESSAGE_REACTIONS`).
    pub fn reaction_add(&self) -> Result<Option<ReactionAdd>> {
        self.typed("MESSAGE_REACTION_ADD")
    }

    /// The payload as a `T` if the event is called `name`, else `None`.
    fn typed<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        if self.name == name {
            self.json().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The payload, with what the host leaves out of `READY` filled in.
    fn filled_data(&self) -> Result<Cow<'_, [u8]>> {
        if self.name != "READY" {
            return Ok(Cow::Borrowed(&self.data));
        }
        let mut value: Value = self.json()?;
        if let Some(ready) = value.as_object_mut() {
            for key in ["session_id", "resume_gateway_url"] {
                let slot = ready.entry(key).or_insert(Value::Null);
                if slot.is_null() {
                    *slot = Value::String(String::new());
                }
            }
        }
        Ok(Cow::Owned(serde_json::to_vec(&value)?))
    }

    fn unreadable(&self, error: serde_json::Error) -> Error {
        Error::new(format!(
            "the {} event could not be read: {error}",
            self.name
        ))
    }
}

/// What the host's `APPLIANCE_EVENTS_DROPPED` event says: the bot fell
/// behind, and the host dropped events rather than queue them without end.
///
/// The sequence numbers are those of the first and last dropped event; a bot
/// that must not miss anything can catch up through Discord's REST API (for
/// example by reading the channels' recent messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// How many events were dropped.
    pub count: u64,
    /// The sequence number of the first dropped event.
    #[serde(default)]
    pub first_sequence: u64,
    /// The sequence number of the last dropped event.
    #[serde(default)]
    pub last_sequence: u64,
}

impl Dropped {
    /// The event's name.
    pub const EVENT_NAME: &'static str = "APPLIANCE_EVENTS_DROPPED";
}

/// Whether twilight-model's dispatch deserializer has a type for `name`.
///
/// It answers an unknown name with an error before reading anything, and a
/// known one by reading the payload: so a deserializer that notes being
/// read, and reads nothing, tells them apart without a list of names that
/// would go stale.
fn twilight_knows(name: &str) -> bool {
    let read = Cell::new(false);
    let _ = DispatchEventWithTypeDeserializer::new(name).deserialize(Probe(&read));
    read.get()
}

/// A deserializer that records being asked for a value and fails.
struct Probe<'a>(&'a Cell<bool>);

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        self.0.set(true);
        Err(de::Error::custom("probe"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = r#"{
        "id": "1001",
        "channel_id": "2002",
        "guild_id": "3003",
        "author": {"id": "4004", "username": "alice", "discriminator": "0", "avatar": null, "global_name": "Alice"},
        "member": {"roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0},
        "content": "hello there",
        "timestamp": "2024-05-01T12:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": 0,
        "flags": 0,
        "channel_type": 0
    }"#;

    const MEMBER_ADD: &str = r#"{
        "guild_id": "3003",
        "user": {"id": "5005", "username": "bob", "discriminator": "0", "avatar": null, "global_name": null},
        "roles": [],
        "joined_at": "2024-05-01T12:00:00.000000+00:00",
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false
    }"#;

    fn event(name: &str, data: &str) -> Event {
        Event::new(name, data, 1, 7)
    }

    #[test]
    fn parse_reads_known_events_into_twilight() {
        match event("MESSAGE_CREATE", MESSAGE).parse().unwrap() {
            Some(DispatchEvent::MessageCreate(message)) => {
                assert_eq!(message.content, "hello there");
                assert_eq!(message.author.id.get(), 4004);
            }
            other => panic!("{other:?}"),
        }
        match event("GUILD_MEMBER_ADD", MEMBER_ADD).parse().unwrap() {
            Some(DispatchEvent::MemberAdd(member)) => {
                assert_eq!(member.guild_id.get(), 3003);
                assert_eq!(member.user.name, "bob");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            event("RESUMED", "null").parse().unwrap(),
            Some(DispatchEvent::Resumed)
        );
    }

    #[test]
    fn unknown_events_are_none_not_errors() {
        for name in [
            "APPLICATION_AUTHORIZED",
            Dropped::EVENT_NAME,
            "SOMETHING_DISCORD_ADDED_LATER",
            "",
        ] {
            let event = event(name, r#"{"anything":[1,2,3]}"#);
            assert_eq!(event.parse().unwrap(), None, "{name}");
        }
        // The raw payload is still there for the bot's own types.
        let authorized = event(
            "APPLICATION_AUTHORIZED",
            r#"{"integration_type":0,"user":{"id":"9"}}"#,
        );
        let value: Value = authorized.json().unwrap();
        assert_eq!(value["user"]["id"], "9");
    }

    #[test]
    fn a_known_event_with_an_unreadable_payload_is_an_error() {
        let error = event("MESSAGE_CREATE", r#"{"id":"1"}"#)
            .parse()
            .unwrap_err();
        assert!(
            error
                .message()
                .starts_with("the MESSAGE_CREATE event could not be read"),
            "{error}"
        );
        let error = event("MESSAGE_DELETE", "not json")
            .message_delete()
            .unwrap_err();
        assert!(error.message().contains("MESSAGE_DELETE"), "{error}");
    }

    #[test]
    fn accessors_read_their_kind_and_only_theirs() {
        let message = event("MESSAGE_CREATE", MESSAGE);
        let created = message.message_create().unwrap().unwrap();
        assert_eq!(created.id.get(), 1001);
        assert_eq!(created.channel_id.get(), 2002);
        assert!(message.member_add().unwrap().is_none());
        assert!(message.message_delete().unwrap().is_none());
        assert!(message.ready().unwrap().is_none());
        assert!(message.dropped().is_none());

        let joined = event("GUILD_MEMBER_ADD", MEMBER_ADD);
        assert_eq!(joined.member_add().unwrap().unwrap().user.id.get(), 5005);
        assert!(joined.message_create().unwrap().is_none());

        let deleted = event(
            "MESSAGE_DELETE",
            r#"{"id":"1001","channel_id":"2002","guild_id":"3003"}"#,
        );
        let deleted = deleted.message_delete().unwrap().unwrap();
        assert_eq!((deleted.id.get(), deleted.channel_id.get()), (1001, 2002));

        let left = event(
            "GUILD_MEMBER_REMOVE",
            r#"{"guild_id":"3003","user":{"id":"5005","username":"bob","discriminator":"0","avatar":null}}"#,
        );
        assert_eq!(left.member_remove().unwrap().unwrap().user.id.get(), 5005);
    }

    #[test]
    fn header_fields_and_guild_id() {
        let message = event("MESSAGE_CREATE", MESSAGE);
        assert_eq!(message.name(), "MESSAGE_CREATE");
        assert_eq!((message.shard(), message.sequence()), (1, 7));
        assert_eq!(message.data(), MESSAGE.as_bytes());
        assert_eq!(message.kind(), Some(EventType::MessageCreate));
        assert_eq!(message.guild_id(), Some(Id::new(3003)));
        assert_eq!(event("MESSAGE_CREATE", r#"{"id":"1"}"#).guild_id(), None);
        assert_eq!(event("RESUMED", "null").guild_id(), None);
        assert_eq!(event("APPLICATION_AUTHORIZED", "{}").kind(), None);
    }

    #[test]
    fn ready_without_session_fields_parses() {
        // The host strips the session's resume data before forwarding READY.
        let ready = event(
            "READY",
            r#"{
                "v": 10,
                "user": {"id": "77", "username": "modlog", "discriminator": "0", "avatar": null, "bot": true,
                         "mfa_enabled": true, "verified": true, "flags": 0},
                "guilds": [{"id": "3003", "unavailable": true}],
                "shard": [1, 2],
                "application": {"id": "77", "flags": 0}
            }"#,
        );
        let parsed = ready.ready().unwrap().unwrap();
        assert_eq!(parsed.user.id.get(), 77);
        assert_eq!(parsed.session_id, "");
        assert_eq!(parsed.guilds.len(), 1);
        assert!(matches!(
            ready.parse().unwrap(),
            Some(DispatchEvent::Ready(_))
        ));
    }

    #[test]
    fn dropped_reads_the_hosts_notice() {
        let notice = event(
            Dropped::EVENT_NAME,
            r#"{"count":12,"first_sequence":100,"last_sequence":111}"#,
        );
        assert_eq!(
            notice.dropped(),
            Some(Dropped {
                count: 12,
                first_sequence: 100,
                last_sequence: 111
            })
        );
        assert_eq!(event("MESSAGE_DELETE", r#"{"count":1}"#).dropped(), None);
    }

    #[test]
    fn the_probe_tells_known_names_from_unknown_ones() {
        for known in [
            "MESSAGE_CREATE",
            "GUILD_MEMBER_ADD",
            "READY",
            "RESUMED",
            "GUILD_CREATE",
        ] {
            assert!(twilight_knows(known), "{known}");
        }
        for unknown in ["APPLICATION_AUTHORIZED", "message_create", "HELLO"] {
            assert!(!twilight_knows(unknown), "{unknown}");
        }
    }
}
