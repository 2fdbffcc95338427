//! Which distributor a pack was shipped to: the one place that answers it, from the serial
//! ranges bound to order lines at shipment.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use entities::shipment_code_range;

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
