//! The key-value port: sessions, refresh tokens, rate limits, the WeChat access-token cache,
//! counters and locks. Redis in production; an in-process store for the embedded default.
//!
//! Operations that must be atomic are methods of their own (not get-then-set sequences), so that
//! Redis runs them as one Lua script and the in-process store under one lock: both give the same
//! guarantees, and one behaviour test suite runs against both.

pub mod keys;
mod memory;
mod redis_store;
mod token_cache;

use std::time::Duration;

use async_trait::async_trait;

pub use memory::MemoryStore;
pub use redis_store::{RedisStore, RedisStoreOptions};
pub use token_cache::KvAccessTokenCache;

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The store cannot be reached right now; retrying later may work.
    #[error("key-value store unavailable: {0}")]
    Unavailable(String),
    /// The store answered something we did not expect.
    #[error("key-value store error: {0}")]
    Protocol(String),
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

/// The counters of one flash sale: what the database says when they are loaded, and what the
/// store holds later (units not yet taken, the window, the limit, and each member's units).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlashCounters {
    /// Units still available.
    pub stock_left: i64,
    /// The window, as Unix milliseconds: open from `starts_at_ms` until before `ends_at_ms`.
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub per_member_limit: i64,
    /// (member id, units the member holds), members holding none left out.
    pub members: Vec<(i64, i64)>,
}

/// What a flash-sale grab decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashOutcome {
    /// The units were taken from the counter and added to the member's.
    Granted,
    /// Before the window; not remembered under the idempotency key (a retry may succeed later).
    NotStarted,
    Ended,
    SoldOut,
    LimitReached,
}

impl FlashOutcome {
    pub(crate) fn from_tag(tag: &str) -> Option<Self> {
        Some(match tag {
            "G" => Self::Granted,
            "B" => Self::NotStarted,
            "E" => Self::Ended,
            "S" => Self::SoldOut,
            "L" => Self::LimitReached,
            _ => return None,
        })
    }
}

/// Result of [`KeyValueStore::flash_grab`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashGrab {
    /// The sale's counters are not in the store (never warmed, expired, or the store restarted).
    NotLoaded,
    /// A new decision under this idempotency key.
    Decided(FlashOutcome),
    /// The key was used before: the quantity asked then and the answer given.
    Replay {
        quantity: i64,
        outcome: FlashOutcome,
    },
    /// The member's attempts in the current window passed the limit: nothing else was read.
    Throttled,
}

/// A fixed-window attempt counter checked inside [`KeyValueStore::flash_grab`] (same slot as
/// the sale's counters), so a grab costs one round trip, not two.
#[derive(Debug, Clone, Copy)]
pub struct AttemptWindow<'a> {
    pub key: &'a str,
    pub window: Duration,
    /// Attempts allowed in one window.
    pub limit: i64,
}

#[async_trait]
pub trait KeyValueStore: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;

    /// Reads two keys in one round trip (a pipeline, not `MGET`: the keys may live in
    /// different cluster slots). Every request's authentication reads its session and its
    /// account's stamp this way.
    async fn get_two(
        &self,
        first: &str,
        second: &str,
    ) -> Result<(Option<Vec<u8>>, Option<Vec<u8>>), KvError>;

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError>;

    /// Writes only when the key is absent; true when written.
    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError>;

    /// Deletes keys; returns how many existed.
    async fn delete(&self, keys: &[&str]) -> Result<u64, KvError>;

    /// Increments a counter that lives for `window` from its first increment (a fixed-window
    /// rate limit); returns the new count.
    async fn incr_window(&self, key: &str, window: Duration) -> Result<i64, KvError>;

    /// Takes one back from a counter of [`Self::incr_window`] (never below zero, expiry kept,
    /// an absent counter left absent); returns the new count.
    async fn decr_window(&self, key: &str) -> Result<i64, KvError>;

    /// Replaces `expected` with `new` (and resets the time to live) in one atomic step.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> Result<CasOutcome, KvError>;

    /// Deletes the key only while it holds `expected`, in one atomic step; true when deleted.
    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, KvError>;

    /// Writes a flash sale's counters when they are absent (first warm, or after the store lost
    /// them); true when written. Everything lives for `ttl`.
    async fn flash_load(
        &self,
        sale: &str,
        counters: &FlashCounters,
        ttl: Duration,
    ) -> Result<bool, KvError>;

    /// One atomic step: when the counters are loaded, counts the attempt in `attempts` (if
    /// given) and answers `Throttled` past its limit; replays an answer already given under
    /// `idempotency_key`; otherwise checks the window against `now_ms`, the member's limit and
    /// the units left, and takes `quantity` units when all allow it. Every answer but
    /// `NotStarted` and `Throttled` is remembered under the key.
    async fn flash_grab(
        &self,
        sale: &str,
        member_id: i64,
        quantity: i64,
        now_ms: i64,
        idempotency_key: &str,
        attempts: Option<AttemptWindow<'_>>,
    ) -> Result<FlashGrab, KvError>;

    /// Gives `units` back from the member to the counter (negative: takes them), never leaving
    /// the member below zero, and forgets `forget_key`'s answer when given. False when the
    /// counters are not loaded (nothing changed).
    async fn flash_adjust(
        &self,
        sale: &str,
        member_id: i64,
        units: i64,
        forget_key: Option<&str>,
    ) -> Result<bool, KvError>;

    /// The sale's counters as they are now, in one consistent read.
    async fn flash_counters(&self, sale: &str) -> Result<Option<FlashCounters>, KvError>;

    /// Round trip to the store, for readiness checks.
    async fn ping(&self) -> Result<(), KvError>;
}
