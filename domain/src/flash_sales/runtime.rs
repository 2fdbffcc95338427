//! Per replica: prepared sales (the sale, its SKU, product name and shipping warehouse, read
//! once per burst of winners) and the bound on concurrent order writes.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{EntityTrait, QuerySelect};

use super::{FlashSaleSettings, FlashSalesError, sale_row};
use crate::AppState;
use crate::inventory;
use crate::orders::OrdersError;
use entities::{flash_sale, product, sku};

/// What writing a flash-sale order needs besides the grab: the sale, its SKU and product name
/// and the warehouse that ships online orders.
#[derive(Debug)]
pub(crate) struct PreparedSale {
    pub(super) sale: flash_sale::Model,
    pub(super) sku: sku::Model,
    pub(super) product_name: String,
    pub(super) location_id: i64,
}

/// Per replica: the prepared sales (kept two seconds, so a burst of winners reads them once)
/// and the bound on concurrent order writes.
pub struct FlashSaleRuntime {
    prepared: moka::future::Cache<i64, Arc<PreparedSale>>,
    pub(super) order_writers: tokio::sync::Semaphore,
}

impl FlashSaleRuntime {
    pub fn new(settings: &FlashSaleSettings) -> Self {
        Self {
            prepared: moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(Duration::from_secs(2))
                .build(),
            order_writers: tokio::sync::Semaphore::new(settings.order_writers.max(1)),
        }
    }
}

impl Default for FlashSaleRuntime {
    fn default() -> Self {
        Self::new(&FlashSaleSettings::default())
    }
}

pub(super) async fn prepared_sale(
    app: &AppState,
    sale_id: i64,
    sale: Option<flash_sale::Model>,
) -> Result<Arc<PreparedSale>, FlashSalesError> {
    app.flash_sales
        .prepared
        .try_get_with(sale_id, async {
            let sale = match sale {
                Some(row) => row,
                None => sale_row(app, sale_id).await?,
            };
            let sku = sku::Entity::find_by_id(sale.sku_id)
                .one(&app.db)
                .await?
                .ok_or(FlashSalesError::NotFound("SKU"))?;
            let product_name: Option<String> = product::Entity::find_by_id(sku.product_id)
                .select_only()
                .column(product::Column::Name)
                .into_tuple()
                .one(&app.db)
                .await?;
            let product_name = product_name.ok_or(FlashSalesError::NotFound("product"))?;
            let location = inventory::delivery_warehouse(&app.db)
                .await
                .map_err(OrdersError::from)?;
            Ok(Arc::new(PreparedSale {
                sale,
                sku,
                product_name,
                location_id: location.id,
            }))
        })
        .await
        // The caller whose load failed gets the error whole; callers who waited on it share it.
        .map_err(|e| Arc::try_unwrap(e).unwrap_or_else(FlashSalesError::Shared))
}
