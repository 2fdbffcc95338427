//! Flash sales (秒杀): HQ schedules a SKU at a price for a time window, with its own number of
//! units and a per-member limit. Members grab units; a grab that gets one creates an order at the
//! flash price that must be paid within the payment time-out, or the unit goes back.
//!
//! Where the truth is:
//! - The database holds it: the sale's units are rows (`flash_sale_units`, set aside from the
//!   warehouse when the sale is warmed), each claimed by at most one order, and
//!   `flash_sale_quotas` holds each member's units; both change only in the transaction that
//!   writes or closes the order (a claim of free unit rows, `units + q <= limit`), so the
//!   database alone never oversells nor lets a member above the limit. No row is locked by every
//!   winner: `flash_sales.sold` is settled in bulk by the reconcile task (see `units`).
//! - The key-value store holds a fast copy (units left, each member's units, the window, and the
//!   answer given per idempotency key). One atomic step there (a Lua script in Redis, one lock
//!   in process) decides a grab, so the crowd that cannot buy is turned away without touching the
//!   database. The copy is warmed from the database before the sale starts (and on demand when it
//!   is missing, e.g. after a Redis restart), and reconciled against it by a periodic task.
//! - Between the two, a winner's grab ticket (`flash_sale_tickets`): written in one statement
//!   before the winner is answered, so a granted grab is never only in the counters' memory.
//!   Its order is written by a background writer in batches, exactly once per ticket (see
//!   `writer`); until then the ticket's units count as the member's in the counters' truth.
//!
//! Answers: a sale that has not started is BAD_USER_INPUT ("not started", nothing remembered);
//! after its end EXPIRED; no units left SOLD_OUT; above the member's limit LIMIT_REACHED; the
//! key-value store down UNAVAILABLE; more than a few grabs a second by one member RATE_LIMITED.
//! Idempotency keys are per member and per sale: the same key replays the first answer (the same
//! ticket for a successful grab, waited for while the first grab still records it); the same key
//! with another quantity is a CONFLICT.

mod counters;
mod demo;
mod grab;
mod order;
mod reconcile;
mod release;
mod runtime;
mod schedule;
mod tickets;
mod units;
mod views;
mod writer;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;

use crate::AppState;
use crate::auth::AuthError;
use crate::orders::OrdersError;
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use crate::platform::kv::KvError;
use entities::flash_sale;

pub use counters::{WarmFlashSales, counters_and_truth, warm, warm_upcoming};
pub(crate) use demo::{DemoGrab, seed_demo};
pub use entities::flash_sale_grab::GrabStatus;
pub use entities::flash_sale_ticket::{TicketFailure, TicketStatus};
pub use grab::grab_flash_sale;
pub use reconcile::{ReconcileFlashSales, reconcile, reconcile_active};
pub(crate) use release::{give_back, release_closed_order};
pub use runtime::FlashSaleRuntime;
pub use schedule::schedule_flash_sale;
pub use tickets::{GrabTicket, ORDER_WITHIN, flash_sale_order, order_of};
pub use views::{all_flash_sales, current_flash_sales, flash_sale};
pub use writer::{WriteFlashSaleOrders, write_pending_orders};

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
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
    /// Background order writers per replica (each writes a batch of up to 256 tickets' orders
    /// in one transaction). The winners are answered with tickets at once; keeping the writers
    /// few leaves the database pool's connections, and the CPU, to the crowd at the opening.
    pub order_writers: usize,
}

impl Default for FlashSaleSettings {
    fn default() -> Self {
        Self {
            grabs_per_second: 10,
            warm_ahead: chrono::Duration::minutes(10),
            reconcile_grace: chrono::Duration::seconds(30),
            order_writers: 2,
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
    /// Units held by orders that are not closed, as last settled (the reconcile task, every
    /// 20 seconds while the sale is active).
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

async fn sale_row(app: &AppState, id: i64) -> Result<flash_sale::Model, FlashSalesError> {
    flash_sale::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(FlashSalesError::NotFound("flash sale"))
}
