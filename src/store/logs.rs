//! Per-bot log lines and crash records, as shown by `appliance logs`.

use std::time::{Duration, Instant};

use rusqlite::{params, OptionalExtension};

use crate::store::{Db, Error};

/// Log lines kept per bot; older ones are pruned as new ones arrive (a bot
/// holds at most this many plus [`PRUNE_EVERY`]).
pub const KEEP_LINES_PER_BOT: i64 = 10_000;
/// Lines a bot appends between two prunes of its log.
pub const PRUNE_EVERY: i64 = 500;
/// Crash records kept per bot (each up to 16 KiB of detail); older ones are
/// pruned but still counted.
pub const KEEP_CRASHES_PER_BOT: i64 = 200;

/// How serious a log line is: the WIT `log.level`, plus the host's lines.
/// Ordered from the least serious; `--level` takes the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Level {
    // The numbers are the ranks `Db::filtered_logs` compares in SQL.
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
}

impl Level {
    /// The stored (and shown) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    /// The level a stored (or queried) name stands for.
    pub fn parse(name: &str) -> Option<Level> {
        [
            Level::Trace,
            Level::Debug,
            Level::Info,
            Level::Warn,
            Level::Error,
        ]
        .into_iter()
        .find(|level| level.as_str() == name)
    }
}

/// Which stored lines and crashes a reader wants; the default is all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogFilter {
    /// Only lines and crashes at or after this Unix time (ms).
    pub since_ms: i64,
    /// Only lines at this level or more serious.
    pub min_level: Level,
}

impl Default for LogFilter {
    fn default() -> LogFilter {
        LogFilter {
            since_ms: i64::MIN,
            min_level: Level::Trace,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LogLine {
    pub id: i64,
    pub at_ms: i64,
    pub level: String,
    pub interaction_id: Option<String>,
    pub message: String,
}

impl LogLine {
    /// A line written now; its id is assigned when it is stored.
    pub fn new(level: Level, interaction_id: Option<String>, message: String) -> LogLine {
        LogLine {
            id: 0,
            at_ms: crate::clock::unix_ms(),
            level: level.as_str().to_owned(),
            interaction_id,
            message,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CrashRecord {
    pub at_ms: i64,
    pub version: i64,
    pub reason: String,
    pub detail: String,
}

impl Db {
    /// Appends lines in one transaction (ids are assigned here) and prunes old ones.
    pub async fn append_logs(&self, bot_id: i64, lines: Vec<LogLine>) -> Result<(), Error> {
        if lines.is_empty() {
            return Ok(());
        }
        self.write(move |conn| {
            let tx = conn.savepoint()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO logs (bot_id, at_ms, level, interaction_id, message) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for line in &lines {
                    insert.execute(params![
                        bot_id,
                        line.at_ms,
                        line.level,
                        line.interaction_id,
                        line.message
                    ])?;
                }
            }
            // Pruning walks the bot's newest lines to find the cut: do it once
            // per PRUNE_EVERY lines appended rather than on every append.
            let since_prune: Option<i64> = tx
                .query_row(
                    "UPDATE bots SET logs_since_prune = logs_since_prune + ?2 WHERE id = ?1 \
                     RETURNING logs_since_prune",
                    params![bot_id, lines.len() as i64],
                    |row| row.get(0),
                )
                .optional()?;
            if since_prune.is_some_and(|n| n >= PRUNE_EVERY) {
                tx.execute(
                    "DELETE FROM logs WHERE bot_id = ?1 AND id <= \
                     (SELECT id FROM logs WHERE bot_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                    params![bot_id, KEEP_LINES_PER_BOT],
                )?;
                tx.execute(
                    "UPDATE bots SET logs_since_prune = 0 WHERE id = ?1",
                    [bot_id],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// The last `lines` lines with an id above `after_id`, oldest first.
    pub async fn tail_logs(
        &self,
        bot_id: i64,
        after_id: i64,
        lines: i64,
    ) -> Result<Vec<LogLine>, Error> {
        self.filtered_logs(bot_id, after_id, lines, LogFilter::default())
            .await
    }

    /// Like [`Db::tail_logs`], only lines that pass `filter`: the node
    /// filters, so a reader of a few recent errors never fetches every line.
    pub async fn filtered_logs(
        &self,
        bot_id: i64,
        after_id: i64,
        lines: i64,
        filter: LogFilter,
    ) -> Result<Vec<LogLine>, Error> {
        self.read(move |conn| {
            // Levels are stored by name; the CASE ranks them in `Level`'s
            // order (an unknown name counts as the most serious, so it is
            // never hidden).
            let mut stmt = conn.prepare_cached(
                "SELECT id, at_ms, level, interaction_id, message FROM \
                 (SELECT * FROM logs WHERE bot_id = ?1 AND id > ?2 AND at_ms >= ?4 \
                  AND CASE level WHEN 'trace' THEN 0 WHEN 'debug' THEN 1 WHEN 'info' THEN 2 \
                      WHEN 'warn' THEN 3 ELSE 4 END >= ?5 \
                  ORDER BY id DESC LIMIT ?3) ORDER BY id",
            )?;
            let lines = stmt
                .query_map(
                    params![
                        bot_id,
                        after_id,
                        lines,
                        filter.since_ms,
                        filter.min_level as i64
                    ],
                    |row| {
                        Ok(LogLine {
                            id: row.get(0)?,
                            at_ms: row.get(1)?,
                            level: row.get(2)?,
                            interaction_id: row.get(3)?,
                            message: row.get(4)?,
                        })
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(lines)
        })
        .await
    }

    /// Stores a crash, pruning the bot's oldest records past
    /// [`KEEP_CRASHES_PER_BOT`] (they stay in its crash count).
    pub async fn record_crash(&self, bot_id: i64, crash: CrashRecord) -> Result<(), Error> {
        self.write(move |conn| {
            let tx = conn.savepoint()?;
            tx.execute(
                "INSERT INTO crashes (bot_id, version, at_ms, reason, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![bot_id, crash.version, crash.at_ms, crash.reason, crash.detail],
            )?;
            let pruned = tx.execute(
                "DELETE FROM crashes WHERE bot_id = ?1 AND id <= \
                 (SELECT id FROM crashes WHERE bot_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                params![bot_id, KEEP_CRASHES_PER_BOT],
            )?;
            if pruned > 0 {
                tx.execute(
                    "UPDATE bots SET crashes_pruned = crashes_pruned + ?2 WHERE id = ?1",
                    params![bot_id, pruned as i64],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// The most recent crashes at or after `since_ms`, newest last.
    pub async fn recent_crashes(
        &self,
        bot_id: i64,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<CrashRecord>, Error> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT at_ms, version, reason, detail FROM \
                 (SELECT * FROM crashes WHERE bot_id = ?1 AND at_ms >= ?3 ORDER BY id DESC LIMIT ?2) \
                 ORDER BY id",
            )?;
            let crashes = stmt
                .query_map(params![bot_id, limit, since_ms], |row| {
                    Ok(CrashRecord {
                        at_ms: row.get(0)?,
                        version: row.get(1)?,
                        reason: row.get(2)?,
                        detail: row.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(crashes)
        })
        .await
    }
}

impl Db {
    /// How many crashes each bot has on record (pruned ones included) and
    /// the newest one's reason, by bot id, in one query: a listing makes no
    /// round trip per bot.
    pub async fn crash_summaries(
        &self,
    ) -> Result<std::collections::HashMap<i64, (usize, Option<String>)>, Error> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT b.id, \
                 (SELECT COUNT(*) FROM crashes c WHERE c.bot_id = b.id) + b.crashes_pruned, \
                 (SELECT reason FROM crashes c WHERE c.bot_id = b.id ORDER BY c.id DESC LIMIT 1) \
                 FROM bots b",
            )?;
            let summaries = stmt
                .query_map([], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        (row.get::<_, i64>(1)? as usize, row.get(2)?),
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(summaries)
        })
        .await
    }
}

/// Log bytes one bot may store per minute; the rest is dropped and counted.
pub const LOG_BYTES_PER_MINUTE: usize = 1024 * 1024;

#[derive(Debug)]
pub struct LogBudget {
    window_start: Instant,
    used: usize,
}

impl LogBudget {
    pub fn new(now: Instant) -> LogBudget {
        LogBudget {
            window_start: now,
            used: 0,
        }
    }

    /// Takes `bytes` from this minute's budget; false when it is spent.
    pub fn take(&mut self, now: Instant, bytes: usize) -> bool {
        if now.duration_since(self.window_start) >= Duration::from_secs(60) {
            self.window_start = now;
            self.used = 0;
        }
        if self.used + bytes > LOG_BYTES_PER_MINUTE {
            return false;
        }
        self.used += bytes;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_and_crashes_are_filtered_by_time_and_level() {
        let (db, bot) = Db::in_memory_with_bot().await;
        let line = |at_ms, level: Level| LogLine {
            at_ms,
            ..LogLine::new(level, None, format!("{} at {at_ms}", level.as_str()))
        };
        let lines = vec![
            line(1_000, Level::Error),
            line(2_000, Level::Info),
            line(3_000, Level::Warn),
            line(4_000, Level::Debug),
            line(5_000, Level::Error),
        ];
        db.append_logs(bot, lines).await.unwrap();
        let filter = LogFilter {
            since_ms: 2_000,
            min_level: Level::Warn,
        };
        let found = db.filtered_logs(bot, 0, 100, filter).await.unwrap();
        let messages: Vec<_> = found.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(messages, ["warn at 3000", "error at 5000"]);
        // The limit counts matching lines, newest kept.
        let found = db.filtered_logs(bot, 0, 1, filter).await.unwrap();
        assert_eq!(found[0].message, "error at 5000");

        for at_ms in [1_000, 4_000] {
            let crash = CrashRecord {
                at_ms,
                version: 1,
                reason: "trap".into(),
                detail: String::new(),
            };
            db.record_crash(bot, crash).await.unwrap();
        }
        let crashes = db.recent_crashes(bot, 2_000, 10).await.unwrap();
        assert_eq!(crashes.len(), 1);
        assert_eq!(crashes[0].at_ms, 4_000);
    }

    #[tokio::test]
    async fn old_crash_records_are_pruned_but_still_counted() {
        let (db, bot) = Db::in_memory_with_bot().await;
        let total = KEEP_CRASHES_PER_BOT + 25;
        for i in 0..total {
            let crash = CrashRecord {
                at_ms: i,
                version: 1,
                reason: format!("trap {i}"),
                detail: "x".repeat(100),
            };
            db.record_crash(bot, crash).await.unwrap();
        }
        let (count, last) = db.crash_summaries().await.unwrap()[&bot].clone();
        assert_eq!(count as i64, total);
        assert_eq!(
            last.as_deref(),
            Some(format!("trap {}", total - 1).as_str())
        );
        let kept = db.recent_crashes(bot, i64::MIN, 10_000).await.unwrap();
        assert_eq!(kept.len() as i64, KEEP_CRASHES_PER_BOT);
        assert_eq!(kept[0].reason, "trap 25");
    }
}
