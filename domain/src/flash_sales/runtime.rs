//! Per replica: prepared sales (the sale, its SKU, product name and shipping warehouse, read
//! once per burst of winners) and the order writers' state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect};

use super::{FlashSaleSettings, FlashSalesError};
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
/// and the background order writers' state.
pub struct FlashSaleRuntime {
    prepared: moka::future::Cache<i64, Arc<PreparedSale>>,
    /// Order writers running on this replica, and how many may.
    pub(super) writers: AtomicUsize,
    pub(super) max_writers: usize,
    /// Tickets recorded on this replica: a writer stops once a pass saw no new one.
    pub(super) recorded: AtomicU64,
    /// Woken after each batch of orders commits (`flashSaleOrder` waits on it).
    pub(super) written: tokio::sync::Notify,
    /// Granted grabs waiting for the next shared insert of their tickets.
    pub(super) tickets: super::tickets::TicketQueue,
    /// Tickets recorded here start no writer (drills and tests of a crash between ticket and
    /// order; the periodic pass still writes them).
    paused: AtomicBool,
}

impl FlashSaleRuntime {
    pub fn new(settings: &FlashSaleSettings) -> Self {
        Self {
            prepared: moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(Duration::from_secs(2))
                .build(),
            writers: AtomicUsize::new(0),
            max_writers: settings.order_writers.max(1),
            recorded: AtomicU64::new(0),
            written: tokio::sync::Notify::new(),
            tickets: super::tickets::TicketQueue::default(),
            paused: AtomicBool::new(false),
        }
    }

    /// Stops (true) or resumes (false) starting order writers on this replica when tickets are
    /// recorded: what a replica that dies right after answering leaves behind. The periodic
    /// pass (any replica, every two seconds) still writes the orders.
    pub fn pause_order_writing(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    pub(super) fn writing_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }
}

impl Default for FlashSaleRuntime {
    fn default() -> Self {
        Self::new(&FlashSaleSettings::default())
    }
}

/// The sale prepared for writing orders, read through `db` (the writer's transaction: no second
/// connection is taken while it holds one) when not kept.
pub(super) async fn prepared_sale<C: ConnectionTrait>(
    app: &AppState,
    db: &C,
    sale_id: i64,
    sale: Option<flash_sale::Model>,
) -> Result<Arc<PreparedSale>, FlashSalesError> {
    app.flash_sales
        .prepared
        .try_get_with(sale_id, async {
            let sale = match sale {
                Some(row) => row,
                None => flash_sale::Entity::find_by_id(sale_id)
                    .one(db)
                    .await?
                    .ok_or(FlashSalesError::NotFound("flash sale"))?,
            };
            let sku = sku::Entity::find_by_id(sale.sku_id)
                .one(db)
                .await?
                .ok_or(FlashSalesError::NotFound("SKU"))?;
            let product_name: Option<String> = product::Entity::find_by_id(sku.product_id)
                .select_only()
                .column(product::Column::Name)
                .into_tuple()
                .one(db)
                .await?;
            let product_name = product_name.ok_or(FlashSalesError::NotFound("product"))?;
            let location = inventory::delivery_warehouse(db)
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
