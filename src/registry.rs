//! Registers a bot's declared application commands with Discord, as the
//! bot (its token stays on the node), and reads back what Discord has: one
//! bulk overwrite per deploy, rollback or sync, so Discord holds exactly the
//! commands the serving version declares.

use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use crate::discord::{self, Auth};
use crate::protocol::commands::{self, Commands};

/// How long a registration may take; a deploy waits for it.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(15);

/// Where commands are registered: for every server (global, the default), or
/// one server only (`--guild`, which Discord updates at once: for testing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Global,
    Guild(String),
}

impl Scope {
    /// `None` is global; a guild id must be a snowflake.
    pub fn new(guild: Option<&str>) -> Result<Scope, String> {
        match guild.map(str::trim) {
            None | Some("") => Ok(Scope::Global),
            Some(id) if id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(Scope::Guild(id.to_owned()))
            }
            Some(id) => Err(format!(
                "--guild {id:?} is not a server id: copy it in Discord with Developer Mode on \
                 (right-click the server, Copy Server ID)"
            )),
        }
    }

    pub fn guild(&self) -> Option<&str> {
        match self {
            Scope::Global => None,
            Scope::Guild(id) => Some(id),
        }
    }

    fn path(&self, app_id: &str) -> String {
        match self {
            Scope::Global => format!("/applications/{app_id}/commands"),
            Scope::Guild(guild) => format!("/applications/{app_id}/guilds/{guild}/commands"),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Global => f.write_str("globally"),
            Scope::Guild(id) => write!(f, "in server {id}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Discord refused the commands (its error, with field paths).
    #[error("Discord refused the bot's commands: {0}")]
    Refused(String),
    /// No answer, or one that is not Discord's command list.
    #[error("could not reach Discord to register the bot's commands: {0}")]
    Failed(String),
}

/// Replaces the application's commands in `scope` with `commands` (Discord's
/// bulk overwrite: commands not in the list are deleted). Returns what
/// Discord now has.
pub async fn overwrite(
    client: &discord::Client,
    token: &str,
    app_id: &str,
    scope: &Scope,
    commands: &Commands,
) -> Result<Vec<Value>, Error> {
    call(
        client,
        token,
        Method::PUT,
        &scope.path(app_id),
        Some(Bytes::from(commands.to_json())),
    )
    .await
}

/// The application's commands registered in `scope`.
pub async fn fetch(
    client: &discord::Client,
    token: &str,
    app_id: &str,
    scope: &Scope,
) -> Result<Vec<Value>, Error> {
    call(client, token, Method::GET, &scope.path(app_id), None).await
}

async fn call(
    client: &discord::Client,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Bytes>,
) -> Result<Vec<Value>, Error> {
    let deadline = tokio::time::Instant::now() + REGISTER_TIMEOUT;
    let response = client
        .request(Auth::Bot(token), method, path, body, deadline)
        .await
        .map_err(|e| match e {
            discord::Error::TokenRevoked => Error::Refused(e.to_string()),
            other => Error::Failed(other.to_string()),
        })?;
    match response.status {
        200..=299 => serde_json::from_slice::<Vec<Value>>(&response.body)
            .map_err(|e| Error::Failed(format!("Discord's answer is not a list of commands: {e}"))),
        status @ 400..=499 => Err(Error::Refused(commands::discord_error(
            status,
            &response.body,
        ))),
        status => Err(Error::Failed(commands::discord_error(
            status,
            &response.body,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_takes_a_server_id_or_nothing() {
        assert_eq!(Scope::new(None).unwrap(), Scope::Global);
        assert_eq!(Scope::new(Some("")).unwrap(), Scope::Global);
        assert_eq!(
            Scope::new(Some("123")).unwrap().path("9"),
            "/applications/9/guilds/123/commands"
        );
        assert_eq!(Scope::Global.path("9"), "/applications/9/commands");
        let error = Scope::new(Some("my-server")).unwrap_err();
        assert!(error.contains("Copy Server ID"), "{error}");
    }
}
