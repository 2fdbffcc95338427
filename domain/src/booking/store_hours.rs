//! A store's weekly opening hours and closures.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{BookingError, invalid, load_store, require_store, slots_changed};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::{db, validate};
use entities::{store_closure, store_opening_hours};

/// Opening hours of one weekday (1 = Monday), minutes from local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningHours {
    pub weekday: i32,
    pub opens_minute: i64,
    pub closes_minute: i64,
}

/// Replaces a store's weekly opening hours; a weekday left out is closed.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, store_id))]
pub async fn set_opening_hours(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    hours: Vec<OpeningHours>,
) -> Result<Vec<OpeningHours>, BookingError> {
    require_store(staff, Permission::ManageBookings, store_id)?;
    let mut seen = BTreeSet::new();
    for h in &hours {
        if !(1..=7).contains(&h.weekday) || !seen.insert(h.weekday) {
            return Err(invalid("weekdays are 1 (Monday) to 7 (Sunday), each once"));
        }
        if !(0..1440).contains(&h.opens_minute)
            || h.closes_minute > 1440
            || h.closes_minute <= h.opens_minute
        {
            return Err(invalid("a store closes after it opens, by midnight"));
        }
    }
    load_store(&app.db, store_id).await?;
    let txn = db::begin_write(&app.db).await?;
    store_opening_hours::Entity::delete_many()
        .filter(store_opening_hours::Column::StoreId.eq(store_id))
        .exec(&txn)
        .await?;
    if !hours.is_empty() {
        store_opening_hours::Entity::insert_many(hours.iter().map(|h| {
            store_opening_hours::ActiveModel {
                store_id: Set(store_id),
                weekday: Set(h.weekday),
                opens_minute: Set(i32::try_from(h.opens_minute).unwrap_or(0)),
                closes_minute: Set(i32::try_from(h.closes_minute).unwrap_or(0)),
            }
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    slots_changed(app, store_id).await;
    opening_hours(app, store_id).await
}

pub async fn opening_hours(
    app: &AppState,
    store_id: i64,
) -> Result<Vec<OpeningHours>, BookingError> {
    Ok(store_opening_hours::Entity::find()
        .filter(store_opening_hours::Column::StoreId.eq(store_id))
        .order_by_asc(store_opening_hours::Column::Weekday)
        .all(&app.db)
        .await?
        .into_iter()
        .map(|h| OpeningHours {
            weekday: h.weekday,
            opens_minute: i64::from(h.opens_minute),
            closes_minute: i64::from(h.closes_minute),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    pub date: NaiveDate,
    pub reason: String,
}

#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, store_id))]
pub async fn add_closure(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    date: NaiveDate,
    reason: &str,
) -> Result<Closure, BookingError> {
    require_store(staff, Permission::ManageBookings, store_id)?;
    let reason = validate::text("reason", reason, 40).map_err(invalid)?;
    load_store(&app.db, store_id).await?;
    store_closure::Entity::insert(store_closure::ActiveModel {
        store_id: Set(store_id),
        closed_on: Set(date),
        reason: Set(reason.clone()),
    })
    .on_conflict(
        OnConflict::columns([
            store_closure::Column::StoreId,
            store_closure::Column::ClosedOn,
        ])
        .update_column(store_closure::Column::Reason)
        .to_owned(),
    )
    .exec_without_returning(&app.db)
    .await?;
    slots_changed(app, store_id).await;
    Ok(Closure { date, reason })
}

pub async fn remove_closure(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    date: NaiveDate,
) -> Result<bool, BookingError> {
    require_store(staff, Permission::ManageBookings, store_id)?;
    let res = store_closure::Entity::delete_many()
        .filter(store_closure::Column::StoreId.eq(store_id))
        .filter(store_closure::Column::ClosedOn.eq(date))
        .exec(&app.db)
        .await?;
    slots_changed(app, store_id).await;
    Ok(res.rows_affected > 0)
}

pub async fn closures(
    app: &AppState,
    store_id: i64,
    from: NaiveDate,
) -> Result<Vec<Closure>, BookingError> {
    Ok(store_closure::Entity::find()
        .filter(store_closure::Column::StoreId.eq(store_id))
        .filter(store_closure::Column::ClosedOn.gte(from))
        .order_by_asc(store_closure::Column::ClosedOn)
        .all(&app.db)
        .await?
        .into_iter()
        .map(|c| Closure {
            date: c.closed_on,
            reason: c.reason,
        })
        .collect())
}
