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

/// The same rule as one SQL expression over an outer `scan_events` row (usable in a select
/// list and a `GROUP BY`): the distributor of the shipment range covering the scanned pack,
/// else the distributor its code batch was generated for, else NULL. Shipment ranges never
/// overlap (shipping refuses a serial shipped before), so the only range that can cover a pack
/// is the one starting nearest below it: one backward step on `idx_shipment_code_ranges_batch`
/// per scan, covered or not.
pub const OWNER_OF_SCAN_SQL: &str = "COALESCE(\
     (SELECT CASE WHEN scr.serial_to >= scan_events.serial THEN scr.distributor_id END \
        FROM shipment_code_ranges scr \
       WHERE scr.code_batch_id = scan_events.batch_id AND scr.serial_from <= scan_events.serial \
       ORDER BY scr.serial_from DESC LIMIT 1), \
     (SELECT scb.distributor_id FROM scan_code_batches scb \
       WHERE scb.id = scan_events.batch_id))";
