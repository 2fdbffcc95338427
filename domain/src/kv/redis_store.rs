use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisError, Script};

use super::{CasOutcome, KeyValueStore, KvError};

/// Redis behind the key-value port. One multiplexed, self-reconnecting connection per process
/// (redis pipelines requests on it, which beats a pool for small commands); every key is
/// prefixed so several deployments (or test runs) can share a server.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    scripts: std::sync::Arc<Scripts>,
}

struct Scripts {
    incr_window: Script,
    compare_and_swap: Script,
}

#[derive(Debug, Clone)]
pub struct RedisStoreOptions {
    pub url: String,
    pub prefix: String,
    /// A command that takes longer fails as unavailable, so callers answer fast while Redis is down.
    pub response_timeout: Duration,
    pub connection_timeout: Duration,
}

impl RedisStoreOptions {
    pub fn new(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: prefix.into(),
            response_timeout: Duration::from_secs(2),
            connection_timeout: Duration::from_secs(1),
        }
    }
}

impl RedisStore {
    /// Connects lazily: the server starts even when Redis is not up yet, and `/readyz` says so.
    pub fn connect(options: &RedisStoreOptions) -> Result<Self, KvError> {
        let client = redis::Client::open(options.url.as_str()).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(options.response_timeout))
            .set_connection_timeout(Some(options.connection_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?;
        Ok(Self {
            conn,
            prefix: options.prefix.clone(),
            scripts: std::sync::Arc::new(Scripts {
                incr_window: Script::new(
                    r"local n = redis.call('INCR', KEYS[1])
                      if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
                      return n",
                ),
                compare_and_swap: Script::new(
                    r"local v = redis.call('GET', KEYS[1])
                      if not v then return 0 end
                      if v ~= ARGV[1] then return -1 end
                      redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
                      return 1",
                ),
            }),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    /// The connection, for capabilities that run scripts of their own (flash-sale counters).
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub fn prefixed(&self, key: &str) -> String {
        self.key(key)
    }
}

pub(crate) fn unavailable(err: RedisError) -> KvError {
    if err.is_io_error() || err.is_timeout() || err.is_connection_dropped() {
        KvError::Unavailable(err.to_string())
    } else {
        match err.kind() {
            redis::ErrorKind::Io | redis::ErrorKind::Client => {
                KvError::Unavailable(err.to_string())
            }
            _ => KvError::Protocol(err.to_string()),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl KeyValueStore for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let mut conn = self.conn.clone();
        conn.get(self.key(key)).await.map_err(unavailable)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError> {
        let mut conn = self.conn.clone();
        match ttl {
            Some(ttl) => conn.pset_ex(self.key(key), value, millis(ttl)).await,
            None => conn.set(self.key(key), value).await,
        }
        .map_err(unavailable)
    }

    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError> {
        let mut conn = self.conn.clone();
        let reply: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(reply.is_some())
    }

    async fn delete(&self, keys: &[&str]) -> Result<u64, KvError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn.clone();
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        conn.del(keys).await.map_err(unavailable)
    }

    async fn incr_window(&self, key: &str, window: Duration) -> Result<i64, KvError> {
        let mut conn = self.conn.clone();
        self.scripts
            .incr_window
            .key(self.key(key))
            .arg(millis(window))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> Result<CasOutcome, KvError> {
        let mut conn = self.conn.clone();
        let outcome: i64 = self
            .scripts
            .compare_and_swap
            .key(self.key(key))
            .arg(expected)
            .arg(new)
            .arg(millis(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(match outcome {
            1 => CasOutcome::Swapped,
            -1 => CasOutcome::Mismatch,
            _ => CasOutcome::Missing,
        })
    }

    async fn ping(&self) -> Result<(), KvError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
