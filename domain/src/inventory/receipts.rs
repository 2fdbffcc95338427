//! Goods received into a location, as a new or known batch.

use chrono::NaiveDate;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::AppState;
use crate::auth::StaffPrincipal;
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::db;
use entities::{sku, stock_batch};

use super::ledger::{MovementSpec, apply_movement};
use super::reports::batch_levels;
use super::{
    BatchStock, InventoryError, MovementKind, checked_code, invalid, load_location,
    require_location_access,
};

pub struct Receipt {
    pub location_id: i64,
    pub sku_id: i64,
    pub lot: String,
    pub manufactured_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub quantity: i64,
}

/// Receives a delivery of one lot into a location.
pub async fn receive(
    app: &AppState,
    staff: &StaffPrincipal,
    input: Receipt,
) -> Result<BatchStock, InventoryError> {
    let location = load_location(&app.db, input.location_id).await?;
    require_location_access(staff, &location)?;
    if !(1..=1_000_000).contains(&input.quantity) {
        return Err(invalid("quantity must be between 1 and 1,000,000"));
    }
    let lot = checked_code(&input.lot)?;
    if input.expires_on <= input.manufactured_on {
        return Err(invalid("a batch expires after it is made"));
    }
    let today = app.clock.now().with_timezone(&DEFAULT_ZONE).date_naive();
    if input.manufactured_on > today {
        return Err(invalid("a batch cannot be made in the future"));
    }
    sku::Entity::find_by_id(input.sku_id)
        .one(&app.db)
        .await?
        .ok_or(InventoryError::NotFound("SKU"))?;
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let existing = stock_batch::Entity::find()
        .filter(stock_batch::Column::SkuId.eq(input.sku_id))
        .filter(stock_batch::Column::Lot.eq(lot.clone()))
        .one(&txn)
        .await?;
    let batch = match existing {
        Some(b)
            if b.manufactured_on != input.manufactured_on || b.expires_on != input.expires_on =>
        {
            return Err(invalid("this lot is already known with other dates"));
        }
        Some(b) => b,
        None => {
            stock_batch::ActiveModel {
                sku_id: Set(input.sku_id),
                lot: Set(lot),
                manufactured_on: Set(input.manufactured_on),
                expires_on: Set(input.expires_on),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };
    apply_movement(
        &txn,
        MovementSpec {
            location_id: location.id,
            batch_id: batch.id,
            sku_id: input.sku_id,
            delta: input.quantity,
            kind: MovementKind::Receipt,
            reference: None,
            staff_id: Some(staff.staff_id),
            note: None,
            at: now,
        },
    )
    .await?;
    txn.commit().await?;
    let level = batch_levels(&app.db, location.id, Some(input.sku_id))
        .await?
        .into_iter()
        .find(|b| b.batch_id == batch.id)
        .ok_or(InventoryError::NotFound("stock level"))?;
    Ok(level)
}
