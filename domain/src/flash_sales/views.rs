//! Reading sales: one, the current ones (any audience), and HQ's list.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{FlashSale, FlashSalesError, sale_row};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use entities::flash_sale;

/// One sale (any audience).
pub async fn flash_sale(app: &AppState, id: i64) -> Result<FlashSale, FlashSalesError> {
    let row = sale_row(app, id).await?;
    Ok(FlashSale::from_row(row, app.clock.now()))
}

/// Sales that have not ended, soonest first.
pub async fn current_flash_sales(app: &AppState) -> Result<Vec<FlashSale>, FlashSalesError> {
    let now = app.clock.now();
    Ok(flash_sale::Entity::find()
        .filter(flash_sale::Column::EndsAt.gt(now))
        .order_by_asc(flash_sale::Column::StartsAt)
        .limit(50)
        .all(&app.db)
        .await?
        .into_iter()
        .map(|r| FlashSale::from_row(r, now))
        .collect())
}

/// HQ's list: every sale, newest first.
pub async fn all_flash_sales(
    app: &AppState,
    staff: &StaffPrincipal,
) -> Result<Vec<FlashSale>, FlashSalesError> {
    staff.require(Permission::ManageFlashSales)?;
    let now = app.clock.now();
    Ok(flash_sale::Entity::find()
        .order_by_desc(flash_sale::Column::Id)
        .limit(100)
        .all(&app.db)
        .await?
        .into_iter()
        .map(|r| FlashSale::from_row(r, now))
        .collect())
}
