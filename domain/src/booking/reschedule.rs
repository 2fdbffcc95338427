//! A member moves a booking to another start (and BA).

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::book::check_start;
use super::cells::{hold_cells, hold_member_cells, release_member_cells};
use super::open_slots::free_bas_at;
use super::record::{Booking, check_changeable, load_one, own, row, wrong_state};
use super::{BookingError, BookingStatus, ReminderOutcome, load_store, slots_changed};
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::platform::db;
use entities::{booking, booking_cell};

/// Moves a booking to another start (and BA, or any free one); the old time is released only
/// when the new one is held.
#[tracing::instrument(skip_all, err(level = "debug"), fields(member_id = me.member_id, booking_id))]
pub async fn reschedule(
    app: &AppState,
    me: &MemberPrincipal,
    booking_id: i64,
    starts_at: DateTime<Utc>,
    ba_id: Option<i64>,
) -> Result<Booking, BookingError> {
    let current = row(&app.db, booking_id).await?;
    own(&current, me)?;
    let policy = check_changeable(app, &current).await?;
    check_start(app, policy.horizon_days, starts_at)?;
    let store = load_store(&app.db, current.store_id).await?;
    let (service, bas) = free_bas_at(
        app,
        &store,
        current.service_id,
        ba_id,
        starts_at,
        Some(current.id),
    )
    .await?;
    let ends_at = starts_at + Duration::minutes(i64::from(service.duration_minutes));
    let holds_until = ends_at + Duration::minutes(i64::from(service.buffer_minutes));
    for ba in bas {
        let txn = db::begin_write(&app.db).await?;
        let moved = booking::Entity::update_many()
            .col_expr(booking::Column::BaId, Expr::value(ba))
            .col_expr(booking::Column::StartsAt, Expr::value(starts_at))
            .col_expr(booking::Column::EndsAt, Expr::value(ends_at))
            .col_expr(booking::Column::HoldsUntil, Expr::value(holds_until))
            .col_expr(
                booking::Column::ReminderSentAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                booking::Column::ReminderOutcome,
                Expr::value(Option::<ReminderOutcome>::None),
            )
            .col_expr(booking::Column::UpdatedAt, Expr::value(app.clock.now()))
            .filter(booking::Column::Id.eq(current.id))
            .filter(booking::Column::Status.eq(BookingStatus::Booked))
            .exec(&txn)
            .await?;
        if moved.rows_affected != 1 {
            return Err(wrong_state(&row(&app.db, current.id).await?));
        }
        booking_cell::Entity::delete_many()
            .filter(booking_cell::Column::BookingId.eq(current.id))
            .exec(&txn)
            .await?;
        release_member_cells(&txn, [current.id]).await?;
        if !hold_member_cells(&txn, current.member_id, current.id, starts_at, ends_at).await? {
            txn.rollback().await?;
            return Err(BookingError::MemberOverlap);
        }
        if hold_cells(&txn, ba, current.id, starts_at, holds_until).await? {
            txn.commit().await?;
            slots_changed(app, current.store_id).await;
            return load_one(&app.db, row(&app.db, current.id).await?).await;
        }
        txn.rollback().await?;
    }
    Err(BookingError::SlotTaken)
}
