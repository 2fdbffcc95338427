use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisError, Script};

use super::{
    AttemptWindow, CasOutcome, FlashCounters, FlashGrab, FlashOutcome, KeyValueStore, KvError,
};

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
    decr_window: Script,
    delete_if_equals: Script,
    compare_and_swap: Script,
    flash_load: Script,
    flash_grab: Script,
    flash_adjust: Script,
    flash_counters: Script,
}

/// A flash sale's keys: its counters (a hash), its members' units (a hash) and the answers given
/// per idempotency key (a hash). KEYS[1..3] of every flash script; the sale key carries a hash tag.
const FLASH_GRAB_LUA: &str = r"
local meta = redis.call('HMGET', KEYS[1], 'stock', 'start', 'end', 'limit')
if not meta[1] then return {'N'} end
if KEYS[4] then
  local n = redis.call('INCR', KEYS[4])
  if n == 1 then redis.call('PEXPIRE', KEYS[4], ARGV[6]) end
  if n > tonumber(ARGV[5]) then return {'T'} end
end
local prev = redis.call('HGET', KEYS[3], ARGV[4])
if prev then return {'R', prev} end
local q = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now < tonumber(meta[2]) then return {'B'} end
local out
if now >= tonumber(meta[3]) then
  out = 'E'
else
  local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
  if held + q > tonumber(meta[4]) then
    out = 'L'
  elseif tonumber(meta[1]) < q then
    out = 'S'
  else
    redis.call('HINCRBY', KEYS[1], 'stock', -q)
    redis.call('HINCRBY', KEYS[2], ARGV[1], q)
    out = 'G'
  end
end
redis.call('HSET', KEYS[3], ARGV[4], ARGV[2] .. '|' .. out)
if redis.call('PTTL', KEYS[3]) < 0 then
  local t = redis.call('PTTL', KEYS[1])
  if t > 0 then
    redis.call('PEXPIRE', KEYS[3], t)
    redis.call('PEXPIRE', KEYS[2], t)
  end
end
return {out}
";

const FLASH_LOAD_LUA: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'stock', ARGV[2], 'start', ARGV[3], 'end', ARGV[4], 'limit', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
if #ARGV >= 6 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return 1
";

const FLASH_ADJUST_LUA: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local d = tonumber(ARGV[2])
if d ~= 0 then
  redis.call('HINCRBY', KEYS[1], 'stock', d)
  local held = redis.call('HINCRBY', KEYS[2], ARGV[1], -d)
  if held < 0 then redis.call('HINCRBY', KEYS[1], 'stock', held) end
  if held <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
end
if ARGV[3] ~= '' then redis.call('HDEL', KEYS[3], ARGV[3]) end
return 1
";

const FLASH_COUNTERS_LUA: &str = r"
local meta = redis.call('HMGET', KEYS[1], 'stock', 'start', 'end', 'limit')
if not meta[1] then return {} end
local out = {meta[1], meta[2], meta[3], meta[4]}
local members = redis.call('HGETALL', KEYS[2])
for i = 1, #members do out[#out + 1] = members[i] end
return out
";

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
                decr_window: Script::new(
                    r"local n = tonumber(redis.call('GET', KEYS[1]) or '0')
                      if n <= 0 then return 0 end
                      return redis.call('DECR', KEYS[1])",
                ),
                delete_if_equals: Script::new(
                    r"if redis.call('GET', KEYS[1]) == ARGV[1] then
                        return redis.call('DEL', KEYS[1])
                      end
                      return 0",
                ),
                compare_and_swap: Script::new(
                    r"local v = redis.call('GET', KEYS[1])
                      if not v then return 0 end
                      if v ~= ARGV[1] then return -1 end
                      redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
                      return 1",
                ),
                flash_load: Script::new(FLASH_LOAD_LUA),
                flash_grab: Script::new(FLASH_GRAB_LUA),
                flash_adjust: Script::new(FLASH_ADJUST_LUA),
                flash_counters: Script::new(FLASH_COUNTERS_LUA),
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

    fn flash_keys(&self, sale: &str) -> [String; 3] {
        let base = self.key(sale);
        [base.clone(), format!("{base}:m"), format!("{base}:k")]
    }

    /// The flash-grab script's source, for `redis-benchmark` runs of the same script.
    pub fn flash_grab_script() -> &'static str {
        FLASH_GRAB_LUA
    }
}

fn parse_i64(v: &str) -> Result<i64, KvError> {
    v.parse()
        .map_err(|_| KvError::Protocol(format!("not a number in flash counters: {v}")))
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

    async fn get_two(
        &self,
        first: &str,
        second: &str,
    ) -> Result<(Option<Vec<u8>>, Option<Vec<u8>>), KvError> {
        let mut conn = self.conn.clone();
        redis::pipe()
            .get(self.key(first))
            .get(self.key(second))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
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

    async fn decr_window(&self, key: &str) -> Result<i64, KvError> {
        let mut conn = self.conn.clone();
        self.scripts
            .decr_window
            .key(self.key(key))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, KvError> {
        let mut conn = self.conn.clone();
        let deleted: i64 = self
            .scripts
            .delete_if_equals
            .key(self.key(key))
            .arg(expected)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(deleted == 1)
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

    async fn flash_load(
        &self,
        sale: &str,
        counters: &FlashCounters,
        ttl: Duration,
    ) -> Result<bool, KvError> {
        let mut conn = self.conn.clone();
        let [meta, members, answers] = self.flash_keys(sale);
        let mut invocation = self.scripts.flash_load.key(meta);
        invocation
            .key(members)
            .key(answers)
            .arg(millis(ttl))
            .arg(counters.stock_left)
            .arg(counters.starts_at_ms)
            .arg(counters.ends_at_ms)
            .arg(counters.per_member_limit);
        for (member, units) in counters.members.iter().filter(|(_, u)| *u > 0) {
            invocation.arg(*member).arg(*units);
        }
        let written: i64 = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(written == 1)
    }

    async fn flash_grab(
        &self,
        sale: &str,
        member_id: i64,
        quantity: i64,
        now_ms: i64,
        idempotency_key: &str,
        attempts: Option<AttemptWindow<'_>>,
    ) -> Result<FlashGrab, KvError> {
        let mut conn = self.conn.clone();
        let [meta, members, answers] = self.flash_keys(sale);
        let mut invocation = self.scripts.flash_grab.key(meta);
        invocation
            .key(members)
            .key(answers)
            .arg(member_id)
            .arg(quantity)
            .arg(now_ms)
            .arg(idempotency_key);
        if let Some(window) = attempts {
            invocation
                .key(self.key(window.key))
                .arg(window.limit)
                .arg(millis(window.window));
        }
        let reply: Vec<String> = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let bad = || KvError::Protocol(format!("unexpected flash grab reply {reply:?}"));
        match reply.as_slice() {
            [tag] if tag == "N" => Ok(FlashGrab::NotLoaded),
            [tag] if tag == "T" => Ok(FlashGrab::Throttled),
            [tag] => FlashOutcome::from_tag(tag)
                .map(FlashGrab::Decided)
                .ok_or_else(bad),
            [tag, previous] if tag == "R" => {
                let (quantity, outcome) = previous.split_once('|').ok_or_else(bad)?;
                Ok(FlashGrab::Replay {
                    quantity: parse_i64(quantity)?,
                    outcome: FlashOutcome::from_tag(outcome).ok_or_else(bad)?,
                })
            }
            _ => Err(bad()),
        }
    }

    async fn flash_adjust(
        &self,
        sale: &str,
        member_id: i64,
        units: i64,
        forget_key: Option<&str>,
    ) -> Result<bool, KvError> {
        let mut conn = self.conn.clone();
        let [meta, members, answers] = self.flash_keys(sale);
        let done: i64 = self
            .scripts
            .flash_adjust
            .key(meta)
            .key(members)
            .key(answers)
            .arg(member_id)
            .arg(units)
            .arg(forget_key.unwrap_or(""))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(done == 1)
    }

    async fn flash_counters(&self, sale: &str) -> Result<Option<FlashCounters>, KvError> {
        let mut conn = self.conn.clone();
        let [meta, members, answers] = self.flash_keys(sale);
        let reply: Vec<String> = self
            .scripts
            .flash_counters
            .key(meta)
            .key(members)
            .key(answers)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let [stock, start, end, limit, rest @ ..] = reply.as_slice() else {
            return Ok(None);
        };
        let mut members = rest
            .chunks(2)
            .map(|pair| match pair {
                [m, u] => Ok((parse_i64(m)?, parse_i64(u)?)),
                _ => Err(KvError::Protocol("odd flash member list".into())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        members.retain(|(_, u)| *u > 0);
        members.sort_unstable();
        Ok(Some(FlashCounters {
            stock_left: parse_i64(stock)?,
            starts_at_ms: parse_i64(start)?,
            ends_at_ms: parse_i64(end)?,
            per_member_limit: parse_i64(limit)?,
            members,
        }))
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
