//! Open slots of a store's window (from its setup and busy time) kept per replica and keyed by
//! the store's slot version, a counter in the key-value store that every change to the store's
//! bookings or setup bumps after commit. A search reads the version (one round trip) and cuts
//! the cached slots to what has not started; a change anywhere makes every replica read the
//! database again. The cache only speeds up showing slots: booking re-reads the database and
//! the (BA, cell) rows refuse any overlap, so a stale entry can at worst offer a slot that
//! booking then refuses. Entries also expire on their own after 30 seconds, and without the
//! key-value store searches go to the database.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;

use super::BookingError;
use super::slots::OpenSlots;
use crate::AppState;
use crate::platform::kv::keys;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct WindowKey {
    pub store_id: i64,
    pub service_id: i64,
    pub ba_id: Option<i64>,
    pub from: NaiveDate,
    pub days: i64,
    pub version: i64,
}

pub struct WindowCache {
    windows: moka::future::Cache<WindowKey, Arc<OpenSlots>>,
}

impl Default for WindowCache {
    fn default() -> Self {
        Self {
            windows: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(30))
                .build(),
        }
    }
}

/// The counter lives a day; entries live 30 seconds, so a counter that expired and restarts
/// never meets an entry cached under an old value.
const VERSION_TTL: Duration = Duration::from_secs(24 * 3600);

/// The store's slot version, or `None` when the key-value store cannot say (no caching then).
async fn version(app: &AppState, store_id: i64) -> Option<i64> {
    match app.kv.get(&keys::booking_window_version(store_id)).await {
        Ok(None) => Some(0),
        Ok(Some(v)) => std::str::from_utf8(&v).ok()?.parse().ok(),
        Err(e) => {
            tracing::debug!(store_id, error = %e, "slot version unavailable; reading the database");
            None
        }
    }
}

/// After a change to what slots depend on (bookings, hours, closures, shifts, blocks, skills,
/// services, policy) has committed.
pub(crate) async fn slots_changed(app: &AppState, store_id: i64) {
    if let Err(e) = app
        .kv
        .incr_window(&keys::booking_window_version(store_id), VERSION_TTL)
        .await
    {
        // Searches may show the old slots until the entries expire; booking stays exact.
        tracing::warn!(store_id, error = %e, "could not bump the store's slot version");
    }
}

/// The open slots for a search: cached under the store's current version, computed once per
/// version however many searches arrive together.
pub(crate) async fn open_slots<F>(
    app: &AppState,
    key: impl FnOnce(i64) -> WindowKey,
    store_id: i64,
    load: F,
) -> Result<Arc<OpenSlots>, BookingError>
where
    F: std::future::Future<Output = Result<OpenSlots, BookingError>>,
{
    let Some(v) = version(app, store_id).await else {
        return load.await.map(Arc::new);
    };
    app.caches
        .booking_windows
        .windows
        .try_get_with(key(v), async { load.await.map(Arc::new) })
        .await
        // The caller whose load failed gets the error whole; callers who waited on it share it.
        .map_err(|e| Arc::try_unwrap(e).unwrap_or_else(BookingError::Shared))
}
