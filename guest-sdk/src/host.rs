//! The one door to the host: every host call the SDK makes goes through
//! here.
//!
//! In a component (`target_arch = "wasm32"`) each function is the WIT
//! import of the same name. Natively (`cargo test` of a bot crate) there is
//! no node to call, so each function asks the [`Host`] that
//! [`testing`](crate::testing) installs on the current thread for the
//! duration of a run; without one it panics with a message that says where
//! to look. Keeping both behind one set of functions is what lets a bot's
//! own code run unchanged under `cargo test`.

use crate::discord::{DiscordError, DiscordResponse};
use crate::gateway::GatewayError;
use crate::kv::KvError;
use crate::log::Level;

/// Returns the value stored under `key`, or `None`.
pub(crate) fn kv_get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
    imp::kv_get(key)
}

/// Stores `value` under `key`.
pub(crate) fn kv_set(key: &str, value: &[u8]) -> Result<(), KvError> {
    imp::kv_set(key, value)
}

/// Removes `key`; a missing key is not an error.
pub(crate) fn kv_delete(key: &str) -> Result<(), KvError> {
    imp::kv_delete(key)
}

/// Lists the bot's keys that start with `prefix`, in byte order.
pub(crate) fn kv_list_keys(prefix: &str) -> Result<Vec<String>, KvError> {
    imp::kv_list_keys(prefix)
}

/// Writes one log line.
pub(crate) fn log(level: Level, message: &str) {
    imp::log(level, message);
}

/// Sends one REST request to Discord as the bot.
pub(crate) fn discord_request(
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<DiscordResponse, DiscordError> {
    imp::discord_request(method, path, body)
}

/// Sends the interaction's initial response (response JSON) now.
pub(crate) fn respond(response: &[u8]) -> Result<(), String> {
    imp::respond(response)
}

/// Updates the bot's presence (the `d` of gateway opcode 3, as JSON).
pub(crate) fn update_presence(presence: &[u8]) -> Result<(), GatewayError> {
    imp::update_presence(presence)
}

/// Requests guild members (the `d` of gateway opcode 8, as JSON).
pub(crate) fn request_guild_members(request: &[u8]) -> Result<(), GatewayError> {
    imp::request_guild_members(request)
}

/// What a native stand-in for the node answers: one method per host call,
/// with the WIT import's meaning. Implemented by the testing module's
/// in-memory host.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) trait Host {
    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;
    fn kv_delete(&self, key: &str) -> Result<(), KvError>;
    fn kv_list_keys(&self, prefix: &str) -> Result<Vec<String>, KvError>;
    fn log(&self, level: Level, message: &str);
    fn discord_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<DiscordResponse, DiscordError>;
    fn respond(&self, response: &[u8]) -> Result<(), String>;
    fn update_presence(&self, presence: &[u8]) -> Result<(), GatewayError>;
    fn request_guild_members(&self, request: &[u8]) -> Result<(), GatewayError>;
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::install;

#[cfg(not(target_arch = "wasm32"))]
use native as imp;
#[cfg(target_arch = "wasm32")]
use wasm as imp;

/// The WIT imports, with their errors turned into the SDK's.
#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::{DiscordError, DiscordResponse, GatewayError, KvError, Level};
    use crate::wit::appliance::bot::{discord, interaction, kv, log};
    use crate::wit_gateway::appliance::bot::gateway;

    pub(super) fn kv_get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
        kv::get(key).map_err(kv_error)
    }

    pub(super) fn kv_set(key: &str, value: &[u8]) -> Result<(), KvError> {
        kv::set(key, value).map_err(kv_error)
    }

    pub(super) fn kv_delete(key: &str) -> Result<(), KvError> {
        kv::delete(key).map_err(kv_error)
    }

    pub(super) fn kv_list_keys(prefix: &str) -> Result<Vec<String>, KvError> {
        kv::list_keys(prefix).map_err(kv_error)
    }

    pub(super) fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => log::Level::Trace,
            Level::Debug => log::Level::Debug,
            Level::Info => log::Level::Info,
            Level::Warn => log::Level::Warn,
            Level::Error => log::Level::Error,
        };
        log::log(level, message);
    }

    pub(super) fn discord_request(
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<DiscordResponse, DiscordError> {
        match discord::request(method, path, body) {
            Ok(response) => Ok(DiscordResponse {
                status: response.status,
                body: response.body,
            }),
            Err(discord::DiscordError::InvalidRequest(why)) => {
                Err(DiscordError::InvalidRequest(why))
            }
            Err(discord::DiscordError::RateLimited(ms)) => Err(DiscordError::RateLimited(ms)),
            Err(discord::DiscordError::Unauthorized(why)) => Err(DiscordError::Unauthorized(why)),
            Err(discord::DiscordError::Unavailable(why)) => Err(DiscordError::Unavailable(why)),
        }
    }

    pub(super) fn respond(response: &[u8]) -> Result<(), String> {
        interaction::respond(response)
    }

    pub(super) fn update_presence(presence: &[u8]) -> Result<(), GatewayError> {
        gateway::update_presence(presence).map_err(gateway_error)
    }

    pub(super) fn request_guild_members(request: &[u8]) -> Result<(), GatewayError> {
        gateway::request_guild_members(request).map_err(gateway_error)
    }

    fn kv_error(error: kv::KvError) -> KvError {
        match error {
            kv::KvError::InvalidKey(why) => KvError::InvalidKey(why),
            kv::KvError::QuotaExceeded(why) => KvError::QuotaExceeded(why),
            kv::KvError::Unavailable(why) => KvError::Unavailable(why),
        }
    }

    fn gateway_error(error: gateway::GatewayError) -> GatewayError {
        match error {
            gateway::GatewayError::NotConnected(why) => GatewayError::NotConnected(why),
            gateway::GatewayError::RateLimited(ms) => GatewayError::RateLimited(ms),
            gateway::GatewayError::InvalidRequest(why) => GatewayError::InvalidRequest(why),
        }
    }
}

/// The thread's installed [`Host`], or a panic that points at the testing
/// module.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::{DiscordError, DiscordResponse, GatewayError, Host, KvError, Level};

    thread_local! {
        static HOST: RefCell<Option<Rc<dyn Host>>> = const { RefCell::new(None) };
    }

    /// Installs `host` on this thread until the returned guard is dropped
    /// (also when a handler panics), restoring whatever was there before.
    pub(crate) fn install(host: Rc<dyn Host>) -> Installed {
        let previous = HOST.with(|slot| slot.replace(Some(host)));
        Installed { previous }
    }

    /// Keeps a [`Host`] installed; see [`install`].
    pub(crate) struct Installed {
        previous: Option<Rc<dyn Host>>,
    }

    impl Drop for Installed {
        fn drop(&mut self) {
            let previous = self.previous.take();
            HOST.with(|slot| *slot.borrow_mut() = previous);
        }
    }

    /// The installed host. It is cloned out of the slot so that a host
    /// method may itself run code that makes host calls.
    fn host(call: &str) -> Rc<dyn Host> {
        HOST.with(|slot| slot.borrow().clone()).unwrap_or_else(|| {
            panic!(
                "appliance-sdk: host call `{call}` outside a node; in tests use appliance_sdk::testing"
            )
        })
    }

    pub(super) fn kv_get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
        host("kv.get").kv_get(key)
    }

    pub(super) fn kv_set(key: &str, value: &[u8]) -> Result<(), KvError> {
        host("kv.set").kv_set(key, value)
    }

    pub(super) fn kv_delete(key: &str) -> Result<(), KvError> {
        host("kv.delete").kv_delete(key)
    }

    pub(super) fn kv_list_keys(prefix: &str) -> Result<Vec<String>, KvError> {
        host("kv.list-keys").kv_list_keys(prefix)
    }

    pub(super) fn log(level: Level, message: &str) {
        host("log.log").log(level, message);
    }

    pub(super) fn discord_request(
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<DiscordResponse, DiscordError> {
        host("discord.request").discord_request(method, path, body)
    }

    pub(super) fn respond(response: &[u8]) -> Result<(), String> {
        host("interaction.respond").respond(response)
    }

    pub(super) fn update_presence(presence: &[u8]) -> Result<(), GatewayError> {
        host("gateway.update-presence").update_presence(presence)
    }

    pub(super) fn request_guild_members(request: &[u8]) -> Result<(), GatewayError> {
        host("gateway.request-guild-members").request_guild_members(request)
    }
}
