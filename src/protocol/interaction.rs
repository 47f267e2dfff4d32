//! Discord's interaction protocol as the host needs it: interaction and
//! response types, the few fields of an interaction the host reads, the
//! check a bot's answer must pass, the host's own answers (deferrals,
//! notices), and the plan for delivering an answer that comes after the
//! initial response. Pure: no I/O, no sandbox, no store.
//! See: https://discord.com/developers/docs/interactions/receiving-and-responding

use bytes::Bytes;
use hyper::Method;
use serde::Deserialize;

/// Interaction types (Discord's `type` field).
pub mod kind {
    pub const PING: u8 = 1;
    pub const APPLICATION_COMMAND: u8 = 2;
    pub const MESSAGE_COMPONENT: u8 = 3;
    pub const AUTOCOMPLETE: u8 = 4;
    pub const MODAL_SUBMIT: u8 = 5;
}

/// Interaction response types a bot may answer with.
pub const RESPONSE_TYPES: &[u64] = &[4, 5, 6, 7, 8, 9, 10, 12];
pub const EPHEMERAL: u64 = 64;

/// The few fields the host reads; the bot gets the whole body.
#[derive(Debug, Deserialize)]
pub struct Head {
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    id: Option<serde_json::Value>,
    /// The interaction token: the key to its webhook for late answers.
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub data: Option<HeadData>,
}

/// The command name or component id, for the interaction's span.
#[derive(Debug, Default, Deserialize)]
pub struct HeadData {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub custom_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("request body is not an interaction: {0}")]
    BadInteraction(String),
}

impl Head {
    /// Reads the fields the host needs from an interaction body.
    pub fn parse(body: &[u8]) -> Result<Head, Error> {
        serde_json::from_slice(body).map_err(|e| Error::BadInteraction(e.to_string()))
    }

    /// The interaction id (a snowflake string; other JSON shapes as written).
    pub fn id(&self) -> Option<String> {
        match &self.id {
            Some(serde_json::Value::String(id)) => Some(id.clone()),
            Some(other) => Some(other.to_string()),
            None => None,
        }
    }
}

/// A bot's answer, checked once on its way out: the JSON exactly as the bot
/// wrote it, and the two fields the host decides by. Only an answer that is
/// a JSON object with a response `type` Discord knows is accepted; anything
/// else would fail the interaction at Discord.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub json: Bytes,
    pub response_type: u64,
    /// `data.flags` has the ephemeral bit: only the user sees the message.
    pub ephemeral: bool,
}

impl Answer {
    /// Checks a bot's answer; the error says what is wrong, for its author.
    pub fn parse(json: impl Into<Bytes>) -> Result<Answer, String> {
        /// The fields read, and nothing else built (the content, embeds and
        /// components are skipped, not allocated).
        #[derive(Deserialize)]
        struct Shape {
            #[serde(rename = "type")]
            response_type: u64,
            #[serde(default)]
            data: Option<ShapeData>,
        }
        #[derive(Deserialize)]
        struct ShapeData {
            #[serde(default)]
            flags: Option<u64>,
        }
        let json = json.into();
        // serde's derive would also take `[4]` for a struct; Discord wants an object.
        let object = json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let typed = if object {
            serde_json::from_slice::<Shape>(&json).ok()
        } else {
            None
        };
        let (response_type, flags) = match typed {
            Some(shape) => (
                shape.response_type,
                shape.data.and_then(|data| data.flags).unwrap_or(0),
            ),
            // An unusual shape (or no answer at all): read it loosely, as
            // Discord would, or say what is wrong.
            None => {
                let value: serde_json::Value = serde_json::from_slice(&json)
                    .map_err(|e| format!("response is not JSON: {e}"))?;
                let response_type = value
                    .get("type")
                    .and_then(|t| t.as_u64())
                    .ok_or("response has no numeric \"type\" field")?;
                let flags = value.pointer("/data/flags").and_then(|f| f.as_u64());
                (response_type, flags.unwrap_or(0))
            }
        };
        if !RESPONSE_TYPES.contains(&response_type) {
            return Err(format!(
                "response type {response_type} is not a valid interaction response type"
            ));
        }
        Ok(Answer {
            json,
            response_type,
            ephemeral: flags & EPHEMERAL != 0,
        })
    }

    /// The host's own answer, whose fields it knows without parsing.
    fn host(json: Bytes, response_type: u64, ephemeral: bool) -> Answer {
        Answer {
            json,
            response_type,
            ephemeral,
        }
    }
}

/// One request of a late delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub method: Method,
    pub path: String,
    pub body: Option<String>,
}

/// How an answer that comes after the initial response reaches the user
/// (empty: nothing to send, or nothing that can be sent). `initial` is the
/// answer Discord got: a deferral's "thinking..." can be edited but not made
/// ephemeral, a component's message can be updated, a modal has no message.
pub fn late_steps(
    interaction_kind: u8,
    initial: &Answer,
    answer: &Answer,
    app_id: &str,
    token: &str,
) -> Result<Vec<Step>, String> {
    if interaction_kind == kind::AUTOCOMPLETE {
        // Discord already has its choices; suggestions cannot follow.
        return Ok(Vec::new());
    }
    let response_type = answer.response_type;
    // The late path is the one place that needs the message itself.
    let message = serde_json::from_slice::<serde_json::Value>(&answer.json)
        .ok()
        .and_then(|value| value.get("data").map(|data| data.to_string()))
        .unwrap_or_else(|| "{}".to_owned());
    let original = format!("/webhooks/{app_id}/{token}/messages/@original");
    let follow_up = || Step {
        method: Method::POST,
        path: format!("/webhooks/{app_id}/{token}"),
        body: Some(message.clone()),
    };
    let edit = || Step {
        method: Method::PATCH,
        path: original.clone(),
        body: Some(message.clone()),
    };
    let private_after_public = answer.ephemeral && !initial.ephemeral;
    match (response_type, initial.response_type) {
        // A deferral at the end: the bot has said all it will say.
        (5 | 6, _) => Ok(Vec::new()),
        // After "thinking...": fill it in. An edit cannot make it private, so
        // a private answer goes out as an ephemeral follow-up and the public
        // placeholder is removed.
        (4 | 7, 5) if private_after_public => Ok(vec![
            follow_up(),
            Step {
                method: Method::DELETE,
                path: original.clone(),
                body: None,
            },
        ]),
        (4 | 7, 5) => Ok(vec![edit()]),
        // After a message the bot sent early: edit it, or add a private one.
        (4 | 7, 4) if private_after_public => Ok(vec![follow_up()]),
        (4 | 7, 4) => Ok(vec![edit()]),
        // After a component's acknowledgement the original is the message the
        // component is on: type 7 updates it, type 4 is a new message.
        (7, 6 | 7) => Ok(vec![edit()]),
        (4, 6 | 7) => Ok(vec![follow_up()]),
        (4 | 7, initial) => Err(format!(
            "the interaction's initial response (type {initial}) has no message to edit"
        )),
        (other, _) => Err(format!(
            "response type {other} can only be an initial response"
        )),
    }
}

/// The host's own answer at the deferral point (DESIGN.md's deadline rules).
pub fn deferred_response(interaction_kind: u8) -> Answer {
    match interaction_kind {
        kind::MESSAGE_COMPONENT => Answer::host(Bytes::from_static(br#"{"type":6}"#), 6, false),
        // Autocomplete cannot be deferred: an empty list is the only answer in time.
        kind::AUTOCOMPLETE => no_choices(),
        _ => Answer::host(Bytes::from_static(br#"{"type":5}"#), 5, false),
    }
}

/// An autocomplete answer with no suggestions.
fn no_choices() -> Answer {
    Answer::host(
        Bytes::from_static(br#"{"type":8,"data":{"choices":[]}}"#),
        8,
        false,
    )
}

/// What the user sees when the bot could not answer: an ephemeral message,
/// or for autocomplete (which cannot show one) an empty choice list.
pub fn notice(interaction_kind: u8, content: &str) -> Answer {
    if interaction_kind == kind::AUTOCOMPLETE {
        return no_choices();
    }
    let body = serde_json::json!({
        "type": 4,
        "data": { "content": content, "flags": EPHEMERAL },
    });
    Answer::host(Bytes::from(body.to_string()), 4, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn deferral_fits_the_interaction_type() {
        assert_eq!(
            &deferred_response(kind::APPLICATION_COMMAND).json[..],
            br#"{"type":5}"#
        );
        assert_eq!(
            &deferred_response(kind::MODAL_SUBMIT).json[..],
            br#"{"type":5}"#
        );
        assert_eq!(
            &deferred_response(kind::MESSAGE_COMPONENT).json[..],
            br#"{"type":6}"#
        );
        assert_eq!(
            &deferred_response(kind::AUTOCOMPLETE).json[..],
            br#"{"type":8,"data":{"choices":[]}}"#
        );
    }

    #[test]
    fn late_answers_keep_their_privacy_and_target_the_right_message() {
        let steps = |kind: u8, initial: &str, answer: Value| {
            let initial = Answer::parse(initial.as_bytes().to_vec()).unwrap();
            let answer = Answer::parse(answer.to_string()).unwrap();
            late_steps(kind, &initial, &answer, "7", "tok").map(|steps| {
                steps
                    .into_iter()
                    .map(|step| format!("{} {}", step.method, step.path))
                    .collect::<Vec<_>>()
            })
        };
        let public = json!({"type": 4, "data": {"content": "hi"}});
        let private = json!({"type": 4, "data": {"content": "hi", "flags": 64}});
        let edit = "PATCH /webhooks/7/tok/messages/@original";
        let follow_up = "POST /webhooks/7/tok";
        let delete = "DELETE /webhooks/7/tok/messages/@original";
        let command = kind::APPLICATION_COMMAND;
        // After the host's public deferral.
        assert_eq!(
            steps(command, r#"{"type":5}"#, public.clone()),
            Ok(vec![edit.into()])
        );
        assert_eq!(
            steps(command, r#"{"type":5}"#, private.clone()),
            Ok(vec![follow_up.into(), delete.into()])
        );
        // After the bot's own ephemeral deferral, an edit stays private.
        let private_defer = r#"{"type":5,"data":{"flags":64}}"#;
        assert_eq!(
            steps(command, private_defer, private.clone()),
            Ok(vec![edit.into()])
        );
        // After an early message: edit it, or add a private one beside it.
        let early = r#"{"type":4,"data":{"content":"first"}}"#;
        assert_eq!(steps(command, early, public.clone()), Ok(vec![edit.into()]));
        assert_eq!(
            steps(command, early, private.clone()),
            Ok(vec![follow_up.into()])
        );
        // Components: type 6 acknowledged the press; 7 updates the message, 4 adds one.
        let component = kind::MESSAGE_COMPONENT;
        let update = json!({"type": 7, "data": {"content": "updated"}});
        assert_eq!(
            steps(component, r#"{"type":6}"#, update),
            Ok(vec![edit.into()])
        );
        assert_eq!(
            steps(component, r#"{"type":6}"#, public.clone()),
            Ok(vec![follow_up.into()])
        );
        // A deferral at the end adds nothing; autocomplete cannot follow up.
        assert_eq!(steps(command, early, json!({"type": 5})), Ok(vec![]));
        assert_eq!(
            steps(kind::AUTOCOMPLETE, r#"{"type":8}"#, public.clone()),
            Ok(vec![])
        );
        // After a modal there is no message; a modal cannot come late.
        assert!(steps(command, r#"{"type":9}"#, public).is_err());
        assert!(steps(command, r#"{"type":5}"#, json!({"type": 9})).is_err());
    }

    #[test]
    fn responses_must_be_typed_json() {
        let parse = |json: &str| Answer::parse(json.to_owned());
        let answer = parse(r#"{"type":4,"data":{"content":"hi","flags":64}}"#).unwrap();
        assert_eq!((answer.response_type, answer.ephemeral), (4, true));
        assert!(!parse(r#"{"type":7,"data":{"flags":4}}"#).unwrap().ephemeral);
        // Loose shapes Discord takes are read too.
        assert_eq!(
            parse(r#"{"type":4,"data":{"flags":"x"}}"#)
                .unwrap()
                .response_type,
            4
        );
        assert_eq!(parse(r#"{"type":5,"data":null}"#).unwrap().response_type, 5);
        assert!(parse("hello").unwrap_err().contains("not JSON"));
        assert!(parse(r#"{"data":{}}"#).unwrap_err().contains("\"type\""));
        assert!(parse(r#"{"type":"4"}"#).unwrap_err().contains("\"type\""));
        assert!(parse(r#"{"type":1}"#).unwrap_err().contains("type 1"));
        assert!(parse("[4]").is_err());
        // Host answers carry the fields their JSON says.
        for kind in [
            kind::APPLICATION_COMMAND,
            kind::MESSAGE_COMPONENT,
            kind::AUTOCOMPLETE,
        ] {
            for host in [deferred_response(kind), notice(kind, "x")] {
                assert_eq!(
                    parse(std::str::from_utf8(&host.json).unwrap()).unwrap(),
                    host
                );
            }
        }
    }
}
