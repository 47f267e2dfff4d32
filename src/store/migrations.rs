//! Versioned schema migrations, tracked by SQLite's `PRAGMA user_version`.
//!
//! Each entry is applied once, in order, inside one transaction together with
//! the version bump, so a crash mid-migration leaves the old schema intact.
//! Never edit a released entry: append a new one.

use rusqlite::Connection;

use crate::store::Error;

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: bots, their versions and secrets, per-bot key-value data, logs, crashes.
    r#"
    CREATE TABLE bots (
        id              INTEGER PRIMARY KEY,
        name            TEXT    NOT NULL UNIQUE,      -- operator-chosen, [a-z0-9_-]
        app_id          TEXT    NOT NULL UNIQUE,      -- Discord application id (snowflake)
        public_key      TEXT    NOT NULL,             -- Ed25519 key, 64 hex chars
        active_version  INTEGER NOT NULL,             -- bot_versions.version now serving
        fuel            INTEGER NOT NULL,             -- fuel per event
        memory_mib      INTEGER NOT NULL,             -- linear memory per instance
        timeout_ms      INTEGER NOT NULL,             -- wall-clock limit per event
        instances       INTEGER NOT NULL,             -- max concurrent instances
        created_at_ms   INTEGER NOT NULL,
        updated_at_ms   INTEGER NOT NULL
    );
    -- Components by content: a thousand tenants deploying the same bot store it once.
    CREATE TABLE components (
        sha256          TEXT    PRIMARY KEY,          -- of the bytes; also names the compiled artifact
        wasm            BLOB    NOT NULL              -- the component as deployed
    );
    CREATE TABLE bot_versions (
        bot_id          INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
        version         INTEGER NOT NULL,             -- 1, 2, ... per bot
        sha256          TEXT    NOT NULL REFERENCES components(sha256),
        created_at_ms   INTEGER NOT NULL,
        PRIMARY KEY (bot_id, version)
    );
    -- Bot tokens live apart from `bots` so no listing query can select them by accident.
    CREATE TABLE bot_secrets (
        bot_id          INTEGER PRIMARY KEY REFERENCES bots(id) ON DELETE CASCADE,
        token           TEXT    NOT NULL
    );
    CREATE TABLE kv (
        bot_id          INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
        key             TEXT    NOT NULL,
        value           BLOB    NOT NULL,
        PRIMARY KEY (bot_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE logs (
        id              INTEGER PRIMARY KEY,
        bot_id          INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
        at_ms           INTEGER NOT NULL,
        level           TEXT    NOT NULL,             -- trace|debug|info|warn|error
        interaction_id  TEXT,                         -- the event that wrote it, if any
        message         TEXT    NOT NULL
    );
    CREATE INDEX logs_by_bot ON logs (bot_id, id);
    CREATE TABLE crashes (
        id              INTEGER PRIMARY KEY,
        bot_id          INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
        version         INTEGER NOT NULL,
        at_ms           INTEGER NOT NULL,
        reason          TEXT    NOT NULL,             -- out_of_fuel|memory|timeout|trap|...
        detail          TEXT    NOT NULL              -- trap message and wasm backtrace
    );
    CREATE INDEX crashes_by_bot ON crashes (bot_id, id);
    "#,
    // 2: quarantine survives a node restart; a redeploy or rollback clears it.
    r#"
    ALTER TABLE bots ADD COLUMN quarantined_at_ms INTEGER;   -- NULL unless quarantined
    ALTER TABLE bots ADD COLUMN quarantine_reason TEXT;
    -- Running totals per bot, so a quota check is one row, not a scan of the bot's data.
    CREATE TABLE kv_usage (
        bot_id          INTEGER PRIMARY KEY REFERENCES bots(id) ON DELETE CASCADE,
        keys            INTEGER NOT NULL,
        bytes           INTEGER NOT NULL              -- sum of key and value lengths
    );
    INSERT INTO kv_usage (bot_id, keys, bytes)
        SELECT bot_id, COUNT(*), SUM(length(key) + length(value)) FROM kv GROUP BY bot_id;
    "#,
    // 3: crash records are pruned per bot like logs; the total count survives.
    r#"
    ALTER TABLE bots ADD COLUMN crashes_pruned INTEGER NOT NULL DEFAULT 0;
    "#,
    // 4: a bot id is never given out twice. SQLite reuses the highest rowid
    // after a delete, so a bot deployed after a removal could inherit the
    // removed bot's id, and a late write of the removed bot's event would
    // land in the new bot's data. Ids now come from this counter. Also
    // recounts KV usage in bytes: migration 2 counted keys in characters
    // (up to the first NUL), so non-ASCII and NUL keys were mis-charged.
    r#"
    CREATE TABLE bot_id_sequence (
        next            INTEGER NOT NULL              -- the id the next new bot gets
    );
    INSERT INTO bot_id_sequence (next) SELECT COALESCE(MAX(id), 0) + 1 FROM bots;
    DELETE FROM kv_usage;
    INSERT INTO kv_usage (bot_id, keys, bytes)
        SELECT bot_id, COUNT(*), SUM(length(CAST(key AS BLOB)) + length(value)) FROM kv GROUP BY bot_id;
    "#,
    // 5: log lines appended since the bot's log was last pruned, so pruning
    // (a walk over the newest 10,000 lines) runs once per few hundred lines.
    r#"
    ALTER TABLE bots ADD COLUMN logs_since_prune INTEGER NOT NULL DEFAULT 0;
    "#,
    // 6: gateway sessions the node holds for a bot (issue 12). Settings live
    // on the bot (a version change keeps them); sessions and identifies are
    // apart, never selected by listing queries: a session id lets anyone
    // holding the token resume the bot's stream.
    r#"
    ALTER TABLE bots ADD COLUMN gateway_intents INTEGER;   -- NULL: the gateway is off
    ALTER TABLE bots ADD COLUMN gateway_shards INTEGER;    -- NULL: Discord's recommendation
    -- Why the bot's gateway stopped for good (a fatal close code), until the next deploy.
    ALTER TABLE bots ADD COLUMN gateway_stopped TEXT;
    CREATE TABLE gateway_sessions (
        bot_id          INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
        shard_id        INTEGER NOT NULL,
        shard_count     INTEGER NOT NULL,
        intents         INTEGER NOT NULL,
        session_id      TEXT    NOT NULL,
        resume_url      TEXT    NOT NULL,
        seq             INTEGER NOT NULL,             -- delivery watermark: every event up to it was handled
        saved_at_ms     INTEGER NOT NULL,
        PRIMARY KEY (bot_id, shard_id)
    );
    -- Every IDENTIFY sent, kept 24 h: Discord resets a token past 1,000 a day.
    CREATE TABLE gateway_identifies (
        bot_id          INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
        at_ms           INTEGER NOT NULL
    );
    CREATE INDEX gateway_identifies_by_bot ON gateway_identifies (bot_id, at_ms);
    "#,
    // 7: the application commands a version declares (issue 13), as the node
    // registered them, and the server they went to (NULL: global), so a
    // rollback registers that version's commands again and `appliance
    // commands` compares them with Discord's.
    r#"
    ALTER TABLE bot_versions ADD COLUMN commands TEXT;        -- NULL: the version declares none
    ALTER TABLE bot_versions ADD COLUMN commands_guild TEXT;  -- NULL: registered globally
    "#,
];

/// Brings the database up to the newest schema.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), Error> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > MIGRATIONS.len() {
        return Err(Error::TooNew {
            found: current,
            known: MIGRATIONS.len(),
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        // `user_version` cannot take a bound parameter; the value is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_empty_database_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            tables,
            [
                "bot_id_sequence",
                "bot_secrets",
                "bot_versions",
                "bots",
                "components",
                "crashes",
                "gateway_identifies",
                "gateway_sessions",
                "kv",
                "kv_usage",
                "logs"
            ]
        );
    }

    #[test]
    fn refuses_a_database_from_a_newer_binary() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA user_version = 999").unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(Error::TooNew { found: 999, .. })
        ));
    }

    #[test]
    fn migration_4_recounts_kv_bytes_and_never_reuses_ids() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (index, sql) in MIGRATIONS.iter().enumerate().take(3) {
            conn.execute_batch(sql).unwrap();
            conn.execute_batch(&format!("PRAGMA user_version = {}", index + 1))
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO bots (id, name, app_id, public_key, active_version, fuel, memory_mib, \
             timeout_ms, instances, created_at_ms, updated_at_ms) \
             VALUES (7, 'b', '1', '', 1, 1, 1, 1, 1, 0, 0)",
        )
        .unwrap();
        // Six Cyrillic characters are twelve bytes; a NUL hides what follows from `length`.
        conn.execute(
            "INSERT INTO kv (bot_id, key, value) VALUES (7, ?1, x'0102'), (7, ?2, x'03')",
            ["Привет", "a\0bcd"],
        )
        .unwrap();
        conn.execute_batch("INSERT INTO kv_usage VALUES (7, 2, 11)")
            .unwrap();
        migrate(&mut conn).unwrap();
        let (keys, bytes): (i64, i64) = conn
            .query_row(
                "SELECT keys, bytes FROM kv_usage WHERE bot_id = 7",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!((keys, bytes), (2, 12 + 2 + 5 + 1));
        let next: i64 = conn
            .query_row("SELECT next FROM bot_id_sequence", [], |row| row.get(0))
            .unwrap();
        assert_eq!(next, 8);
    }
}
