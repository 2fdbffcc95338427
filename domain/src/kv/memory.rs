use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{CasOutcome, KeyValueStore, KvError};

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
                .filter(|k| e.live(k, now).is_some() && e.map.remove(**k).is_some())
                .count() as u64
        })
    }

    async fn incr_window(&self, key: &str, window: Duration) -> Result<i64, KvError> {
        self.with(|e, now| {
            let entry = match e.live(key, now) {
                Some(entry) => entry,
                None => e.map.entry(key.to_owned()).or_insert(Entry {
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

    async fn ping(&self) -> Result<(), KvError> {
        self.with(|_, _| ())
    }
}
