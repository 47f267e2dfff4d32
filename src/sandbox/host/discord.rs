//! The `discord` import: a bot's REST calls, made by the host with the bot's
//! token (which the guest never sees), under Discord's rate limits.

use super::HostState;
use crate::discord::{self as rest, Auth};
use crate::sandbox::bindings::appliance::bot::discord;
use crate::store::Level;

impl discord::Host for HostState {
    async fn request(
        &mut self,
        method: String,
        path: String,
        body: Option<Vec<u8>>,
    ) -> Result<discord::Response, discord::DiscordError> {
        let env = self
            .live_env()
            .map_err(|why| discord::DiscordError::Unauthorized(why.into()))?;
        let method = rest::parse_method(&method).map_err(to_wit_discord)?;
        let Some(auth) = env.auth(&path) else {
            // Sending without a token would only earn a 401 that counts
            // toward Discord's invalid-request ban for the whole node.
            return Err(discord::DiscordError::Unauthorized(
                "the bot was deployed without a token (appliance deploy --token-env or --token-file); \
                 only interaction webhooks work without one"
                    .into(),
            ));
        };
        let deadline = tokio::time::Instant::from_std(self.event.deadline);
        let route = rest::redact_path(&path);
        match env
            .discord
            .request(
                auth,
                method.clone(),
                &path,
                body.map(bytes::Bytes::from),
                deadline,
            )
            .await
        {
            Ok(response) => {
                if response.status == 403 {
                    if let Auth::Bot(token) = auth {
                        let status = env.discord.token_status(token);
                        if let Some(paused) = status.paused_for {
                            // The 403 that tripped the breaker: say so once,
                            // in the owner's logs; refused calls say it again.
                            self.event.push(
                                Level::Error,
                                &format!(
                                    "Discord answered 403 Forbidden {} times within a minute: this bot's REST \
                                     calls are paused for {} s so the node's address stays clear of Discord's \
                                     invalid-request ban; check its permissions",
                                    status.forbidden_60s,
                                    paused.as_secs().max(1)
                                ),
                            );
                        }
                    }
                }
                Ok(discord::Response {
                    status: response.status,
                    body: response.body.to_vec(),
                })
            }
            Err(err) => {
                self.event
                    .push(Level::Warn, &format!("discord {method} {route}: {err}"));
                Err(to_wit_discord(err))
            }
        }
    }
}

fn to_wit_discord(err: rest::Error) -> discord::DiscordError {
    use discord::DiscordError as W;
    let message = err.to_string();
    match err {
        rest::Error::InvalidRequest(_) => W::InvalidRequest(message),
        rest::Error::RateLimited { retry_after, .. } => {
            W::RateLimited(retry_after.as_millis().min(u32::MAX as u128) as u32)
        }
        rest::Error::DeadlineExceeded { sent: false } => W::RateLimited(0),
        rest::Error::TokenRevoked
        | rest::Error::TooManyForbidden { .. }
        | rest::Error::NodePaused { .. } => W::Unauthorized(message),
        _ => W::Unavailable(message),
    }
}
