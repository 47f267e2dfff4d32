//! The `gateway` import (world `event-bot`): commands a bot sends over the
//! gateway sessions the node holds for it. The command is checked here;
//! the node's gateway decides whether it may go out now.

use super::HostState;
use crate::protocol::gateway as protocol;
use crate::sandbox::event_bindings::appliance::bot::gateway::{self, GatewayError};
use crate::sandbox::{GatewayCommand, GatewayRefusal};

impl HostState {
    fn send_command(
        &mut self,
        command: Result<GatewayCommand, String>,
    ) -> Result<(), GatewayError> {
        let env = self
            .live_env()
            .map_err(|why| GatewayError::NotConnected(why.into()))?;
        let command = command.map_err(GatewayError::InvalidRequest)?;
        env.gateway
            .send(env.bot_id, command)
            .map_err(|refusal| match refusal {
                GatewayRefusal::NotConnected(why) => GatewayError::NotConnected(why),
                GatewayRefusal::RateLimited(ms) => GatewayError::RateLimited(ms),
                GatewayRefusal::Invalid(why) => GatewayError::InvalidRequest(why),
            })
    }
}

impl gateway::Host for HostState {
    async fn update_presence(&mut self, presence: Vec<u8>) -> Result<(), GatewayError> {
        self.send_command(protocol::presence_update(&presence))
    }

    async fn request_guild_members(&mut self, request: Vec<u8>) -> Result<(), GatewayError> {
        self.send_command(protocol::request_guild_members(&request))
    }
}
