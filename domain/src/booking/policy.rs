//! A store's booking policy: slot grid, cancel cut-off and horizon.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use super::{BookingError, invalid, load_store, require_store, slots_changed};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use entities::booking_policy;

/// A store's booking policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub slot_minutes: i32,
    pub cancel_cutoff_minutes: i32,
    pub horizon_days: i32,
}

pub(crate) async fn policy<C: ConnectionTrait>(
    app: &AppState,
    db: &C,
    store_id: i64,
) -> Result<Policy, BookingError> {
    let s = &app.settings.booking;
    Ok(
        match booking_policy::Entity::find_by_id(store_id).one(db).await? {
            Some(p) => Policy {
                slot_minutes: p.slot_minutes,
                cancel_cutoff_minutes: p.cancel_cutoff_minutes,
                horizon_days: p.horizon_days,
            },
            None => Policy {
                slot_minutes: s.slot_minutes,
                cancel_cutoff_minutes: s.cancel_cutoff_minutes,
                horizon_days: s.horizon_days,
            },
        },
    )
}

pub async fn store_policy(app: &AppState, store_id: i64) -> Result<Policy, BookingError> {
    policy(app, &app.db, store_id).await
}

#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, store_id))]
pub async fn set_policy(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: i64,
    p: Policy,
) -> Result<Policy, BookingError> {
    require_store(staff, Permission::ManageBookings, store_id)?;
    if ![5, 10, 15, 20, 30, 60].contains(&p.slot_minutes) {
        return Err(invalid("a slot grid is 5, 10, 15, 20, 30 or 60 minutes"));
    }
    if !(0..=7 * 24 * 60).contains(&p.cancel_cutoff_minutes) {
        return Err(invalid("a cancel cut-off is 0 minutes to 7 days"));
    }
    if !(1..=90).contains(&p.horizon_days) {
        return Err(invalid("members book 1 to 90 days ahead"));
    }
    load_store(&app.db, store_id).await?;
    booking_policy::Entity::insert(booking_policy::ActiveModel {
        store_id: Set(store_id),
        slot_minutes: Set(p.slot_minutes),
        cancel_cutoff_minutes: Set(p.cancel_cutoff_minutes),
        horizon_days: Set(p.horizon_days),
        updated_at: Set(app.clock.now()),
    })
    .on_conflict(
        OnConflict::column(booking_policy::Column::StoreId)
            .update_columns([
                booking_policy::Column::SlotMinutes,
                booking_policy::Column::CancelCutoffMinutes,
                booking_policy::Column::HorizonDays,
                booking_policy::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&app.db)
    .await?;
    slots_changed(app, store_id).await;
    Ok(p)
}
