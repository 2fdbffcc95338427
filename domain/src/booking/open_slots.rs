//! Open slots: a store's setup and busy time for a window, read in one pass and computed by
//! [`slots::compute`]; searches go through the per-replica window cache, booking and
//! rescheduling ask for the BAs free at exactly one start.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::ba_skills::{Ba, store_bas};
use super::policy::{Policy, policy};
use super::services::load_service;
use super::slots::{self, OpenSlots, Slot, SlotInputs};
use super::window_cache::{self, WindowKey};
use super::{BookingError, BookingStatus, invalid, load_store, store_zone};
use crate::AppState;
use entities::{
    ba_block, ba_shift, booking, booking_service, store, store_closure, store_opening_hours,
};

/// Intervals per BA.
type Intervals = HashMap<i64, Vec<(DateTime<Utc>, DateTime<Utc>)>>;

/// A store's setup and busy time for a window, ready for [`slots::compute`].
struct Window {
    service: booking_service::Model,
    policy: Policy,
    inputs: SlotInputs,
    /// Busy intervals per BA, for offering the least busy BA first.
    load: HashMap<i64, usize>,
}

/// Reads what slots depend on for local days `from .. from + days`.
async fn load_window(
    app: &AppState,
    store: &store::Model,
    service_id: i64,
    ba_id: Option<i64>,
    from: NaiveDate,
    days: i64,
    exclude_booking: Option<i64>,
) -> Result<Window, BookingError> {
    let zone = store_zone(store);
    let (window_start, _) = super::day_window(zone, from);
    let window_end = super::day_window(zone, from + Duration::days(days - 1)).1;
    let db = &app.db;
    let store_id = store.id;
    // One query after another: a request holds at most one connection, so a crowd of slot
    // searches queues fairly on the pool instead of each taking eight connections at once.
    let service = load_service(db, service_id).await?;
    let policy = policy(app, db, store_id).await?;
    let hours = store_opening_hours::Entity::find()
        .filter(store_opening_hours::Column::StoreId.eq(store_id))
        .all(db)
        .await?;
    let closures = store_closure::Entity::find()
        .filter(store_closure::Column::StoreId.eq(store_id))
        .filter(store_closure::Column::ClosedOn.gte(from))
        .filter(store_closure::Column::ClosedOn.lt(from + Duration::days(days)))
        .all(db)
        .await?;
    let bas = store_bas(db, store_id).await?;
    let (shift_map, busy) =
        ba_time(db, store_id, window_start, window_end, exclude_booking).await?;
    if !service.active || service.store_id.is_some_and(|s| s != store_id) {
        return Err(BookingError::NotFound("service"));
    }
    let required = &service.required_skills;
    let qualified = |ba: &Ba| required.iter().all(|r| ba.skills.contains(r));
    let bas: Vec<i64> = bas
        .iter()
        .filter(|ba| qualified(ba) && ba_id.is_none_or(|id| id == ba.id))
        .map(|ba| ba.id)
        .collect();
    let load = busy.iter().map(|(ba, l)| (*ba, l.len())).collect();
    let inputs = SlotInputs {
        zone,
        slot_minutes: i64::from(policy.slot_minutes),
        duration_minutes: i64::from(service.duration_minutes),
        buffer_minutes: i64::from(service.buffer_minutes),
        from,
        days,
        not_before: app.clock.now(),
        opening: hours
            .into_iter()
            .filter_map(|h| {
                Some((
                    u32::try_from(h.weekday).ok()?,
                    (i64::from(h.opens_minute), i64::from(h.closes_minute)),
                ))
            })
            .collect(),
        closures: closures.into_iter().map(|c| c.closed_on).collect(),
        bas,
        shifts: shift_map,
        busy,
    };
    Ok(Window {
        service,
        policy,
        inputs,
        load,
    })
}

/// Shifts and busy time (bookings that hold the BA, blocks) per BA, overlapping the window.
async fn ba_time(
    db: &sea_orm::DatabaseConnection,
    store_id: i64,
    window_start: DateTime<Utc>,
    window_end: DateTime<Utc>,
    exclude_booking: Option<i64>,
) -> Result<(Intervals, Intervals), BookingError> {
    let shifts = ba_shift::Entity::find()
        .select_only()
        .columns([
            ba_shift::Column::StaffId,
            ba_shift::Column::StartsAt,
            ba_shift::Column::EndsAt,
        ])
        .filter(ba_shift::Column::StoreId.eq(store_id))
        .filter(ba_shift::Column::StartsAt.lt(window_end))
        .filter(ba_shift::Column::StartsAt.gt(window_start - Duration::days(1)))
        .filter(ba_shift::Column::EndsAt.gt(window_start))
        .into_tuple::<(i64, DateTime<Utc>, DateTime<Utc>)>()
        .all(db)
        .await?;
    let blocks = ba_block::Entity::find()
        .select_only()
        .columns([
            ba_block::Column::StaffId,
            ba_block::Column::StartsAt,
            ba_block::Column::EndsAt,
        ])
        .filter(ba_block::Column::StoreId.eq(store_id))
        .filter(ba_block::Column::StartsAt.lt(window_end))
        .filter(ba_block::Column::EndsAt.gt(window_start))
        .into_tuple::<(i64, DateTime<Utc>, DateTime<Utc>)>()
        .all(db)
        .await?;
    let mut bookings = booking::Entity::find()
        .select_only()
        .columns([
            booking::Column::BaId,
            booking::Column::StartsAt,
            booking::Column::HoldsUntil,
        ])
        .filter(booking::Column::StoreId.eq(store_id))
        .filter(booking::Column::StartsAt.lt(window_end))
        .filter(booking::Column::StartsAt.gt(window_start - Duration::days(1)))
        .filter(booking::Column::HoldsUntil.gt(window_start))
        .filter(booking::Column::Status.is_in(BookingStatus::HOLDING));
    if let Some(id) = exclude_booking {
        bookings = bookings.filter(booking::Column::Id.ne(id));
    }
    let bookings = bookings
        .into_tuple::<(i64, DateTime<Utc>, DateTime<Utc>)>()
        .all(db)
        .await?;
    let mut shift_map: HashMap<i64, Vec<_>> = HashMap::new();
    for (ba, s, e) in shifts {
        shift_map.entry(ba).or_default().push((s, e));
    }
    let mut busy: HashMap<i64, Vec<_>> = HashMap::new();
    for (ba, s, e) in bookings.into_iter().chain(blocks) {
        busy.entry(ba).or_default().push((s, e));
    }
    Ok((shift_map, busy))
}

/// Open slots of a service at a store for local days `from .. from + days`, optionally with one BA.
#[tracing::instrument(skip_all, err(level = "debug"), fields(store_id, service_id))]
pub async fn available_slots(
    app: &AppState,
    store_id: i64,
    service_id: i64,
    from: NaiveDate,
    days: i64,
    ba_id: Option<i64>,
) -> Result<Vec<Slot>, BookingError> {
    if !(1..=14).contains(&days) {
        return Err(invalid("days is 1 to 14"));
    }
    let key = |version| WindowKey {
        store_id,
        service_id,
        ba_id,
        from,
        days,
        version,
    };
    // Computed once per store version for every time of day; what has started and what lies
    // beyond the booking horizon are cut off per search, against the clock.
    let compute = async {
        let store = load_store(&app.db, store_id).await?;
        let mut window = load_window(app, &store, service_id, ba_id, from, days, None).await?;
        window.inputs.not_before = DateTime::<Utc>::MIN_UTC;
        Ok(OpenSlots {
            horizon_days: window.policy.horizon_days,
            slots: slots::compute(window.inputs),
        })
    };
    let open = window_cache::open_slots(app, key, store_id, compute).await?;
    let now = app.clock.now();
    let horizon = now + Duration::days(i64::from(open.horizon_days));
    Ok(open
        .slots
        .iter()
        .filter(|s| s.starts_at > now && s.starts_at <= horizon)
        .cloned()
        .collect())
}

/// The BAs free for a service at exactly `start`, least busy first.
pub(super) async fn free_bas_at(
    app: &AppState,
    store: &store::Model,
    service_id: i64,
    ba_id: Option<i64>,
    start: DateTime<Utc>,
    exclude_booking: Option<i64>,
) -> Result<(booking_service::Model, Vec<i64>), BookingError> {
    let zone = store_zone(store);
    let date = start.with_timezone(&zone).date_naive();
    let window = load_window(app, store, service_id, ba_id, date, 1, exclude_booking).await?;
    let load = window.load;
    let slot = slots::compute(window.inputs)
        .into_iter()
        .find(|s| s.starts_at == start)
        .ok_or(BookingError::SlotUnavailable)?;
    let mut bas = slot.ba_ids;
    bas.sort_by_key(|ba| load.get(ba).copied().unwrap_or(0));
    Ok((window.service, bas))
}
