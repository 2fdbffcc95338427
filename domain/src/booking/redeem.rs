//! After the service the BA redeems the booking (到店核销).

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::cells::release_member_cells;
use super::record::{Booking, load_one, row, wrong_state};
use super::{BookingError, BookingStatus, invalid, require_store};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::{db, validate};
use entities::typed::JsonText;
use entities::{booking, sku};

/// After the service the BA redeems the booking (到店核销), noting the products used and
/// notes into the member's record.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, booking_id))]
pub async fn redeem(
    app: &AppState,
    staff: &StaffPrincipal,
    booking_id: i64,
    products_used: Vec<i64>,
    notes: Option<String>,
) -> Result<Booking, BookingError> {
    staff.require(Permission::ServeBookings)?;
    let current = row(&app.db, booking_id).await?;
    require_store(staff, Permission::ServeBookings, current.store_id)?;
    if products_used.len() > 20 {
        return Err(invalid("at most 20 products"));
    }
    let notes = match notes.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(validate::text("notes", n, 500).map_err(invalid)?),
    };
    let mut products = products_used;
    products.sort_unstable();
    products.dedup();
    if !products.is_empty() {
        let found = sku::Entity::find()
            .filter(sku::Column::Id.is_in(products.clone()))
            .count(&app.db)
            .await?;
        if found != products.len() as u64 {
            return Err(BookingError::NotFound("SKU"));
        }
    }
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let done = booking::Entity::update_many()
        .col_expr(
            booking::Column::Status,
            Expr::value(BookingStatus::Redeemed),
        )
        .col_expr(booking::Column::RedeemedAt, Expr::value(now))
        .col_expr(booking::Column::RedeemedBy, Expr::value(staff.staff_id))
        .col_expr(
            booking::Column::ProductsUsed,
            Expr::value(JsonText(products)),
        )
        .col_expr(booking::Column::Notes, Expr::value(notes))
        .col_expr(booking::Column::UpdatedAt, Expr::value(now))
        .filter(booking::Column::Id.eq(booking_id))
        .filter(booking::Column::Status.eq(BookingStatus::CheckedIn))
        .exec(&txn)
        .await?;
    if done.rows_affected == 1 {
        // Served: the member's time is theirs again (the BA's stays held, as it was used).
        release_member_cells(&txn, [booking_id]).await?;
    }
    txn.commit().await?;
    let after = row(&app.db, booking_id).await?;
    if done.rows_affected != 1 {
        return Err(wrong_state(&after));
    }
    load_one(&app.db, after).await
}
