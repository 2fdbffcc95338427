//! Which distributor a pack belongs to: the one place that answers it, for territory leakage
//! (窜货), replenishment from sell-through and anything else that asks.
//!
//! A pack shipped on a purchase order belongs to the distributor of that shipment (the serial
//! ranges bound to order lines at shipment). A pack no shipment covers falls back to the
//! distributor its code batch was generated for (`scan_code_batches.distributor_id`), which is how
//! packs reached distributors before B2B shipping existed.

use sea_orm::sea_query::{Alias, Condition, Expr, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, QueryFilter, QuerySelect,
};

use entities::{scan_code_batch, scan_event, shipment_code_range};

/// The distributor the pack `serial` of code batch `code_batch_id` was shipped to, if it was
/// shipped on a purchase order.
pub async fn shipped_to<C: ConnectionTrait>(
    db: &C,
    code_batch_id: i64,
    serial: i64,
) -> Result<Option<i64>, DbErr> {
    shipment_code_range::Entity::find()
        .select_only()
        .column(shipment_code_range::Column::DistributorId)
        .filter(shipment_code_range::Column::CodeBatchId.eq(code_batch_id))
        .filter(shipment_code_range::Column::SerialFrom.lte(serial))
        .filter(shipment_code_range::Column::SerialTo.gte(serial))
        .into_tuple::<i64>()
        .one(db)
        .await
}

/// Shipment ranges covering the scanned pack of the outer `scan_events` row.
fn ranges_covering_the_scan() -> SelectStatement {
    let r = Alias::new("scr");
    Query::select()
        .expr(Expr::val(1))
        .from_as(shipment_code_range::Entity, r.clone())
        .and_where(
            Expr::col((r.clone(), shipment_code_range::Column::CodeBatchId))
                .equals((scan_event::Entity, scan_event::Column::BatchId)),
        )
        .and_where(
            Expr::col((r.clone(), shipment_code_range::Column::SerialFrom))
                .lte(Expr::col((scan_event::Entity, scan_event::Column::Serial))),
        )
        .and_where(
            Expr::col((r, shipment_code_range::Column::SerialTo))
                .gte(Expr::col((scan_event::Entity, scan_event::Column::Serial))),
        )
        .to_owned()
}

/// A condition on `scan_events` rows: the scanned pack belongs to `distributor_id`.
pub fn shipped_to_condition(distributor_id: i64) -> Condition {
    let shipped_to_them = ranges_covering_the_scan()
        .and_where(
            Expr::col((
                Alias::new("scr"),
                shipment_code_range::Column::DistributorId,
            ))
            .eq(distributor_id),
        )
        .to_owned();
    let batch_is_theirs = scan_event::Column::BatchId.in_subquery(
        Query::select()
            .column(scan_code_batch::Column::Id)
            .from(scan_code_batch::Entity)
            .and_where(scan_code_batch::Column::DistributorId.eq(distributor_id))
            .to_owned(),
    );
    Condition::any().add(Expr::exists(shipped_to_them)).add(
        Condition::all()
            .add(batch_is_theirs)
            .add(Expr::exists(ranges_covering_the_scan()).not()),
    )
}
