//! HQ schedules a flash sale; one starting soon gets its counters warmed at once.

use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use super::counters::warm;
use super::{FlashSale, FlashSalesError, NewFlashSale, invalid};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::validate;
use entities::{flash_sale, sku};

/// HQ schedules a flash sale.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, sku_id = input.sku_id))]
pub async fn schedule_flash_sale(
    app: &AppState,
    staff: &StaffPrincipal,
    input: NewFlashSale,
) -> Result<FlashSale, FlashSalesError> {
    staff.require(Permission::ManageFlashSales)?;
    let title = validate::text("title", &input.title, 64).map_err(invalid)?;
    if input.price_fen <= 0 {
        return Err(invalid("the flash price must be above zero"));
    }
    if !(1..=1_000_000).contains(&input.stock) {
        return Err(invalid("stock must be between 1 and 1,000,000 units"));
    }
    if !(1..=99).contains(&input.per_member_limit) {
        return Err(invalid("the per-member limit must be between 1 and 99"));
    }
    if input.ends_at <= input.starts_at {
        return Err(invalid("a flash sale must end after it starts"));
    }
    let now = app.clock.now();
    if input.ends_at <= now {
        return Err(invalid("a flash sale must end in the future"));
    }
    sku::Entity::find_by_id(input.sku_id)
        .one(&app.db)
        .await?
        .filter(|s| s.active)
        .ok_or(FlashSalesError::NotFound("SKU"))?;
    let row = flash_sale::ActiveModel {
        title: Set(title),
        sku_id: Set(input.sku_id),
        price_fen: Set(input.price_fen),
        stock: Set(input.stock),
        sold: Set(0),
        per_member_limit: Set(input.per_member_limit),
        starts_at: Set(input.starts_at),
        ends_at: Set(input.ends_at),
        created_by: Set(Some(staff.staff_id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await?;
    if row.starts_at - now <= app.settings.flash_sales.warm_ahead {
        // Best effort: the warm task and the first grab load it too.
        if let Err(e) = warm(app, &row).await {
            tracing::warn!(sale_id = row.id, error = %e, "could not warm a new flash sale");
        }
    }
    Ok(FlashSale::from_row(row, now))
}
