//! The (BA, cell) and (member, cell) rows that make overlaps impossible: written inside a
//! booking's transaction, deleted when the time is free again.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};

use super::{BookingError, cells};
use crate::platform::error::UniqueViolation;
use entities::{booking_cell, booking_member_cell};

/// Writes the cells a booking holds; false when another booking holds one of them.
pub(super) async fn hold_cells(
    txn: &DatabaseTransaction,
    ba_id: i64,
    booking_id: i64,
    start: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, BookingError> {
    let rows = cells(start, until).map(|cell| booking_cell::ActiveModel {
        ba_id: Set(ba_id),
        cell: Set(cell),
        booking_id: Set(booking_id),
    });
    let held = booking_cell::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await
        .unless_duplicate::<BookingError>()?;
    Ok(held.is_some())
}

/// Writes the cells of the member's own time a booking takes (its service); false when another
/// booking of the member holds one of them. The (member, cell) key decides, inside the
/// booking's transaction, so concurrent bookings of one member at two stores cannot both win.
pub(super) async fn hold_member_cells(
    txn: &DatabaseTransaction,
    member_id: i64,
    booking_id: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<bool, BookingError> {
    let rows = cells(start, end).map(|cell| booking_member_cell::ActiveModel {
        member_id: Set(member_id),
        cell: Set(cell),
        booking_id: Set(booking_id),
    });
    let held = booking_member_cell::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await
        .unless_duplicate::<BookingError>()?;
    Ok(held.is_some())
}

/// Frees the member's time held by these bookings (cancelled, redeemed, no-show).
pub(crate) async fn release_member_cells<C: ConnectionTrait>(
    txn: &C,
    booking_ids: impl IntoIterator<Item = i64>,
) -> Result<(), BookingError> {
    booking_member_cell::Entity::delete_many()
        .filter(booking_member_cell::Column::BookingId.is_in(booking_ids))
        .exec(txn)
        .await?;
    Ok(())
}
