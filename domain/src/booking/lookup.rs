//! Reading bookings: the member's own, and a member's record for the BA.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::record::{Booking, load_many, load_one, own, row};
use super::{BookingError, BookingStatus};
use crate::AppState;
use crate::auth::{MemberPrincipal, Permission, StaffPrincipal};
use entities::booking;

/// The member's bookings, soonest first, from `since` (default: everything).
pub async fn my_bookings(
    app: &AppState,
    me: &MemberPrincipal,
    upcoming_only: bool,
) -> Result<Vec<Booking>, BookingError> {
    let mut q = booking::Entity::find().filter(booking::Column::MemberId.eq(me.member_id));
    if upcoming_only {
        q = q
            .filter(
                booking::Column::Status.is_in([BookingStatus::Booked, BookingStatus::CheckedIn]),
            )
            .filter(booking::Column::EndsAt.gt(app.clock.now()));
    }
    let rows = q
        .order_by_desc(booking::Column::StartsAt)
        .limit(100)
        .all(&app.db)
        .await?;
    load_many(&app.db, rows).await
}

pub async fn my_booking(
    app: &AppState,
    me: &MemberPrincipal,
    booking_id: i64,
) -> Result<Booking, BookingError> {
    let row = row(&app.db, booking_id).await?;
    own(&row, me)?;
    load_one(&app.db, row).await
}

/// A member's bookings with what was used and noted, for the BA reading their record.
pub async fn member_bookings(
    app: &AppState,
    staff: &StaffPrincipal,
    member_id: i64,
) -> Result<Vec<Booking>, BookingError> {
    staff.require(Permission::ReadMembers)?;
    staff.require(Permission::ServeBookings)?;
    let rows = booking::Entity::find()
        .filter(booking::Column::MemberId.eq(member_id))
        .order_by_desc(booking::Column::StartsAt)
        .limit(50)
        .all(&app.db)
        .await?;
    load_many(&app.db, rows).await
}
