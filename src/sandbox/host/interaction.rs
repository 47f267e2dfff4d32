//! The `interaction` import: an initial response sent early, while the bot
//! keeps running.

use super::HostState;
use crate::protocol::interaction::Answer;
use crate::sandbox::bindings::appliance::bot::interaction;
use crate::sandbox::MAX_RESPONSE_BYTES;

impl interaction::Host for HostState {
    async fn respond(&mut self, response: Vec<u8>) -> Result<(), String> {
        self.live_env().map_err(str::to_owned)?;
        if self.event.is_event {
            return Err("there is no interaction to respond to: this call is handle-event".into());
        }
        if response.len() > MAX_RESPONSE_BYTES {
            return Err(format!(
                "the response is {} bytes; the limit is {MAX_RESPONSE_BYTES}",
                response.len()
            ));
        }
        let response = Answer::parse(response)?;
        let Some(responder) = self.event.responder.take() else {
            return Err("this interaction already has its initial response".into());
        };
        responder.send(response).map_err(|_| {
            "the host already answered this interaction with a deferral at its deadline; \
             the value the bot returns will edit that answer"
                .to_owned()
        })
    }
}
