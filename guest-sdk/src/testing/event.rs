//! [`TestEvent`]: a Discord event for [`TestBot::event`](super::TestBot::event).

use serde_json::Value;

use crate::Event;

/// A Discord event for an [`EventBot`](crate::EventBot) under test: its
/// name and its payload (a gateway dispatch's `d`), from shard 0 at
/// sequence 1 unless [`shard`](Self::shard) and
/// [`sequence`](Self::sequence) say otherwise.
///
/// ```
/// use appliance_sdk::testing::TestEvent;
/// use serde_json::json;
///
/// let joined = TestEvent::new("GUILD_MEMBER_ADD", json!({
///     "guild_id": "1", "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00",
///     "deaf": false, "mute": false, "flags": 0,
///     "user": { "id": "42", "username": "alice", "discriminator": "0", "avatar": null },
/// }));
/// let event = joined.shard(2).sequence(7).event();
/// assert_eq!(event.member_add().unwrap().unwrap().user.name, "alice");
/// assert_eq!((event.shard(), event.sequence()), (2, 7));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use = "an event does nothing until a TestBot runs it"]
pub struct TestEvent {
    name: String,
    data: Value,
    shard: u32,
    sequence: u64,
}

impl TestEvent {
    /// An event called `name` (`"MESSAGE_CREATE"`, ...) with this payload.
    pub fn new(name: impl Into<String>, data: Value) -> Self {
        Self {
            name: name.into(),
            data,
            shard: 0,
            sequence: 1,
        }
    }

    /// The gateway shard it arrives on.
    pub fn shard(mut self, shard: u32) -> Self {
        self.shard = shard;
        self
    }

    /// Its sequence number in the shard's session (a redelivery keeps it).
    pub fn sequence(mut self, sequence: u64) -> Self {
        self.sequence = sequence;
        self
    }

    /// The [`Event`] a bot's `on_event` receives.
    pub fn event(&self) -> Event {
        Event::new(
            self.name.clone(),
            self.data.to_string(),
            self.shard,
            self.sequence,
        )
    }
}
