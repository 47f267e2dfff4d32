//! Per-bot key-value data with quotas.
//!
//! Quotas are checked inside the write's transaction, so concurrent instances
//! of one bot cannot overshoot them together.

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::{Db, Error};

/// Bounds on one bot's key-value data.
#[derive(Debug, Clone, Copy)]
pub struct KvQuota {
    pub max_key_bytes: usize,
    pub max_value_bytes: usize,
    pub max_keys: u64,
    pub max_total_bytes: u64,
}

impl Default for KvQuota {
    fn default() -> Self {
        KvQuota {
            max_key_bytes: 512,
            max_value_bytes: 256 * 1024,
            max_keys: 100_000,
            max_total_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Why a key-value call failed; shown to the guest as the WIT `kv-error`.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("{0}")]
    InvalidKey(String),
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<Error> for KvError {
    fn from(err: Error) -> Self {
        KvError::Unavailable(err.to_string())
    }
}

/// At most this many keys come back from one `list-keys` call.
pub const LIST_LIMIT: usize = 1000;

/// A key the guest may use: not empty, within the quota's length.
pub fn check_key(key: &str, quota: &KvQuota) -> Result<(), KvError> {
    if key.is_empty() {
        return Err(KvError::InvalidKey("key must not be empty".into()));
    }
    if key.len() > quota.max_key_bytes {
        return Err(KvError::InvalidKey(format!(
            "key is {} bytes; the limit is {}",
            key.len(),
            quota.max_key_bytes
        )));
    }
    Ok(())
}

/// A value within the quota's size.
pub fn check_value(value: &[u8], quota: &KvQuota) -> Result<(), KvError> {
    if value.len() > quota.max_value_bytes {
        return Err(KvError::QuotaExceeded(format!(
            "value is {} bytes; the limit is {}",
            value.len(),
            quota.max_value_bytes
        )));
    }
    Ok(())
}

/// Stored size (key + value bytes) of one entry, if it exists. Counted in
/// bytes like the write charged it: SQLite's `length()` of TEXT counts
/// characters and stops at a NUL, so the key is measured as a BLOB.
fn entry_size(conn: &Connection, bot_id: i64, key: &str) -> rusqlite::Result<Option<u64>> {
    conn.query_row(
        "SELECT length(CAST(key AS BLOB)) + length(value) FROM kv WHERE bot_id = ?1 AND key = ?2",
        params![bot_id, key],
        |row| row.get::<_, i64>(0).map(|n| n as u64),
    )
    .optional()
}

/// The bot's key count and total bytes.
fn usage(conn: &Connection, bot_id: i64) -> rusqlite::Result<(u64, u64)> {
    Ok(conn
        .query_row(
            "SELECT keys, bytes FROM kv_usage WHERE bot_id = ?1",
            [bot_id],
            |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
        )
        .optional()?
        .unwrap_or((0, 0)))
}

fn set_usage(conn: &Connection, bot_id: i64, keys: u64, bytes: u64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO kv_usage (bot_id, keys, bytes) VALUES (?1, ?2, ?3) \
         ON CONFLICT (bot_id) DO UPDATE SET keys = excluded.keys, bytes = excluded.bytes",
        params![bot_id, keys as i64, bytes as i64],
    )?;
    Ok(())
}

/// A write for a bot whose row is gone: an event of a removed bot that is
/// still finishing. The foreign key refuses it; say so plainly.
fn removed_bot(err: Error) -> KvError {
    match &err {
        Error::Sqlite(rusqlite::Error::SqliteFailure(failure, _))
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            KvError::Unavailable("this bot was removed; its data is gone".into())
        }
        _ => KvError::from(err),
    }
}

impl Db {
    pub async fn kv_get(&self, bot_id: i64, key: String) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self
            .read(move |conn| {
                Ok(conn
                    .query_row(
                        "SELECT value FROM kv WHERE bot_id = ?1 AND key = ?2",
                        params![bot_id, key],
                        |row| row.get(0),
                    )
                    .optional()?)
            })
            .await?)
    }

    pub async fn kv_set(
        &self,
        bot_id: i64,
        key: String,
        value: Vec<u8>,
        quota: KvQuota,
    ) -> Result<(), KvError> {
        check_key(&key, &quota)?;
        check_value(&value, &quota)?;
        // Deletes stay allowed below the reserve: they are how space comes back.
        if let Some(reserve) = self.disk_reserve() {
            reserve.check_kv_write()?;
        }
        self.write(move |conn| {
            let tx = conn.savepoint()?;
            let old = entry_size(&tx, bot_id, &key)?;
            let (keys, bytes) = usage(&tx, bot_id)?;
            let new_keys = keys + u64::from(old.is_none());
            let new_bytes = bytes - old.unwrap_or(0) + key.len() as u64 + value.len() as u64;
            if new_keys > quota.max_keys {
                return Ok(Err(KvError::QuotaExceeded(format!(
                    "the bot already has {keys} keys; the limit is {}",
                    quota.max_keys
                ))));
            }
            if new_bytes > quota.max_total_bytes {
                return Ok(Err(KvError::QuotaExceeded(format!(
                    "the bot's data would be {new_bytes} bytes; the limit is {}",
                    quota.max_total_bytes
                ))));
            }
            tx.execute(
                "INSERT INTO kv (bot_id, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (bot_id, key) DO UPDATE SET value = excluded.value",
                params![bot_id, key, value],
            )?;
            set_usage(&tx, bot_id, new_keys, new_bytes)?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await
        .map_err(removed_bot)?
    }

    pub async fn kv_delete(&self, bot_id: i64, key: String) -> Result<(), KvError> {
        self.write(move |conn| {
            let tx = conn.savepoint()?;
            if let Some(size) = entry_size(&tx, bot_id, &key)? {
                tx.execute(
                    "DELETE FROM kv WHERE bot_id = ?1 AND key = ?2",
                    params![bot_id, key],
                )?;
                let (keys, bytes) = usage(&tx, bot_id)?;
                set_usage(
                    &tx,
                    bot_id,
                    keys.saturating_sub(1),
                    bytes.saturating_sub(size),
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Keys starting with `prefix`, in byte order, at most [`LIST_LIMIT`].
    pub async fn kv_list_keys(&self, bot_id: i64, prefix: String) -> Result<Vec<String>, KvError> {
        Ok(self
            .read(move |conn| {
                // The prefix is compared as bytes: LIKE would treat `%` and `_`
                // as wildcards, and TEXT `substr`/`length` count characters and
                // stop at a NUL. Keys sort by BINARY collation, i.e. byte order,
                // so `key >= prefix` lets the primary key skip what comes before.
                let mut stmt = conn.prepare(
                    "SELECT key FROM kv WHERE bot_id = ?1 AND key >= ?2 \
                     AND substr(CAST(key AS BLOB), 1, ?3) = CAST(?2 AS BLOB) \
                     ORDER BY key LIMIT ?4",
                )?;
                let prefix_bytes = prefix.len() as i64;
                let keys = stmt
                    .query_map(
                        params![bot_id, prefix, prefix_bytes, LIST_LIMIT as i64],
                        |row| row.get(0),
                    )?
                    .collect::<rusqlite::Result<Vec<String>>>()?;
                Ok(keys)
            })
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn set_get_list_delete() {
        let (db, bot) = Db::in_memory_with_bot().await;
        let quota = KvQuota::default();
        db.kv_set(bot, "a%1".into(), b"x".to_vec(), quota)
            .await
            .unwrap();
        db.kv_set(bot, "ab".into(), b"y".to_vec(), quota)
            .await
            .unwrap();
        db.kv_set(bot, "b".into(), b"z".to_vec(), quota)
            .await
            .unwrap();
        assert_eq!(
            db.kv_get(bot, "ab".into()).await.unwrap(),
            Some(b"y".to_vec())
        );
        assert_eq!(db.kv_list_keys(bot, "a%".into()).await.unwrap(), ["a%1"]);
        assert_eq!(
            db.kv_list_keys(bot, "a".into()).await.unwrap(),
            ["a%1", "ab"]
        );
        db.kv_delete(bot, "ab".into()).await.unwrap();
        assert_eq!(db.kv_get(bot, "ab".into()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn quotas_refuse_without_writing() {
        let (db, bot) = Db::in_memory_with_bot().await;
        let quota = KvQuota {
            max_keys: 2,
            max_total_bytes: 100,
            ..KvQuota::default()
        };
        db.kv_set(bot, "k1".into(), vec![0; 10], quota)
            .await
            .unwrap();
        db.kv_set(bot, "k2".into(), vec![0; 10], quota)
            .await
            .unwrap();
        // Overwriting an existing key does not count as a new key.
        db.kv_set(bot, "k2".into(), vec![1; 10], quota)
            .await
            .unwrap();
        let err = db
            .kv_set(bot, "k3".into(), vec![0; 1], quota)
            .await
            .unwrap_err();
        assert!(matches!(err, KvError::QuotaExceeded(_)), "{err}");
        let err = db
            .kv_set(bot, "k2".into(), vec![0; 90], quota)
            .await
            .unwrap_err();
        assert!(matches!(err, KvError::QuotaExceeded(_)), "{err}");
        assert_eq!(
            db.kv_get(bot, "k2".into()).await.unwrap(),
            Some(vec![1; 10])
        );
        assert!(matches!(
            db.kv_set(bot, String::new(), vec![], quota).await,
            Err(KvError::InvalidKey(_))
        ));
        // Deleting frees the key and its bytes for new data.
        db.kv_delete(bot, "k1".into()).await.unwrap();
        db.kv_delete(bot, "k1".into()).await.unwrap();
        db.kv_set(bot, "k3".into(), vec![0; 10], quota)
            .await
            .unwrap();
    }

    /// The bot's usage row, and what its stored data really measures in bytes.
    async fn usage_and_truth(db: &Db, bot: i64) -> ((u64, u64), (u64, u64)) {
        db.read(move |conn| {
            let recorded = usage(conn, bot)?;
            let truth = conn.query_row(
                "SELECT COUNT(*), COALESCE(SUM(length(CAST(key AS BLOB)) + length(value)), 0) \
                 FROM kv WHERE bot_id = ?1",
                [bot],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
            )?;
            Ok((recorded, truth))
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn quota_accounting_is_exact_for_non_ascii_and_nul_keys() {
        let (db, bot) = Db::in_memory_with_bot().await;
        let quota = KvQuota::default();
        let cyrillic = "Владимир".repeat(32); // 256 characters, 512 bytes
        let nul = format!("a\0{}", "b".repeat(510)); // a NUL, then 510 more bytes
        let emoji = "user:🦀🦀🦀";
        for key in [&cyrillic, &nul, &emoji.to_owned()] {
            for cycle in 0..100 {
                // Overwrite with a value of changing size, then delete every other time.
                db.kv_set(bot, key.clone(), vec![1; 10 + cycle % 7], quota)
                    .await
                    .unwrap();
                db.kv_set(bot, key.clone(), vec![2; 20], quota)
                    .await
                    .unwrap();
                if cycle % 2 == 0 {
                    db.kv_delete(bot, key.clone()).await.unwrap();
                }
                let (recorded, truth) = usage_and_truth(&db, bot).await;
                assert_eq!(recorded, truth, "key {key:?}, cycle {cycle}");
            }
        }
        for key in [&cyrillic, &nul, &emoji.to_owned()] {
            db.kv_delete(bot, key.clone()).await.unwrap();
        }
        assert_eq!(usage_and_truth(&db, bot).await.0, (0, 0), "quota leaked");
    }

    #[tokio::test]
    async fn keys_with_nul_and_non_ascii_prefixes_list_by_bytes() {
        let (db, bot) = Db::in_memory_with_bot().await;
        let quota = KvQuota::default();
        for key in ["a\0b", "a\0c", "a", "ab", "Влад", "Вла", "В"] {
            db.kv_set(bot, key.into(), b"x".to_vec(), quota)
                .await
                .unwrap();
        }
        assert_eq!(
            db.kv_list_keys(bot, "a\0".into()).await.unwrap(),
            ["a\0b", "a\0c"]
        );
        assert_eq!(db.kv_list_keys(bot, "a\0b".into()).await.unwrap(), ["a\0b"]);
        assert_eq!(
            db.kv_list_keys(bot, "Вла".into()).await.unwrap(),
            ["Вла", "Влад"]
        );
        assert_eq!(
            db.kv_get(bot, "a\0c".into()).await.unwrap(),
            Some(b"x".to_vec())
        );
        assert_eq!(db.kv_get(bot, "a\0".into()).await.unwrap(), None);
        assert_eq!(db.kv_list_keys(bot, String::new()).await.unwrap().len(), 7);
    }
}
