//! Moving stock between locations.

use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::db;

use super::ledger::{MovementSpec, Withdrawal, apply_movement, take_fefo};
use super::{InventoryError, MovementKind, invalid, load_location, require_location_access};

/// Moves units of a SKU between locations, soonest-expiring first.
pub async fn transfer(
    app: &AppState,
    staff: &StaffPrincipal,
    from: i64,
    to: i64,
    sku_id: i64,
    quantity: i64,
) -> Result<(), InventoryError> {
    staff.require(Permission::ManageStock)?;
    if from == to {
        return Err(invalid("choose two different locations"));
    }
    if !(1..=1_000_000).contains(&quantity) {
        return Err(invalid("quantity must be between 1 and 1,000,000"));
    }
    let source = load_location(&app.db, from).await?;
    require_location_access(staff, &source)?;
    let target = load_location(&app.db, to).await?;
    let now = app.clock.now();
    let reference = format!("transfer:{}:{}", source.code, target.code);
    let txn = db::begin_write(&app.db).await?;
    let taken = take_fefo(
        &txn,
        Withdrawal {
            location_id: source.id,
            sku_id,
            quantity,
            kind: MovementKind::TransferOut,
            reference: Some(&reference),
            staff_id: Some(staff.staff_id),
            at: now,
        },
    )
    .await?;
    for (batch_id, units) in taken {
        apply_movement(
            &txn,
            MovementSpec {
                location_id: target.id,
                batch_id,
                sku_id,
                delta: units,
                kind: MovementKind::TransferIn,
                reference: Some(&reference),
                staff_id: Some(staff.staff_id),
                note: None,
                at: now,
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}
