//! Discord's webhook events: the events Discord POSTs to an application's
//! event webhook URL (application authorized or deauthorized, entitlements,
//! ...), signed like interactions. A PING (type 0) must be answered 204; an
//! event (type 1) is acknowledged with 204 within 3 s and handled after.
//! See: https://discord.com/developers/docs/events/webhook-events

use serde::Deserialize;

/// The webhook body's `type`.
pub mod kind {
    pub const PING: u8 = 0;
    pub const EVENT: u8 = 1;
}

/// A webhook event as the host reads it.
#[derive(Debug, Deserialize)]
pub struct WebhookEvent {
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub event: Option<EventBody>,
}

/// The event itself: its name and payload.
#[derive(Debug, Deserialize)]
pub struct EventBody {
    /// e.g. `APPLICATION_AUTHORIZED`, `ENTITLEMENT_CREATE`.
    #[serde(rename = "type")]
    pub name: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("request body is not a webhook event: {0}")]
    NotAnEvent(String),
}

impl WebhookEvent {
    /// Reads a webhook event body: a PING, or an event with its name.
    pub fn parse(body: &[u8]) -> Result<WebhookEvent, Error> {
        let parsed: WebhookEvent =
            serde_json::from_slice(body).map_err(|e| Error::NotAnEvent(e.to_string()))?;
        match (parsed.kind, &parsed.event) {
            (kind::PING, _) | (kind::EVENT, Some(_)) => Ok(parsed),
            (kind::EVENT, None) => Err(Error::NotAnEvent("type 1 without an event".into())),
            (other, _) => Err(Error::NotAnEvent(format!("unknown type {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_and_events_are_read_and_the_rest_refused() {
        let ping = WebhookEvent::parse(br#"{"version":1,"application_id":"1","type":0}"#).unwrap();
        assert_eq!(ping.kind, kind::PING);
        let event = WebhookEvent::parse(
            br#"{"version":1,"application_id":"1","type":1,"event":{"type":"APPLICATION_AUTHORIZED","timestamp":"t","data":{"scopes":["bot"]}}}"#,
        )
        .unwrap();
        let body = event.event.unwrap();
        assert_eq!(body.name, "APPLICATION_AUTHORIZED");
        assert_eq!(body.data["scopes"][0], "bot");
        assert!(WebhookEvent::parse(br#"{"type":1}"#).is_err());
        assert!(WebhookEvent::parse(br#"{"type":7}"#).is_err());
        assert!(WebhookEvent::parse(b"not json").is_err());
    }
}
