//! Flash sales (秒杀): HQ schedules a SKU at a price for a time window, with its own number of
//! units and a per-member limit. Members grab units; a grab that gets one creates an order at the
//! flash price that must be paid within the payment time-out, or the unit goes back.
//!
//! Where the truth is:
//! - The database holds it: `flash_sales.sold` (units held by orders that are not closed) and
//!   `flash_sale_quotas` (each member's units), both changed only in the transaction that writes
//!   or closes the order, with conditional updates (`sold + q <= stock`, `units + q <= limit`), so
//!   the database alone never oversells nor lets a member above the limit.
//! - The key-value store holds a fast copy (units left, each member's units, the window, and the
//!   answer given per idempotency key). One atomic step there (a Lua script in Redis, one lock
//!   in process) decides a grab, so the crowd that cannot buy is turned away without touching the
//!   database. The copy is warmed from the database before the sale starts (and on demand when it
//!   is missing, e.g. after a Redis restart), and reconciled against it by a periodic task.
//!
//! Answers: a sale that has not started is BAD_USER_INPUT ("not started", nothing remembered);
//! after its end EXPIRED; no units left SOLD_OUT; above the member's limit LIMIT_REACHED; the
//! key-value store down UNAVAILABLE; more than a few grabs a second by one member RATE_LIMITED.
//! Idempotency keys are per member and per sale: the same key replays the first answer (the same
//! order for a successful grab, waited for while the first grab still writes it); the same key
//! with another quantity is a CONFLICT.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::auth::{AuthError, MemberPrincipal, Permission, StaffPrincipal};
use crate::catalog;
use crate::error::{DomainError, ErrorCode, StoreError, UniqueViolation};
use crate::inventory::{self, MovementKind};
use crate::jobs::{PeriodicTask, TaskError};
use crate::kv::keys;
use crate::kv::{FlashCounters, FlashGrab, FlashOutcome, KvError};
use crate::orders::{
    self, Channel, Discount, DiscountKind, DraftLine, FulfilmentKind, Order, OrderDraft,
    OrderStatus, OrdersError,
};
use crate::{AppState, db, idempotency, validate};
use entities::{flash_sale, flash_sale_grab, flash_sale_quota, product, sku};

#[derive(Debug, thiserror::Error)]
pub enum FlashSalesError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the flash sale has not started yet; it opens at {0}")]
    NotStarted(DateTime<Utc>),
    #[error("the flash sale has ended")]
    Ended,
    #[error("sold out")]
    SoldOut,
    #[error("you already hold as many units of this flash sale as one member may")]
    LimitReached,
    #[error("this idempotency key was already used with a different quantity")]
    KeyReused,
    #[error("the first request with this idempotency key is still being handled; try again")]
    InProgress,
    #[error("too many attempts; slow down")]
    Throttled,
    /// The counters cannot be reached: the grab is refused rather than decided without them.
    #[error("flash sales are unavailable right now; try again")]
    CountersDown(#[source] KvError),
    /// No more order writes on this replica (it is stopping).
    #[error("the server is shutting down; try again")]
    ShuttingDown,
    /// Reading a sale failed for every grab waiting on the same read.
    #[error(transparent)]
    Shared(Arc<FlashSalesError>),
    #[error(transparent)]
    Orders(#[from] OrdersError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(FlashSalesError);

impl DomainError for FlashSalesError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) | Self::NotStarted(_) => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Ended => ErrorCode::Expired,
            Self::SoldOut => ErrorCode::SoldOut,
            Self::LimitReached => ErrorCode::LimitReached,
            Self::KeyReused | Self::InProgress => ErrorCode::Conflict,
            Self::Throttled => ErrorCode::RateLimited,
            Self::CountersDown(_) | Self::ShuttingDown => ErrorCode::Unavailable,
            Self::Shared(e) => e.code(),
            Self::Orders(e) => e.code(),
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> FlashSalesError {
    FlashSalesError::InvalidInput(msg.into())
}

/// Any failure of the counters is "unavailable" to a grab: never an internal error under load.
fn counters_down(err: KvError) -> FlashSalesError {
    FlashSalesError::CountersDown(err)
}

/// Flash-sale settings from configuration.
#[derive(Debug, Clone)]
pub struct FlashSaleSettings {
    /// Grabs one member may make for one sale per second before RATE_LIMITED.
    pub grabs_per_second: i64,
    /// Sales starting within this time get their counters warmed.
    pub warm_ahead: chrono::Duration,
    /// A difference between counters and database must last this long before it is corrected
    /// (grabs in flight between the counter and the order's commit are not differences).
    pub reconcile_grace: chrono::Duration,
    /// Orders of granted grabs written at once by one replica. The winners of a sale arrive in
    /// one burst and all lock the same sale and stock rows; queueing them here, rather than on
    /// the database pool, keeps connections for everything else and never times a winner out.
    pub order_writers: usize,
}

impl Default for FlashSaleSettings {
    fn default() -> Self {
        Self {
            grabs_per_second: 10,
            warm_ahead: chrono::Duration::minutes(10),
            reconcile_grace: chrono::Duration::seconds(30),
            order_writers: 8,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashSaleStatus {
    Scheduled,
    Live,
    Ended,
}

#[derive(Debug, Clone)]
pub struct FlashSale {
    pub id: i64,
    pub title: String,
    pub sku_id: i64,
    pub price_fen: i64,
    pub stock: i32,
    /// Units held by orders that are not closed.
    pub sold: i32,
    pub per_member_limit: i32,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: FlashSaleStatus,
}

impl FlashSale {
    fn from_row(r: flash_sale::Model, now: DateTime<Utc>) -> Self {
        let status = if now < r.starts_at {
            FlashSaleStatus::Scheduled
        } else if now < r.ends_at {
            FlashSaleStatus::Live
        } else {
            FlashSaleStatus::Ended
        };
        Self {
            id: r.id,
            title: r.title,
            sku_id: r.sku_id,
            price_fen: r.price_fen,
            stock: r.stock,
            sold: r.sold,
            per_member_limit: r.per_member_limit,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            status,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewFlashSale {
    pub title: String,
    pub sku_id: i64,
    pub price_fen: i64,
    pub stock: i32,
    pub per_member_limit: i32,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

const HELD: &str = "HELD";
const RELEASED: &str = "RELEASED";

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

async fn sale_row(app: &AppState, id: i64) -> Result<flash_sale::Model, FlashSalesError> {
    flash_sale::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(FlashSalesError::NotFound("flash sale"))
}

/// What the database says the counters are.
async fn truth<C: ConnectionTrait>(
    db: &C,
    sale: &flash_sale::Model,
) -> Result<FlashCounters, FlashSalesError> {
    let members: Vec<(i64, i32)> = flash_sale_quota::Entity::find()
        .select_only()
        .column(flash_sale_quota::Column::MemberId)
        .column(flash_sale_quota::Column::Units)
        .filter(flash_sale_quota::Column::SaleId.eq(sale.id))
        .filter(flash_sale_quota::Column::Units.gt(0))
        .order_by_asc(flash_sale_quota::Column::MemberId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(FlashCounters {
        stock_left: i64::from(sale.stock - sale.sold),
        starts_at_ms: sale.starts_at.timestamp_millis(),
        ends_at_ms: sale.ends_at.timestamp_millis(),
        per_member_limit: i64::from(sale.per_member_limit),
        members: members
            .into_iter()
            .map(|(m, u)| (m, i64::from(u)))
            .collect(),
    })
}

/// How long counters live: past the end by the payment time-out (units of unpaid orders come
/// back) and a day to spare.
fn counters_ttl(app: &AppState, sale: &flash_sale::Model) -> Duration {
    let until = sale.ends_at + app.settings.orders.payment_timeout + chrono::Duration::days(1);
    (until - app.clock.now())
        .to_std()
        .unwrap_or(Duration::from_secs(3600))
        .max(Duration::from_secs(3600))
}

/// Loads the sale's counters from the database when the store does not have them. Returns
/// whether they were written.
pub async fn warm(app: &AppState, sale: &flash_sale::Model) -> Result<bool, FlashSalesError> {
    let counters = truth(&app.db, sale).await?;
    app.kv
        .flash_load(
            &keys::flash_sale_counters(sale.id),
            &counters,
            counters_ttl(app, sale),
        )
        .await
        .map_err(counters_down)
}

fn refused(outcome: FlashOutcome, sale: Option<&flash_sale::Model>) -> FlashSalesError {
    match outcome {
        FlashOutcome::NotStarted => {
            FlashSalesError::NotStarted(sale.map(|s| s.starts_at).unwrap_or_default())
        }
        FlashOutcome::Ended => FlashSalesError::Ended,
        FlashOutcome::SoldOut => FlashSalesError::SoldOut,
        FlashOutcome::LimitReached => FlashSalesError::LimitReached,
        // Not a refusal; never asked for.
        FlashOutcome::Granted => FlashSalesError::InProgress,
    }
}

/// A member grabs `quantity` units of a flash sale. The counters decide in one atomic step;
/// a successful grab then creates the order at the flash price (payable within the payment
/// time-out). Never sells more than the sale's units, nor more than the member's limit.
///
/// Refusals (sold out, limit, ...) are the normal answer for most grabs and are not logged as
/// errors; the API layer logs internal and unavailable ones.
#[tracing::instrument(skip_all, fields(member_id = me.member_id, sale_id))]
pub async fn grab_flash_sale(
    app: &Arc<AppState>,
    me: &MemberPrincipal,
    sale_id: i64,
    quantity: i32,
    idempotency_key: &str,
) -> Result<Order, FlashSalesError> {
    validate::idempotency_key(idempotency_key).map_err(invalid)?;
    if !(1..=99).contains(&quantity) {
        return Err(invalid("a quantity is between 1 and 99"));
    }
    let key = keys::flash_sale_counters(sale_id);
    let attempts = app
        .kv
        .incr_window(
            &format!("{key}:rl:{}", me.member_id),
            Duration::from_secs(1),
        )
        .await
        .map_err(counters_down)?;
    if attempts > app.settings.flash_sales.grabs_per_second {
        return Err(FlashSalesError::Throttled);
    }
    let q = i64::from(quantity);
    let now = app.clock.now();
    let grab = || {
        app.kv.flash_grab(
            &key,
            me.member_id,
            q,
            now.timestamp_millis(),
            idempotency_key,
        )
    };
    let mut sale = None;
    let mut twin = idempotency::TwinWait::new();
    loop {
        let mut decision = grab().await.map_err(counters_down)?;
        if decision == FlashGrab::NotLoaded {
            let row = match sale.take() {
                Some(row) => row,
                None => sale_row(app, sale_id).await?,
            };
            warm(app, &row).await?;
            decision = grab().await.map_err(counters_down)?;
            sale = Some(row);
        }
        match decision {
            FlashGrab::NotLoaded => {
                return Err(FlashSalesError::CountersDown(KvError::Unavailable(
                    "flash counters vanished while loading".into(),
                )));
            }
            FlashGrab::Replay {
                quantity: first,
                outcome,
            } => {
                if first != q {
                    return Err(FlashSalesError::KeyReused);
                }
                match outcome {
                    FlashOutcome::Granted => {
                        if let Some(order) =
                            grabbed_order(app, sale_id, me, idempotency_key).await?
                        {
                            return Ok(order);
                        }
                        // The first grab under this key is still writing its order (or failed
                        // and gives the key back): its answer is ours, so wait for it and ask
                        // the counters again.
                        if !twin.pause().await {
                            return Err(FlashSalesError::InProgress);
                        }
                    }
                    FlashOutcome::NotStarted => {
                        let row = match sale {
                            Some(row) => row,
                            None => sale_row(app, sale_id).await?,
                        };
                        return Err(refused(outcome, Some(&row)));
                    }
                    other => return Err(refused(other, None)),
                }
            }
            FlashGrab::Decided(FlashOutcome::Granted) => {
                // The units are taken: finishing (the order, or giving them back) runs on its
                // own task, so a request cancelled half-way (client gone, time-out) cannot
                // strand them.
                let task = tokio::spawn({
                    let (app, me, key) = (Arc::clone(app), me.clone(), idempotency_key.to_owned());
                    async move { finish_grab(&app, &me, sale_id, sale, quantity, &key, now).await }
                });
                return task.await.unwrap_or_else(|e| {
                    Err(FlashSalesError::CountersDown(KvError::Protocol(format!(
                        "grab task failed: {e}"
                    ))))
                });
            }
            FlashGrab::Decided(FlashOutcome::NotStarted) => {
                let row = match sale {
                    Some(row) => row,
                    None => sale_row(app, sale_id).await?,
                };
                return Err(refused(FlashOutcome::NotStarted, Some(&row)));
            }
            FlashGrab::Decided(other) => return Err(refused(other, None)),
        }
    }
}

/// After the counters granted `quantity` units: writes the order, or gives the units back.
async fn finish_grab(
    app: &AppState,
    me: &MemberPrincipal,
    sale_id: i64,
    sale: Option<flash_sale::Model>,
    quantity: i32,
    idempotency_key: &str,
    now: DateTime<Utc>,
) -> Result<Order, FlashSalesError> {
    let q = i64::from(quantity);
    let created = async {
        let prepared = prepared_sale(app, sale_id, sale).await?;
        let _writer = app
            .flash_sales
            .order_writers
            .acquire()
            .await
            .map_err(|_| FlashSalesError::ShuttingDown)?;
        if let Some(order) = grabbed_order(app, sale_id, me, idempotency_key).await? {
            // The counters forgot the answer (a restart) but the order exists: give the
            // units just taken back and answer with the first order.
            return Ok((order, true));
        }
        create_order(app, me, &prepared, quantity, idempotency_key, now)
            .await
            .map(|o| (o, false))
    }
    .await;
    match created {
        Ok((order, false)) => Ok(order),
        Ok((order, true)) => {
            give_back_units(app, sale_id, me.member_id, q, None).await;
            Ok(order)
        }
        Err(e) => {
            // The order did not happen: the units go back and the key may be retried.
            give_back_units(app, sale_id, me.member_id, q, Some(idempotency_key)).await;
            Err(e)
        }
    }
}

/// What writing a flash-sale order needs besides the grab: the sale, its SKU and product name
/// and the warehouse that ships online orders.
#[derive(Debug)]
pub(crate) struct PreparedSale {
    sale: flash_sale::Model,
    sku: sku::Model,
    product_name: String,
    location_id: i64,
}

/// Per replica: the prepared sales (kept two seconds, so a burst of winners reads them once)
/// and the bound on concurrent order writes.
pub struct FlashSaleRuntime {
    prepared: moka::future::Cache<i64, Arc<PreparedSale>>,
    order_writers: tokio::sync::Semaphore,
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

async fn prepared_sale(
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

async fn give_back_units(
    app: &AppState,
    sale_id: i64,
    member_id: i64,
    units: i64,
    forget_key: Option<&str>,
) {
    if let Err(e) = app
        .kv
        .flash_adjust(
            &keys::flash_sale_counters(sale_id),
            member_id,
            units,
            forget_key,
        )
        .await
    {
        // The reconcile task brings the counters back to the database's truth.
        tracing::warn!(sale_id, member_id, units, error = %e, "could not give flash-sale units back");
    }
}

/// The order a member's earlier grab under this key created.
async fn grabbed_order(
    app: &AppState,
    sale_id: i64,
    me: &MemberPrincipal,
    idempotency_key: &str,
) -> Result<Option<Order>, FlashSalesError> {
    let Some(grab) = flash_sale_grab::Entity::find()
        .filter(flash_sale_grab::Column::SaleId.eq(sale_id))
        .filter(flash_sale_grab::Column::MemberId.eq(me.member_id))
        .filter(flash_sale_grab::Column::IdempotencyKey.eq(idempotency_key))
        .one(&app.db)
        .await?
    else {
        return Ok(None);
    };
    let row = orders::row(app, grab.order_id).await?;
    Ok(Some(orders::load(app, row).await?))
}

/// Writes the order of a granted grab: the database's own guards (units and the member's
/// limit), the order at the flash price with its stock taken first-expiry-first-out from the
/// online warehouse, and the grab record, in one transaction.
async fn create_order(
    app: &AppState,
    me: &MemberPrincipal,
    prepared: &PreparedSale,
    quantity: i32,
    idempotency_key: &str,
    now: DateTime<Utc>,
) -> Result<Order, FlashSalesError> {
    let PreparedSale {
        sale,
        sku,
        product_name,
        location_id,
    } = prepared;
    let q = i64::from(quantity);
    let list_price = std::cmp::max(sku.price_fen, sale.price_fen);
    let saving = (list_price - sale.price_fen) * q;
    let draft = OrderDraft {
        member_id: me.member_id,
        channel: Channel::Online,
        fulfilment: FulfilmentKind::Delivery,
        store_id: None,
        location_id: *location_id,
        lines: vec![DraftLine {
            sku_id: sku.id,
            product_name: product_name.clone(),
            sku_label: catalog::Sku::from(sku.clone()).label(),
            quantity,
            unit_price_fen: list_price,
        }],
        discounts: if saving > 0 {
            vec![Discount {
                kind: DiscountKind::FlashSale,
                label: format!("秒杀 {}", sale.title),
                amount_fen: saving,
                reference: Some(sale.id.to_string()),
            }]
        } else {
            vec![]
        },
        ba_id: None,
        idempotency_key: Some(format!(
            "flash:{}:{}:{idempotency_key}",
            sale.id, me.member_id
        )),
        request_hash: None,
        delivery_address: None,
        status: OrderStatus::PendingPayment,
        payment_method: None,
        pay_deadline: Some(now + app.settings.orders.payment_timeout),
    };
    // The sale's row and the SKU's stock are what every winner locks: they are changed last,
    // so each transaction holds them for as short a time as it can.
    let txn = db::begin_write(&app.db).await?;
    let within_limit = flash_sale_quota::Entity::insert(flash_sale_quota::ActiveModel {
        sale_id: Set(sale.id),
        member_id: Set(me.member_id),
        units: Set(quantity),
    })
    .on_conflict(
        OnConflict::columns([
            flash_sale_quota::Column::SaleId,
            flash_sale_quota::Column::MemberId,
        ])
        .value(
            flash_sale_quota::Column::Units,
            Expr::col((flash_sale_quota::Entity, flash_sale_quota::Column::Units)).add(quantity),
        )
        .action_and_where(
            Expr::col((flash_sale_quota::Entity, flash_sale_quota::Column::Units))
                .add(quantity)
                .lte(sale.per_member_limit),
        )
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if within_limit != 1 {
        tracing::warn!(
            sale_id = sale.id,
            member_id = me.member_id,
            "the counters granted a unit above the member's limit"
        );
        return Err(FlashSalesError::LimitReached);
    }
    let order = match orders::insert_order(&txn, draft, MovementKind::OrderReserve, None, now).await
    {
        Ok(order) => order,
        Err(OrdersError::SoldOut(_)) => return Err(FlashSalesError::SoldOut),
        Err(e) => return Err(e.into()),
    };
    let recorded = flash_sale_grab::ActiveModel {
        sale_id: Set(sale.id),
        member_id: Set(me.member_id),
        order_id: Set(order.id),
        quantity: Set(quantity),
        idempotency_key: Set(idempotency_key.to_owned()),
        status: Set(HELD.to_owned()),
        created_at: Set(now),
        released_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    recorded.on_unique_violation(|| FlashSalesError::InProgress)?;
    let taken = flash_sale::Entity::update_many()
        .col_expr(
            flash_sale::Column::Sold,
            Expr::col(flash_sale::Column::Sold).add(quantity),
        )
        .col_expr(flash_sale::Column::UpdatedAt, Expr::value(now))
        .filter(flash_sale::Column::Id.eq(sale.id))
        .filter(
            Expr::col(flash_sale::Column::Sold)
                .add(quantity)
                .lte(Expr::col(flash_sale::Column::Stock)),
        )
        .exec(&txn)
        .await?;
    if taken.rows_affected != 1 {
        tracing::warn!(
            sale_id = sale.id,
            "the counters granted a unit the database does not have"
        );
        return Err(FlashSalesError::SoldOut);
    }
    txn.commit().await?;
    Ok(orders::load(app, order).await?)
}

/// Units of a flash sale freed by a closed order, to give back to the counters after commit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Released {
    sale_id: i64,
    member_id: i64,
    units: i64,
}

/// In the transaction that closes an unpaid order: when it came from a flash sale, its units
/// return to the sale and to the member's limit in the database.
pub(crate) async fn release_closed_order(
    txn: &DatabaseTransaction,
    order_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Released>, StoreError> {
    let Some(grab) = flash_sale_grab::Entity::find()
        .filter(flash_sale_grab::Column::OrderId.eq(order_id))
        .filter(flash_sale_grab::Column::Status.eq(HELD))
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    let updated = flash_sale_grab::Entity::update_many()
        .col_expr(flash_sale_grab::Column::Status, Expr::value(RELEASED))
        .col_expr(flash_sale_grab::Column::ReleasedAt, Expr::value(now))
        .filter(flash_sale_grab::Column::Id.eq(grab.id))
        .filter(flash_sale_grab::Column::Status.eq(HELD))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(None);
    }
    flash_sale::Entity::update_many()
        .col_expr(
            flash_sale::Column::Sold,
            Expr::col(flash_sale::Column::Sold).sub(grab.quantity),
        )
        .col_expr(flash_sale::Column::UpdatedAt, Expr::value(now))
        .filter(flash_sale::Column::Id.eq(grab.sale_id))
        .exec(txn)
        .await?;
    flash_sale_quota::Entity::update_many()
        .col_expr(
            flash_sale_quota::Column::Units,
            Expr::col(flash_sale_quota::Column::Units).sub(grab.quantity),
        )
        .filter(flash_sale_quota::Column::SaleId.eq(grab.sale_id))
        .filter(flash_sale_quota::Column::MemberId.eq(grab.member_id))
        .exec(txn)
        .await?;
    Ok(Some(Released {
        sale_id: grab.sale_id,
        member_id: grab.member_id,
        units: i64::from(grab.quantity),
    }))
}

/// After the close committed: the units go back to the counters (if this fails, reconciling
/// does it).
pub(crate) async fn give_back(app: &AppState, released: Released) {
    give_back_units(
        app,
        released.sale_id,
        released.member_id,
        released.units,
        None,
    )
    .await;
}

/// Differences between counters and database seen by earlier passes: member id -> (counter
/// units minus database units, when first seen in Unix milliseconds).
type Suspects = BTreeMap<i64, (i64, i64)>;

/// Brings one sale's counters to the database's truth. A member's difference is corrected only
/// when it was already seen at least the grace period before (a grab between its counter step
/// and its order's commit is not a difference), and only by what both passes saw. Returns how
/// many members were corrected.
pub async fn reconcile(app: &AppState, sale_id: i64) -> Result<u64, FlashSalesError> {
    let sale = sale_row(app, sale_id).await?;
    let key = keys::flash_sale_counters(sale_id);
    let Some(counters) = app.kv.flash_counters(&key).await.map_err(counters_down)? else {
        return Ok(0);
    };
    let truth = truth(&app.db, &sale).await?;
    let kv: HashMap<i64, i64> = counters.members.iter().copied().collect();
    let db: HashMap<i64, i64> = truth.members.iter().copied().collect();
    let suspects_key = format!("{key}:suspects");
    let now_ms = app.clock.now().timestamp_millis();
    let previous: Suspects = app
        .kv
        .get(&suspects_key)
        .await
        .map_err(counters_down)?
        .and_then(|v| serde_json::from_slice(&v).ok())
        .unwrap_or_default();
    let grace_ms = app.settings.flash_sales.reconcile_grace.num_milliseconds();
    let mut corrected = 0;
    let mut pending = Suspects::new();
    let members: std::collections::BTreeSet<i64> = kv.keys().chain(db.keys()).copied().collect();
    for member in members {
        let d = kv.get(&member).copied().unwrap_or(0) - db.get(&member).copied().unwrap_or(0);
        if d == 0 {
            continue;
        }
        match previous.get(&member) {
            Some((seen, since)) if seen.signum() == d.signum() => {
                let by = d.signum() * std::cmp::min(d.abs(), seen.abs());
                if since + grace_ms <= now_ms {
                    // Positive: the counters hold units no order has; they go back to the pool.
                    app.kv
                        .flash_adjust(&key, member, by, None)
                        .await
                        .map_err(counters_down)?;
                    tracing::warn!(
                        sale_id,
                        member_id = member,
                        units = by,
                        "flash-sale counters corrected to the database"
                    );
                    corrected += 1;
                } else {
                    pending.insert(member, (by, *since));
                }
            }
            _ => {
                pending.insert(member, (d, now_ms));
            }
        }
    }
    if pending.is_empty() {
        app.kv
            .delete(&[&suspects_key])
            .await
            .map_err(counters_down)?;
    } else {
        app.kv
            .set(
                &suspects_key,
                &serde_json::to_vec(&pending).unwrap_or_default(),
                Some(Duration::from_secs(3600)),
            )
            .await
            .map_err(counters_down)?;
    }
    let held: i64 = counters.members.iter().map(|(_, u)| u).sum();
    if counters.stock_left + held != i64::from(sale.stock) {
        tracing::error!(
            sale_id,
            left = counters.stock_left,
            held,
            stock = sale.stock,
            "flash-sale counters do not add up to the sale's units"
        );
    }
    Ok(corrected)
}

/// The sale's counters and the database's view, for checks and reports.
pub async fn counters_and_truth(
    app: &AppState,
    sale_id: i64,
) -> Result<(Option<FlashCounters>, FlashCounters), FlashSalesError> {
    let sale = sale_row(app, sale_id).await?;
    let counters = app
        .kv
        .flash_counters(&keys::flash_sale_counters(sale_id))
        .await
        .map_err(counters_down)?;
    Ok((counters, truth(&app.db, &sale).await?))
}

/// Sales whose counters matter now: starting soon, live, or ended less than the payment
/// time-out ago (their unpaid orders may still give units back).
async fn active_sales(app: &AppState) -> Result<Vec<flash_sale::Model>, FlashSalesError> {
    let now = app.clock.now();
    Ok(flash_sale::Entity::find()
        .filter(flash_sale::Column::StartsAt.lte(now + app.settings.flash_sales.warm_ahead))
        .filter(
            flash_sale::Column::EndsAt
                .gt(now - app.settings.orders.payment_timeout - chrono::Duration::minutes(5)),
        )
        .order_by_asc(flash_sale::Column::Id)
        .limit(500)
        .all(&app.db)
        .await?)
}

/// Warms the counters of sales about to start (and of live ones the store lost).
pub async fn warm_upcoming(app: &AppState) -> Result<u64, FlashSalesError> {
    let mut warmed = 0;
    for sale in active_sales(app).await? {
        if warm(app, &sale).await? {
            warmed += 1;
        }
    }
    Ok(warmed)
}

/// Reconciles every active sale's counters with the database.
pub async fn reconcile_active(app: &AppState) -> Result<u64, FlashSalesError> {
    let mut corrected = 0;
    for sale in active_sales(app).await? {
        corrected += reconcile(app, sale.id).await?;
    }
    Ok(corrected)
}

/// Scheduled: warm flash-sale counters ahead of the start.
pub struct WarmFlashSales;

#[async_trait::async_trait]
impl PeriodicTask for WarmFlashSales {
    fn name(&self) -> &'static str {
        "warm-flash-sales"
    }
    fn every(&self) -> Duration {
        Duration::from_secs(15)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(warm_upcoming(app).await?)
    }
}

/// Scheduled: bring flash-sale counters back to the database's truth.
pub struct ReconcileFlashSales;

#[async_trait::async_trait]
impl PeriodicTask for ReconcileFlashSales {
    fn name(&self) -> &'static str {
        "reconcile-flash-sales"
    }
    fn every(&self) -> Duration {
        Duration::from_secs(20)
    }
    async fn run(&self, app: &AppState) -> Result<u64, TaskError> {
        Ok(reconcile_active(app).await?)
    }
}
