//! A member cancels a booking.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::cells::release_member_cells;
use super::record::{Booking, check_changeable, load_one, own, row, wrong_state};
use super::{BookingError, BookingStatus, slots_changed};
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::platform::db;
use entities::{booking, booking_cell};

/// Cancels a booking up to the store's cut-off; its time is free again at once.
#[tracing::instrument(skip_all, err(level = "debug"), fields(member_id = me.member_id, booking_id))]
pub async fn cancel(
    app: &AppState,
    me: &MemberPrincipal,
    booking_id: i64,
) -> Result<Booking, BookingError> {
    let current = row(&app.db, booking_id).await?;
    own(&current, me)?;
    check_changeable(app, &current).await?;
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let done = booking::Entity::update_many()
        .col_expr(
            booking::Column::Status,
            Expr::value(BookingStatus::Cancelled),
        )
        .col_expr(booking::Column::CancelledAt, Expr::value(now))
        .col_expr(booking::Column::UpdatedAt, Expr::value(now))
        .filter(booking::Column::Id.eq(booking_id))
        .filter(booking::Column::Status.eq(BookingStatus::Booked))
        .exec(&txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(wrong_state(&row(&app.db, booking_id).await?));
    }
    booking_cell::Entity::delete_many()
        .filter(booking_cell::Column::BookingId.eq(booking_id))
        .exec(&txn)
        .await?;
    release_member_cells(&txn, [booking_id]).await?;
    txn.commit().await?;
    slots_changed(app, current.store_id).await;
    load_one(&app.db, row(&app.db, booking_id).await?).await
}
