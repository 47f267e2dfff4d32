//! Bots and their deployed versions.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::limits::Limits;
use crate::store::{Db, Error};

/// A deployed bot as stored. Never carries the bot token.
#[derive(Debug, Clone)]
pub struct BotRecord {
    pub id: i64,
    pub name: String,
    pub app_id: String,
    pub public_key: String,
    pub active_version: i64,
    pub limits: Limits,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Set when a crash loop quarantined the bot: when, and the last crash's reason.
    pub quarantined: Option<(i64, String)>,
    /// The bot's gateway sessions, if it takes gateway events.
    pub gateway: Option<GatewaySettings>,
    /// Why the bot's gateway stopped for good (a fatal close), until the next deploy.
    pub gateway_stopped: Option<String>,
}

/// What an operator turned on with `deploy --intents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewaySettings {
    pub intents: u64,
    /// `None`: Discord's recommended count.
    pub shards: Option<u32>,
}

/// What a deploy does to the bot's gateway settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GatewayChange {
    /// A redeploy keeps them (a new bot has none).
    #[default]
    Keep,
    Set(GatewaySettings),
    Off,
}

#[derive(Debug, Clone)]
pub struct VersionRecord {
    pub version: i64,
    pub sha256: String,
    pub size: i64,
    pub created_at_ms: i64,
    /// The version's declared commands, as registered (JSON array); `None`
    /// when it declares none.
    pub commands: Option<String>,
    /// The server its commands were registered to; `None`: globally.
    pub commands_guild: Option<String>,
}

/// Everything a deploy writes. The component has been validated already.
#[derive(Debug)]
pub struct Deploy {
    pub name: String,
    pub app_id: String,
    pub public_key: String,
    pub limits: Limits,
    /// `None` keeps the token a redeploy already had.
    pub token: Option<String>,
    /// The component's bytes; `None` when the caller named a component the
    /// store already has by its `sha256` (the deploy fails if it has none).
    pub wasm: Option<Vec<u8>>,
    pub sha256: String,
    pub gateway: GatewayChange,
    /// The version's declared commands (JSON array) and the server they
    /// were registered to (`None`: globally).
    pub commands: Option<(String, Option<String>)>,
}

#[derive(Debug)]
pub struct DeployOutcome {
    pub bot: BotRecord,
    pub version: i64,
    /// True when this deploy created the bot; false for a new version.
    pub created: bool,
}

const BOT_COLUMNS: &str = "id, name, app_id, public_key, active_version, fuel, memory_mib, \
                           timeout_ms, instances, created_at_ms, updated_at_ms, quarantined_at_ms, \
                           quarantine_reason, gateway_intents, gateway_shards, gateway_stopped";
/// Columns of `BOT_COLUMNS`; a join's own columns come after them.
const BOT_COLUMN_COUNT: usize = 16;

fn bot_from_row(row: &Row<'_>) -> rusqlite::Result<BotRecord> {
    Ok(BotRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        app_id: row.get(2)?,
        public_key: row.get(3)?,
        active_version: row.get(4)?,
        limits: Limits {
            fuel: row.get::<_, i64>(5)? as u64,
            memory_mib: row.get(6)?,
            timeout_ms: row.get::<_, i64>(7)? as u64,
            instances: row.get(8)?,
        },
        created_at_ms: row.get(9)?,
        updated_at_ms: row.get(10)?,
        quarantined: match row.get::<_, Option<i64>>(11)? {
            Some(at) => Some((at, row.get::<_, Option<String>>(12)?.unwrap_or_default())),
            None => None,
        },
        gateway: row
            .get::<_, Option<i64>>(13)?
            .map(|intents| -> rusqlite::Result<GatewaySettings> {
                Ok(GatewaySettings {
                    intents: intents as u64,
                    shards: row.get::<_, Option<u32>>(14)?,
                })
            })
            .transpose()?,
        gateway_stopped: row.get(15)?,
    })
}

/// A stored bot with what a start-up needs to serve it.
#[derive(Debug)]
pub struct StoredBot {
    pub record: BotRecord,
    /// The component of its active version.
    pub sha256: String,
    /// Its Discord token, for the host's REST client only.
    pub token: Option<String>,
}

fn bot_by_name(conn: &Connection, name: &str) -> rusqlite::Result<Option<BotRecord>> {
    conn.query_row(
        &format!("SELECT {BOT_COLUMNS} FROM bots WHERE name = ?1"),
        [name],
        bot_from_row,
    )
    .optional()
}

impl Db {
    /// Creates the bot or adds a version to it, and makes that version active,
    /// in one transaction: either all of it is stored or none of it.
    pub async fn deploy(&self, deploy: Deploy) -> Result<DeployOutcome, Error> {
        self.write(move |conn| {
            let tx = conn.savepoint()?;
            let now = crate::clock::unix_ms();
            let existing = bot_by_name(&tx, &deploy.name)?;
            let owner_of_app: Option<String> = tx
                .query_row(
                    "SELECT name FROM bots WHERE app_id = ?1",
                    [&deploy.app_id],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(owner) = owner_of_app.filter(|owner| *owner != deploy.name) {
                return Err(Error::Conflict(format!(
                    "application id {} is already served by bot {owner:?}; remove it first or deploy under that name",
                    deploy.app_id
                )));
            }
            let limits = deploy.limits;
            let (bot_id, version, created) = match existing {
                Some(bot) => {
                    let version: i64 = tx.query_row(
                        "SELECT COALESCE(MAX(version), 0) + 1 FROM bot_versions WHERE bot_id = ?1",
                        [bot.id],
                        |row| row.get(0),
                    )?;
                    tx.execute(
                        "UPDATE bots SET app_id = ?2, public_key = ?3, active_version = ?4, fuel = ?5, \
                         memory_mib = ?6, timeout_ms = ?7, instances = ?8, updated_at_ms = ?9, \
                         quarantined_at_ms = NULL, quarantine_reason = NULL WHERE id = ?1",
                        params![
                            bot.id,
                            deploy.app_id,
                            deploy.public_key,
                            version,
                            limits.fuel as i64,
                            limits.memory_mib,
                            limits.timeout_ms as i64,
                            limits.instances,
                            now
                        ],
                    )?;
                    (bot.id, version, false)
                }
                None => {
                    // A fresh id from the counter, never a removed bot's
                    // (see migration 4): events of a removed bot may still be
                    // finishing, and their id must not name anyone else's data.
                    let id: i64 = tx.query_row(
                        "UPDATE bot_id_sequence SET next = next + 1 RETURNING next - 1",
                        [],
                        |row| row.get(0),
                    )?;
                    tx.execute(
                        "INSERT INTO bots (id, name, app_id, public_key, active_version, fuel, memory_mib, \
                         timeout_ms, instances, created_at_ms, updated_at_ms) \
                         VALUES (?9, ?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?8)",
                        params![
                            deploy.name,
                            deploy.app_id,
                            deploy.public_key,
                            limits.fuel as i64,
                            limits.memory_mib,
                            limits.timeout_ms as i64,
                            limits.instances,
                            now,
                            id
                        ],
                    )?;
                    (id, 1, true)
                }
            };
            // A known component is stored once; do not even bind its bytes again.
            let known: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM components WHERE sha256 = ?1)",
                [&deploy.sha256],
                |row| row.get(0),
            )?;
            match (&deploy.wasm, known) {
                (_, true) => {}
                (Some(wasm), false) => {
                    tx.execute(
                        "INSERT INTO components (sha256, wasm) VALUES (?1, ?2)",
                        params![deploy.sha256, wasm],
                    )?;
                }
                (None, false) => return Err(Error::UnknownComponent(deploy.sha256.clone())),
            }
            tx.execute(
                "INSERT INTO bot_versions (bot_id, version, sha256, created_at_ms, commands, commands_guild) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    bot_id,
                    version,
                    deploy.sha256,
                    now,
                    deploy.commands.as_ref().map(|(json, _)| json),
                    deploy.commands.as_ref().and_then(|(_, guild)| guild.as_ref())
                ],
            )?;
            if let Some(token) = &deploy.token {
                tx.execute(
                    "INSERT INTO bot_secrets (bot_id, token) VALUES (?1, ?2) \
                     ON CONFLICT (bot_id) DO UPDATE SET token = excluded.token",
                    params![bot_id, token],
                )?;
            }
            // A deploy gives a stopped gateway another try; settings change
            // only when asked. Sessions of other settings cannot be resumed
            // (the gateway drops them when it sees the difference).
            tx.execute("UPDATE bots SET gateway_stopped = NULL WHERE id = ?1", [bot_id])?;
            match deploy.gateway {
                GatewayChange::Keep => {}
                GatewayChange::Set(settings) => {
                    tx.execute(
                        "UPDATE bots SET gateway_intents = ?2, gateway_shards = ?3 WHERE id = ?1",
                        params![bot_id, settings.intents as i64, settings.shards],
                    )?;
                }
                GatewayChange::Off => {
                    tx.execute(
                        "UPDATE bots SET gateway_intents = NULL, gateway_shards = NULL WHERE id = ?1",
                        [bot_id],
                    )?;
                    tx.execute("DELETE FROM gateway_sessions WHERE bot_id = ?1", [bot_id])?;
                }
            }
            let bot = bot_by_name(&tx, &deploy.name)?
                .ok_or_else(|| Error::Worker("deployed bot vanished inside its transaction".into()))?;
            tx.commit()?;
            Ok(DeployOutcome {
                bot,
                version,
                created,
            })
        })
        .await
    }

    pub async fn list_bots(&self) -> Result<Vec<BotRecord>, Error> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare(&format!("SELECT {BOT_COLUMNS} FROM bots ORDER BY name"))?;
            let bots = stmt
                .query_map([], bot_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(bots)
        })
        .await
    }

    /// Every bot with its active component and token, in one query.
    pub async fn load_plan(&self) -> Result<Vec<StoredBot>, Error> {
        self.read(|conn| {
            let columns: Vec<String> = BOT_COLUMNS
                .split(',')
                .map(|column| format!("b.{}", column.trim()))
                .collect();
            let mut stmt = conn.prepare(&format!(
                "SELECT {}, v.sha256, s.token FROM bots b \
                 JOIN bot_versions v ON v.bot_id = b.id AND v.version = b.active_version \
                 LEFT JOIN bot_secrets s ON s.bot_id = b.id ORDER BY b.name",
                columns.join(", ")
            ))?;
            let bots = stmt
                .query_map([], |row| {
                    Ok(StoredBot {
                        record: bot_from_row(row)?,
                        sha256: row.get(BOT_COLUMN_COUNT)?,
                        token: row.get(BOT_COLUMN_COUNT + 1)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(bots)
        })
        .await
    }

    pub async fn bot_by_name(&self, name: &str) -> Result<Option<BotRecord>, Error> {
        let name = name.to_owned();
        self.read(move |conn| Ok(bot_by_name(conn, &name)?)).await
    }

    /// The bytes of a stored component, by their SHA-256 (hex, lowercase).
    pub async fn component_wasm(&self, sha256: &str) -> Result<Option<Vec<u8>>, Error> {
        let sha256 = sha256.to_owned();
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT wasm FROM components WHERE sha256 = ?1",
                    params![sha256],
                    |row| row.get(0),
                )
                .optional()?)
        })
        .await
    }

    /// The component bytes of one version.
    pub async fn version_wasm(&self, bot_id: i64, version: i64) -> Result<Vec<u8>, Error> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT c.wasm FROM bot_versions v JOIN components c ON c.sha256 = v.sha256 \
                 WHERE v.bot_id = ?1 AND v.version = ?2",
                params![bot_id, version],
                |row| row.get(0),
            )
            .optional()?
            .ok_or_else(|| Error::NotFound(format!("version {version} not found")))
        })
        .await
    }

    pub async fn versions(&self, bot_id: i64) -> Result<Vec<VersionRecord>, Error> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT v.version, v.sha256, length(c.wasm), v.created_at_ms, v.commands, v.commands_guild \
                 FROM bot_versions v \
                 JOIN components c ON c.sha256 = v.sha256 WHERE v.bot_id = ?1 ORDER BY v.version",
            )?;
            let versions = stmt
                .query_map([bot_id], |row| {
                    Ok(VersionRecord {
                        version: row.get(0)?,
                        sha256: row.get(1)?,
                        size: row.get(2)?,
                        created_at_ms: row.get(3)?,
                        commands: row.get(4)?,
                        commands_guild: row.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(versions)
        })
        .await
    }

    /// Deletes the bot with everything it owns (versions, secrets, KV, logs).
    pub async fn remove_bot(&self, name: &str) -> Result<BotRecord, Error> {
        let name = name.to_owned();
        self.write(move |conn| {
            let tx = conn.savepoint()?;
            let bot = bot_by_name(&tx, &name)?
                .ok_or_else(|| Error::NotFound(format!("no bot named {name:?}")))?;
            tx.execute("DELETE FROM bots WHERE id = ?1", [bot.id])?;
            // Components no version refers to any more.
            tx.execute(
                "DELETE FROM components WHERE sha256 NOT IN (SELECT sha256 FROM bot_versions)",
                [],
            )?;
            tx.commit()?;
            Ok(bot)
        })
        .await
    }

    /// Makes an earlier version active again and lifts any quarantine.
    pub async fn set_active_version(&self, bot_id: i64, version: i64) -> Result<BotRecord, Error> {
        self.write(move |conn| {
            let tx = conn.savepoint()?;
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM bot_versions WHERE bot_id = ?1 AND version = ?2)",
                params![bot_id, version],
                |row| row.get(0),
            )?;
            if !exists {
                return Err(Error::NotFound(format!("version {version} does not exist")));
            }
            tx.execute(
                "UPDATE bots SET active_version = ?2, updated_at_ms = ?3, quarantined_at_ms = NULL, \
                 quarantine_reason = NULL WHERE id = ?1",
                params![bot_id, version, crate::clock::unix_ms()],
            )?;
            let bot = tx.query_row(
                &format!("SELECT {BOT_COLUMNS} FROM bots WHERE id = ?1"),
                [bot_id],
                bot_from_row,
            )?;
            tx.commit()?;
            Ok(bot)
        })
        .await
    }

    /// Records the quarantine of the bot's `version`, if that version is
    /// still the active one: a crash loop of a version that was replaced
    /// while its events ran must not disable its successor.
    pub async fn quarantine(&self, bot_id: i64, version: i64, reason: String) -> Result<(), Error> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE bots SET quarantined_at_ms = ?3, quarantine_reason = ?4 \
                 WHERE id = ?1 AND active_version = ?2",
                params![bot_id, version, crate::clock::unix_ms(), reason],
            )?;
            Ok(())
        })
        .await
    }

    /// The bot's Discord token, for the host's REST client only.
    pub async fn bot_token(&self, bot_id: i64) -> Result<Option<String>, Error> {
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT token FROM bot_secrets WHERE bot_id = ?1",
                    [bot_id],
                    |row| row.get(0),
                )
                .optional()?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(name: &str, app_id: &str) -> Deploy {
        Deploy {
            name: name.into(),
            app_id: app_id.into(),
            public_key: "00".repeat(32),
            limits: Limits::default(),
            token: Some("secret".into()),
            wasm: Some(vec![0, 97, 115, 109]),
            sha256: "abc".into(),
            gateway: GatewayChange::Keep,
            commands: None,
        }
    }

    #[tokio::test]
    async fn redeploy_adds_a_version_and_app_ids_stay_unique() {
        let db = Db::open_in_memory();
        let first = db.deploy(deploy("ping", "1")).await.unwrap();
        assert!(first.created);
        assert_eq!(first.version, 1);
        let second = db.deploy(deploy("ping", "1")).await.unwrap();
        assert!(!second.created);
        assert_eq!(second.bot.active_version, 2);
        assert_eq!(db.versions(second.bot.id).await.unwrap().len(), 2);

        let err = db.deploy(deploy("other", "1")).await.unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err}");
        assert_eq!(db.list_bots().await.unwrap().len(), 1);

        let plan = db.load_plan().await.unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].record.active_version, 2);
        assert_eq!(
            (plan[0].sha256.as_str(), plan[0].token.as_deref()),
            ("abc", Some("secret"))
        );

        let removed = db.remove_bot("ping").await.unwrap();
        assert_eq!(db.bot_token(removed.id).await.unwrap(), None);
        assert!(db.list_bots().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_removed_bots_id_is_never_given_out_again() {
        let db = Db::open_in_memory();
        let mut seen = std::collections::HashSet::new();
        // The highest id removed each round is the one SQLite's rowid would reuse.
        for round in 0..5 {
            let bot = db.deploy(deploy("doomed", "1")).await.unwrap().bot;
            assert!(seen.insert(bot.id), "id {} reused in round {round}", bot.id);
            db.kv_set(
                bot.id,
                "k".into(),
                b"v".to_vec(),
                crate::store::KvQuota::default(),
            )
            .await
            .unwrap();
            db.remove_bot("doomed").await.unwrap();
            // A late write of the removed bot's event finds no bot to write for.
            let late = db
                .kv_set(
                    bot.id,
                    "late".into(),
                    b"v".to_vec(),
                    crate::store::KvQuota::default(),
                )
                .await;
            assert!(late.is_err(), "a removed bot's write was accepted");
        }
        let heir = db.deploy(deploy("heir", "2")).await.unwrap().bot;
        assert!(!seen.contains(&heir.id));
        assert!(db
            .kv_list_keys(heir.id, String::new())
            .await
            .unwrap()
            .is_empty());
    }
}
