//! Commands to Discord over the bot's gateway sessions, which the host holds.
//!
//! Only a bot of world `event-bot` (exported with
//! [`bot!(MyBot, events)`](crate::bot!)) and deployed with `--intents` has
//! gateway sessions. The host checks each command and keeps within Discord's
//! limits (120 commands a minute per session, heartbeats included; 4096 bytes
//! a command): a command that would go over them is refused with a
//! [`GatewayError`], never sent.
//!
//! ```no_run
//! use appliance_sdk::gateway;
//! use appliance_sdk::model::id::Id;
//! use appliance_sdk::model::gateway::presence::{ActivityType, MinimalActivity, Status};
//!
//! # fn main() -> appliance_sdk::Result<()> {
//! // "Watching for banned words", on every shard.
//! gateway::set_presence(
//!     Status::Online,
//!     Some(MinimalActivity {
//!         kind: ActivityType::Watching,
//!         name: "for banned words".into(),
//!         url: None,
//!     }),
//! )?;
//! // Ask for the members whose name starts with "al"; they arrive as
//! // GUILD_MEMBERS_CHUNK events.
//! gateway::request_guild_members(&gateway::members_by_name(Id::new(1234), "al", 10))?;
//! # Ok(())
//! # }
//! ```
//!
//! Under `cargo test`, [`testing::TestBot::gateway_commands`](crate::testing::TestBot::gateway_commands)
//! collects them.

use std::fmt;

use serde::Serialize;
use twilight_model::gateway::payload::outgoing::request_guild_members::{
    RequestGuildMembers, RequestGuildMembersInfo,
};
use twilight_model::gateway::payload::outgoing::update_presence::UpdatePresencePayload;
use twilight_model::gateway::presence::{Activity, MinimalActivity, Status};
use twilight_model::id::marker::{GuildMarker, UserMarker};
use twilight_model::id::Id;

use crate::host;

/// Why the host did not send a gateway command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayError {
    /// The bot's gateway is off (deployed without `--intents`, or with
    /// `--no-gateway`), or the shard the command needs is not connected
    /// right now; the text says which.
    NotConnected(String),
    /// The bot has used its share of gateway commands for now; retry after
    /// this many milliseconds.
    RateLimited(u32),
    /// The command is not of the right shape, or too large; the text says why.
    InvalidRequest(String),
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotConnected(why) => write!(f, "the gateway is not connected: {why}"),
            Self::RateLimited(ms) => {
                write!(f, "too many gateway commands; retry in {ms} ms")
            }
            Self::InvalidRequest(why) => write!(f, "invalid gateway command: {why}"),
        }
    }
}

impl std::error::Error for GatewayError {}

/// Updates the bot's presence (status and activities) on every shard:
/// Discord's opcode 3, whose `d` is `presence`.
pub fn update_presence(presence: &UpdatePresencePayload) -> Result<(), GatewayError> {
    host::update_presence(&to_json(presence)?)
}

/// Sets the bot's status and, optionally, one activity ("Playing ...",
/// "Watching ...", ...): [`update_presence`] for the common case.
pub fn set_presence(status: Status, activity: Option<MinimalActivity>) -> Result<(), GatewayError> {
    update_presence(&presence(status, activity))
}

/// Requests members of a guild: Discord's opcode 8, whose `d` is `request`.
/// They arrive as `GUILD_MEMBERS_CHUNK` events on the guild's shard (read
/// them with [`Event::parse`](crate::Event::parse)). Build the request with
/// [`members_by_name`], [`members_by_id`], or twilight's
/// [`RequestGuildMembers::builder`] (take its `d`).
///
/// Asking for every member (an empty query with limit 0) needs the
/// privileged `GUILD_MEMBERS` intent and is allowed once per guild per 30 s.
pub fn request_guild_members(request: &RequestGuildMembersInfo) -> Result<(), GatewayError> {
    host::request_guild_members(&to_json(request)?)
}

/// A request for up to `limit` members of `guild_id` whose username or
/// nickname starts with `query` (1 to 100; Discord caps it there).
pub fn members_by_name(
    guild_id: Id<GuildMarker>,
    query: &str,
    limit: u64,
) -> RequestGuildMembersInfo {
    RequestGuildMembers::builder(guild_id)
        .query(query, Some(limit))
        .d
}

/// A request for the members of `guild_id` with these user IDs (at most
/// 100; more are refused by the host as an invalid request).
pub fn members_by_id(
    guild_id: Id<GuildMarker>,
    user_ids: &[Id<UserMarker>],
) -> RequestGuildMembersInfo {
    use twilight_model::gateway::payload::outgoing::request_guild_members::RequestGuildMemberId;
    RequestGuildMembersInfo {
        guild_id,
        limit: None,
        nonce: None,
        presences: None,
        query: None,
        user_ids: Some(RequestGuildMemberId::Multiple(user_ids.to_vec())),
    }
}

/// The presence [`set_presence`] sends.
fn presence(status: Status, activity: Option<MinimalActivity>) -> UpdatePresencePayload {
    UpdatePresencePayload {
        activities: activity.map(Activity::from).into_iter().collect(),
        afk: false,
        since: None,
        status,
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, GatewayError> {
    serde_json::to_vec(value).map_err(|e| GatewayError::InvalidRequest(e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};
    use twilight_model::gateway::presence::ActivityType;

    use super::*;

    fn value<T: Serialize>(payload: &T) -> Value {
        serde_json::from_slice(&to_json(payload).unwrap()).unwrap()
    }

    #[test]
    fn presence_is_the_d_of_opcode_3() {
        let payload = presence(
            Status::Online,
            Some(MinimalActivity {
                kind: ActivityType::Watching,
                name: "for banned words".into(),
                url: None,
            }),
        );
        let sent = value(&payload);
        assert_eq!(sent["status"], "online");
        assert_eq!(sent["afk"], false);
        assert_eq!(sent["since"], Value::Null);
        assert_eq!(sent["activities"][0]["name"], "for banned words");
        assert_eq!(sent["activities"][0]["type"], 3);
        assert_eq!(
            value(&presence(Status::Idle, None))["activities"],
            json!([])
        );
    }

    #[test]
    fn member_requests_are_the_d_of_opcode_8() {
        assert_eq!(
            value(&members_by_name(Id::new(1234), "al", 10)),
            json!({ "guild_id": "1234", "query": "al", "limit": 10 })
        );
        assert_eq!(
            value(&members_by_id(Id::new(1234), &[Id::new(5), Id::new(6)])),
            json!({ "guild_id": "1234", "user_ids": ["5", "6"] })
        );
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            GatewayError::RateLimited(1500).to_string(),
            "too many gateway commands; retry in 1500 ms"
        );
        assert_eq!(
            crate::Error::from(GatewayError::NotConnected("shard 1 is reconnecting".into()))
                .to_string(),
            "the gateway is not connected: shard 1 is reconnecting"
        );
    }
}
