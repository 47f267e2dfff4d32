//! The `kv` import: the bot's own key-value data in the store.

use std::sync::Arc;

use super::HostState;
use crate::sandbox::bindings::appliance::bot::kv;
use crate::sandbox::BotEnv;
use crate::store;

impl HostState {
    fn kv_env(&self) -> Result<Arc<BotEnv>, kv::KvError> {
        self.live_env()
            .map_err(|why| kv::KvError::Unavailable(why.into()))
    }
}

impl kv::Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, kv::KvError> {
        let env = self.kv_env()?;
        let value = env.db.kv_get(env.bot_id, key).await.map_err(to_wit)?;
        env.counters
            .kv("get", value.as_ref().map_or(0, Vec::len), 0);
        Ok(value)
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), kv::KvError> {
        let env = self.kv_env()?;
        let written = value.len();
        env.db
            .kv_set(env.bot_id, key, value, env.kv_quota)
            .await
            .map_err(to_wit)?;
        env.counters.kv("set", 0, written);
        Ok(())
    }

    async fn delete(&mut self, key: String) -> Result<(), kv::KvError> {
        let env = self.kv_env()?;
        env.db.kv_delete(env.bot_id, key).await.map_err(to_wit)?;
        env.counters.kv("delete", 0, 0);
        Ok(())
    }

    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, kv::KvError> {
        let env = self.kv_env()?;
        let keys = env
            .db
            .kv_list_keys(env.bot_id, prefix)
            .await
            .map_err(to_wit)?;
        env.counters.kv("list_keys", 0, 0);
        Ok(keys)
    }
}

fn to_wit(err: store::KvError) -> kv::KvError {
    match err {
        store::KvError::InvalidKey(m) => kv::KvError::InvalidKey(m),
        store::KvError::QuotaExceeded(m) => kv::KvError::QuotaExceeded(m),
        store::KvError::Unavailable(m) => kv::KvError::Unavailable(m),
    }
}
