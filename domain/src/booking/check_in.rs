//! At the counter: the member shows a short-lived signed code, the BA scans it to check in.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::record::{Booking, load_one, own, row, wrong_state};
use super::{BookingError, BookingStatus, require_store};
use crate::AppState;
use crate::auth::{MemberPrincipal, Permission, StaffPrincipal};
use crate::platform::signed_codes::CodeError;
use entities::booking;

/// The kind tag of booking check-in codes.
pub const CODE_KIND: &str = "BK";

/// A short-lived signed code for the booking's QR, shown at the counter.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id, booking_id))]
pub async fn check_in_code(
    app: &AppState,
    me: &MemberPrincipal,
    booking_id: i64,
) -> Result<(String, DateTime<Utc>), BookingError> {
    let row = row(&app.db, booking_id).await?;
    own(&row, me)?;
    if row.status != BookingStatus::Booked {
        return Err(wrong_state(&row));
    }
    let expires = app.clock.now() + app.settings.booking.check_in_code_ttl;
    Ok((app.codes.issue(CODE_KIND, row.id, expires), expires))
}

/// A BA scans the member's code: the member is checked in, once.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn check_in(
    app: &AppState,
    staff: &StaffPrincipal,
    code: &str,
) -> Result<Booking, BookingError> {
    staff.require(Permission::ServeBookings)?;
    let now = app.clock.now();
    let id = app
        .codes
        .verify(CODE_KIND, code, now)
        .map_err(|e| match e {
            CodeError::Expired => BookingError::CodeExpired,
            CodeError::Malformed | CodeError::Forged => BookingError::BadCode,
        })?;
    let current = row(&app.db, id).await?;
    if require_store(staff, Permission::ServeBookings, current.store_id).is_err() {
        return Err(BookingError::OtherStore);
    }
    let done = booking::Entity::update_many()
        .col_expr(
            booking::Column::Status,
            Expr::value(BookingStatus::CheckedIn),
        )
        .col_expr(booking::Column::CheckedInAt, Expr::value(now))
        .col_expr(booking::Column::CheckedInBy, Expr::value(staff.staff_id))
        .col_expr(booking::Column::UpdatedAt, Expr::value(now))
        .filter(booking::Column::Id.eq(id))
        .filter(booking::Column::Status.eq(BookingStatus::Booked))
        .exec(&app.db)
        .await?;
    let after = row(&app.db, id).await?;
    if done.rows_affected != 1 {
        return Err(
            if matches!(
                after.status,
                BookingStatus::CheckedIn | BookingStatus::Redeemed
            ) {
                BookingError::AlreadyCheckedIn
            } else {
                wrong_state(&after)
            },
        );
    }
    load_one(&app.db, after).await
}
