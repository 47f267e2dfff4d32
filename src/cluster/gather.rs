//! Asking every node: logs and crash records stay in each node's own
//! store, and the admin API gathers them (`logs --nodes all`). A request
//! goes to `fleet.logs` with this node's reply inbox; every other member
//! answers with its own part, and the asker takes what arrives within a
//! bound (a dead or cut-off node simply does not answer).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::{Cluster, Error};

const LOGS: &str = "fleet.logs";

/// How this node answers another's request: the JSON of its own part.
pub type LogsAnswer = Arc<
    dyn Fn(String, String) -> Pin<Box<dyn Future<Output = Option<Vec<u8>>> + Send>> + Send + Sync,
>;

#[derive(Debug, Serialize, Deserialize)]
struct LogsRequest {
    /// The asking node: it does not answer itself.
    from: String,
    bot: String,
    /// The admin API's query string.
    query: String,
}

impl Cluster {
    /// Answers the other nodes' requests for this node's logs of a bot,
    /// for as long as the process runs.
    pub fn answer_logs(&self, answer: LogsAnswer) {
        let cluster = self.clone();
        tokio::spawn(async move {
            loop {
                match cluster.client.subscribe(LOGS).await {
                    Ok(mut requests) => {
                        while let Some(message) = requests.next().await {
                            let Some(reply) = message.reply.clone() else {
                                continue;
                            };
                            let Ok(request) =
                                serde_json::from_slice::<LogsRequest>(&message.payload)
                            else {
                                continue;
                            };
                            if request.from == cluster.settings.node {
                                continue;
                            }
                            let (client, answer) = (cluster.client.clone(), answer.clone());
                            tokio::spawn(async move {
                                if let Some(part) = answer(request.bot, request.query).await {
                                    let _ = client.publish(reply, part.into()).await;
                                }
                            });
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot answer other nodes' log requests; retrying");
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// Every other live member's part of `bot`'s logs (JSON), as many as
    /// answer within `within`.
    pub async fn gather_logs(
        &self,
        bot: &str,
        query: &str,
        within: Duration,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let others = self
            .members()
            .await?
            .iter()
            .filter(|member| member.node != self.settings.node)
            .count();
        if others == 0 {
            return Ok(Vec::new());
        }
        let inbox = self.client.new_inbox();
        let mut answers = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(Error::engine)?;
        let request = serde_json::to_vec(&LogsRequest {
            from: self.settings.node.clone(),
            bot: bot.to_owned(),
            query: query.to_owned(),
        })
        .expect("request serializes");
        self.client
            .publish_with_reply(LOGS, inbox, request.into())
            .await
            .map_err(Error::engine)?;
        let mut parts = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        while parts.len() < others {
            match tokio::time::timeout_at(deadline, answers.next()).await {
                Ok(Some(message)) => parts.push(message.payload.to_vec()),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(parts)
    }
}
