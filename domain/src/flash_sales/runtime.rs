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
    /// Loads of missing counters, striped by sale id (see [`Self::warm_once`]).
    warming: [WarmStripe; WARM_STRIPES],
}

/// One stripe of counter loads: the turn to load, and how many loads it has finished.
#[derive(Default)]
struct WarmStripe {
    turn: tokio::sync::Mutex<()>,
    loads: AtomicU64,
}

/// Stripes of the counter loads: sales sharing one take turns only when both are cold at once
/// (and a grab that finds its sale's counters still missing after another sale's load loads them).
const WARM_STRIPES: usize = 16;

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
            warming: std::array::from_fn(|_| WarmStripe::default()),
        }
    }

    fn warm_stripe(&self, sale_id: i64) -> &WarmStripe {
        let stripe = sale_id.unsigned_abs() % WARM_STRIPES as u64;
        &self.warming[usize::try_from(stripe).unwrap_or(0)]
    }

    /// Loads finished so far in the sale's stripe: read right after a grab found the counters
    /// missing, and handed to [`Self::warm_once`].
    pub(super) fn warm_loads(&self, sale_id: i64) -> u64 {
        self.warm_stripe(sale_id).loads.load(Ordering::SeqCst)
    }

    /// Loads a sale's missing counters with `load`, one grab at a time on this replica, unless
    /// a load finished since this grab found them missing (`seen`). At a cold opening (nothing
    /// warmed the sale, or the store lost its counters) every grab found them missing, and each
    /// held a pooled connection to load them (waiting on the sale row's lock while the first
    /// set the units aside): the whole pool stalled for the opening's first ~100 ms. Now one
    /// loads and the others wait for it without a connection, then go on at once.
    pub(super) async fn warm_once<F, Fut>(
        &self,
        sale_id: i64,
        seen: u64,
        load: F,
    ) -> Result<(), FlashSalesError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<bool, FlashSalesError>>,
    {
        let stripe = self.warm_stripe(sale_id);
        let _turn = stripe.turn.lock().await;
        if stripe.loads.load(Ordering::SeqCst) != seen {
            return Ok(());
        }
        load().await?;
        stripe.loads.fetch_add(1, Ordering::SeqCst);
        Ok(())
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
