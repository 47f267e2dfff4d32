//! The `kv` import: the bot's own key-value data, wherever its backend
//! keeps it (the node's store, or the fleet's engine).

use std::sync::Arc;

use super::HostState;
use crate::sandbox::bindings::appliance::bot::kv;
use crate::sandbox::{BotEnv, KvCall};
use crate::store;

impl HostState {
    fn kv_env(&self) -> Result<Arc<BotEnv>, kv::KvError> {
        self.live_env()
            .map_err(|why| kv::KvError::Unavailable(why.into()))
    }

    fn kv_call<'a>(&self, env: &'a BotEnv) -> KvCall<'a> {
        KvCall {
            bot_id: env.bot_id,
            bot: &env.name,
            quota: env.kv_quota,
            deadline: self.event.deadline,
        }
    }
}

impl kv::Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, kv::KvError> {
        let env = self.kv_env()?;
        let value = env.kv.get(self.kv_call(&env), key).await.map_err(to_wit)?;
        env.counters
            .kv("get", value.as_ref().map_or(0, Vec::len), 0);
        Ok(value)
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), kv::KvError> {
        let env = self.kv_env()?;
        let written = value.len();
        env.kv
            .set(self.kv_call(&env), key, value)
            .await
            .map_err(to_wit)?;
        env.counters.kv("set", 0, written);
        Ok(())
    }

    async fn delete(&mut self, key: String) -> Result<(), kv::KvError> {
        let env = self.kv_env()?;
        env.kv
            .delete(self.kv_call(&env), key)
            .await
            .map_err(to_wit)?;
        env.counters.kv("delete", 0, 0);
        Ok(())
    }

    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, kv::KvError> {
        let env = self.kv_env()?;
        let keys = env
            .kv
            .list_keys(self.kv_call(&env), prefix)
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
