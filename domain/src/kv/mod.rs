//! The key-value port: sessions, refresh tokens, rate limits, the WeChat access-token cache,
//! counters and locks. Redis in production; an in-process store for the embedded default.
//!
//! Operations that must be atomic are methods of their own (not get-then-set sequences), so that
//! Redis runs them as one Lua script and the in-process store under one lock: both give the same
//! guarantees, and one behaviour test suite runs against both.

mod memory;
mod redis_store;
mod token_cache;

use std::time::Duration;

use async_trait::async_trait;

pub use memory::MemoryStore;
pub use redis_store::{RedisStore, RedisStoreOptions};
pub use token_cache::KvAccessTokenCache;

use crate::error::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The store cannot be reached right now; retrying later may work.
    #[error("key-value store unavailable: {0}")]
    Unavailable(String),
    /// The store answered something we did not expect.
    #[error("key-value store error: {0}")]
    Protocol(String),
}

impl KvError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Protocol(_) => ErrorCode::Internal,
        }
    }
}

/// Result of [`KeyValueStore::compare_and_swap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    Swapped,
    /// The key holds another value; nothing was written.
    Mismatch,
    /// The key does not exist (or expired); nothing was written.
    Missing,
}

#[async_trait]
pub trait KeyValueStore: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError>;

    /// Writes only when the key is absent; true when written.
    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError>;

    /// Deletes keys; returns how many existed.
    async fn delete(&self, keys: &[&str]) -> Result<u64, KvError>;

    /// Increments a counter that lives for `window` from its first increment (a fixed-window
    /// rate limit); returns the new count.
    async fn incr_window(&self, key: &str, window: Duration) -> Result<i64, KvError>;

    /// Replaces `expected` with `new` (and resets the time to live) in one atomic step.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> Result<CasOutcome, KvError>;

    /// Round trip to the store, for readiness checks.
    async fn ping(&self) -> Result<(), KvError>;
}
