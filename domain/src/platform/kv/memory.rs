use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{
    AttemptWindow, CasOutcome, FlashCounters, FlashGrab, FlashOutcome, KeyValueStore, KvError,
};

/// The in-process store of the embedded default. Every operation holds one lock for its whole
/// length, which is what makes the compound operations atomic. Expired entries are dropped when
/// touched and swept as the map grows.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, Entry>,
    /// Size at which the next full sweep of expired entries runs.
    sweep_at: usize,
    /// Flash-sale counters by sale key (deleting the sale key deletes them, as in Redis).
    flash: HashMap<String, FlashState>,
}

struct FlashState {
    stock_left: i64,
    starts_at_ms: i64,
    ends_at_ms: i64,
    per_member_limit: i64,
    members: HashMap<i64, i64>,
    /// Idempotency key -> (quantity, answer).
    answers: HashMap<String, (i64, FlashOutcome)>,
    expires_at: Instant,
}

struct Entry {
    value: Vec<u8>,
    expires_at: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Entries, Instant) -> R) -> Result<R, KvError> {
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| KvError::Protocol("in-process store poisoned".into()))?;
        let now = Instant::now();
        if entries.map.len() >= entries.sweep_at.max(1024) {
            entries.map.retain(|_, e| e.live(now));
            entries.sweep_at = entries.map.len() * 2;
        }
        Ok(f(&mut entries, now))
    }
}

impl Entries {
    fn flash(&mut self, sale: &str, now: Instant) -> Option<&mut FlashState> {
        if self.flash.get(sale).is_some_and(|f| f.expires_at <= now) {
            self.flash.remove(sale);
        }
        self.flash.get_mut(sale)
    }

    fn incr_window(&mut self, key: &str, window: Duration, now: Instant) -> i64 {
        let entry = match self.live(key, now) {
            Some(entry) => entry,
            None => self.map.entry(key.to_owned()).or_insert(Entry {
                value: b"0".to_vec(),
                expires_at: Some(now + window),
            }),
        };
        let count = std::str::from_utf8(&entry.value)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
            + 1;
        entry.value = count.to_string().into_bytes();
        count
    }

    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.map.get(key).is_some_and(|e| !e.live(now)) {
            self.map.remove(key);
        }
        self.map.get_mut(key)
    }
}

#[async_trait]
impl KeyValueStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.with(|e, now| e.live(key, now).map(|entry| entry.value.clone()))
    }

    async fn get_two(
        &self,
        first: &str,
        second: &str,
    ) -> Result<(Option<Vec<u8>>, Option<Vec<u8>>), KvError> {
        self.with(|e, now| {
            (
                e.live(first, now).map(|entry| entry.value.clone()),
                e.live(second, now).map(|entry| entry.value.clone()),
            )
        })
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError> {
        self.with(|e, now| {
            e.map.insert(
                key.to_owned(),
                Entry {
                    value: value.to_vec(),
                    expires_at: ttl.map(|t| now + t),
                },
            );
        })
    }

    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError> {
        self.with(|e, now| {
            if e.live(key, now).is_some() {
                return false;
            }
            e.map.insert(
                key.to_owned(),
                Entry {
                    value: value.to_vec(),
                    expires_at: Some(now + ttl),
                },
            );
            true
        })
    }

    async fn delete(&self, keys: &[&str]) -> Result<u64, KvError> {
        self.with(|e, now| {
            keys.iter()
                .filter(|k| {
                    let flash = e.flash(k, now).is_some() && e.flash.remove(**k).is_some();
                    (e.live(k, now).is_some() && e.map.remove(**k).is_some()) || flash
                })
                .count() as u64
        })
    }

    async fn incr_window(&self, key: &str, window: Duration) -> Result<i64, KvError> {
        self.with(|e, now| e.incr_window(key, window, now))
    }

    async fn decr_window(&self, key: &str) -> Result<i64, KvError> {
        self.with(|e, now| {
            let Some(entry) = e.live(key, now) else {
                return 0;
            };
            let count = (std::str::from_utf8(&entry.value)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0)
                - 1)
            .max(0);
            entry.value = count.to_string().into_bytes();
            count
        })
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, KvError> {
        self.with(|e, now| match e.live(key, now) {
            Some(entry) if entry.value == expected => e.map.remove(key).is_some(),
            _ => false,
        })
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> Result<CasOutcome, KvError> {
        self.with(|e, now| match e.live(key, now) {
            None => CasOutcome::Missing,
            Some(entry) if entry.value != expected => CasOutcome::Mismatch,
            Some(entry) => {
                entry.value = new.to_vec();
                entry.expires_at = Some(now + ttl);
                CasOutcome::Swapped
            }
        })
    }

    async fn flash_load(
        &self,
        sale: &str,
        counters: &FlashCounters,
        ttl: Duration,
    ) -> Result<bool, KvError> {
        self.with(|e, now| {
            if e.flash(sale, now).is_some() {
                return false;
            }
            e.flash.insert(
                sale.to_owned(),
                FlashState {
                    stock_left: counters.stock_left,
                    starts_at_ms: counters.starts_at_ms,
                    ends_at_ms: counters.ends_at_ms,
                    per_member_limit: counters.per_member_limit,
                    members: counters
                        .members
                        .iter()
                        .copied()
                        .filter(|(_, units)| *units > 0)
                        .collect(),
                    answers: HashMap::new(),
                    expires_at: now + ttl,
                },
            );
            true
        })
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
        self.with(|e, now| {
            if e.flash(sale, now).is_none() {
                return FlashGrab::NotLoaded;
            }
            if let Some(window) = attempts
                && e.incr_window(window.key, window.window, now) > window.limit
            {
                return FlashGrab::Throttled;
            }
            let Some(f) = e.flash(sale, now) else {
                return FlashGrab::NotLoaded;
            };
            if let Some((quantity, outcome)) = f.answers.get(idempotency_key) {
                return FlashGrab::Replay {
                    quantity: *quantity,
                    outcome: *outcome,
                };
            }
            if now_ms < f.starts_at_ms {
                return FlashGrab::Decided(FlashOutcome::NotStarted);
            }
            let held = f.members.get(&member_id).copied().unwrap_or(0);
            let outcome = if now_ms >= f.ends_at_ms {
                FlashOutcome::Ended
            } else if held + quantity > f.per_member_limit {
                FlashOutcome::LimitReached
            } else if f.stock_left < quantity {
                FlashOutcome::SoldOut
            } else {
                f.stock_left -= quantity;
                f.members.insert(member_id, held + quantity);
                FlashOutcome::Granted
            };
            f.answers
                .insert(idempotency_key.to_owned(), (quantity, outcome));
            FlashGrab::Decided(outcome)
        })
    }

    async fn flash_adjust(
        &self,
        sale: &str,
        member_id: i64,
        units: i64,
        forget_key: Option<&str>,
    ) -> Result<bool, KvError> {
        self.with(|e, now| {
            let Some(f) = e.flash(sale, now) else {
                return false;
            };
            if units != 0 {
                f.stock_left += units;
                let held = f.members.get(&member_id).copied().unwrap_or(0) - units;
                if held < 0 {
                    // Never give back more than the member held.
                    f.stock_left += held;
                }
                if held <= 0 {
                    f.members.remove(&member_id);
                } else {
                    f.members.insert(member_id, held);
                }
            }
            if let Some(key) = forget_key {
                f.answers.remove(key);
            }
            true
        })
    }

    async fn flash_counters(&self, sale: &str) -> Result<Option<FlashCounters>, KvError> {
        self.with(|e, now| {
            e.flash(sale, now).map(|f| {
                let mut members: Vec<(i64, i64)> =
                    f.members.iter().map(|(m, u)| (*m, *u)).collect();
                members.sort_unstable();
                FlashCounters {
                    stock_left: f.stock_left,
                    starts_at_ms: f.starts_at_ms,
                    ends_at_ms: f.ends_at_ms,
                    per_member_limit: f.per_member_limit,
                    members,
                }
            })
        })
    }

    async fn ping(&self) -> Result<(), KvError> {
        self.with(|_, _| ())
    }
}
