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

fn check_key(key: &str, quota: &KvQuota) -> Result<(), KvError> {
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

/// Stored size (key + value bytes) of one entry, if it exists.
fn entry_size(conn: &Connection, bot_id: i64, key: &str) -> rusqlite::Result<Option<u64>> {
    conn.query_row(
        "SELECT length(key) + length(value) FROM kv WHERE bot_id = ?1 AND key = ?2",
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

impl Db {
    pub async fn kv_get(&self, bot_id: i64, key: String) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self
            .call(move |conn| {
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
        if value.len() > quota.max_value_bytes {
            return Err(KvError::QuotaExceeded(format!(
                "value is {} bytes; the limit is {}",
                value.len(),
                quota.max_value_bytes
            )));
        }
        self.call(move |conn| {
            let tx = conn.transaction()?;
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
        .await?
    }

    pub async fn kv_delete(&self, bot_id: i64, key: String) -> Result<(), KvError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
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
            .call(move |conn| {
                // `substr` compares the prefix exactly; LIKE would treat `%` and `_` as wildcards.
                let mut stmt = conn.prepare(
                    "SELECT key FROM kv WHERE bot_id = ?1 AND substr(key, 1, length(?2)) = ?2 \
                     ORDER BY key LIMIT ?3",
                )?;
                let keys = stmt
                    .query_map(params![bot_id, prefix, LIST_LIMIT as i64], |row| row.get(0))?
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
}
