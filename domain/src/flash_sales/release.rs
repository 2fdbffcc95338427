//! An unpaid order closes: its flash-sale units return to the sale (the unit rows, with their
//! stock) and the member's limit in the database (in the closing transaction), then to the
//! counters (after commit).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use super::GrabStatus;
use super::counters::give_back_units;
use super::units;
use crate::AppState;
use crate::platform::error::StoreError;
use entities::{flash_sale_grab, flash_sale_quota};

/// Units of a flash sale freed by a closed order, to give back to the counters after commit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Released {
    sale_id: i64,
    member_id: i64,
    units: i64,
    /// The units went back to the sale's pool with their stock (set aside for the sale): the
    /// closing order must not return that stock to the warehouse.
    back_in_sale: bool,
}

impl Released {
    /// Whether the closed order's stock stays set aside for the sale (its units are free again
    /// in the sale) rather than going back to the warehouse.
    pub(crate) fn stock_stays_with_sale(&self) -> bool {
        self.back_in_sale
    }
}

/// In the transaction that closes an unpaid order: when it came from a flash sale, its units
/// return to the sale (their rows are free again) and to the member's limit in the database.
/// Call it before returning the order's stock: see [`Released::stock_stays_with_sale`].
pub(crate) async fn release_closed_order(
    txn: &DatabaseTransaction,
    order_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Released>, StoreError> {
    let Some(grab) = flash_sale_grab::Entity::find()
        .filter(flash_sale_grab::Column::OrderId.eq(order_id))
        .filter(flash_sale_grab::Column::Status.eq(GrabStatus::Held))
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    let updated = flash_sale_grab::Entity::update_many()
        .col_expr(
            flash_sale_grab::Column::Status,
            Expr::value(GrabStatus::Released),
        )
        .col_expr(flash_sale_grab::Column::ReleasedAt, Expr::value(now))
        .filter(flash_sale_grab::Column::Id.eq(grab.id))
        .filter(flash_sale_grab::Column::Status.eq(GrabStatus::Held))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(None);
    }
    flash_sale_quota::Entity::update_many()
        .col_expr(
            flash_sale_quota::Column::Units,
            Expr::col(flash_sale_quota::Column::Units).sub(grab.quantity),
        )
        .filter(flash_sale_quota::Column::SaleId.eq(grab.sale_id))
        .filter(flash_sale_quota::Column::MemberId.eq(grab.member_id))
        .exec(txn)
        .await?;
    let back_in_sale = units::free_for_closed_order(txn, grab.sale_id, order_id, now).await?;
    Ok(Some(Released {
        sale_id: grab.sale_id,
        member_id: grab.member_id,
        units: i64::from(grab.quantity),
        back_in_sale,
    }))
}

/// After the close committed: the units go back to the counters (if this fails, reconciling
/// does it).
pub(crate) async fn give_back(app: &AppState, released: Released) {
    give_back_units(
        app,
        released.sale_id,
        released.member_id,
        released.units,
        None,
    )
    .await;
}
