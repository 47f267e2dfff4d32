//! What a user is told when a bot could not answer.

use crate::sandbox::InvokeError;
use crate::text::clip;

/// Discord's message content limit is 2,000 characters; leave room for our prefix.
const MAX_NOTICE_CHARS: usize = 1_900;

pub(super) const BACKING_OFF_NOTICE: &str =
    "This bot is restarting after a crash. Please try again in a few seconds.";
pub(super) const QUARANTINED_NOTICE: &str =
    "This bot is disabled after crashing repeatedly. Its owner has to deploy a fix.";
const REMOVED_NOTICE: &str = "This bot was removed while it was answering.";

/// A failure the owner's logs explain (crashes, and host bugs).
pub(super) const FAILED_NOTICE: &str =
    "This bot ran into a problem and could not answer. Its owner can see why in `appliance logs`.";

/// The notice's text for a failed invocation.
pub fn notice_text(err: &InvokeError) -> String {
    match err {
        InvokeError::Busy(_) | InvokeError::NodeFull(_) => {
            "This bot is busy right now. Please try again in a moment.".to_owned()
        }
        // The bot's own error text is meant for its user (the SDK documents this).
        InvokeError::Guest(message) => {
            format!(
                "This bot could not answer: {}",
                clip(message, MAX_NOTICE_CHARS)
            )
        }
        InvokeError::Quarantined => QUARANTINED_NOTICE.to_owned(),
        InvokeError::Removed => REMOVED_NOTICE.to_owned(),
        InvokeError::ResponseTooLarge(_) => {
            "This bot could not answer that. Its owner can see why in `appliance logs`.".to_owned()
        }
        _ => FAILED_NOTICE.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::interaction::{kind, notice};

    #[test]
    fn notices_are_ephemeral_and_autocomplete_gets_no_choices() {
        let err = InvokeError::Trap("boom".into());
        let value: serde_json::Value =
            serde_json::from_slice(&notice(kind::APPLICATION_COMMAND, &notice_text(&err)).json)
                .unwrap();
        assert_eq!(value["type"], 4);
        assert_eq!(value["data"]["flags"], 64);
        assert_eq!(
            &notice(kind::AUTOCOMPLETE, "x").json[..],
            br#"{"type":8,"data":{"choices":[]}}"#
        );
    }
}
