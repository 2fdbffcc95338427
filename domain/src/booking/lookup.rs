//! Reading bookings: the member's own, and a member's record for the BA.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::record::{Booking, load_many, load_one, own, row};
use super::{BookingError, BookingStatus};
use crate::AppState;
use crate::auth::{MemberPrincipal, Permission, StaffPrincipal};
use crate::platform::page::{Keyset, Page, TimeKey, after_desc};
use entities::booking;

/// The member's bookings, latest start first (then by id), all or only the upcoming ones.
pub async fn my_bookings(
    app: &AppState,
    me: &MemberPrincipal,
    upcoming_only: bool,
    page: Keyset<TimeKey>,
) -> Result<Page<Booking>, BookingError> {
    let mut q = booking::Entity::find().filter(booking::Column::MemberId.eq(me.member_id));
    if upcoming_only {
        q = q
            .filter(
                booking::Column::Status.is_in([BookingStatus::Booked, BookingStatus::CheckedIn]),
            )
            .filter(booking::Column::EndsAt.gt(app.clock.now()));
    }
    if let Some(after) = page.after {
        q = q.filter(after_desc(
            booking::Column::StartsAt,
            booking::Column::Id,
            after,
        ));
    }
    let rows = q
        .order_by_desc(booking::Column::StartsAt)
        .order_by_desc(booking::Column::Id)
        .limit(page.fetch())
        .all(&app.db)
        .await?;
    let rows = page.page(rows);
    Ok(Page {
        items: load_many(&app.db, rows.items).await?,
        has_next: rows.has_next,
    })
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
    page: Keyset<TimeKey>,
) -> Result<Page<Booking>, BookingError> {
    staff.require(Permission::ReadMembers)?;
    staff.require(Permission::ServeBookings)?;
    let mut q = booking::Entity::find().filter(booking::Column::MemberId.eq(member_id));
    if let Some(after) = page.after {
        q = q.filter(after_desc(
            booking::Column::StartsAt,
            booking::Column::Id,
            after,
        ));
    }
    let rows = q
        .order_by_desc(booking::Column::StartsAt)
        .order_by_desc(booking::Column::Id)
        .limit(page.fetch())
        .all(&app.db)
        .await?;
    let rows = page.page(rows);
    Ok(Page {
        items: load_many(&app.db, rows.items).await?,
        has_next: rows.has_next,
    })
}
