//! A recording stand-in for the node, for the SDK's own unit tests of what
//! goes through [`host`](crate::host) (bots use `appliance_sdk::testing`).

use std::cell::RefCell;
use std::rc::Rc;

use crate::discord::{DiscordError, DiscordResponse};
use crate::gateway::GatewayError;
use crate::host::{install, Host};
use crate::kv::KvError;
use crate::log::Level;

/// One call the code under test made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    Respond(String),
    Discord {
        method: String,
        path: String,
        body: Option<String>,
    },
}

/// Records `respond` and `discord.request` calls; Discord answers every
/// request with `answer`'s status and body.
pub(crate) struct FakeHost {
    calls: RefCell<Vec<Call>>,
    answer: (u16, &'static str),
}

impl FakeHost {
    /// Installs a host answering Discord with `status` and `body`.
    pub(crate) fn install(status: u16, body: &'static str) -> (Rc<Self>, impl Drop) {
        let host = Rc::new(Self {
            calls: RefCell::new(Vec::new()),
            answer: (status, body),
        });
        let installed = install(host.clone());
        (host, installed)
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }
}

impl Host for FakeHost {
    fn kv_get(&self, _: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(None)
    }
    fn kv_set(&self, _: &str, _: &[u8]) -> Result<(), KvError> {
        Ok(())
    }
    fn kv_delete(&self, _: &str) -> Result<(), KvError> {
        Ok(())
    }
    fn kv_list_keys(&self, _: &str) -> Result<Vec<String>, KvError> {
        Ok(Vec::new())
    }
    fn log(&self, _: Level, _: &str) {}
    fn discord_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<DiscordResponse, DiscordError> {
        self.calls.borrow_mut().push(Call::Discord {
            method: method.to_owned(),
            path: path.to_owned(),
            body: body.map(|b| String::from_utf8_lossy(b).into_owned()),
        });
        Ok(DiscordResponse {
            status: self.answer.0,
            body: self.answer.1.as_bytes().to_vec(),
        })
    }
    fn respond(&self, response: &[u8]) -> Result<(), String> {
        let mut calls = self.calls.borrow_mut();
        if calls.iter().any(|call| matches!(call, Call::Respond(_))) {
            return Err("the interaction already has its initial response".into());
        }
        calls.push(Call::Respond(
            String::from_utf8_lossy(response).into_owned(),
        ));
        Ok(())
    }
    fn update_presence(&self, _: &[u8]) -> Result<(), GatewayError> {
        Ok(())
    }
    fn request_guild_members(&self, _: &[u8]) -> Result<(), GatewayError> {
        Ok(())
    }
}
