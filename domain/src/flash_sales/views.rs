//! Reading sales: one, the current ones (any audience), and HQ's list.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{FlashSale, FlashSalesError, sale_row};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::page::{IdKey, Keyset, Page, TimeKey, after_asc};
use entities::flash_sale;

/// One sale (any audience).
pub async fn flash_sale(app: &AppState, id: i64) -> Result<FlashSale, FlashSalesError> {
    let row = sale_row(app, id).await?;
    Ok(FlashSale::from_row(row, app.clock.now()))
}

/// Sales that have not ended, soonest first (by start, then id).
pub async fn current_flash_sales(
    app: &AppState,
    page: Keyset<TimeKey>,
) -> Result<Page<FlashSale>, FlashSalesError> {
    let now = app.clock.now();
    let mut query = flash_sale::Entity::find()
        .filter(flash_sale::Column::EndsAt.gt(now))
        .order_by_asc(flash_sale::Column::StartsAt)
        .order_by_asc(flash_sale::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        query = query.filter(after_asc(
            flash_sale::Column::StartsAt,
            flash_sale::Column::Id,
            after,
        ));
    }
    Ok(page
        .page(query.all(&app.db).await?)
        .map(|r| FlashSale::from_row(r, now)))
}

/// HQ's list: every sale, newest first (by id).
pub async fn all_flash_sales(
    app: &AppState,
    staff: &StaffPrincipal,
    page: Keyset<IdKey>,
) -> Result<Page<FlashSale>, FlashSalesError> {
    staff.require(Permission::ManageFlashSales)?;
    let now = app.clock.now();
    let mut query = flash_sale::Entity::find()
        .order_by_desc(flash_sale::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        query = query.filter(flash_sale::Column::Id.lt(after));
    }
    Ok(page
        .page(query.all(&app.db).await?)
        .map(|r| FlashSale::from_row(r, now)))
}
