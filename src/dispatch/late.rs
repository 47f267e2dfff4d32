//! Delivering an answer that came after the initial response (the host's
//! deferral, or the bot's early `respond`): planned by
//! [`late_steps`], sent through the interaction's webhook.

use std::time::Duration;

use bytes::Bytes;
use tracing::{info, warn};

use super::{Dispatcher, Event};
use crate::discord::Auth;
use crate::fleet::Deployed;
use crate::protocol::interaction::{late_steps, Answer};

/// How long delivering a late answer may take, retries included.
const LATE_DELIVERY_DEADLINE: Duration = Duration::from_secs(30);

impl Dispatcher {
    /// Sends an answer that came after the initial response (the host's
    /// deferral or the bot's early `respond`), by editing the original or as
    /// a follow-up (see [`late_steps`]). A failure is told to the bot's owner
    /// in its logs.
    pub(super) async fn deliver_late(
        &self,
        deployed: &Deployed,
        event: &Event,
        initial: Answer,
        answer: Answer,
    ) {
        let Some(token) = event.token.as_deref() else {
            warn!("the interaction carried no token; the late answer cannot be delivered");
            super::counters(deployed).late("dropped");
            return;
        };
        let steps = match late_steps(event.kind, &initial, &answer, &event.application_id, token) {
            Ok(steps) => steps,
            Err(why) => {
                warn!(%why, "late answer dropped");
                super::counters(deployed).late("dropped");
                self.owner_log(
                    deployed,
                    event.id.clone(),
                    format!("the bot's late answer was dropped: {why}"),
                )
                .await;
                return;
            }
        };
        if steps.is_empty() {
            return;
        }
        // A removed bot's token is not used again: its last word (the
        // removal notice, or an answer finished just before) needs only the
        // interaction's own webhook token.
        let env = deployed.bot.env();
        let deadline = tokio::time::Instant::now() + LATE_DELIVERY_DEADLINE;
        for step in steps {
            let body = step.body.map(Bytes::from);
            // Late steps are interaction webhooks, which always have an auth.
            let auth = env
                .auth(&step.path)
                .unwrap_or(Auth::Webhook(&event.application_id));
            let result = self
                .discord
                .request(auth, step.method.clone(), &step.path, body, deadline)
                .await;
            let failure = match result {
                Ok(response) if (200..300).contains(&response.status) => continue,
                Ok(response) => format!(
                    "Discord answered {} {}",
                    response.status,
                    String::from_utf8_lossy(&response.body[..response.body.len().min(300)])
                ),
                Err(err) => err.to_string(),
            };
            warn!(method = %step.method, %failure, "failed to deliver the late answer");
            super::counters(deployed).late("failed");
            self.owner_log(
                deployed,
                event.id.clone(),
                format!(
                    "the bot's late answer was not delivered ({}): {failure}",
                    step.method
                ),
            )
            .await;
            return;
        }
        super::counters(deployed).late("delivered");
        info!(
            latency_ms = event.received.elapsed().as_millis() as u64,
            "late answer delivered"
        );
    }
}
