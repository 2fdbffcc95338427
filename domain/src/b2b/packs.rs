//! Which packs are "the distributor's": the one place that decides it, for territory leakage
//! (窜货) and replenishment from sell-through. Today a pack belongs to the distributor its code
//! batch ships to (`scan_code_batches.distributor_id`); when shipments bind pack-code serial
//! ranges to order lines, this condition switches to those ranges, here only.

use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Condition, Query};

use entities::{scan_code_batch, scan_event};

/// A condition on `scan_events` rows: the scanned pack was shipped to `distributor_id`.
pub fn shipped_to_condition(distributor_id: i64) -> Condition {
    Condition::all().add(
        scan_event::Column::BatchId.in_subquery(
            Query::select()
                .column(scan_code_batch::Column::Id)
                .from(scan_code_batch::Entity)
                .and_where(scan_code_batch::Column::DistributorId.eq(distributor_id))
                .to_owned(),
        ),
    )
}
