//! An unpaid order closes: its flash-sale units return to the sale and the member's limit in
//! the database (in the closing transaction), then to the counters (after commit).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use super::GrabStatus;
use super::counters::give_back_units;
use crate::AppState;
use crate::platform::error::StoreError;
use entities::{flash_sale, flash_sale_grab, flash_sale_quota};

/// Units of a flash sale freed by a closed order, to give back to the counters after commit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Released {
    sale_id: i64,
    member_id: i64,
    units: i64,
}

/// In the transaction that closes an unpaid order: when it came from a flash sale, its units
/// return to the sale and to the member's limit in the database.
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
    flash_sale::Entity::update_many()
        .col_expr(
            flash_sale::Column::Sold,
            Expr::col(flash_sale::Column::Sold).sub(grab.quantity),
        )
        .col_expr(flash_sale::Column::UpdatedAt, Expr::value(now))
        .filter(flash_sale::Column::Id.eq(grab.sale_id))
        .exec(txn)
        .await?;
    flash_sale_quota::Entity::update_many()
        .col_expr(
            flash_sale_quota::Column::Units,
            Expr::col(flash_sale_quota::Column::Units).sub(grab.quantity),
        )
        .filter(flash_sale_quota::Column::SaleId.eq(grab.sale_id))
        .filter(flash_sale_quota::Column::MemberId.eq(grab.member_id))
        .exec(txn)
        .await?;
    Ok(Some(Released {
        sale_id: grab.sale_id,
        member_id: grab.member_id,
        units: i64::from(grab.quantity),
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
