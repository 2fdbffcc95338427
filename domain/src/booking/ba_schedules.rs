//! BAs' shifts and blocked time.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::ba_skills::load_ba;
use super::{BookingError, invalid, load_store, require_store, slots, slots_changed, store_zone};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::{db, validate};
use entities::{ba_block, ba_shift};

#[derive(Debug, Clone)]
pub struct Shift {
    pub id: i64,
    pub ba_id: i64,
    pub store_id: i64,
    pub local_date: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl From<ba_shift::Model> for Shift {
    fn from(s: ba_shift::Model) -> Self {
        Self {
            id: s.id,
            ba_id: s.staff_id,
            store_id: s.store_id,
            local_date: s.local_date,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
        }
    }
}

/// Adds a shift on a local day from `start` to `end` ("HH:MM"); an end at or before the start
/// is on the next day (a shift across midnight). Overlapping shifts of one BA are refused.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, ba_id))]
pub async fn add_shift(
    app: &AppState,
    staff: &StaffPrincipal,
    ba_id: i64,
    date: NaiveDate,
    start_minute: i64,
    end_minute: i64,
) -> Result<Shift, BookingError> {
    staff.require(Permission::ManageBookings)?;
    if !(0..1440).contains(&start_minute) || !(0..=1440).contains(&end_minute) {
        return Err(invalid("shift times are HH:MM"));
    }
    let ba = load_ba(&app.db, ba_id).await?;
    let store_id = ba.store_id.unwrap_or(0);
    require_store(staff, Permission::ManageBookings, store_id)?;
    let store = load_store(&app.db, store_id).await?;
    let zone = store_zone(&store);
    let end_minute = if end_minute <= start_minute {
        end_minute + 1440
    } else {
        end_minute
    };
    if end_minute - start_minute > 16 * 60 {
        return Err(invalid("a shift is at most 16 hours"));
    }
    let (Some(starts_at), Some(ends_at)) = (
        slots::local_instant(zone, date, start_minute),
        slots::local_instant(zone, date, end_minute),
    ) else {
        return Err(invalid("that time does not exist in the store's zone"));
    };
    let txn = db::begin_write(&app.db).await?;
    let overlapping = ba_shift::Entity::find()
        .filter(ba_shift::Column::StaffId.eq(ba_id))
        .filter(ba_shift::Column::StartsAt.lt(ends_at))
        .filter(ba_shift::Column::EndsAt.gt(starts_at))
        .one(&txn)
        .await?;
    if overlapping.is_some() {
        return Err(invalid("the BA already has a shift at that time"));
    }
    let row = ba_shift::ActiveModel {
        staff_id: Set(ba_id),
        store_id: Set(store_id),
        local_date: Set(date),
        starts_at: Set(starts_at),
        ends_at: Set(ends_at),
        created_at: Set(app.clock.now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    slots_changed(app, store_id).await;
    Ok(row.into())
}

pub async fn remove_shift(
    app: &AppState,
    staff: &StaffPrincipal,
    shift_id: i64,
) -> Result<bool, BookingError> {
    staff.require(Permission::ManageBookings)?;
    let Some(row) = ba_shift::Entity::find_by_id(shift_id).one(&app.db).await? else {
        return Err(BookingError::NotFound("shift"));
    };
    require_store(staff, Permission::ManageBookings, row.store_id)?;
    ba_shift::Entity::delete_by_id(shift_id)
        .exec(&app.db)
        .await?;
    slots_changed(app, row.store_id).await;
    Ok(true)
}

/// Shifts at a store starting on local days `from` .. `from + days`.
pub async fn shifts(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    from: NaiveDate,
    days: i64,
) -> Result<Vec<Shift>, BookingError> {
    require_store(staff, Permission::ServeBookings, store_id)?;
    if !(1..=31).contains(&days) {
        return Err(invalid("days is 1 to 31"));
    }
    let to = from + Duration::days(days);
    Ok(ba_shift::Entity::find()
        .filter(ba_shift::Column::StoreId.eq(store_id))
        .filter(ba_shift::Column::LocalDate.gte(from))
        .filter(ba_shift::Column::LocalDate.lt(to))
        .order_by_asc(ba_shift::Column::StartsAt)
        .all(&app.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

#[derive(Debug, Clone)]
pub struct Block {
    pub id: i64,
    pub ba_id: i64,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
}

/// A manager blocks a BA's time (training, a meeting): no new bookings then. Existing
/// bookings are kept; the manager moves them with the members.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, ba_id))]
pub async fn block_ba_time(
    app: &AppState,
    staff: &StaffPrincipal,
    ba_id: i64,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    reason: &str,
) -> Result<Block, BookingError> {
    staff.require(Permission::ManageBookings)?;
    if ends_at <= starts_at || ends_at - starts_at > Duration::days(31) {
        return Err(invalid("a block ends after it starts, within 31 days"));
    }
    let reason = validate::text("reason", reason, 40).map_err(invalid)?;
    let ba = load_ba(&app.db, ba_id).await?;
    let store_id = ba.store_id.unwrap_or(0);
    require_store(staff, Permission::ManageBookings, store_id)?;
    let row = ba_block::ActiveModel {
        staff_id: Set(ba_id),
        store_id: Set(store_id),
        starts_at: Set(starts_at),
        ends_at: Set(ends_at),
        reason: Set(reason),
        created_by: Set(staff.staff_id),
        created_at: Set(app.clock.now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await?;
    slots_changed(app, store_id).await;
    Ok(Block {
        id: row.id,
        ba_id: row.staff_id,
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        reason: row.reason,
    })
}

pub async fn unblock_ba_time(
    app: &AppState,
    staff: &StaffPrincipal,
    block_id: i64,
) -> Result<bool, BookingError> {
    staff.require(Permission::ManageBookings)?;
    let Some(row) = ba_block::Entity::find_by_id(block_id).one(&app.db).await? else {
        return Err(BookingError::NotFound("block"));
    };
    require_store(staff, Permission::ManageBookings, row.store_id)?;
    ba_block::Entity::delete_by_id(block_id)
        .exec(&app.db)
        .await?;
    slots_changed(app, row.store_id).await;
    Ok(true)
}
