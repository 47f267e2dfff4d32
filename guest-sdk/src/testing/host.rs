//! The in-memory node a [`TestBot`](super::TestBot) installs while its bot
//! runs: key-value data, recorded Discord calls, log lines and gateway
//! commands, scripted Discord answers, and the interaction's initial
//! response.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::discord::{DiscordError, DiscordResponse};
use crate::gateway::GatewayError;
use crate::host::Host;
use crate::kv::KvError;
use crate::log::Level;

/// The longest key the node accepts by default, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// The largest value the node accepts by default, in bytes.
pub const MAX_VALUE_BYTES: usize = 256 * 1024;
/// The most keys one `list_keys` call returns.
pub const LIST_LIMIT: usize = 1000;

/// One REST request the bot sent through [`discord`](crate::discord).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedCall {
    /// The HTTP method, as the bot wrote it (`"POST"`).
    pub method: String,
    /// The path relative to the API base (`"/channels/1/messages"`).
    pub path: String,
    /// The JSON body, if the request had one (a body that is not JSON is
    /// kept as a JSON string of its text).
    pub body: Option<Value>,
}

/// One log line the bot wrote through [`log`](crate::log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Its level.
    pub level: Level,
    /// Its text.
    pub message: String,
}

/// One command the bot sent over its gateway sessions through
/// [`gateway`](crate::gateway): the command's `d` as JSON.
#[derive(Clone, Debug, PartialEq)]
pub enum GatewayCommand {
    /// A presence update (opcode 3).
    UpdatePresence(Value),
    /// A guild members request (opcode 8).
    RequestGuildMembers(Value),
}

/// What the bot is running, which decides what `interaction.respond` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Running {
    /// An interaction; `respond` works once.
    Interaction,
    /// An event; there is nothing to respond to.
    Event,
}

/// A scripted answer to one method and path.
#[derive(Clone, Debug)]
pub(super) struct Script {
    method: String,
    path: String,
    answer: Result<DiscordResponse, DiscordError>,
}

/// Everything the in-memory node holds.
#[derive(Debug, Default)]
struct State {
    kv: BTreeMap<String, Vec<u8>>,
    scripts: Vec<Script>,
    next_message_id: u64,
    // What the current (or last) run did:
    running: Option<Running>,
    initial_response: Option<Vec<u8>>,
    calls: Vec<RecordedCall>,
    logs: Vec<LogLine>,
    gateway: Vec<GatewayCommand>,
}

/// The in-memory node. Interior mutability, because [`Host`] takes
/// `&self`: the SDK's host calls share one installed value.
#[derive(Debug, Default)]
pub(super) struct MemoryHost {
    state: RefCell<State>,
}

impl MemoryHost {
    /// Starts a run: forgets what the last run did (the key-value data and
    /// the scripts stay).
    pub(super) fn begin(&self, running: Running) {
        let mut state = self.state.borrow_mut();
        state.running = Some(running);
        state.initial_response = None;
        state.calls.clear();
        state.logs.clear();
        state.gateway.clear();
    }

    /// Ends a run: host calls from here on (there should be none) are not
    /// part of an interaction.
    pub(super) fn end(&self) {
        self.state.borrow_mut().running = None;
    }

    pub(super) fn initial_response(&self) -> Option<Vec<u8>> {
        self.state.borrow().initial_response.clone()
    }

    pub(super) fn calls(&self) -> Vec<RecordedCall> {
        self.state.borrow().calls.clone()
    }

    pub(super) fn logs(&self) -> Vec<LogLine> {
        self.state.borrow().logs.clone()
    }

    pub(super) fn gateway(&self) -> Vec<GatewayCommand> {
        self.state.borrow().gateway.clone()
    }

    pub(super) fn kv_value(&self, key: &str) -> Option<Vec<u8>> {
        self.state.borrow().kv.get(key).cloned()
    }

    pub(super) fn kv_keys(&self) -> Vec<String> {
        self.state.borrow().kv.keys().cloned().collect()
    }

    /// Answers `method path` with `answer` from now on (a later script for
    /// the same call replaces it).
    pub(super) fn script(
        &self,
        method: &str,
        path: &str,
        answer: Result<DiscordResponse, DiscordError>,
    ) {
        let mut state = self.state.borrow_mut();
        state
            .scripts
            .retain(|s| !(s.method.eq_ignore_ascii_case(method) && s.path == path));
        state.scripts.push(Script {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            answer,
        });
    }

    /// The answer to an unscripted call: what Discord answers a successful
    /// one, near enough. A created or edited message gets a fresh ID.
    fn default_answer(state: &mut State, method: &str) -> DiscordResponse {
        match method.to_ascii_uppercase().as_str() {
            "POST" | "PATCH" => {
                state.next_message_id += 1;
                let id = 1_000_000 + state.next_message_id;
                DiscordResponse {
                    status: 200,
                    body: format!(r#"{{"id":"{id}"}}"#).into_bytes(),
                }
            }
            "PUT" | "DELETE" => DiscordResponse {
                status: 204,
                body: Vec::new(),
            },
            _ => DiscordResponse {
                status: 200,
                body: b"{}".to_vec(),
            },
        }
    }
}

/// Checks a key the way the node does on a write.
fn check_key(key: &str) -> Result<(), KvError> {
    if key.is_empty() {
        return Err(KvError::InvalidKey("key must not be empty".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(KvError::InvalidKey(format!(
            "key is {} bytes; the limit is {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    Ok(())
}

/// Stores `value` under `key` with the node's checks; shared by the bot's
/// writes and the test's own.
pub(super) fn kv_write(host: &MemoryHost, key: &str, value: &[u8]) -> Result<(), KvError> {
    check_key(key)?;
    if value.len() > MAX_VALUE_BYTES {
        return Err(KvError::QuotaExceeded(format!(
            "value is {} bytes; the limit is {MAX_VALUE_BYTES}",
            value.len()
        )));
    }
    host.state
        .borrow_mut()
        .kv
        .insert(key.to_owned(), value.to_vec());
    Ok(())
}

impl Host for MemoryHost {
    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.kv_value(key))
    }

    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        kv_write(self, key, value)
    }

    fn kv_delete(&self, key: &str) -> Result<(), KvError> {
        self.state.borrow_mut().kv.remove(key);
        Ok(())
    }

    fn kv_list_keys(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        Ok(self
            .state
            .borrow()
            .kv
            .range(prefix.to_owned()..)
            .map(|(key, _)| key)
            .take_while(|key| key.starts_with(prefix))
            .take(LIST_LIMIT)
            .cloned()
            .collect())
    }

    fn log(&self, level: Level, message: &str) {
        self.state.borrow_mut().logs.push(LogLine {
            level,
            message: message.to_owned(),
        });
    }

    fn discord_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<DiscordResponse, DiscordError> {
        let mut state = self.state.borrow_mut();
        state.calls.push(RecordedCall {
            method: method.to_owned(),
            path: path.to_owned(),
            body: body.map(|bytes| {
                serde_json::from_slice(bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
            }),
        });
        let scripted = state
            .scripts
            .iter()
            .find(|s| s.method.eq_ignore_ascii_case(method) && s.path == path)
            .map(|s| s.answer.clone());
        scripted.unwrap_or_else(|| Ok(Self::default_answer(&mut state, method)))
    }

    fn respond(&self, response: &[u8]) -> Result<(), String> {
        let mut state = self.state.borrow_mut();
        if state.running != Some(Running::Interaction) {
            return Err("there is no interaction to respond to: this call is handle-event".into());
        }
        let value: Value =
            serde_json::from_slice(response).map_err(|e| format!("response is not JSON: {e}"))?;
        match value.get("type").and_then(Value::as_u64) {
            Some(4..=9) => {}
            Some(other) => {
                return Err(format!(
                    "response type {other} is not an initial response type"
                ))
            }
            None => return Err("response has no numeric \"type\" field".into()),
        }
        if state.initial_response.is_some() {
            return Err("this interaction already has its initial response".into());
        }
        state.initial_response = Some(response.to_vec());
        Ok(())
    }

    fn update_presence(&self, presence: &[u8]) -> Result<(), GatewayError> {
        let value = gateway_json(presence)?;
        self.state
            .borrow_mut()
            .gateway
            .push(GatewayCommand::UpdatePresence(value));
        Ok(())
    }

    fn request_guild_members(&self, request: &[u8]) -> Result<(), GatewayError> {
        let value = gateway_json(request)?;
        self.state
            .borrow_mut()
            .gateway
            .push(GatewayCommand::RequestGuildMembers(value));
        Ok(())
    }
}

/// A gateway command's `d`, which the node refuses unless it is JSON.
fn gateway_json(bytes: &[u8]) -> Result<Value, GatewayError> {
    serde_json::from_slice(bytes)
        .map_err(|e| GatewayError::InvalidRequest(format!("the command is not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_nodes_rules() {
        let host = MemoryHost::default();
        assert!(matches!(host.kv_set("", b"x"), Err(KvError::InvalidKey(_))));
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(matches!(
            host.kv_set(&long, b"x"),
            Err(KvError::InvalidKey(_))
        ));
        host.kv_set(&long[1..], b"x").unwrap();
        let big = vec![0; MAX_VALUE_BYTES + 1];
        assert!(matches!(
            host.kv_set("big", &big),
            Err(KvError::QuotaExceeded(_))
        ));
        assert_eq!(host.kv_get("big").unwrap(), None);
    }

    #[test]
    fn list_keys_is_by_prefix_in_byte_order() {
        let host = MemoryHost::default();
        for key in ["b:2", "a:1", "b:10", "c", "b:"] {
            host.kv_set(key, b"").unwrap();
        }
        assert_eq!(host.kv_list_keys("b:").unwrap(), ["b:", "b:10", "b:2"]);
        assert_eq!(host.kv_list_keys("").unwrap().len(), 5);
        host.kv_delete("b:10").unwrap();
        host.kv_delete("missing").unwrap();
        assert_eq!(host.kv_list_keys("b:").unwrap(), ["b:", "b:2"]);
    }

    #[test]
    fn respond_works_once_and_only_for_interactions() {
        let host = MemoryHost::default();
        host.begin(Running::Event);
        assert!(host.respond(br#"{"type":5}"#).is_err());
        host.begin(Running::Interaction);
        assert!(host.respond(b"nope").is_err());
        assert!(host.respond(br#"{"type":1}"#).is_err());
        host.respond(br#"{"type":5}"#).unwrap();
        let again = host.respond(br#"{"type":4,"data":{"content":"x"}}"#);
        assert_eq!(
            again.unwrap_err(),
            "this interaction already has its initial response"
        );
        assert_eq!(host.initial_response().unwrap(), br#"{"type":5}"#);
        host.begin(Running::Interaction);
        assert_eq!(host.initial_response(), None);
    }

    #[test]
    fn calls_are_recorded_and_answered_as_scripted() {
        let host = MemoryHost::default();
        host.begin(Running::Interaction);
        let created = host
            .discord_request("POST", "/channels/1/messages", Some(br#"{"content":"hi"}"#))
            .unwrap();
        assert_eq!(created.status, 200);
        assert_eq!(created.body, br#"{"id":"1000001"}"#);
        assert_eq!(
            host.discord_request("DELETE", "/channels/1/messages/2", None)
                .unwrap()
                .status,
            204
        );
        host.script(
            "delete",
            "/channels/1/messages/2",
            Ok(DiscordResponse {
                status: 404,
                body: b"{}".to_vec(),
            }),
        );
        host.script("GET", "/users/@me", Err(DiscordError::RateLimited(500)));
        assert_eq!(
            host.discord_request("DELETE", "/channels/1/messages/2", None)
                .unwrap()
                .status,
            404
        );
        assert_eq!(
            host.discord_request("GET", "/users/@me", None).unwrap_err(),
            DiscordError::RateLimited(500)
        );
        let calls = host.calls();
        assert_eq!(calls.len(), 4);
        assert_eq!(calls[0].method, "POST");
        assert_eq!(calls[0].path, "/channels/1/messages");
        assert_eq!(calls[0].body, Some(serde_json::json!({"content": "hi"})));
        assert_eq!(calls[1].body, None);
        host.begin(Running::Interaction);
        assert!(host.calls().is_empty());
    }
}
