//! Discord's REST API, called through the host as this bot.
//!
//! The host adds the bot's token (which the bot never sees), keeps within
//! Discord's rate limits and gives up rather than run past the event's
//! wall-clock limit. [`request`] and [`call`] are the raw calls; the helpers
//! below cover what bots do most: send, edit and delete messages, react,
//! manage roles, and edit or delete an interaction's follow-ups.
//!
//! ```
//! use appliance_sdk::prelude::*;
//! use appliance_sdk::testing::TestBot;
//!
//! /// Posts in a channel, reacts, and reads a user through the raw call.
//! fn announce(channel: Id<ChannelMarker>) -> Result<String> {
//!     let news = Response::message("New release").embed(Embed::new().title("1.2").color(0x57F287));
//!     let posted = discord::send_message(channel, news)?;
//!     let message: Id<MessageMarker> = posted.json::<serde_json::Value>()?["id"]
//!         .as_str()
//!         .and_then(|id| id.parse().ok())
//!         .ok_or("Discord sent no message id")?;
//!     discord::add_reaction(channel, message, "🎉")?;
//!     let me: serde_json::Value = discord::request("GET", "/users/@me", None)?.success()?.json()?;
//!     Ok(format!("{} announced it", me["username"]))
//! }
//! # #[derive(Default)] struct B;
//! # impl Bot for B { fn router() -> Router<Self> { Router::new().fallback(|_, _| Ok(Response::message(announce(Id::new(5))?))) } }
//! # let mut bot = TestBot::<B>::new();
//! # bot.reply_to("GET", "/users/@me", 200, serde_json::json!({"username": "relbot"}));
//! # let answer = bot.run(appliance_sdk::testing::TestInteraction::command("x"))?;
//! # assert_eq!(answer.content(), Some("\"relbot\" announced it"));
//! # assert_eq!(bot.discord_calls()[1].path, "/channels/5/messages/1000001/reactions/%F0%9F%8E%89/@me");
//! # Ok::<(), appliance_sdk::Error>(())
//! ```
//!
//! Replies and follow-ups to an interaction are
//! [`Interaction`]'s methods; they use the interaction's
//! own token and work even for a bot deployed without a bot token.
//! Everything else needs one (`appliance deploy --token-env`).

use std::fmt;

use serde::Serialize;
use serde_json::json;

use twilight_model::id::marker::{
    ChannelMarker, GuildMarker, MessageMarker, RoleMarker, UserMarker,
};
use twilight_model::id::Id;

use crate::host;
use crate::{Interaction, Response};

/// Why a REST call produced no answer from Discord. An error *status* from
/// Discord (403, 404, ...) is not a `DiscordError`: it arrives as a
/// [`DiscordResponse`] with that status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscordError {
    /// The method or path is not a valid Discord API call.
    InvalidRequest(String),
    /// Rate limits would delay the call past this event's limit; the value
    /// is the wait in milliseconds.
    RateLimited(u32),
    /// No token, a token Discord rejected, or a pause after too many 403s.
    Unauthorized(String),
    /// Discord could not be reached or did not answer in time.
    Unavailable(String),
    /// Discord answered with this error status and body.
    Status(u16, String),
}

impl fmt::Display for DiscordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRequest(why) => write!(f, "invalid Discord request: {why}"),
            Self::RateLimited(ms) => write!(f, "rate limited by Discord; retry in {ms} ms"),
            Self::Unauthorized(why) => write!(f, "not authorized: {why}"),
            Self::Unavailable(why) => write!(f, "Discord unavailable: {why}"),
            Self::Status(status, body) => write!(f, "Discord answered {status}: {body}"),
        }
    }
}

impl std::error::Error for DiscordError {}

/// Discord's answer to a [`request`].
#[derive(Clone, Debug)]
pub struct DiscordResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body: JSON, or empty (for example on 204 No Content).
    pub body: Vec<u8>,
}

impl DiscordResponse {
    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> crate::Result<T> {
        Ok(serde_json::from_slice(&self.body)?)
    }

    /// `Ok(self)` for a 2xx status, else [`DiscordError::Status`].
    pub fn success(self) -> Result<Self, DiscordError> {
        if self.is_success() {
            Ok(self)
        } else {
            let body = String::from_utf8_lossy(&self.body).into_owned();
            Err(DiscordError::Status(self.status, body))
        }
    }
}

/// Sends `method` to `path` (relative to the API base, such as
/// `/channels/123/messages`) with an optional JSON `body`.
pub fn request(
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<DiscordResponse, DiscordError> {
    host::discord_request(method, path, body)
}

/// Like [`request`] with a serializable body, failing on a non-2xx status.
pub fn call<B: Serialize>(
    method: &str,
    path: &str,
    body: Option<&B>,
) -> Result<DiscordResponse, DiscordError> {
    let body = body
        .map(serde_json::to_vec)
        .transpose()
        .map_err(|e| DiscordError::InvalidRequest(e.to_string()))?;
    request(method, path, body.as_deref())?.success()
}

/// The `data` of an interaction response: the message Discord stores, as
/// the body of a message create or edit.
pub(crate) fn message_body(message: &Response) -> Result<serde_json::Value, DiscordError> {
    let json = message
        .to_json()
        .map_err(|e| DiscordError::InvalidRequest(e.to_string()))?;
    let mut value: serde_json::Value =
        serde_json::from_slice(&json).map_err(|e| DiscordError::InvalidRequest(e.to_string()))?;
    Ok(value
        .get_mut("data")
        .map(serde_json::Value::take)
        .unwrap_or_else(|| json!({})))
}

/// Posts a message in a channel: text (`send_message(channel, "hi")`) or a
/// whole [`Response::message`] with embeds, components or allowed
/// mentions. Returns the created message's JSON (its `id` included).
pub fn send_message(
    channel_id: Id<ChannelMarker>,
    message: impl Into<Response>,
) -> Result<DiscordResponse, DiscordError> {
    call(
        "POST",
        &format!("/channels/{channel_id}/messages"),
        Some(&message_body(&message.into())?),
    )
}

/// Replaces one of the bot's messages: its text, or what a
/// [`Response::message`] sets (fields it leaves out stay as they were).
pub fn edit_message(
    channel_id: Id<ChannelMarker>,
    message_id: Id<MessageMarker>,
    message: impl Into<Response>,
) -> Result<DiscordResponse, DiscordError> {
    call(
        "PATCH",
        &format!("/channels/{channel_id}/messages/{message_id}"),
        Some(&message_body(&message.into())?),
    )
}

/// Deletes a message.
pub fn delete_message(
    channel_id: Id<ChannelMarker>,
    message_id: Id<MessageMarker>,
) -> Result<(), DiscordError> {
    call::<()>(
        "DELETE",
        &format!("/channels/{channel_id}/messages/{message_id}"),
        None,
    )
    .map(drop)
}

/// Adds the bot's reaction; `emoji` is a Unicode emoji or `name:id` for a custom one.
pub fn add_reaction(
    channel_id: Id<ChannelMarker>,
    message_id: Id<MessageMarker>,
    emoji: &str,
) -> Result<(), DiscordError> {
    let emoji = percent_encode(emoji);
    call::<()>(
        "PUT",
        &format!("/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"),
        None,
    )
    .map(drop)
}

/// Removes the bot's own reaction.
pub fn remove_reaction(
    channel_id: Id<ChannelMarker>,
    message_id: Id<MessageMarker>,
    emoji: &str,
) -> Result<(), DiscordError> {
    let emoji = percent_encode(emoji);
    call::<()>(
        "DELETE",
        &format!("/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"),
        None,
    )
    .map(drop)
}

/// Gives a guild member a role.
pub fn add_role(
    guild_id: Id<GuildMarker>,
    user_id: Id<UserMarker>,
    role_id: Id<RoleMarker>,
) -> Result<(), DiscordError> {
    call::<()>(
        "PUT",
        &format!("/guilds/{guild_id}/members/{user_id}/roles/{role_id}"),
        None,
    )
    .map(drop)
}

/// Takes a role from a guild member.
pub fn remove_role(
    guild_id: Id<GuildMarker>,
    user_id: Id<UserMarker>,
    role_id: Id<RoleMarker>,
) -> Result<(), DiscordError> {
    call::<()>(
        "DELETE",
        &format!("/guilds/{guild_id}/members/{user_id}/roles/{role_id}"),
        None,
    )
    .map(drop)
}

/// Replaces a follow-up message that
/// [`Interaction::follow_up`](crate::Interaction::follow_up) sent (its
/// return value is `message_id`).
pub fn edit_follow_up(
    interaction: &Interaction,
    message_id: Id<MessageMarker>,
    message: impl Into<Response>,
) -> Result<DiscordResponse, DiscordError> {
    call(
        "PATCH",
        &webhook_message_path(interaction, &message_id.to_string()),
        Some(&message_body(&message.into())?),
    )
}

/// Deletes a follow-up message that
/// [`Interaction::follow_up`](crate::Interaction::follow_up) sent.
pub fn delete_follow_up(
    interaction: &Interaction,
    message_id: Id<MessageMarker>,
) -> Result<(), DiscordError> {
    call::<()>(
        "DELETE",
        &webhook_message_path(interaction, &message_id.to_string()),
        None,
    )
    .map(drop)
}

fn webhook_message_path(interaction: &Interaction, message: &str) -> String {
    format!(
        "/webhooks/{}/{}/messages/{message}",
        interaction.application_id(),
        interaction.token()
    )
}

/// Percent-encodes a path segment (emoji are UTF-8 and may contain `:`).
fn percent_encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_are_percent_encoded() {
        assert_eq!(percent_encode("👍"), "%F0%9F%91%8D");
        assert_eq!(percent_encode("party:123"), "party:123");
    }

    #[test]
    fn follow_ups_carry_the_message_not_the_response_envelope() {
        let body = message_body(&Response::message("hi").ephemeral()).unwrap();
        assert_eq!(body, json!({ "content": "hi", "flags": 64 }));
    }
}
