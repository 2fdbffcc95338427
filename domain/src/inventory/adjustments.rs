//! Corrections after a stocktake or damage.

use sea_orm::EntityTrait;

use crate::AppState;
use crate::auth::StaffPrincipal;
use crate::platform::db;
use entities::stock_batch;

use super::ledger::{MovementSpec, apply_movement};
use super::reports::batch_levels;
use super::{
    BatchStock, InventoryError, MovementKind, checked_text, invalid, load_location,
    require_location_access,
};

/// Corrects the count of one batch at a location (stocktake, damage), with a reason.
pub async fn adjust(
    app: &AppState,
    staff: &StaffPrincipal,
    location_id: i64,
    batch_id: i64,
    delta: i64,
    reason: &str,
) -> Result<BatchStock, InventoryError> {
    let location = load_location(&app.db, location_id).await?;
    require_location_access(staff, &location)?;
    if delta == 0 || delta.abs() > 1_000_000 {
        return Err(invalid(
            "an adjustment is between -1,000,000 and 1,000,000 units, not 0",
        ));
    }
    let reason = checked_text("reason", reason, 128)?;
    let batch = stock_batch::Entity::find_by_id(batch_id)
        .one(&app.db)
        .await?
        .ok_or(InventoryError::NotFound("batch"))?;
    let txn = db::begin_write(&app.db).await?;
    apply_movement(
        &txn,
        MovementSpec {
            location_id,
            batch_id,
            sku_id: batch.sku_id,
            delta,
            kind: MovementKind::Adjustment,
            reference: None,
            staff_id: Some(staff.staff_id),
            note: Some(&reason),
            at: app.clock.now(),
        },
    )
    .await?;
    txn.commit().await?;
    batch_levels(&app.db, location_id, Some(batch.sku_id))
        .await?
        .into_iter()
        .find(|b| b.batch_id == batch_id)
        .ok_or(InventoryError::NotFound("stock level"))
}
