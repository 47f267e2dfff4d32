//! Gateway sessions a node holds for its bots, kept so a restart RESUMEs
//! instead of identifying again, and the IDENTIFYs each bot sent in the last
//! 24 hours, so a crash loop can never spend a token's daily budget.

use rusqlite::params;

use crate::store::{Db, Error};

/// A shard's session as the last save left it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedSession {
    pub shard_id: u32,
    pub shard_count: u32,
    pub intents: u64,
    pub session_id: String,
    pub resume_url: String,
    /// Every event up to this sequence was handed to the bot or dropped by policy.
    pub seq: u64,
}

/// One shard's part of a batched save.
#[derive(Debug, Clone)]
pub enum SessionSave {
    Keep {
        bot_id: i64,
        session: SavedSession,
    },
    /// The shard has no session to resume any more.
    Forget {
        bot_id: i64,
        shard_id: u32,
    },
}

impl SessionSave {
    pub fn bot_id(&self) -> i64 {
        match self {
            SessionSave::Keep { bot_id, .. } | SessionSave::Forget { bot_id, .. } => *bot_id,
        }
    }
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl Db {
    /// The saved sessions of a bot's shards.
    pub async fn gateway_sessions(&self, bot_id: i64) -> Result<Vec<SavedSession>, Error> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT shard_id, shard_count, intents, session_id, resume_url, seq \
                 FROM gateway_sessions WHERE bot_id = ?1 ORDER BY shard_id",
            )?;
            let sessions = stmt
                .query_map([bot_id], |row| {
                    Ok(SavedSession {
                        shard_id: row.get(0)?,
                        shard_count: row.get(1)?,
                        intents: row.get::<_, i64>(2)? as u64,
                        session_id: row.get(3)?,
                        resume_url: row.get(4)?,
                        seq: row.get::<_, i64>(5)? as u64,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(sessions)
        })
        .await
    }

    /// Saves many shards' sessions in one commit (one fsync for the node).
    /// A removed bot's rows are skipped, never recreated.
    pub async fn save_gateway_sessions(&self, saves: Vec<SessionSave>) -> Result<(), Error> {
        if saves.is_empty() {
            return Ok(());
        }
        self.write(move |conn| {
            let tx = conn.savepoint()?;
            let now = crate::clock::unix_ms();
            // Cached statements: with 1,000 busy bots this runs 1,000 times a
            // second, and parsing the SQL each time showed in profiles.
            for save in &saves {
                match save {
                    SessionSave::Keep { bot_id, session } => {
                        tx.prepare_cached(
                            "INSERT INTO gateway_sessions (bot_id, shard_id, shard_count, intents, \
                             session_id, resume_url, seq, saved_at_ms) \
                             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM bots WHERE id = ?1) \
                             ON CONFLICT (bot_id, shard_id) DO UPDATE SET shard_count = excluded.shard_count, \
                             intents = excluded.intents, session_id = excluded.session_id, \
                             resume_url = excluded.resume_url, seq = excluded.seq, saved_at_ms = excluded.saved_at_ms",
                        )?
                        .execute(params![
                            bot_id,
                            session.shard_id,
                            session.shard_count,
                            session.intents as i64,
                            session.session_id,
                            session.resume_url,
                            session.seq as i64,
                            now
                        ])?;
                    }
                    SessionSave::Forget { bot_id, shard_id } => {
                        tx.prepare_cached(
                            "DELETE FROM gateway_sessions WHERE bot_id = ?1 AND shard_id = ?2",
                        )?
                        .execute(params![bot_id, shard_id])?;
                    }
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Records that the bot's gateway stopped for good, and why.
    pub async fn set_gateway_stopped(&self, bot_id: i64, reason: String) -> Result<(), Error> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE bots SET gateway_stopped = ?2 WHERE id = ?1",
                params![bot_id, reason],
            )?;
            conn.execute("DELETE FROM gateway_sessions WHERE bot_id = ?1", [bot_id])?;
            Ok(())
        })
        .await
    }

    /// Records one IDENTIFY, durably, before it is sent; returns how many
    /// the bot sent in the last 24 hours, this one included.
    pub async fn record_identify(&self, bot_id: i64) -> Result<u32, Error> {
        self.write(move |conn| {
            let now = crate::clock::unix_ms();
            conn.execute(
                "DELETE FROM gateway_identifies WHERE bot_id = ?1 AND at_ms <= ?2",
                params![bot_id, now - DAY_MS],
            )?;
            conn.execute(
                "INSERT INTO gateway_identifies (bot_id, at_ms) \
                 SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM bots WHERE id = ?1)",
                params![bot_id, now],
            )?;
            Ok(conn.query_row(
                "SELECT COUNT(*) FROM gateway_identifies WHERE bot_id = ?1",
                [bot_id],
                |row| row.get(0),
            )?)
        })
        .await
    }

    /// IDENTIFYs the bot sent in the last 24 hours, and when the oldest of
    /// them leaves the window (unix ms).
    pub async fn identifies_today(&self, bot_id: i64) -> Result<(u32, Option<i64>), Error> {
        self.read(move |conn| {
            let since = crate::clock::unix_ms() - DAY_MS;
            Ok(conn.query_row(
                "SELECT COUNT(*), MIN(at_ms) FROM gateway_identifies WHERE bot_id = ?1 AND at_ms > ?2",
                params![bot_id, since],
                |row| Ok((row.get(0)?, row.get::<_, Option<i64>>(1)?.map(|at| at + DAY_MS))),
            )?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(shard_id: u32, seq: u64) -> SavedSession {
        SavedSession {
            shard_id,
            shard_count: 2,
            intents: 513,
            session_id: format!("s{shard_id}"),
            resume_url: "wss://resume".into(),
            seq,
        }
    }

    #[tokio::test]
    async fn sessions_are_saved_in_batches_forgotten_and_never_kept_for_a_removed_bot() {
        let (db, bot_id) = Db::in_memory_with_bot().await;
        db.save_gateway_sessions(vec![
            SessionSave::Keep {
                bot_id,
                session: session(0, 5),
            },
            SessionSave::Keep {
                bot_id,
                session: session(1, 7),
            },
        ])
        .await
        .unwrap();
        db.save_gateway_sessions(vec![
            SessionSave::Keep {
                bot_id,
                session: session(0, 9),
            },
            SessionSave::Forget {
                bot_id,
                shard_id: 1,
            },
            SessionSave::Keep {
                bot_id: 999,
                session: session(0, 1),
            },
        ])
        .await
        .unwrap();
        assert_eq!(db.gateway_sessions(bot_id).await.unwrap(), [session(0, 9)]);
        assert!(db.gateway_sessions(999).await.unwrap().is_empty());
        db.set_gateway_stopped(bot_id, "fatal".into())
            .await
            .unwrap();
        assert!(db.gateway_sessions(bot_id).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn identifies_are_counted_over_a_day() {
        let (db, bot_id) = Db::in_memory_with_bot().await;
        assert_eq!(db.identifies_today(bot_id).await.unwrap(), (0, None));
        assert_eq!(db.record_identify(bot_id).await.unwrap(), 1);
        assert_eq!(db.record_identify(bot_id).await.unwrap(), 2);
        let (count, frees_at) = db.identifies_today(bot_id).await.unwrap();
        assert_eq!(count, 2);
        assert!(frees_at.unwrap() > crate::clock::unix_ms() + DAY_MS - 60_000);
        // A removed bot's identify is not recorded (its rows are gone).
        assert_eq!(db.record_identify(12345).await.unwrap(), 0);
    }
}
